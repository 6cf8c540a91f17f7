using System.Diagnostics;
using MoeLab.Models.Experts;
using MoeLab.Models.Internal;
using MoeLab.Models.Routing;
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
/// backward are single passes in <see cref="RowKernels"/> (no <c>index_add</c>, no zero-filled buffers);</item>
/// <item>the expert matmuls write into one preallocated buffer (<c>addmm_</c> into row blocks; no split/cat)
/// and the weight gradients into one [E, ...] tensor (no unbind/stack);</item>
/// <item>the activation's backward is autograd's own fused kernel (GELU, SiLU·up), run on a saved
/// one-node graph.</item>
/// </list>
/// Deterministic: fixed summation orders everywhere, independent of the thread count.</summary>
public static class FusedGroupedDispatch
{
    /// <summary>True when the fused path can run: CPU float32 input.</summary>
    public static bool Supports(Tensor x) => x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32;

    /// <summary>The host-side plan: which row of the expert-ordered buffer each (token, slot) occupies.</summary>
    internal sealed class Plan
    {
        public required int Tokens, Slots, Experts;
        public required long[] Counts;        // [E] kept rows per expert
        public required int[] RowToken;       // [rows] source token of each buffer row (−1: padding)
        public required int[] SlotRow;        // [T·k] buffer row of slot (t, s), or −1 (not chosen / dropped)
        public required bool[] Dropped;       // [T·k] dropped by capacity
        public required FusedLayout Layout;
        public required int Largest;          // rows of the largest block (the padded block size)
        public int Rows => RowToken.Length;
        public long Kept => Counts.Sum();
    }

