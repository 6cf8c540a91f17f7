using MoeLab.Models.Accounting;
using MoeLab.Models.Losses;

using static TorchSharp.torch;

namespace MoeLab.Models.Layers;

/// <summary>What a feed-forward slot returns, whatever fills it: the output, each unweighted auxiliary
/// loss (zeros for a dense FFN) and one <see cref="MoeOutput"/> per routed pass (none for a dense FFN,
/// one for MoE and Seg-MoE, one per iteration for Chain-of-Experts).</summary>
/// <param name="Output">same shape as the input, [..., d].</param>
/// <param name="Losses">unweighted losses, summed over the routed passes (zero scalars when dense).</param>
/// <param name="RoutedPasses">each routed pass's output (the routed update), losses, routing and statistics.</param>
public sealed record FeedForwardSlotOutput(Tensor Output, AuxiliaryLossSet Losses, IReadOnlyList<MoeOutput> RoutedPasses)
{
    /// <summary>True when the slot routed tokens (false for a dense FFN).</summary>
    public bool IsRouted => RoutedPasses.Count > 0;

    /// <summary>Routing statistics of each routed pass, in order.</summary>
    public IReadOnlyList<RoutingStatistics> Statistics => RoutedPasses.Select(p => p.Statistics).ToList();

    /// <summary>The output of a dense slot: zero losses, no routing.</summary>
    public static FeedForwardSlotOutput Dense(Tensor output) =>
        new(output, AuxiliaryLossSet.Zero(output.device), Array.Empty<MoeOutput>());
}
