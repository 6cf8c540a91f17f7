using System.Diagnostics;
using System.Buffers;
using System.Runtime.InteropServices;
using MoeLab.Models.Experts;
using MoeLab.Models.Internal;
using MoeLab.Models.Routing;
using MoeLab.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace MoeLab.Models.Dispatch;

/// <summary>Where the rows of the fused dispatch live: one contiguous block per expert (a matmul per
/// non-empty expert), or every block padded to the largest and run as one batched matmul.</summary>
public enum FusedLayout { Blocks, Padded }

/// <summary>The routed-expert computation as one autograd node with a hand-written backward (CPU, float32).
/// Same mathematics as the autograd path of <see cref="GroupedDispatch"/> (dropless or with capacity),
/// fewer passes over memory:
/// <list type="bullet">
/// <item>the sort by expert is a counting sort on the host over the k·T choices (one copy of the
/// expert ids, the sync the autograd path also needs), in the same priority order (slot-major, token order
/// within a slot), so capacity drops exactly the same assignments;</item>
/// <item>the gather of token rows into expert order, the weighted combine y_t = Σ_s g_{t,s} E(x_t) and their
/// backward are single passes in <see cref="RowKernels"/> (no <c>index_add</c>, no zero-filled buffers); with small
/// blocks the gather happens inside each chunk (the forward's matmuls read the token rows through their indices) and
/// so does the combine's backward (from u = gy·W_outᵀ where there is no output bias, see <c>CombineGradient</c>), so
/// neither the gathered rows nor the expert output rows are kept for the backward;</item>
/// <item>the expert matmuls write into one preallocated buffer (row blocks: <see cref="SmallGemm"/> for small blocks,
/// MKL's <c>sgemm_</c> directly otherwise, <c>addmm_</c> where neither is there; no split/cat) and the weight
/// gradients into one [E, ...] tensor (no unbind/stack);</item>
/// <item>the activation's backward is autograd's own fused kernel (GELU, SiLU·up), run on a saved
/// one-node graph.</item>
/// </list>
/// Deterministic: fixed summation orders everywhere, independent of the thread count.</summary>
public static class FusedGroupedDispatch
{
    /// <summary>True when the fused path can run: CPU float32 input.</summary>
    public static bool Supports(Tensor x) => x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32;

    /// <summary>The host-side plan: which row of the expert-ordered buffer each (token, slot) occupies. The two
    /// per-row and per-slot maps are int32 tensors rather than managed arrays: they live exactly as long as the autograd
    /// node that saves them, and their memory comes from the native allocator, which reuses it step after step (managed
    /// arrays allocated inside the trainer's no-GC region land on fresh pages, ≈ 13 µs per 4 KiB on our VMs).</summary>
    internal sealed record Plan
    {
        public required int Tokens, Slots, Experts;
        public required long[] Counts;        // [E] kept rows per expert
        public required Tensor RowTokens;     // [rows] int32 source token of each buffer row (−1: padding)
        public required Tensor SlotRows;      // [T·k] int32 buffer row of slot (t, s), or −1 (not chosen / dropped)
        public required bool[]? Dropped;      // [T·k] dropped by capacity (null without a capacity)
        public required FusedLayout Layout;
        public required int Largest;          // rows of the largest block (the padded block size)
        public required int Rows;
        public long Kept => Counts.Sum();
        public unsafe int* RowToken => RowKernels.IntPointer(RowTokens);
        public unsafe int* SlotRow => RowKernels.IntPointer(SlotRows);
    }

    internal static Plan MakePlan(RoutingResult routing, double? capacityFactor, GroupedKernel kernel, out long? capacity)
    {
        int t = checked((int)routing.Units), k = checked((int)routing.MaxSlots), n = routing.Experts;
        // One pass over the routing's host memory instead of the accessor's ToArray and a torch logical_and for Kept
        // (E 32 top-4, 16k slots: 0.4–0.5 ms instead of 0.9–1.2 ms, most of what is left being first touches of new arrays).
        var ids = MemoryMarshal.Cast<byte, long>(routing.ExpertIndices.cpu().contiguous().bytes);      // [T·k] token-major
        var valid = MemoryMarshal.Cast<byte, bool>(routing.Valid.cpu().contiguous().bytes);           // [T·k]
        var droppedBefore = MemoryMarshal.Cast<byte, bool>(routing.Dropped.cpu().contiguous().bytes); // [T·k]
        // Scratch for this call only: pooled, so the same memory serves every step.
        var expert = ArrayPool<int>.Shared.Rent(t * k);
        var chosen = ArrayPool<bool>.Shared.Rent(t * k);                                       // kept: valid, not dropped
        try
        {
            for (int a = 0; a < t * k; a++)
            {
                chosen[a] = valid[a] && !droppedBefore[a];
                long e = ids[a];
                if (chosen[a] && (ulong)e >= (ulong)n)
                    throw new ArgumentException($"FusedGroupedDispatch: expert index {e} of slot {a} outside [0, {n}).");
                expert[a] = (int)e;
            }
            var dropped = capacityFactor is null ? null : new bool[t * k];
            var counts = new long[n];
            capacity = null;
            long limit = long.MaxValue;
            if (capacityFactor is double cf)
            {
                long assignments = chosen.AsSpan(0, t * k).Count(true);
                limit = Capacity.Compute(cf, assignments, n);
                capacity = limit;
            }
            // Priority order (slot-major): all first choices in token order, then all second choices, ...
            for (int s = 0; s < k; s++)
                for (int i = 0; i < t; i++)
                {
                    int a = i * k + s;
                    if (!chosen[a]) continue;
                    int e = expert[a];
                    if (counts[e] >= limit) { dropped![a] = true; chosen[a] = false; continue; }
                    counts[e]++;
                }
            long kept = counts.Sum();
            int largest = (int)(counts.Length == 0 ? 0 : counts.Max());
            bool padded = kernel switch
            {
                GroupedKernel.FusedPadded => true,
                GroupedKernel.FusedBlocks => false,
                // Measured on 2-core AMD EPYC VMs (process CPU time, one thread): blocks beat the padded batch for
                // E 8–256 at T 4,096 (E 256 d_ff 64: 204 vs 264 ms; E 128: 476 vs 552; E 32: 219 vs 259); only
                // the smallest case (T 1,024, E 8) favoured padding, within the noise of those runs.
                _ => false,
            };
            var start = new long[n];
            for (int e = 1; e < n; e++) start[e] = padded ? (long)e * largest : start[e - 1] + counts[e - 1];
            int rows = checked((int)(padded ? (long)n * largest : kept));
            var rowTokens = torch.empty(rows, dtype: ScalarType.Int32);
            var slotRows = torch.empty(t * k, dtype: ScalarType.Int32);
            var rowToken = MemoryMarshal.Cast<byte, int>(rowTokens.bytes);
            var slotRow = MemoryMarshal.Cast<byte, int>(slotRows.bytes);
            if (padded) rowToken.Fill(-1);
            slotRow.Fill(-1);
            var next = start;                                                                   // advances to each block's end
            for (int s = 0; s < k; s++)
                for (int i = 0; i < t; i++)
                {
                    int a = i * k + s;
                    if (!chosen[a]) continue;
                    int row = (int)next[expert[a]]++;
                    rowToken[row] = i;
                    slotRow[a] = row;
                }
            return new Plan
            {
                Tokens = t, Slots = k, Experts = n, Counts = counts, RowTokens = rowTokens, SlotRows = slotRows, Dropped = dropped,
                Layout = padded ? FusedLayout.Padded : FusedLayout.Blocks, Largest = largest, Rows = rows,
            };
        }
        finally
        {
            ArrayPool<int>.Shared.Return(expert);
            ArrayPool<bool>.Shared.Return(chosen);
        }
    }

