using MoeLab.Models.Accounting;
using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using static TorchSharp.torch;

namespace MoeLab.Models.Layers;

/// <summary>What an MoE layer returns: its output, each unweighted auxiliary loss, the routing
/// (with capacity drops marked) and routing statistics. Callers decide what to weight and log.</summary>
/// <param name="Output">same shape as the input, [..., d].</param>
public sealed record MoeOutput(Tensor Output, AuxiliaryLossSet Losses, RoutingResult Routing, RoutingStatistics Statistics)
{
    /// <summary>The routing over the layer's own routing units when they are not tokens (Seg-MoE: one
    /// row per segment, before the expansion to tokens); null when the units are the tokens of
    /// <see cref="Routing"/>. Balance losses over units use this.</summary>
    public RoutingResult? UnitRouting { get; init; }

    /// <summary><see cref="UnitRouting"/> if set, else <see cref="Routing"/>.</summary>
    public RoutingResult RoutingUnits => UnitRouting ?? Routing;
}
