using MoeLab.Models.Routing;
using static TorchSharp.torch;

namespace MoeLab.Models.Dispatch;

/// <summary>Output of running the routed experts.</summary>
/// <param name="Output">[T, d_out] Σ_{kept slots} g_i · E_i(x_t).</param>
/// <param name="Routing">the routing with <see cref="RoutingResult.Dropped"/> filled in.</param>
/// <param name="TokensPerExpert">[N] int64 kept (computed) assignments per expert.</param>
/// <param name="Capacity">per-expert capacity C, or null when dropless.</param>
public sealed record DispatchResult(Tensor Output, RoutingResult Routing, Tensor TokensPerExpert, long? Capacity);

/// <summary>How the routed experts are computed.</summary>
public enum DispatchMode
{
    /// <summary><see cref="GroupedDispatch"/>: sort by expert, one matmul per non-empty expert block.</summary>
    Grouped,

    /// <summary><see cref="ReferenceDispatch"/>: every expert on every token, then a dense combine (tests only).</summary>
    Reference,
}

/// <summary>Expert capacity (Switch Transformer, Fedus et al. 2022, eq. 3 generalised to dynamic
/// routing): C = ⌈capacity_factor · A / N⌉ with A the number of chosen (token, expert) assignments
/// in the batch (T·k for top-k), at least 1. Assignments beyond C in an expert are dropped in
/// priority order: all first choices (slot 0) of all tokens in token order, then second choices,
/// and so on (GShard's order).</summary>
public static class Capacity
{
    public static long Compute(double capacityFactor, long assignments, int experts)
    {
        if (!(capacityFactor > 0)) throw new ArgumentException($"Capacity factor must be > 0, got {capacityFactor}.");
        return Math.Max(1, (long)Math.Ceiling(capacityFactor * assignments / experts));
    }
}