    public static DispatchResult Run(ExpertBank bank, Tensor x, RoutingResult routing, double? capacityFactor, GroupedKernel kernel)
    {
        long t = x.shape[0];
        if (!Supports(x)) throw new ArgumentException($"FusedGroupedDispatch: needs CPU float32 input, got {x.dtype} on {x.device}.");
        using var scope = NewDisposeScope();
        var watch = DispatchProfiler.Start();
        var plan = MakePlan(routing, capacityFactor, kernel, out var capacity);
        DispatchProfiler.Stop(DispatchPhase.Plan, watch);
        Tensor output;
        if (plan.Kept == 0) output = x.new_zeros(t, bank.Shape.DOut).add(x.narrow(1, 0, 1).mul(0)); // in the graph, zero gradient
        else
        {
            var weights = routing.Weights.to(float32).contiguous();                              // [T, k] g (kept slots read)
            // Without gradients (evaluation) the activation needs no saved graph.
            bool needsGrad = torch.is_grad_enabled() && (x.requires_grad || weights.requires_grad || bank.parameters().Any(p => p.requires_grad));
            output = FusedExpertsFunction.apply(x.contiguous(), weights, Alias(bank.InputWeight), Alias(bank.OutputWeight),
                Alias(bank.InputBias), Alias(bank.OutputBias), plan, bank.Shape, needsGrad);
        }
        var dropped = routing.Dropped;
        if (capacity is not null)
            dropped = torch.tensor(plan.Dropped!, device: x.device).reshape(t, plan.Slots).logical_or(routing.Dropped);
        var perExpert = torch.tensor(plan.Counts, device: x.device);                            // [N]
        var newRouting = routing with { Dropped = dropped };
        scope.Keep(newRouting.Dropped, output, perExpert);
        return new DispatchResult(output, newRouting, perExpert, capacity);
    }

    /// <summary>A same-shape view of a parameter, handed to the node instead of the parameter itself. The node's gradients
    /// are tensors that C# still holds when autograd stores them, and autograd copies a gradient it cannot own
    /// (<c>AccumulateGrad</c> takes a new gradient over only when nothing else references it): W_in's and W_out's, 8 MiB each
    /// for E 8 × d_ff 1024, were copied at every backward. Through the view, the gradient reaches the parameter as the view's
    /// backward output, a fresh alias of the same memory that autograd can keep without copying.</summary>
    private static Tensor? Alias(Tensor? parameter) => parameter?.view(parameter.shape);

    /// <summary>Whether small blocks gather their rows inside their chunks (default) rather than in one pass before the
    /// matmuls; for tests and in-process comparisons.</summary>
    internal static bool PerBlockGather { get; set; } = true;

    /// <summary>Whether the blocks layout without an output bias derives the combine's backward from u = gy·W_outᵀ
    /// (default; see <c>CombineGradient</c>) rather than from the kept output rows; for tests and in-process comparisons.</summary>
    internal static bool CombineFromUpstream { get; set; } = true;

    /// <summary>Where the last backward wrote W_in's gradient (for tests: it must be the memory the parameter's .grad ends up in).</summary>
    internal static IntPtr LastInputWeightGradient;

    /// <summary>The expert computation of a routed pass alone, for measuring what routing costs on top of it
    /// (<c>moelab bench --profile</c>'s floor): the blocks layout's own schedule, chunked matmuls, activation and
    /// hand-written backward, on <paramref name="rows"/> already in expert order (<paramref name="counts"/>[e]
    /// consecutive rows for expert e) — no router, plan, gather, combine or autograd node. Returns the output rows
    /// [Σ counts, d_out] and the backward for an upstream gradient of that shape, which returns the gradients of the
    /// rows, W_in, W_out (and the biases, null without them). Runs without gradient recording, as inside the node.</summary>
    public static (Tensor Output, Func<Tensor, Tensor?[]> Backward) ExpertsAlone(ExpertBank bank, Tensor rows, long[] counts)
    {
        if (!Supports(rows)) throw new ArgumentException($"FusedGroupedDispatch.ExpertsAlone: needs CPU float32 rows, got {rows.dtype} on {rows.device}.");
        if (counts.Length != bank.Experts || counts.Any(c => c < 0) || counts.Sum() != rows.shape[0])
            throw new ArgumentException($"FusedGroupedDispatch.ExpertsAlone: counts [{string.Join(", ", counts)}] must be {bank.Experts} non-negative numbers summing to the {rows.shape[0]} rows.");
        var plan = new Plan
        {
            Tokens = (int)rows.shape[0], Slots = 1, Experts = bank.Experts, Counts = counts,
            RowTokens = torch.empty(0, dtype: ScalarType.Int32), SlotRows = torch.empty(0, dtype: ScalarType.Int32), Dropped = null,
            Layout = FusedLayout.Blocks, Largest = (int)counts.DefaultIfEmpty(0).Max(), Rows = (int)rows.shape[0],
        };
        var (wIn, wOut, bIn, bOut) = (bank.InputWeight.detach(), bank.OutputWeight.detach(), bank.InputBias?.detach(), bank.OutputBias?.detach());
        var input = rows.contiguous();
        var chunkTensors = new List<Tensor>();
        Tensor output;
        using (torch.no_grad()) output = FusedExpertsFunction.BlocksForward(new FusedExpertsFunction.RowSource(input, null), wIn, wOut, bIn, bOut, plan, bank.Shape, true, chunkTensors);
        return (output, gradOutput =>
        {
            using var noGrad = torch.no_grad();
            var (gRows, gWIn, gWOut, gBIn, gBOut) = FusedExpertsFunction.BlocksBackward(new FusedExpertsFunction.RowSource(input, null), gradOutput.contiguous(), wIn, wOut, chunkTensors, plan, bIn is not null, bOut is not null);
            return new[] { gRows, gWIn, gWOut, gBIn, gBOut };
        });
    }

