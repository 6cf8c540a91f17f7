using MoeLab.Models.Accounting;
using static TorchSharp.torch;

namespace MoeLab.Models.Networks;

/// <summary>What an MLP network of this folder returns: the prediction, the weighted auxiliary loss
/// of all its routed layers, and each routed layer's routing statistics (empty when every layer is dense).</summary>
/// <param name="Output">the prediction (logits).</param>
/// <param name="AuxiliaryLoss">scalar Σ over routed layers of the weighted auxiliary losses.</param>
/// <param name="Routing">routing statistics of each routed pass, in layer order.</param>
public sealed record NetworkOutput(Tensor Output, Tensor AuxiliaryLoss, IReadOnlyList<RoutingStatistics> Routing);