    internal static Plan MakePlan(RoutingResult routing, double? capacityFactor, GroupedKernel kernel, out long? capacity)
    {
        int t = checked((int)routing.Units), k = checked((int)routing.MaxSlots), n = routing.Experts;
        long[] expert = routing.ExpertIndices.cpu().contiguous().data<long>().ToArray();       // [T·k] token-major
        bool[] chosen = routing.Kept.cpu().contiguous().data<bool>().ToArray();                // [T·k]
        var dropped = new bool[t * k];
        var counts = new long[n];
        capacity = null;
        long limit = long.MaxValue;
        if (capacityFactor is double cf)
        {
            long assignments = chosen.LongCount(c => c);
            limit = Capacity.Compute(cf, assignments, n);
            capacity = limit;
        }
        // Priority order (slot-major): all first choices in token order, then all second choices, ...
        for (int s = 0; s < k; s++)
            for (int i = 0; i < t; i++)
            {
                int a = i * k + s;
                if (!chosen[a]) continue;
                long e = expert[a];
                if (counts[e] >= limit) { dropped[a] = true; chosen[a] = false; continue; }
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
        var rowToken = new int[rows];
        if (padded) Array.Fill(rowToken, -1);
        var slotRow = new int[t * k];
        Array.Fill(slotRow, -1);
        var next = (long[])start.Clone();
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
            Tokens = t, Slots = k, Experts = n, Counts = counts, RowToken = rowToken, SlotRow = slotRow, Dropped = dropped,
            Layout = padded ? FusedLayout.Padded : FusedLayout.Blocks, Largest = largest,
        };
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
            output = FusedExpertsFunction.apply(x.contiguous(), weights, bank.InputWeight, bank.OutputWeight,
                bank.InputBias, bank.OutputBias, plan, bank.Shape, needsGrad);
        }
        var dropped = routing.Dropped;
        if (capacity is not null)
            dropped = torch.tensor(plan.Dropped, device: x.device).reshape(t, plan.Slots).logical_or(routing.Dropped);
        var perExpert = torch.tensor(plan.Counts, device: x.device);                            // [N]
        var newRouting = routing with { Dropped = dropped };
        scope.Keep(newRouting.Dropped, output, perExpert);
        return new DispatchResult(output, newRouting, perExpert, capacity);
    }

    /// <summary>x [T, d], g [T, k], W_in [E, d, F], W_out [E, F', d] (+ biases) → y [T, d].</summary>
    private sealed class FusedExpertsFunction : SingleTensorFunction<FusedExpertsFunction>
    {
        public override string Name => "MoeFusedExperts";

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var (x, g, wIn, wOut) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3]);
            var (bIn, bOut, plan, shape, needsGrad) = (vars[4] as Tensor, vars[5] as Tensor, (Plan)vars[6], (FeedForwardShape)vars[7], (bool)vars[8]);
            int d = (int)x.shape[1], dOut = shape.DOut, n = plan.Experts;
            var watch = DispatchProfiler.Start();
            var rows = torch.empty(plan.Rows, d, dtype: float32);                               // [rows, d] tokens in expert order
            unsafe { RowKernels.Gather(RowKernels.Pointer(x), plan.RowToken, RowKernels.Pointer(rows), d); }
            DispatchProfiler.Stop(DispatchPhase.Gather, watch);

            watch = DispatchProfiler.Start();
            Tensor hidden, output;                                                                // [rows, F], [rows, d_out]
            if (plan.Layout == FusedLayout.Padded)
            {
                var stacked = rows.view(n, plan.Largest, d);                                      // [E, m, d]
                hidden = stacked.bmm(wIn);                                                       // [E, m, F]
                if (bIn is not null) hidden.add_(bIn.unsqueeze(1));
                hidden = hidden.view(plan.Rows, -1);
            }
            else
            {
                hidden = torch.empty(plan.Rows, wIn.shape[2], dtype: float32);
                var wInE = wIn.unbind(0);                                                         // E views, one call
                ForEachBlock(plan, wIn.shape[1] * wIn.shape[2], (e, start, count) =>
                {
                    var h = hidden.narrow(0, start, count);
                    h.addmm_(rows.narrow(0, start, count), wInE[e], 0, 1);
                    if (bIn is not null) h.add_(bIn[e], One);
                });
            }
            // The activation as a one-node graph of its own: backward reuses autograd's fused kernel.
            Tensor hiddenLeaf, activated;
            if (needsGrad)
            {
                using (torch.enable_grad())
                {
                    hiddenLeaf = hidden.detach().requires_grad_(true);
                    activated = ExpertInit.Activate(hiddenLeaf, shape.Kind);                     // [rows, d_ff]
                }
            }
            else
            {
                hiddenLeaf = hidden;
                activated = ExpertInit.Activate(hidden, shape.Kind);
            }
            if (plan.Layout == FusedLayout.Padded)
            {
                var a3 = activated.detach().view(n, plan.Largest, -1);
                var o3 = a3.bmm(wOut);                                                            // [E, m, d_out]
                if (bOut is not null) o3.add_(bOut.unsqueeze(1));
                output = o3.view(plan.Rows, dOut);
            }
            else
            {
                output = torch.empty(plan.Rows, dOut, dtype: float32);
                var a = activated.detach();
                var wOutE = wOut.unbind(0);
                ForEachBlock(plan, wIn.shape[1] * wIn.shape[2], (e, start, count) =>
                {
                    var o = output.narrow(0, start, count);
                    o.addmm_(a.narrow(0, start, count), wOutE[e], 0, 1);
                    if (bOut is not null) o.add_(bOut[e], One);
                });
            }
            DispatchProfiler.Stop(DispatchPhase.Experts, watch);

            watch = DispatchProfiler.Start();
            var y = torch.empty(plan.Tokens, dOut, dtype: float32);                               // [T, d_out]
            unsafe { RowKernels.WeightedSum(RowKernels.Pointer(output), RowKernels.Pointer(g), plan.SlotRow, RowKernels.Pointer(y), plan.Tokens, plan.Slots, dOut); }
            DispatchProfiler.Stop(DispatchPhase.Combine, watch);

            ctx.save_for_backward(new List<Tensor> { rows, hiddenLeaf, activated, output, g, wIn, wOut });
            ctx.save_data("plan", plan);
            ctx.save_data("shape", shape);
            ctx.save_data("biases", (bIn is not null, bOut is not null));
            return y;
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (rows, hiddenLeaf, activated, output, g, wIn, wOut) = (saved[0], saved[1], saved[2], saved[3], saved[4], saved[5], saved[6]);
            var plan = (Plan)ctx.get_data("plan");
            var (hasBIn, hasBOut) = ((bool, bool))ctx.get_data("biases");
            int n = plan.Experts, d = (int)rows.shape[1], dOut = (int)output.shape[1];
            var gy = gradOutput.to(float32).contiguous();                                         // [T, d_out]

            var watch = DispatchProfiler.Start();
            var gOutput = plan.Layout == FusedLayout.Padded ? torch.zeros(plan.Rows, dOut, dtype: float32) : torch.empty(plan.Rows, dOut, dtype: float32);
            var gWeights = torch.empty(plan.Tokens, plan.Slots, dtype: float32);                 // [T, k]
            unsafe
            {
                RowKernels.WeightedSumBackward(RowKernels.Pointer(output), RowKernels.Pointer(g), RowKernels.Pointer(gy), plan.SlotRow,
                    RowKernels.Pointer(gOutput), RowKernels.Pointer(gWeights), plan.Tokens, plan.Slots, dOut);
            }
            DispatchProfiler.Stop(DispatchPhase.CombineBackward, watch);

            watch = DispatchProfiler.Start();
            Tensor gActivated, gWOut, gWIn, gRows;
            Tensor? gBIn = null, gBOut = null;
            var a = activated.detach();
            if (plan.Layout == FusedLayout.Padded)
            {
                var gO3 = gOutput.view(n, plan.Largest, dOut);                                    // [E, m, d_out]
                var a3 = a.view(n, plan.Largest, -1);                                             // [E, m, d_ff]
                gActivated = gO3.bmm(wOut.transpose(1, 2)).view(plan.Rows, -1);                   // [rows, d_ff]
                gWOut = a3.transpose(1, 2).bmm(gO3);                                              // [E, d_ff, d_out]
                if (hasBOut) gBOut = gO3.sum(1);
            }
            else
            {
                gActivated = torch.empty_like(a);
                gWOut = torch.empty_like(wOut);
                ZeroEmptyExperts(plan, gWOut);
                if (hasBOut) gBOut = torch.zeros(n, dOut, dtype: float32).index_add_(0, RowExperts(plan), gOutput, 1); // Σ rows per expert
                var wOutE = wOut.unbind(0);
                var gWOutE = gWOut.unbind(0);
                ForEachBlock(plan, wIn.shape[1] * wIn.shape[2], (e, start, count) =>
                {
                    var go = gOutput.narrow(0, start, count);
                    gActivated.narrow(0, start, count).addmm_(go, wOutE[e].t(), 0, 1);
                    gWOutE[e].addmm_(a.narrow(0, start, count).t(), go, 0, 1);
                });
            }
            var gHidden = torch.autograd.grad(new[] { activated }, new[] { hiddenLeaf }, new[] { gActivated })[0]; // [rows, F]
            if (plan.Layout == FusedLayout.Padded)
            {
                var gH3 = gHidden.view(n, plan.Largest, -1);
                gWIn = rows.view(n, plan.Largest, d).transpose(1, 2).bmm(gH3);                    // [E, d, F]
                gRows = gH3.bmm(wIn.transpose(1, 2)).view(plan.Rows, d);                          // [rows, d]
                if (hasBIn) gBIn = gH3.sum(1);
            }
            else
            {
                gWIn = torch.empty_like(wIn);
                ZeroEmptyExperts(plan, gWIn);
                gRows = torch.empty(plan.Rows, d, dtype: float32);
                if (hasBIn) gBIn = torch.zeros(n, wIn.shape[2], dtype: float32).index_add_(0, RowExperts(plan), gHidden, 1);
                var wInE = wIn.unbind(0);
                var gWInE = gWIn.unbind(0);
                ForEachBlock(plan, wIn.shape[1] * wIn.shape[2], (e, start, count) =>
                {
                    var gh = gHidden.narrow(0, start, count);
                    gWInE[e].addmm_(rows.narrow(0, start, count).t(), gh, 0, 1);
                    gRows.narrow(0, start, count).addmm_(gh, wInE[e].t(), 0, 1);
                });
            }
            DispatchProfiler.Stop(DispatchPhase.ExpertsBackward, watch);

            watch = DispatchProfiler.Start();
            var gx = torch.empty(plan.Tokens, d, dtype: float32);                                 // [T, d]
            unsafe { RowKernels.SumSlots(RowKernels.Pointer(gRows.contiguous()), plan.SlotRow, RowKernels.Pointer(gx), plan.Tokens, plan.Slots, d); }
            DispatchProfiler.Stop(DispatchPhase.GatherBackward, watch);
            var gradients = new List<Tensor> { gx, gWeights, gWIn, gWOut, gBIn!, gBOut!, null!, null!, null! };
            foreach (var gradient in gradients) gradient?.MoveToOuterDisposeScope();
            return gradients;
        }

        /// <summary>The α = 1 of the blocks' bias <c>add_</c>, as a Scalar that lives as long as the process. The blocks
        /// run on several threads; an implicitly converted Scalar (the default α) can be freed by its finalizer while
        /// LibTorch still reads it when another worker's allocation starts a collection (see <c>GcQuietRegion</c>).
        /// (<c>addmm_</c> takes its β and α as plain floats in TorchSharp 0.107: no Scalar object, no hazard.)</summary>
        private static readonly Scalar One = 1f.ToScalar();

        /// <summary>Blocks whose mean matmul is at least this many multiply-adds (rows × d × d_ff) run one after
        /// another with every torch thread; smaller ones run in parallel, one per worker. Measured on an idle
        /// 2-core AMD EPYC (MoE/dense wall-time ratio, parallel vs sequential blocks): E 8 × d_ff 1024 (268M per
        /// block) 1.27–1.33 vs 1.20; E 32 × 256 (34M) 1.41–1.46 vs 1.42–1.43; E 128 × 128 (17M) 1.53–1.66 vs
        /// 1.66–1.70; E 256 × 64 (2M) 2.88–3.00 vs 3.91–4.02.</summary>
        internal const double ParallelBlockMacs = 1 << 26;

        /// <summary>Runs <paramref name="body"/>(expert, first row, rows) for every non-empty block. With more than
        /// one torch thread and small blocks (mean below <see cref="ParallelBlockMacs"/> multiply-adds, given
        /// <paramref name="macsPerRow"/>), the blocks run in parallel, one block per .NET worker with one torch
        /// thread each (thread-local setting, restored after): a few kernels per worker instead of an OpenMP
        /// fork/join per small matmul. Large blocks run one after another, each matmul using every thread. Either
        /// way the bits are the same: under the pinned MKL mode (CBWR AVX2, STRICT) a 1-thread and a 2-thread
        /// sgemm give identical results (checked for 333–4,096 rows × 256–1,024), so results depend neither on
        /// the schedule nor on the configured thread count.</summary>
        private static void ForEachBlock(Plan plan, long macsPerRow, Action<int, long, long> body)
        {
            var blocks = new List<(int Expert, long Start, long Count)>(plan.Experts);
            long start = 0;
            for (int e = 0; e < plan.Experts; e++)
            {
                if (plan.Counts[e] > 0) blocks.Add((e, start, plan.Counts[e]));
                start += plan.Counts[e];
            }
            int threads = torch.get_num_threads();
            double meanBlockMacs = blocks.Count == 0 ? 0 : (double)plan.Rows / blocks.Count * macsPerRow;
            if (threads <= 1 || blocks.Count < 2 || meanBlockMacs >= ParallelBlockMacs)
            {
                foreach (var (e, s, n) in blocks)
                {
                    using var scope = NewDisposeScope();
                    body(e, s, n);
                }
                return;
            }
            // Largest blocks first, handed out one at a time: balanced even when the loads are not.
            var ordered = blocks.OrderByDescending(b => b.Count).ThenBy(b => b.Expert).ToList();
            int next = -1;
            Parallel.For(0, Math.Min(threads, ordered.Count), new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
            {
                int previous = torch.get_num_threads();
                torch.set_num_threads(1);
                using var noGrad = torch.no_grad(); // grad mode is per thread; the node's own work builds no graph
                try
                {
                    for (int i = Interlocked.Increment(ref next); i < ordered.Count; i = Interlocked.Increment(ref next))
                    {
                        using var scope = NewDisposeScope();
                        body(ordered[i].Expert, ordered[i].Start, ordered[i].Count);
                    }
                }
                finally { torch.set_num_threads(previous); }
            });
        }

        /// <summary>[rows] int64 expert of each row of the blocks layout.</summary>
        private static Tensor RowExperts(Plan plan)
        {
            var experts = new long[plan.Rows];
            long row = 0;
            for (int e = 0; e < plan.Experts; e++)
                for (long i = 0; i < plan.Counts[e]; i++) experts[row++] = e;
            return torch.tensor(experts);
        }

        private static void ZeroEmptyExperts(Plan plan, Tensor stacked)
        {
            for (int e = 0; e < plan.Experts; e++)
                if (plan.Counts[e] == 0) { using var v = stacked.select(0, e); v.zero_(); }
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