    /// <summary>x [T, d], g [T, k], W_in [E, d, F], W_out [E, F', d] (+ biases) → y [T, d].</summary>
    private sealed class FusedExpertsFunction : SingleTensorFunction<FusedExpertsFunction>
    {
        public override string Name => "MoeFusedExperts";

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var (x, g, wIn, wOut) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3]);
            var (bIn, bOut, plan, shape, needsGrad) = (vars[4] as Tensor, vars[5] as Tensor, (Plan)vars[6], (FeedForwardShape)vars[7], (bool)vars[8]);
            int d = (int)x.shape[1], dOut = shape.DOut;
            // Where the small-block kernel runs, it reads the tokens' rows through their indices (see RowSource); otherwise
            // one gather of all rows.
            bool perBlock = PerBlockGather && plan.Layout == FusedLayout.Blocks
                && UseSmallGemm(Schedule.Make(plan, wIn.shape[1] * wIn.shape[2], wIn.shape[2]), d, (int)wIn.shape[2], dOut, (int)wOut.shape[1])
                && DirectGemm(true, x, wIn, wOut);
            Tensor rows = x;
            if (!perBlock)
            {
                var watch0 = DispatchProfiler.Start();
                rows = torch.empty(plan.Rows, d, dtype: float32);                                 // [rows, d] tokens in expert order
                unsafe { RowKernels.Gather(RowKernels.Pointer(x), plan.RowToken, plan.Rows, RowKernels.Pointer(rows), d); }
                DispatchProfiler.Stop(DispatchPhase.Gather, watch0);
            }

            var watch = DispatchProfiler.Start();
            var saved = new List<Tensor> { rows, null!, g, wIn, wOut, plan.RowTokens, plan.SlotRows };
            var output = plan.Layout == FusedLayout.Padded
                ? PaddedForward(rows, wIn, wOut, bIn, bOut, plan, shape, needsGrad, saved)
                : BlocksForward(new RowSource(rows, perBlock ? plan : null), wIn, wOut, bIn, bOut, plan, shape, needsGrad, saved);
            // The blocks layout without an output bias never reads the output rows in the backward (CombineGradient):
            // not kept, so their memory (k times the layer's output) is free once the combine below has read them.
            bool outputKept = plan.Layout == FusedLayout.Padded || bOut is not null || !CombineFromUpstream;
            saved[1] = outputKept ? output : torch.empty(0, dOut, dtype: float32);               // [rows or 0, d_out]
            DispatchProfiler.Stop(DispatchPhase.Experts, watch);

            watch = DispatchProfiler.Start();
            var y = torch.empty(plan.Tokens, dOut, dtype: float32);                               // [T, d_out]
            unsafe { RowKernels.WeightedSum(RowKernels.Pointer(output), RowKernels.Pointer(g), plan.SlotRow, RowKernels.Pointer(y), plan.Tokens, plan.Slots, dOut); }
            DispatchProfiler.Stop(DispatchPhase.Combine, watch);

            ctx.save_for_backward(saved);
            ctx.save_data("plan", plan);
            ctx.save_data("biases", (bIn is not null, bOut is not null));
            ctx.save_data("perBlock", perBlock);
            ctx.save_data("outputKept", outputKept);
            return y;
        }

        /// <summary>The activation of <paramref name="hidden"/> ([rows, F]) and, when gradients are needed, the leaf of a
        /// one-node graph whose backward is autograd's own fused kernel (GELU, SiLU·up).</summary>
        private static (Tensor Leaf, Tensor Activated) Activate(Tensor hidden, ExpertKind kind, bool needsGrad)
        {
            if (!needsGrad) return (hidden, ExpertInit.Activate(hidden, kind));
            using var grad = torch.enable_grad();
            var leaf = hidden.detach().requires_grad_(true);
            return (leaf, ExpertInit.Activate(leaf, kind));
        }

        /// <summary>Every block padded to the largest and run as one batched matmul. Saves the activation's leaf and output.</summary>
        private static Tensor PaddedForward(Tensor rows, Tensor wIn, Tensor wOut, Tensor? bIn, Tensor? bOut, Plan plan, FeedForwardShape shape, bool needsGrad, List<Tensor> saved)
        {
            int n = plan.Experts, d = (int)rows.shape[1];
            var hidden = rows.view(n, plan.Largest, d).bmm(wIn);                                  // [E, m, F]
            if (bIn is not null) hidden.add_(bIn.unsqueeze(1));
            var (leaf, activated) = Activate(hidden.view(plan.Rows, -1), shape.Kind, needsGrad);   // [rows, F], [rows, d_ff]
            var o3 = activated.detach().view(n, plan.Largest, -1).bmm(wOut);                       // [E, m, d_out]
            if (bOut is not null) o3.add_(bOut.unsqueeze(1));
            saved.Add(leaf);
            saved.Add(activated);
            return o3.view(plan.Rows, shape.DOut);
        }

        /// <summary>One matmul per non-empty expert, chunk by chunk (<see cref="Schedule"/>): a chunk's first matmuls,
        /// its activation and its second matmuls run back to back while its rows are still in cache. Saves each
        /// chunk's activation leaf and output (in chunk order).</summary>
        internal static Tensor BlocksForward(RowSource source, Tensor wIn, Tensor wOut, Tensor? bIn, Tensor? bOut, Plan plan, FeedForwardShape shape,
            bool needsGrad, List<Tensor> saved)
        {
            var rows = source.Rows;
            var output = torch.empty(plan.Rows, shape.DOut, dtype: float32);                     // [rows, d_out]
            var schedule = Schedule.Make(plan, wIn.shape[1] * wIn.shape[2], wIn.shape[2]);
            var leaves = new Tensor[schedule.Chunks.Length];
            var activations = new Tensor[schedule.Chunks.Length];
            int d = (int)rows.shape[1], fw = (int)wIn.shape[2], dOut = shape.DOut;
            bool small = UseSmallGemm(schedule, d, fw, dOut, (int)wOut.shape[1]);
            bool direct = DirectGemm(small, rows, wIn, wOut);
            // Raw addresses taken once (nint: lambdas cannot capture pointers): with 256 experts, a tensor view and an
            // address lookup per matmul were a few milliseconds of the pass.
            nint rowsAt = Address(rows), wInAt = Address(wIn), wOutAt = Address(wOut), outputAt = Address(output);
            bool indexed = source.Indexed(small && direct);
            schedule.Run((chunk, index) =>
            {
                // A buffer per chunk: the activation's leaf must not share a version counter with buffers written later.
                var hidden = torch.empty(chunk.Rows, fw, dtype: float32);                       // [chunk rows, F]
                nint hiddenAt = Address(hidden);
                foreach (var (e, start, count) in schedule.BlocksOf(chunk))
                {
                    long at = start - chunk.Start;
                    if (indexed) unsafe                                                           // token rows through their indices
                    {
                        SmallGemm.RowMajor(false, false, (int)count, fw, d, (float*)rowsAt, d, (float*)wInAt + (long)e * d * fw, fw,
                            (float*)hiddenAt + at * fw, fw, source.Plan!.RowToken + start);
                    }
                    else if (direct) unsafe
                    {
                        BlockGemm(small, false, false, (int)count, fw, d, (float*)rowsAt + start * d, d,
                            (float*)wInAt + (long)e * d * fw, fw, (float*)hiddenAt + at * fw, fw);
                    }
                    else hidden.narrow(0, at, count).addmm_(rows.narrow(0, start, count), wIn[e], 0, 1);
                    if (bIn is not null) hidden.narrow(0, at, count).add_(bIn[e], One);
                }
                var (leaf, activated) = Activate(hidden, shape.Kind, needsGrad);                 // [chunk rows, d_ff]
                var a = activated.detach();
                bool directHere = direct && a.is_contiguous();
                nint aAt = directHere ? Address(a) : 0;
                int f = (int)a.shape[1];
                foreach (var (e, start, count) in schedule.BlocksOf(chunk))
                {
                    if (directHere) unsafe
                    {
                        BlockGemm(small, false, false, (int)count, dOut, f, (float*)aAt + (start - chunk.Start) * f, f,
                            (float*)wOutAt + (long)e * f * dOut, dOut, (float*)outputAt + start * dOut, dOut);
                    }
                    else output.narrow(0, start, count).addmm_(a.narrow(0, start - chunk.Start, count), wOut[e], 0, 1);
                    if (bOut is not null) output.narrow(0, start, count).add_(bOut[e], One);
                }
                leaves[index] = leaf.DetachFromDisposeScope();
                activations[index] = activated.DetachFromDisposeScope();
            });
            // Owned by the caller's scope (the workers have scopes of their own, and a scope is not thread-safe).
            torch.CurrentDisposeScope?.Attach(leaves.Concat(activations).ToArray());
            saved.AddRange(leaves);
            saved.AddRange(activations);
            return output;
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (rows, output, g, wIn, wOut) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
            var plan = (Plan)ctx.get_data("plan") with { RowTokens = saved[5], SlotRows = saved[6] }; // the forward's wrappers are gone
            var (hasBIn, hasBOut) = ((bool, bool))ctx.get_data("biases");
            int dOut = (int)output.shape[1];
            var gy = gradOutput.to(float32).contiguous();                                         // [T, d_out]

            var watch = DispatchProfiler.Start();
            var chunkTensors = saved.Skip(7).ToList();
            Tensor gWeights, gRows, gWIn, gWOut;
            Tensor? gBIn, gBOut;
            if (plan.Layout == FusedLayout.Padded)
            {
                var gOutput = torch.zeros(plan.Rows, dOut, dtype: float32);
                gWeights = torch.empty(plan.Tokens, plan.Slots, dtype: float32);                 // [T, k]
                unsafe
                {
                    RowKernels.WeightedSumBackward(RowKernels.Pointer(output), RowKernels.Pointer(g), RowKernels.Pointer(gy), plan.SlotRow,
                        RowKernels.Pointer(gOutput), RowKernels.Pointer(gWeights), plan.Tokens, plan.Slots, dOut);
                }
                DispatchProfiler.Stop(DispatchPhase.CombineBackward, watch);
                watch = DispatchProfiler.Start();
                (gRows, gWIn, gWOut, gBIn, gBOut) = PaddedBackward(rows, gOutput, wIn, wOut, chunkTensors[0], chunkTensors[1], plan, hasBIn, hasBOut);
            }
            else
            {
                // The combine's backward runs chunk by chunk inside the expert backward (its rows' gradients never leave the
                // chunk's buffer); slots without a row (dropped by a capacity) keep weight gradient 0.
                gWeights = torch.zeros(plan.Tokens, plan.Slots, dtype: float32);                 // [T, k]
                var source = new RowSource(rows, (bool)ctx.get_data("perBlock") ? plan : null);
                var combine = new CombineGradient((bool)ctx.get_data("outputKept") ? output : null, g, gy, gWeights);
                (gRows, gWIn, gWOut, gBIn, gBOut) = BlocksBackward(source, combine, wIn, wOut, chunkTensors, plan, hasBIn, hasBOut);
            }
            DispatchProfiler.Stop(DispatchPhase.ExpertsBackward, watch);

            watch = DispatchProfiler.Start();
            var gx = torch.empty(plan.Tokens, rows.shape[1], dtype: float32);                    // [T, d]
            unsafe { RowKernels.SumSlots(RowKernels.Pointer(gRows.contiguous()), plan.SlotRow, RowKernels.Pointer(gx), plan.Tokens, plan.Slots, (int)rows.shape[1]); }
            DispatchProfiler.Stop(DispatchPhase.GatherBackward, watch);
            unsafe { LastInputWeightGradient = (IntPtr)RowKernels.Pointer(gWIn); }
            var gradients = new List<Tensor> { gx, gWeights, gWIn, gWOut, gBIn!, gBOut!, null!, null!, null! };
            foreach (var gradient in gradients) gradient?.MoveToOuterDisposeScope();
            return gradients;
        }

        private static (Tensor GRows, Tensor GWIn, Tensor GWOut, Tensor? GBIn, Tensor? GBOut) PaddedBackward(Tensor rows, Tensor gOutput,
            Tensor wIn, Tensor wOut, Tensor leaf, Tensor activated, Plan plan, bool hasBIn, bool hasBOut)
        {
            int n = plan.Experts, d = (int)rows.shape[1], dOut = (int)gOutput.shape[1];
            var gO3 = gOutput.view(n, plan.Largest, dOut);                                        // [E, m, d_out]
            var a3 = activated.detach().view(n, plan.Largest, -1);                                // [E, m, d_ff]
            var gActivated = gO3.bmm(wOut.transpose(1, 2)).view(plan.Rows, -1);                   // [rows, d_ff]
            var gWOut = a3.transpose(1, 2).bmm(gO3);                                              // [E, d_ff, d_out]
            var gHidden = torch.autograd.grad(new[] { activated }, new[] { leaf }, new[] { gActivated })[0].view(n, plan.Largest, -1); // [E, m, F]
            var gWIn = rows.view(n, plan.Largest, d).transpose(1, 2).bmm(gHidden);                // [E, d, F]
            var gRows = gHidden.bmm(wIn.transpose(1, 2)).view(plan.Rows, d);                      // [rows, d]
            return (gRows, gWIn, gWOut, hasBIn ? gHidden.sum(1) : null, hasBOut ? gO3.sum(1) : null);
        }

        /// <summary>Backward of <see cref="BlocksForward"/>, chunk by chunk in the forward's schedule: a chunk's output-side
        /// matmuls, its activation backward and its input-side matmuls back to back. Bias gradients are column sums of
        /// each expert's rows in row order (fixed order, any thread count).</summary>
        internal static (Tensor GRows, Tensor GWIn, Tensor GWOut, Tensor? GBIn, Tensor? GBOut) BlocksBackward(RowSource source, Tensor gOutput,
            Tensor wIn, Tensor wOut, IReadOnlyList<Tensor> chunkTensors, Plan plan, bool hasBIn, bool hasBOut) =>
            BlocksBackward(source, (object)gOutput, wIn, wOut, chunkTensors, plan, hasBIn, hasBOut);

        /// <summary>Where the blocks' input rows come from: <see cref="Rows"/> already in expert order ([rows, d]; the plan is
        /// null), or the tokens [T, d] with the <see cref="Plan"/> whose row → token map picks them, which only
        /// <see cref="SmallGemm"/> can read: through their indices, in the forward's first matmuls and in W_in's gradient
        /// (made transposed as ghᵀ·x) — instead of one [rows, d] copy (k times the input) written before the matmuls and kept
        /// for the backward. Reads through indices are exact, so the bits are those of gathered rows (tested).</summary>
        internal sealed record RowSource(Tensor Rows, Plan? Plan)
        {
            /// <summary>True when the rows are to be read through their indices; that needs the small-block kernel on raw
            /// pointers (<paramref name="kernelDirect"/>), which the forward checked when it chose this source.</summary>
            public bool Indexed(bool kernelDirect) =>
                Plan is not null && (kernelDirect ? true
                    : throw new InvalidOperationException("FusedGroupedDispatch: rows to be read through their indices, but the small-block kernel is off."));
        }

        /// <summary>What the combine's backward needs (the combine weights g [T, k], the upstream gradient gy [T, d_out]) and
        /// where it writes the weights' gradient [T, k]. With the expert output rows (layers with an output bias), each chunk
        /// makes its rows' output gradient g·gy and ∂/∂g = ⟨gy, output row⟩ (<see cref="RowKernels.WeightedSumBackwardRows"/>).
        /// Without them, it works from u = gy·W_outᵀ, which the backward needs anyway: the output row is a·W_out, so
        /// ∂/∂g = ⟨gy, a·W_out⟩ = ⟨u, a⟩ (d_ff long instead of d_out, on rows still in cache), ∂/∂a = g·u, and
        /// ∂/∂W_out = (g·a)ᵀ·gy — no [rows, d_out] output kept for the backward and none read back from memory.</summary>
        internal sealed record CombineGradient(Tensor? Output, Tensor Weights, Tensor Upstream, Tensor WeightGradient);

        /// <summary><paramref name="gradient"/> is either the rows' output gradient [rows, d_out] or a
        /// <see cref="CombineGradient"/>, from which each chunk makes its rows' output gradient itself.</summary>
        private static (Tensor GRows, Tensor GWIn, Tensor GWOut, Tensor? GBIn, Tensor? GBOut) BlocksBackward(RowSource source, object gradient,
            Tensor wIn, Tensor wOut, IReadOnlyList<Tensor> chunkTensors, Plan plan, bool hasBIn, bool hasBOut)
        {
            var rows = source.Rows;
            var gOutput = gradient as Tensor;
            var combine = gradient as CombineGradient;
            int n = plan.Experts, d = (int)rows.shape[1], dOut = (int)wOut.shape[2];
            var schedule = Schedule.Make(plan, wIn.shape[1] * wIn.shape[2], wIn.shape[2]);
            if (chunkTensors.Count != 2 * schedule.Chunks.Length)
                throw new InvalidOperationException($"FusedGroupedDispatch: {chunkTensors.Count} saved chunk tensors for {schedule.Chunks.Length} chunks.");
            var gWOut = torch.empty_like(wOut);
            var gWIn = torch.empty_like(wIn);
            ZeroEmptyExperts(plan, gWOut);
            ZeroEmptyExperts(plan, gWIn);
            var gBIn = hasBIn ? torch.zeros(n, wIn.shape[2], dtype: float32) : null;
            var gBOut = hasBOut ? torch.zeros(n, dOut, dtype: float32) : null;
            var gRows = torch.empty(plan.Rows, d, dtype: float32);
            int chunks = schedule.Chunks.Length;
            int fw = (int)wIn.shape[2];
            bool small = UseSmallGemm(schedule, d, fw, dOut, (int)wOut.shape[1]);
            bool direct = DirectGemm(small, rows, wIn, wOut) && (gOutput?.is_contiguous() ?? true);
            bool indexed = source.Indexed(small && direct);
            bool fromUpstream = combine is not null && combine.Output is null;                  // see CombineGradient
            if (fromUpstream && hasBOut)
                throw new InvalidOperationException("FusedGroupedDispatch: with an output bias, the combine's backward needs the output rows.");
            nint wInAt = Address(wIn), wOutAt = Address(wOut), gWInAt = Address(gWIn), gWOutAt = Address(gWOut), gRowsAt = Address(gRows);
            nint weightsAt = combine is null ? 0 : Address(combine.Weights), gWeightsAt = combine is null ? 0 : Address(combine.WeightGradient);
            nint sourceAt = Address(source.Rows);
            schedule.Run((chunk, index) =>
            {
                var (leaf, activated) = (chunkTensors[index], chunkTensors[chunks + index]);
                var a = activated.detach().contiguous();                                          // [chunk rows, d_ff]
                var gActivated = torch.empty_like(a);
                bool directHere = direct;                                                         // (a and gActivated are contiguous)
                int f = (int)a.shape[1];
                nint aAt = Address(a), gActivatedAt = Address(gActivated);
                // The small-block kernel reads token rows (gy here, x below) through their indices; others get gy gathered.
                // [chunk rows, d_out]: the rows' output gradient, or (from upstream) the rows' upstream gradient gy.
                Tensor? goChunk;
                Tensor? scaledA = null;                                                           // from upstream: g·a [chunk rows, d_ff]
                if (combine is null) goChunk = gOutput!.narrow(0, chunk.Start, chunk.Rows);
                else if (!fromUpstream) unsafe
                {
                    goChunk = torch.empty(chunk.Rows, dOut, dtype: float32);
                    RowKernels.WeightedSumBackwardRows(RowKernels.Pointer(combine.Output!), RowKernels.Pointer(combine.Weights), RowKernels.Pointer(combine.Upstream),
                        plan.RowToken, plan.SlotRow, RowKernels.Pointer(goChunk), RowKernels.Pointer(combine.WeightGradient), chunk.Start, chunk.Rows, plan.Slots, dOut);
                }
                else unsafe
                {
                    goChunk = indexed ? null : torch.empty(chunk.Rows, dOut, dtype: float32);
                    if (goChunk is not null)
                        RowKernels.Gather(RowKernels.Pointer(combine.Upstream), plan.RowToken + chunk.Start, (int)chunk.Rows, RowKernels.Pointer(goChunk), dOut);
                    scaledA = torch.empty_like(a);
                }
                nint goAt = goChunk is null ? 0 : Address(goChunk), scaledAt = scaledA is null ? 0 : Address(scaledA);
                nint upstreamAt = combine is null ? 0 : Address(combine.Upstream);
                foreach (var (e, start, count) in schedule.BlocksOf(chunk))
                {
                    long at = start - chunk.Start;
                    if (fromUpstream) unsafe
                    {
                        // u = gy·W_outᵀ into gActivated's rows, then per row ∂/∂g = ⟨u, a⟩, g·a, and u → g·u = ∂/∂a.
                        float* go = (float*)goAt + at * dOut, u = (float*)gActivatedAt + at * f, aw = (float*)scaledAt + at * f;
                        float* wOutE = (float*)wOutAt + (long)e * f * dOut, gWOutE = (float*)gWOutAt + (long)e * f * dOut;
                        int* tokens = plan.RowToken + start;                                      // gy's rows of this block
                        if (indexed) SmallGemm.RowMajor(false, true, (int)count, f, dOut, (float*)upstreamAt, dOut, wOutE, dOut, u, f, aRows: tokens);
                        else if (directHere) BlockGemm(small, false, true, (int)count, f, dOut, go, dOut, wOutE, dOut, u, f);
                        else gActivated.narrow(0, at, count).addmm_(goChunk!.narrow(0, at, count), wOut[e].t(), 0, 1);
                        RowKernels.CombineBackwardFromUpstream(u, (float*)aAt + at * f, (float*)weightsAt, plan.RowToken, plan.SlotRow, aw, (float*)gWeightsAt,
                            start, count, plan.Slots, f);
                        if (indexed) SmallGemm.RowMajor(true, false, f, dOut, (int)count, aw, f, (float*)upstreamAt, dOut, gWOutE, dOut, bRows: tokens);
                        else if (directHere) BlockGemm(small, true, false, f, dOut, (int)count, aw, f, go, dOut, gWOutE, dOut);
                        else gWOut[e].addmm_(scaledA!.narrow(0, at, count).t(), goChunk!.narrow(0, at, count), 0, 1);
                        continue;                                                                 // no output bias on this path
                    }
                    if (directHere) unsafe                                                        // (not indexed: goChunk is there)
                    {
                        float* goPtr = (float*)goAt + at * dOut, aPtr = (float*)aAt + at * f;
                        BlockGemm(small, false, true, (int)count, f, dOut, goPtr, dOut, (float*)wOutAt + (long)e * f * dOut, dOut, (float*)gActivatedAt + at * f, f);
                        BlockGemm(small, true, false, f, dOut, (int)count, aPtr, f, goPtr, dOut, (float*)gWOutAt + (long)e * f * dOut, dOut);
                    }
                    else
                    {
                        var go = goChunk!.narrow(0, at, count);
                        gActivated.narrow(0, at, count).addmm_(go, wOut[e].t(), 0, 1);
                        gWOut[e].addmm_(a.narrow(0, at, count).t(), go, 0, 1);
                    }
                    if (gBOut is not null) ColumnSums(goChunk!.narrow(0, at, count), gBOut[e]);
                }
                var gHidden = torch.autograd.grad(new[] { activated }, new[] { leaf }, new[] { gActivated })[0].contiguous(); // [chunk rows, F]
                nint gHiddenAt = Address(gHidden);
                // Indexed: W_in's gradient is made transposed, ghᵀ·x [F, d] with x's rows through their indices, into a
                // buffer, then transposed into place: each element is the same FMA chain (operands swapped), the same bits.
                var transposedGrad = indexed ? torch.empty(fw, d, dtype: float32) : null;
                nint transposedAt = transposedGrad is null ? 0 : Address(transposedGrad);
                foreach (var (e, start, count) in schedule.BlocksOf(chunk))
                {
                    long at = start - chunk.Start;
                    if (indexed) unsafe
                    {
                        float* ghPtr = (float*)gHiddenAt + at * fw, transposed = (float*)transposedAt;
                        SmallGemm.RowMajor(true, false, fw, d, (int)count, ghPtr, fw, (float*)sourceAt, d, transposed, d, bRows: plan.RowToken + start);
                        SmallGemm.Transpose(transposed, d, fw, d, (float*)gWInAt + (long)e * d * fw);
                        BlockGemm(small, false, true, (int)count, d, fw, ghPtr, fw, (float*)wInAt + (long)e * d * fw, fw, (float*)gRowsAt + start * d, d);
                    }
                    else if (directHere) unsafe
                    {
                        float* x = (float*)sourceAt + start * d, ghPtr = (float*)gHiddenAt + at * fw;  // rows in expert order
                        BlockGemm(small, true, false, d, fw, (int)count, x, d, ghPtr, fw, (float*)gWInAt + (long)e * d * fw, fw);
                        BlockGemm(small, false, true, (int)count, d, fw, ghPtr, fw, (float*)wInAt + (long)e * d * fw, fw, (float*)gRowsAt + start * d, d);
                    }
                    else
                    {
                        var gh = gHidden.narrow(0, at, count);
                        gWIn[e].addmm_(rows.narrow(0, start, count).t(), gh, 0, 1);
                        gRows.narrow(0, start, count).addmm_(gh, wIn[e].t(), 0, 1);
                    }
                    if (gBIn is not null) ColumnSums(gHidden.narrow(0, at, count), gBIn[e]);
                }
            });
            return (gRows, gWIn, gWOut, gBIn, gBOut);
        }

        /// <summary>target[j] = Σ_r block[r, j], rows in order (contiguous row blocks and target).</summary>
        private static unsafe void ColumnSums(Tensor block, Tensor target) =>
            RowKernels.ColumnSums(RowKernels.Pointer(block), (int)block.shape[0], (int)block.shape[1], RowKernels.Pointer(target));

        /// <summary>The α = 1 of the blocks' bias <c>add_</c>, as a Scalar that lives as long as the process. The blocks
        /// run on several threads; an implicitly converted Scalar (the default α) can be freed by its finalizer while
        /// LibTorch still reads it when another worker's allocation starts a collection (see <c>GcQuietRegion</c>).
        /// (<c>addmm_</c> takes its β and α as plain floats in TorchSharp 0.107: no Scalar object, no hazard.)</summary>
        private static readonly Scalar One = 1f.ToScalar();

        /// <summary>True when the blocks' matmuls can take raw pointers — to <see cref="SmallGemm"/> (when
        /// <paramref name="small"/>) or straight to MKL (<see cref="MklGemm"/>) — rather than <c>addmm_</c>: the kernel is
        /// there, and every operand contiguous (float32 on the CPU, as the fused path requires anyway).</summary>
        private static bool DirectGemm(bool small, params Tensor[] operands) => (small || MklGemm.Enabled) && operands.All(t => t.is_contiguous());

        /// <summary>Whether this plan's blocks go to <see cref="SmallGemm"/>: small blocks (<see cref="Schedule.SmallBlocks"/>:
        /// it beats MKL there, not on larger ones — 1,024 × 1,024 × 256 ran at 83 vs 98 GFLOP/s), the kernel on, and every
        /// width a C block can have (d, the first matmul's width, d_out, d_ff) a multiple of its panel. Depends on the plan
        /// and the shapes only, never on the thread count, so the bits do not either.</summary>
        private static bool UseSmallGemm(Schedule schedule, int d, int fw, int dOut, int f) =>
            schedule.SmallBlocks && SmallGemm.Enabled && SmallGemm.Fits(d) && SmallGemm.Fits(fw) && SmallGemm.Fits(dOut) && SmallGemm.Fits(f);

        /// <summary>The address of a contiguous float32 tensor's first element, as a value a lambda can capture.</summary>
        private static unsafe nint Address(Tensor t) => (nint)RowKernels.Pointer(t);

        /// <summary>C = op(A) · op(B) (row-major, C overwritten) with the kernel <see cref="UseSmallGemm"/> chose.</summary>
        private static unsafe void BlockGemm(bool small, bool transA, bool transB, int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc)
        {
            if (small) SmallGemm.RowMajor(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
            else MklGemm.RowMajor(transA, transB, m, n, k, a, lda, b, ldb, 0, c, ldc);
        }

        private static void ZeroEmptyExperts(Plan plan, Tensor stacked)
        {
            for (int e = 0; e < plan.Experts; e++)
                if (plan.Counts[e] == 0) { using var v = stacked.select(0, e); v.zero_(); }
        }
    }

    /// <summary>How the blocks layout runs its non-empty experts: grouped into chunks of consecutive experts (their
    /// rows are contiguous), each chunk worked through start to finish — first matmuls, activation, second matmuls,
    /// and the same in the backward — so a worker never waits between a chunk's steps and its hidden rows can still be
    /// in cache (measured: E 32 top-4 1.57–1.64 → 1.39–1.48 against one loop per step; see the README). Chunks hold at most
    /// <see cref="ChunkElements"/> hidden values (one expert per chunk when an expert alone has more) and at least
    /// <see cref="MinimumChunks"/> chunks are made when there are enough experts, so two or more workers stay busy and
    /// finish close together. The chunking depends only on the plan, never on the thread count.</summary>
    internal sealed class Schedule
    {
        /// <summary>Hidden values per chunk, at most: 2^20 floats = 4 MiB for the hidden rows, as much again for the
        /// activation. On the 2-core AMD EPYC VMs, caps of 2^15 and 2^17 measured the same as 2^20 within the
        /// machine's noise (E 32 top-4 and E 256 top-8, three interleaved rounds each).</summary>
        internal const long ChunkElements = 1 << 20;

        /// <summary>Chunks made at least (when there are that many experts). The workers take the largest chunks first;
        /// the last one still runs alone, so smaller chunks finish closer together. Experts alone / dense FFN on the
        /// 2-core AMD EPYC VMs, five alternating rounds (median of 26 passes each): E 32 top-4 1.076, 1.097, 1.084, 1.082,
        /// 1.127 with 8 chunks vs 1.033, 1.070, 1.080, 1.085, 1.037 with 16 (32: 1.059, 1.070); E 128 top-16 1.191, 1.167
        /// vs 1.159, 1.118. The results are the same bits either way (each expert's matmuls are independent).</summary>
        internal const int MinimumChunks = 16;

        /// <summary>Blocks whose mean matmul is below this many multiply-adds (rows × d × d_ff) always run in parallel,
        /// one chunk per worker. Measured on an idle 2-core AMD EPYC (MoE/dense wall-time ratio, parallel vs sequential
        /// blocks, before chunking and on .NET workers): E 32 × 256 (34M per block) 1.41–1.46 vs 1.42–1.43; E 128 × 128
        /// (17M) 1.53–1.66 vs 1.66–1.70; E 256 × 64 (2M) 2.88–3.00 vs 3.91–4.02.</summary>
        internal const double ParallelBlockMacs = 1 << 26;

        /// <summary>Blocks whose mean matmul is at least this many multiply-adds run one after another, each kernel on every
        /// torch thread. Between <see cref="ParallelBlockMacs"/> and this, blocks run in parallel when every thread gets
        /// at least <see cref="ChunksPerThread"/> chunks (the last chunk runs alone; with fewer, larger chunks the threads
        /// would finish far apart), else in turn. Since the chunks run on LibTorch's OpenMP team (<see cref="OmpTeam"/>),
        /// the parallel blocks are the faster for E 8 × d_ff 1024, where they used to be slower (1.27–1.33 vs 1.20 on .NET
        /// workers). In-process A/B on the 2-core AMD EPYC VM, MoE/dense, parallel vs in turn (medians of 10–40 passes):
        /// T 1,024 (2^26 per block) 1.102 / 1.140 vs 1.150 / 1.158; T 2,048 1.093 vs 1.116; T 4,096 1.053 / 1.043 / 1.044
        /// vs 1.053 / 1.059 / 1.068; T 8,192 0.967 / 1.011 vs 1.005 / 1.036; T 16,384 (2^30) 1.172 / 0.999 vs 1.082 / 0.984,
        /// hence in turn from there.</summary>
        internal const double SequentialBlockMacs = 1 << 30;

        /// <summary>Chunks per torch thread that blocks between <see cref="ParallelBlockMacs"/> and
        /// <see cref="SequentialBlockMacs"/> need to run in parallel (E 8: 8 chunks on 2 threads).</summary>
        internal const int ChunksPerThread = 4;

        public required (int Expert, long Start, long Count)[] Blocks { get; init; }
        public required Chunk[] Chunks { get; init; }
        public required bool Parallel { get; init; }

        /// <summary>True when the mean block is below <see cref="ParallelBlockMacs"/> (E 32 × d_ff 256 and finer at T 4,096):
        /// its matmuls go to <see cref="SmallGemm"/> where that is on.</summary>
        public bool SmallBlocks { get; private init; }

        /// <summary>Blocks [First, First + Count) of <see cref="Blocks"/>, rows [Start, Start + Rows) of the buffer.</summary>
        internal readonly record struct Chunk(int First, int Count, long Start, long Rows);

        public ArraySegment<(int Expert, long Start, long Count)> BlocksOf(Chunk chunk) => new(Blocks, chunk.First, chunk.Count);

        public static Schedule Make(Plan plan, long macsPerRow, long hiddenWidth)
        {
            var blocks = new List<(int Expert, long Start, long Count)>(plan.Experts);
            long start = 0;
            for (int e = 0; e < plan.Experts; e++)
            {
                if (plan.Counts[e] > 0) blocks.Add((e, start, plan.Counts[e]));
                start += plan.Counts[e];
            }
            double meanBlockMacs = blocks.Count == 0 ? 0 : (double)plan.Rows / blocks.Count * macsPerRow;
            int threads = torch.get_num_threads();
            bool large = meanBlockMacs >= SequentialBlockMacs;
            var schedule = Chunked(blocks, plan.Rows, hiddenWidth, large, threads);
            // Between the two sizes: in parallel only with enough chunks for every thread, else one chunk, blocks in turn.
            if (!large && meanBlockMacs >= ParallelBlockMacs && !(schedule.Parallel && schedule.Chunks.Length >= ChunksPerThread * threads))
                schedule = Chunked(blocks, plan.Rows, hiddenWidth, large: true, threads);
            return new Schedule { Blocks = schedule.Blocks, Chunks = schedule.Chunks, Parallel = schedule.Parallel, SmallBlocks = meanBlockMacs < ParallelBlockMacs };
        }

        /// <summary>Large blocks: one chunk (each kernel over all rows, with every thread). Otherwise chunks of at most
        /// <see cref="ChunkElements"/> hidden values, at least <see cref="MinimumChunks"/> of them, run in parallel.</summary>
        private static Schedule Chunked(List<(int Expert, long Start, long Count)> blocks, long rowCount, long hiddenWidth, bool large, int threads)
        {
            long target = large ? long.MaxValue : Math.Clamp(rowCount * hiddenWidth / MinimumChunks, 1, ChunkElements);
            var chunks = new List<Chunk>();
            int first = 0;
            long rows = 0;
            for (int i = 0; i < blocks.Count; i++)
            {
                if (rows > 0 && (rows + blocks[i].Count) * hiddenWidth > target)
                {
                    chunks.Add(new Chunk(first, i - first, blocks[first].Start, rows));
                    (first, rows) = (i, 0);
                }
                rows += blocks[i].Count;
            }
            if (rows > 0) chunks.Add(new Chunk(first, blocks.Count - first, blocks[first].Start, rows));
            return new Schedule { Blocks = blocks.ToArray(), Chunks = chunks.ToArray(), Parallel = threads > 1 && chunks.Count >= 2 && !large };
        }

        /// <summary>Runs <paramref name="body"/>(chunk, its index) for every chunk. Large blocks run one chunk after
        /// another, each kernel using every torch thread. Small blocks run their chunks in parallel, one chunk at a time
        /// per thread of LibTorch's own OpenMP team (<see cref="OmpTeam"/>; .NET workers where it is not available), each
        /// with one torch thread (thread-local setting, restored after): one parallel region for all the blocks instead of
        /// an OpenMP fork/join per small matmul, and no region between a chunk's steps. Either way the
        /// bits are the same: under the pinned MKL mode (CBWR AVX2, STRICT) a 1-thread and a 2-thread sgemm give identical
        /// results (checked for 333–4,096 rows × 256–1,024), and each chunk's work is the same whichever thread does it.</summary>
        public void Run(Action<Chunk, int> body)
        {
            if (!Parallel)
            {
                for (int i = 0; i < Chunks.Length; i++)
                {
                    using var scope = NewDisposeScope();
                    body(Chunks[i], i);
                }
                return;
            }
            // Largest chunks first, handed out one at a time: balanced even when the loads are not.
            var ordered = Enumerable.Range(0, Chunks.Length).OrderByDescending(i => Chunks[i].Rows).ThenBy(i => i).ToArray();
            OmpTeam.ForEach(ordered.Length, torch.get_num_threads(), i =>
            {
                using var scope = NewDisposeScope();
                body(Chunks[ordered[i]], ordered[i]);
            }, OneTorchThread.Enter);
        }

        /// <summary>A worker's settings while it runs chunks: one torch thread and one MKL thread (both thread-local,
        /// restored on dispose), and no gradient recording (grad mode is per thread; the node's own work builds no graph
        /// beyond the activation's).</summary>
        private sealed class OneTorchThread : IDisposable
        {
            private readonly int previous = torch.get_num_threads();
            private readonly int previousMkl;
            private readonly IDisposable noGrad;

            private OneTorchThread()
            {
                torch.set_num_threads(1);
                previousMkl = MklGemm.SetThreadsOnThisThread(1);                                  // the direct MKL calls too
                noGrad = torch.no_grad();
            }

            public static IDisposable Enter() => new OneTorchThread();

            public void Dispose()
            {
                noGrad.Dispose();
                MklGemm.SetThreadsOnThisThread(previousMkl);
                torch.set_num_threads(previous);
            }
        }
    }
}

