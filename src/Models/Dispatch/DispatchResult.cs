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
