using MoeLab.Models.Internal;
using MoeLab.Models.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Accounting;

/// <summary>Routing statistics of one forward pass, kept as small tensors (no host sync until
/// <see cref="Summarize"/> is called). Made by <see cref="From"/> without computing anything: the tensors are
/// computed together the first time one of them is read (owned by the forward pass's dispose scope), so a step
/// that logs nothing pays nothing.</summary>
public sealed record RoutingStatistics
{
    private sealed record Values(Tensor TokensPerExpert, Tensor RoutedPerExpert, Tensor ExpertsPerTokenHistogram,
        Tensor LoadCoefficientOfVariation, Tensor DroppedAssignments, Tensor DroppedTokens)
    {
        public IEnumerable<Tensor> All => new[] { TokensPerExpert, RoutedPerExpert, ExpertsPerTokenHistogram, LoadCoefficientOfVariation, DroppedAssignments, DroppedTokens };
    }

    private readonly Deferred<Values> values;

    /// <param name="tokensPerExpert">[N] int64 assignments computed by each expert (after dropping).</param>
    /// <param name="routedPerExpert">[N] int64 assignments the router chose (before dropping).</param>
    /// <param name="expertsPerTokenHistogram">[N+1] int64: entry j = number of units that kept j experts.</param>
    /// <param name="loadCoefficientOfVariation">scalar: std/mean of <paramref name="tokensPerExpert"/> (population std).</param>
    /// <param name="droppedAssignments">scalar int64: chosen (unit, expert) pairs dropped by capacity.</param>
    /// <param name="droppedTokens">scalar int64: units that chose experts but kept none.</param>
    public RoutingStatistics(Tensor tokensPerExpert, Tensor routedPerExpert, Tensor expertsPerTokenHistogram,
        Tensor loadCoefficientOfVariation, Tensor droppedAssignments, Tensor droppedTokens)
        => values = Deferred<Values>.Ready(new Values(tokensPerExpert, routedPerExpert, expertsPerTokenHistogram,
            loadCoefficientOfVariation, droppedAssignments, droppedTokens));

    private RoutingStatistics(Deferred<Values> values) => this.values = values;

    /// <summary>[N] int64 assignments computed by each expert (after dropping).</summary>
    public Tensor TokensPerExpert => values.Value.TokensPerExpert;

    /// <summary>[N] int64 assignments the router chose (before dropping).</summary>
    public Tensor RoutedPerExpert => values.Value.RoutedPerExpert;

    /// <summary>[N+1] int64: entry j = number of units that kept j experts.</summary>
    public Tensor ExpertsPerTokenHistogram => values.Value.ExpertsPerTokenHistogram;

    /// <summary>Scalar: std/mean of <see cref="TokensPerExpert"/> (population std).</summary>
    public Tensor LoadCoefficientOfVariation => values.Value.LoadCoefficientOfVariation;

    /// <summary>Scalar int64: chosen (unit, expert) pairs dropped by capacity.</summary>
    public Tensor DroppedAssignments => values.Value.DroppedAssignments;

    /// <summary>Scalar int64: units that chose experts but kept none.</summary>
    public Tensor DroppedTokens => values.Value.DroppedTokens;

    /// <summary>True once the tensors have been computed.</summary>
    public bool IsComputed => values.IsComputed;

    /// <summary>The statistics of <paramref name="routing"/> (<paramref name="tokensPerExpert"/>: the dispatch's
    /// per-expert counts after dropping, when it has them), computed when first read.</summary>
    public static RoutingStatistics From(RoutingResult routing, Tensor? tokensPerExpert = null) =>
        new(Deferred<Values>.Of(() => Compute(routing, tokensPerExpert), v => v.All.Where(t => !ReferenceEquals(t, tokensPerExpert))));

    private static Values Compute(RoutingResult routing, Tensor? tokensPerExpert)
    {
        int n = routing.Experts;
        var kept = routing.Kept;                                                            // [units, k]
        var perExpert = tokensPerExpert ?? Losses.AuxiliaryLosses.AssignmentCounts(routing.ExpertIndices, kept, n);
        var routed = Losses.AuxiliaryLosses.AssignmentCounts(routing.ExpertIndices, routing.Valid, n); // [N]
        var keptPerUnit = kept.sum(1);                                                      // [units]
        var histogram = keptPerUnit.bincount(null, n + 1);                                  // [N+1]
        var load = perExpert.to(float32);
        var cv = load.std(unbiased: false).div(load.mean().clamp_min(1e-12));               // scalar
        var droppedAssignments = routing.Valid.logical_and(routing.Dropped).sum();
        var droppedTokens = routing.Valid.any(1).logical_and(keptPerUnit.eq(0)).sum();
        return new Values(perExpert, routed, histogram, cv, droppedAssignments, droppedTokens);
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
