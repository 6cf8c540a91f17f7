using MoeLab.Models.Accounting;
using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using static TorchSharp.torch;

namespace MoeLab.Models.Layers;

/// <summary>What an MoE layer returns: its output, each unweighted auxiliary loss, the routing
/// (with capacity drops marked) and routing statistics. Callers decide what to weight and log.</summary>
/// <param name="Output">same shape as the input, [..., d].</param>
public sealed record MoeOutput(Tensor Output, AuxiliaryLossSet Losses, RoutingResult Routing, RoutingStatistics Statistics);
