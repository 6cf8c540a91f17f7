using System.Diagnostics;
using MoeLab.Models.Accounting;
using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Bench;

/// <summary>One phase of an MoE forward+backward and its median time.</summary>
/// <param name="Instrumented">false for a phase computed as a remainder (total minus the timed phases).</param>
/// <param name="InTotal">false for work the layer defers until something reads it (the auxiliary losses, the routing
/// statistics), timed after the pass: not part of its total, nor of <c>moelab bench</c>'s figure.</param>
public sealed record MoePhaseTime(string Phase, double MedianMs, bool Instrumented = true, bool InTotal = true);

/// <summary>Per-phase breakdown of one case, with the dense FFN's forward and backward for comparison.</summary>
/// <param name="FloorForwardMs">median forward of the expert computation alone (<see cref="FusedGroupedDispatch.ExpertsAlone"/>:
/// the layer's own blocks, chunks and kernels on rows already in expert order, with this routing's block sizes; no router,
/// plan, gather or combine); null where the layer does not run the fused blocks layout.</param>
/// <param name="FloorBackwardMs">its backward, likewise.</param>
public sealed record MoeProfileResult(MoeBenchCase Case, IReadOnlyList<MoePhaseTime> Phases, double MoeTotalMs,
    double DenseForwardMs, double DenseBackwardMs, string Kernel, string Clock = "wall clock",
    double? FloorForwardMs = null, double? FloorBackwardMs = null)
{
    public double DenseTotalMs => DenseForwardMs + DenseBackwardMs;

    /// <summary>Forward + backward of the experts alone (null without a floor).</summary>
    public double? FloorTotalMs => FloorForwardMs + FloorBackwardMs;

    /// <summary>The lowest MoE/dense ratio this layer could reach with routing, permutation and bookkeeping for free:
    /// experts alone / dense (null without a floor).</summary>
    public double? FloorRatio => FloorTotalMs / DenseTotalMs;

    /// <summary>What routing, permutation and bookkeeping take on top of the floor: MoE total − floor (null without a floor).</summary>
    public double? AboveFloorMs => MoeTotalMs - FloorTotalMs;

    /// <summary>Milliseconds a target ratio leaves for routing on top of the floor, (target − floor ratio) · dense total;
    /// negative when the floor alone is above the target (null without a floor).</summary>
    public double? RoutingBudgetMs(double targetRatio) => (targetRatio - FloorRatio) * DenseTotalMs;
}

/// <summary>Where the time of an MoE layer goes: the layer's steps run one by one with a stopwatch around
/// each (router, auxiliary losses, routing statistics, dispatch), the fused dispatch's internal phases from
/// <see cref="DispatchProfiler"/> (plan = host counting sort, gather = permute into expert order, expert
/// matmuls + activation, combine = weighted un-permute; and the backward of the last three), and the
/// router's backward as the rest of the backward pass. Medians over repetitions, interleaved with the dense
/// FFN (forward and backward timed apart). The stopwatches cost a little; the sum is close to, not equal
/// to, <see cref="MoeBenchmark"/>'s figure. With the fused blocks layout a third variant is interleaved too, the
/// floor: the same expert blocks alone (<see cref="FusedGroupedDispatch.ExpertsAlone"/>, block sizes from this
/// input's routing), i.e. what the layer would cost if routing and permutation were free.</summary>
public static class MoeProfile
{
    /// <param name="cpuTime">time every phase by process CPU time (<see cref="CpuClock"/>) instead of the wall clock:
    /// with one torch thread on a busy machine, the only steady figure.</param>
    public static MoeProfileResult Run(MoeBenchCase c, int warmup, int repetitions, Device device, long seed = 0, bool cpuTime = false)
    {
        var wall = Stopwatch.StartNew();
        Func<double> now = cpuTime ? CpuClock.NowMs : () => wall.Elapsed.TotalMilliseconds;
        var previousClock = DispatchProfiler.Clock;
        DispatchProfiler.Clock = now;
        try { return Profile(c, warmup, repetitions, device, seed, now, cpuTime); }
        finally { DispatchProfiler.Clock = previousClock; }
    }

