using MoeLab.Models.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Accounting;

/// <summary>Routing statistics of one forward pass, kept as small tensors (no host sync until
/// <see cref="Summarize"/> is called), so they are cheap to produce every step.</summary>
/// <param name="TokensPerExpert">[N] int64 assignments computed by each expert (after dropping).</param>
/// <param name="RoutedPerExpert">[N] int64 assignments the router chose (before dropping).</param>
/// <param name="ExpertsPerTokenHistogram">[N+1] int64: entry j = number of units that kept j experts.</param>
/// <param name="LoadCoefficientOfVariation">scalar: std/mean of <paramref name="TokensPerExpert"/> (population std).</param>
/// <param name="DroppedAssignments">scalar int64: chosen (unit, expert) pairs dropped by capacity.</param>
/// <param name="DroppedTokens">scalar int64: units that chose experts but kept none.</param>
public sealed record RoutingStatistics(
    Tensor TokensPerExpert,
    Tensor RoutedPerExpert,
    Tensor ExpertsPerTokenHistogram,
    Tensor LoadCoefficientOfVariation,
    Tensor DroppedAssignments,
    Tensor DroppedTokens)
{
    public static RoutingStatistics From(RoutingResult routing, Tensor? tokensPerExpert = null)
    {
        int n = routing.Experts;
        using var scope = NewDisposeScope();
        var kept = routing.Kept;                                                            // [units, k]
        var perExpert = tokensPerExpert ?? Losses.AuxiliaryLosses.AssignmentCounts(routing.ExpertIndices, kept, n);
        var routed = Losses.AuxiliaryLosses.AssignmentCounts(routing.ExpertIndices, routing.Valid, n); // [N]
        var keptPerUnit = kept.sum(1);                                                      // [units]
        var histogram = keptPerUnit.bincount(null, n + 1);                                  // [N+1]
        var load = perExpert.to(float32);
        var cv = load.std(unbiased: false).div(load.mean().clamp_min(1e-12));               // scalar
        var droppedAssignments = routing.Valid.logical_and(routing.Dropped).sum();
        var droppedTokens = routing.Valid.any(1).logical_and(keptPerUnit.eq(0)).sum();
        var stats = new RoutingStatistics(perExpert, routed, histogram, cv, droppedAssignments, droppedTokens);
        foreach (var t in new[] { routed, histogram, cv, droppedAssignments, droppedTokens })
            t.MoveToOuterDisposeScope();
        if (tokensPerExpert is null) perExpert.MoveToOuterDisposeScope();
        return stats;
    }

    /// <summary>Copies the statistics to the host (one sync per tensor).</summary>
    public RoutingSummary Summarize()
    {
        long[] perExpert = TokensPerExpert.cpu().data<long>().ToArray();
        long[] histogram = ExpertsPerTokenHistogram.cpu().data<long>().ToArray();
        long units = histogram.Sum();
        double mean = units == 0 ? 0 : histogram.Select((c, j) => (double)c * j).Sum() / units;
        return new RoutingSummary(
            perExpert,
            RoutedPerExpert.cpu().data<long>().ToArray(),
            histogram,
            mean,
            LoadCoefficientOfVariation.cpu().item<float>(),
            DroppedAssignments.cpu().item<long>(),
            DroppedTokens.cpu().item<long>());
    }
}

/// <summary>Host-side copy of <see cref="RoutingStatistics"/>, ready to log.</summary>
public sealed record RoutingSummary(
    long[] TokensPerExpert,
    long[] RoutedPerExpert,
    long[] ExpertsPerTokenHistogram,
    double MeanExpertsPerToken,
    double LoadCoefficientOfVariation,
    long DroppedAssignments,
    long DroppedTokens);
