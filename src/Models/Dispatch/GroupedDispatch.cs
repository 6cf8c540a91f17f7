using MoeLab.Models.Experts;
using MoeLab.Models.Routing;
using TorchSharp;
using MoeLab.Models.Internal;
using static TorchSharp.torch;

namespace MoeLab.Models.Dispatch;

/// <summary>Dropless grouped dispatch (the MegaBlocks idea, without block-sparse kernels):
/// flatten the (token, slot) assignments slot-major, stable-sort them by expert, gather the
/// tokens into contiguous per-expert blocks (<c>index_select</c>), run each expert once on its block
/// (<see cref="ExpertBank.ForwardGrouped"/>), scale by the combine weights and scatter-add back
/// (<c>index_add</c>). Work is proportional to the assignments, no per-token loop, one host sync
/// (block sizes). With a capacity factor, rows beyond C in each block are dropped first
/// (see <see cref="Capacity"/>).</summary>
public static class GroupedDispatch
{
    /// <summary>Largest padding overhead (E·max block / assignments − 1) for which <see cref="GroupedKernel.Auto"/>
    /// picks the batched kernel.</summary>
    public const double BatchedPaddingLimit = 0.25;

    /// <param name="x">[T, d_in] tokens (one routing unit per token).</param>
    /// <param name="capacityFactor">null = dropless.</param>
    /// <param name="kernel">how the expert blocks are computed (results are identical up to rounding).</param>
    public static DispatchResult Run(ExpertBank bank, Tensor x, RoutingResult routing, double? capacityFactor = null,
        GroupedKernel kernel = GroupedKernel.Auto)
    {
        if (kernel is GroupedKernel.FusedBlocks or GroupedKernel.FusedPadded || (kernel == GroupedKernel.Auto && FusedGroupedDispatch.Supports(x)))
        {
            if (routing.Units != x.shape[0]) throw new ArgumentException($"GroupedDispatch: routing has {routing.Units} units, input has {x.shape[0]} tokens.");
            if (routing.Experts != bank.Experts) throw new ArgumentException($"GroupedDispatch: routing over {routing.Experts} experts, bank has {bank.Experts}.");
            return FusedGroupedDispatch.Run(bank, x, routing, capacityFactor, kernel);
        }
        long t = x.shape[0];
        int n = routing.Experts;
        if (routing.Units != t) throw new ArgumentException($"GroupedDispatch: routing has {routing.Units} units, input has {t} tokens.");
        if (n != bank.Experts) throw new ArgumentException($"GroupedDispatch: routing over {n} experts, bank has {bank.Experts}.");
        long slots = routing.MaxSlots;
        using var scope = NewDisposeScope();

        // Slot-major flattening: assignment a = s·T + t (priority order for capacity).
        var valid = routing.Kept.t().reshape(-1);                                       // [k·T] bool
        var expertOf = routing.ExpertIndices.t().reshape(-1).masked_fill(valid.logical_not(), n); // [k·T], N = none
        var (sortedExpert, order) = expertOf.sort(0, descending: false, stable: true);  // [k·T]
        var countsTensor = expertOf.bincount(null, n + 1);                              // [N+1]
        long[] counts = countsTensor.cpu().data<long>().ToArray();                      // the one sync
        long assignments = counts.Take(n).Sum();

        Tensor kept;                 // [A'] assignment ids that are computed, grouped by expert
        Tensor keptExpert;           // [A'] their experts (non-decreasing)
        long[] keptCounts = counts.Take(n).ToArray();
        long? capacity = null;
        var dropped = routing.Dropped;
        if (capacityFactor is double cf)
        {
            long c = Capacity.Compute(cf, assignments, n);
            capacity = c;
            var blockStart = countsTensor.cumsum(0).sub(countsTensor);                  // [N+1] exclusive prefix sums
            var position = torch.arange(order.shape[0], device: x.device).sub(blockStart.index_select(0, sortedExpert)); // [k·T]
            var keep = position.lt(c).logical_and(sortedExpert.lt(n));                 // [k·T]
            var lost = position.ge(c).logical_and(sortedExpert.lt(n));
            kept = order.masked_select(keep);                                           // [A']
            keptExpert = sortedExpert.masked_select(keep);                              // [A']
            var droppedIds = order.masked_select(lost);
            var droppedFlat = torch.zeros(slots * t, dtype: ScalarType.Bool, device: x.device)
                .index_fill(0, droppedIds, true);                                       // [k·T]
            dropped = routing.Dropped.logical_or(droppedFlat.reshape(slots, t).t());    // [T, k]
            for (int e = 0; e < n; e++) keptCounts[e] = Math.Min(keptCounts[e], c);
        }
        else
        {
            kept = order.narrow(0, 0, assignments);                                     // sentinels sort last
            keptExpert = sortedExpert.narrow(0, 0, assignments);
        }

        var token = kept.remainder(t);                                                  // [A'] token of each row
        var weight = routing.Weights.t().reshape(-1).index_select(0, kept).to(x.dtype); // [A'] g
        long keptTotal = keptCounts.Sum(), largest = keptCounts.Length == 0 ? 0 : keptCounts.Max();
        bool batched = kernel switch
        {
            GroupedKernel.Loop => false,
            GroupedKernel.Batched => true,
            _ => keptTotal > 0 && (double)largest * n <= (1 + BatchedPaddingLimit) * keptTotal,
        };
        Tensor expertOut;                                                               // [A', d_out]
        if (batched && keptTotal > 0)
        {
            // Pad every block to the largest one and run all experts in one batched matmul. Padding
            // rows read token 0 and are never read back, so they add nothing to any gradient.
            var starts = new long[n];
            for (int e = 1; e < n; e++) starts[e] = starts[e - 1] + keptCounts[e - 1];
            var rank = torch.arange(keptTotal, device: x.device)
                .sub(torch.tensor(starts, device: x.device).index_select(0, keptExpert)); // [A'] row within its block
            var slot = keptExpert.mul(largest).add(rank);                                // [A'] row in [E·m]
            var paddedToken = torch.zeros(n * largest, dtype: ScalarType.Int64, device: x.device)
                .index_copy(0, slot, token);                                            // [E·m]
            var stacked = x.index_select(0, paddedToken).reshape(n, largest, x.shape[1]); // [E, m, d_in]
            var all = bank.ForwardStacked(stacked);                                     // [E, m, d_out]
            expertOut = all.reshape(n * largest, bank.Shape.DOut).index_select(0, slot);  // [A', d_out]
        }
        else
        {
            var gathered = x.index_select(0, token);                                    // [A', d_in]
            expertOut = bank.ForwardGrouped(gathered, keptCounts);                      // [A', d_out]
        }
        var weighted = expertOut.mul(weight.unsqueeze(1));                              // [A', d_out]
        var output = torch.zeros(t, bank.Shape.DOut, dtype: x.dtype, device: x.device)
            .index_add(0, token, weighted, 1);                                             // [T, d_out]
        var perExpert = torch.tensor(keptCounts, device: x.device);                     // [N]

        var newRouting = routing with { Dropped = dropped };
        scope.Keep(newRouting.Dropped, output, perExpert);
        return new DispatchResult(output, newRouting, perExpert, capacity);
    }
}

/// <summary>How <see cref="GroupedDispatch"/> computes the expert blocks.</summary>
public enum GroupedKernel
{
    /// <summary>CPU float32: <see cref="FusedGroupedDispatch"/> with one block per expert. Elsewhere: batched when the padding overhead is at most
    /// <see cref="GroupedDispatch.BatchedPaddingLimit"/>, else loop.</summary>
    Auto,

    /// <summary>Autograd path: one matmul per non-empty expert block (no padding; any device and dtype).</summary>
    Loop,

    /// <summary>Autograd path: blocks padded to the largest and run as one batched matmul (any device and dtype).</summary>
    Batched,

    /// <summary><see cref="FusedGroupedDispatch"/> with one contiguous block per expert (CPU float32 only).</summary>
    FusedBlocks,

    /// <summary><see cref="FusedGroupedDispatch"/> with blocks padded to the largest, one batched matmul (CPU float32 only).</summary>
    FusedPadded,
}
