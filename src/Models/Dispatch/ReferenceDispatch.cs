using MoeLab.Models.Experts;
using MoeLab.Models.Routing;
using TorchSharp;
using MoeLab.Models.Internal;
using static TorchSharp.torch;

namespace MoeLab.Models.Dispatch;

/// <summary>Plain reference: every expert runs on every token ([N, T, d]) and the outputs are
/// combined with a dense gate matrix G[t, i] = Σ_slots g·1[expert = i]. Capacity dropping is
/// computed independently of <see cref="GroupedDispatch"/> (a running count per expert over
/// one-hot assignments in priority order). N× the routed compute: for tests and tiny layers.</summary>
public static class ReferenceDispatch
{
    public static DispatchResult Run(ExpertBank bank, Tensor x, RoutingResult routing, double? capacityFactor = null)
    {
        long t = x.shape[0];
        int n = routing.Experts;
        long slots = routing.MaxSlots;
        using var scope = NewDisposeScope();
        var dropped = routing.Dropped;                                                   // [T, k]
        long? capacity = null;
        if (capacityFactor is double cf)
        {
            var chosen = routing.Kept;                                                   // [T, k]
            long assignments = chosen.sum().item<long>();
            long c = Capacity.Compute(cf, assignments, n);
            capacity = c;
            var oneHot = nn.functional.one_hot(routing.ExpertIndices, n).mul(chosen.unsqueeze(-1)); // [T, k, N]
            var prioritised = oneHot.transpose(0, 1).reshape(slots * t, n);              // [k·T, N] slot-major
            var seen = prioritised.cumsum(0);                                            // [k·T, N] running count
            var rank = seen.mul(prioritised).sum(-1).reshape(slots, t).t();              // [T, k] 1-based position in its expert
            dropped = dropped.logical_or(chosen.logical_and(rank.gt(c)));
        }
        var keep = routing.Valid.logical_and(dropped.logical_not());                    // [T, k]
        var gate = torch.zeros(t, n, dtype: x.dtype, device: x.device)
            .scatter_add(1, routing.ExpertIndices, routing.Weights.to(x.dtype).mul(keep)); // [T, N]
        var all = bank.ForwardAll(x);                                                    // [N, T, d_out]
        var output = gate.t().unsqueeze(-1).mul(all).sum(new long[] { 0 });                             // [T, d_out]
        var perExpert = nn.functional.one_hot(routing.ExpertIndices, n).mul(keep.unsqueeze(-1)).sum(new long[] { 0, 1 }); // [N]
        var newRouting = routing with { Dropped = dropped };
        scope.Keep(newRouting.Dropped, output, perExpert);
        return new DispatchResult(output, newRouting, perExpert, capacity);
    }
}