    private const string AuxiliaryLossesPhase = "auxiliary losses, all four, when read";
    private const string StatisticsPhase = "routing statistics, when read";

    private sealed class Watch(Func<double> now)
    {
        private double started = now();
        public double ElapsedMs => now() - started;
        public void Restart() => started = now();
    }

    private static MoeProfileResult Profile(MoeBenchCase c, int warmup, int repetitions, Device device, long seed, Func<double> now, bool cpuTime)
    {
        if (repetitions < 1) throw new ArgumentException($"repetitions = {repetitions}: expected ≥ 1.");
        torch.manual_seed(seed);
        var moe = new MoeLayer(c.LayerOptions, device);
        var dense = new FeedForward("dense", c.DenseShape, device);
        var input = torch.randn(new long[] { c.Tokens, c.DModel }, device: device);  // [T, d]
        var upstream = torch.randn(new long[] { c.Tokens, c.DModel }, device: device); // [T, d]
        var samples = new Dictionary<string, List<double>>();
        void Add(string phase, double ms) { if (!samples.TryGetValue(phase, out var l)) samples[phase] = l = new(); l.Add(ms); }
        var denseForward = new List<double>();
        var denseBackward = new List<double>();
        var (floorForward, floorBackward) = (new List<double>(), new List<double>());
        bool fused = false;
        // The floor's inputs: rows in expert order with the block sizes this input's routing gives (weights are not
        // updated between passes, so every pass routes the same way).
        bool blocks = (c.Kernel is GroupedKernel.Auto or GroupedKernel.FusedBlocks) && FusedGroupedDispatch.Supports(input);
        long[]? counts = null;
        Tensor? floorRows = null, floorUpstream = null;
        if (blocks)
        {
            using var noGrad = torch.no_grad();
            var routing = moe.Router.Route(input, c.Tokens);
            counts = Models.Losses.AuxiliaryLosses.AssignmentCounts(routing.ExpertIndices, routing.Valid, c.Experts).data<long>().ToArray();
            floorRows = torch.randn(new long[] { counts.Sum(), c.DModel }, device: device);                        // [rows, d]
            floorUpstream = torch.randn(new long[] { counts.Sum(), moe.Experts.Shape.DOut }, device: device);      // [rows, d_out]
        }

        using var quiet = GcQuietRegion.Enter(); // as in training: collections between passes, not inside them
        void Moe(bool record)
        {
            GcQuietRegion.SafePoint();
            using var scope = NewDisposeScope();
            moe.zero_grad();
            var x = input.detach().requires_grad_(true);
            DispatchProfiler.Reset();
            DispatchProfiler.Enabled = true;
            try
            {
                var total = new Watch(now);
                var sw = new Watch(now);
                var routing = moe.Router.Route(x, c.Tokens);                                     // [T, E]
                double router = sw.ElapsedMs;
                sw.Restart();
                var losses = MoeLayer.ComputeLosses(routing, 1);                                  // declared, computed when read
                sw.Restart();
                var dispatched = ExpertDispatch.Run(moe.Experts, x, routing, moe.Options.Dispatch, moe.Options.CapacityFactor, moe.Options.Kernel);
                double dispatch = sw.ElapsedMs;
                sw.Restart();
                var stats = RoutingStatistics.From(dispatched.Routing, dispatched.TokensPerExpert); // likewise
                var forwardPhases = DispatchProfiler.Totals;
                DispatchProfiler.Reset();
                sw.Restart();
                dispatched.Output.mul(upstream).sum().backward();
                double backward = sw.ElapsedMs;
                double all = total.ElapsedMs;
                var backwardPhases = DispatchProfiler.Totals;
                // What a caller pays when it does read them (a training step reads the losses it weights).
                sw.Restart();
                _ = new[] { losses.LoadBalancing, losses.RouterZ, losses.Entropy, losses.SequenceBalance };
                double aux = sw.ElapsedMs;
                sw.Restart();
                _ = stats.TokensPerExpert;
                double statistics = sw.ElapsedMs;
                if (!record) return;
                fused = forwardPhases[DispatchPhase.Experts] > 0;
                Add("router forward (gate matmul, softmax, top-k)", router);
                if (fused)
                {
                    Add("plan: counting sort by expert (host)", forwardPhases[DispatchPhase.Plan]);
                    // Small blocks gather each expert's rows inside the expert forward; larger ones in a phase of their own.
                    bool gatherApart = forwardPhases[DispatchPhase.Gather] > 0;
                    if (gatherApart) Add("gather rows into expert order", forwardPhases[DispatchPhase.Gather]);
                    Add(gatherApart ? "expert matmuls + activation forward" : "gather + expert matmuls + activation forward", forwardPhases[DispatchPhase.Experts]);
                    Add("combine (weighted un-permute) forward", forwardPhases[DispatchPhase.Combine]);
                    double accounted = forwardPhases.Values.Sum();
                    Add("dispatch forward, other", Math.Max(0, dispatch - accounted));
                }
                else Add("dispatch forward (autograd path, not split)", dispatch);
                if (fused)
                {
                    // The blocks layout makes the combine's backward chunk by chunk inside the expert backward; the padded
                    // layout (a capacity) still runs it as a phase of its own.
                    bool combineApart = backwardPhases[DispatchPhase.CombineBackward] > 0;
                    if (combineApart) Add("combine backward", backwardPhases[DispatchPhase.CombineBackward]);
                    Add(combineApart ? "expert matmuls + activation backward" : "expert matmuls + activation + combine backward",
                        backwardPhases[DispatchPhase.ExpertsBackward]);
                    Add("gather backward (sum of the k rows)", backwardPhases[DispatchPhase.GatherBackward]);
                    Add("router backward and autograd overhead (rest)", Math.Max(0, backward - backwardPhases.Values.Sum()));
                }
                else Add("backward (autograd path, not split)", backward);
                Add("total", all);
                Add(AuxiliaryLossesPhase, aux);
                Add(StatisticsPhase, statistics);
            }
            finally { DispatchProfiler.Enabled = false; }
        }
        void Dense(bool record)
        {
            GcQuietRegion.SafePoint();
            using var scope = NewDisposeScope();
            dense.zero_grad();
            var x = input.detach().requires_grad_(true);
            var sw = new Watch(now);
            var y = dense.forward(x);
            double forward = sw.ElapsedMs;
            sw.Restart();
            y.mul(upstream).sum().backward();
            double backward = sw.ElapsedMs;
            if (record) { denseForward.Add(forward); denseBackward.Add(backward); }
        }
        void Floor(bool record)
        {
            if (!blocks) return;
            GcQuietRegion.SafePoint();
            using var scope = NewDisposeScope();
            var sw = new Watch(now);
            var (output, backward) = FusedGroupedDispatch.ExpertsAlone(moe.Experts, floorRows!, counts!);
            double forward = sw.ElapsedMs;
            sw.Restart();
            backward(floorUpstream!);
            double back = sw.ElapsedMs;
            if (record) { floorForward.Add(forward); floorBackward.Add(back); }
        }
        for (int i = 0; i < warmup; i++) { Moe(false); Dense(false); Floor(false); }
        for (int i = 0; i < repetitions; i++)
        {
            if (i % 2 == 0) { Moe(true); Dense(true); Floor(true); } else { Floor(true); Dense(true); Moe(true); }
        }
        var phases = samples.Where(kv => kv.Key != "total")
            .Select(kv => new MoePhaseTime(kv.Key, MoeBenchmark.Median(kv.Value), !kv.Key.Contains("rest") && !kv.Key.Contains("other"),
                InTotal: kv.Key is not (AuxiliaryLossesPhase or StatisticsPhase)))
            .ToList();
        return new MoeProfileResult(c, phases, MoeBenchmark.Median(samples["total"]), MoeBenchmark.Median(denseForward),
            MoeBenchmark.Median(denseBackward), fused ? "fused" : "autograd", cpuTime ? "process CPU time" : "wall clock",
            floorForward.Count > 0 ? MoeBenchmark.Median(floorForward) : null, floorBackward.Count > 0 ? MoeBenchmark.Median(floorBackward) : null);
    }
}