/// <summary>Phases of the fused dispatch timed by <see cref="DispatchProfiler"/>.</summary>
public enum DispatchPhase { Plan, Gather, Experts, Combine, CombineBackward, ExpertsBackward, GatherBackward }

/// <summary>Optional accounting of the fused dispatch's phases (for <c>moelab bench --profile</c>), by wall
/// clock or by any other clock the caller sets (e.g. process CPU time). Off by default; when off, it costs
/// one branch per phase.</summary>
public static class DispatchProfiler
{
    private static readonly double[] totals = new double[Enum.GetValues<DispatchPhase>().Length];
    private static readonly Stopwatch wall = Stopwatch.StartNew();

    public static bool Enabled { get; set; }

    /// <summary>Milliseconds on the clock in use (default: wall clock).</summary>
    public static Func<double> Clock { get; set; } = () => wall.Elapsed.TotalMilliseconds;

    internal static double Start() => Enabled ? Clock() : 0;

    internal static void Stop(DispatchPhase phase, double started)
    {
        if (Enabled) totals[(int)phase] += Clock() - started;
    }

    /// <summary>Milliseconds spent in each phase since the last <see cref="Reset"/>.</summary>
    public static IReadOnlyDictionary<DispatchPhase, double> Totals =>
        Enum.GetValues<DispatchPhase>().ToDictionary(p => p, p => totals[(int)p]);

    public static void Reset() => Array.Clear(totals);

}
