using MoeLab.Experiments.Training;
using MoeLab.Metrics.Statistics;
using System.Diagnostics;
using MoeLab.Models.Accounting;
using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using MoeLab.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Bench;

/// <summary>One benchmark shape: an MoE layer with top-k routing and the dense FFN with the same
/// ACTIVE expert parameters (hidden width k·d_ff).</summary>
public sealed record MoeBenchCase(string Name, int Tokens, int DModel, int DHidden, int Experts, int TopK, ExpertKind Kind = ExpertKind.Gelu,
    GroupedKernel Kernel = GroupedKernel.Auto)
{
    /// <summary>The two shapes of issue 2: E 8 top-2 d_ff 1024, and fine-grained E 32 top-4 d_ff 256.</summary>
    public static IReadOnlyList<MoeBenchCase> Standard { get; } = new[]
    {
        new MoeBenchCase("E8-top2", 4096, 256, 1024, 8, 2),
        new MoeBenchCase("E32-top4-fine", 4096, 256, 256, 32, 4),
    };

    /// <summary>Issue 18's sweep: tokens (E 8, k 2, d_ff 1024, T 1k–16k) and granularity (T 4,096; more,
    /// narrower experts with the active parameters of E 8 k 2 d_ff 1024 or of its half).</summary>
    public static IReadOnlyList<MoeBenchCase> Scaling { get; } = new[]
    {
        new MoeBenchCase("T1k-E8-k2", 1024, 256, 1024, 8, 2),
        new MoeBenchCase("T2k-E8-k2", 2048, 256, 1024, 8, 2),
        new MoeBenchCase("T4k-E8-k2", 4096, 256, 1024, 8, 2),
        new MoeBenchCase("T8k-E8-k2", 8192, 256, 1024, 8, 2),
        new MoeBenchCase("T16k-E8-k2", 16384, 256, 1024, 8, 2),
        new MoeBenchCase("E16-k4-ff512", 4096, 256, 512, 16, 4),
        new MoeBenchCase("E64-k8-ff256", 4096, 256, 256, 64, 8),
        new MoeBenchCase("E128-k16-ff128", 4096, 256, 128, 128, 16),
        new MoeBenchCase("E256-k8-ff64", 4096, 256, 64, 256, 8),
    };

    /// <summary>The target ratio for a case, or null where it sets none.</summary>
    public double? TargetRatio => (Experts, TopK, DHidden) switch
    {
        (8, 2, 1024) when Name == "E8-top2" => 1.08,
        (8, 2, 1024) => 1.15,
        (32, 4, 256) => 1.25,
        (128, 16, 128) or (256, 8, 64) => 1.6,
        _ => null,
    };

    public MoeLayerOptions LayerOptions => new()
    {
        DModel = DModel, DHidden = DHidden, Experts = Experts, Kind = Kind, Kernel = Kernel,
        Router = new RouterOptions { Kind = RouterKind.TopK, K = TopK },
    };

    /// <summary>Dense FFN with k·d_ff hidden units: the same active expert parameters.</summary>
    public FeedForwardShape DenseShape => new(DModel, TopK * DHidden, DModel, Kind);
}

/// <summary>Timings of one case (milliseconds per forward+backward).</summary>
public sealed record MoeBenchResult(
    MoeBenchCase Case,
    double MoeMedianMs,
    double DenseMedianMs,
    double MoeGflops,
    double DenseGflops,
    ModelCost MoeCost,
    ModelCost DenseCost,
    IReadOnlyList<double> MoeTimesMs,
    IReadOnlyList<double> DenseTimesMs,
    IReadOnlyList<double>? MoeCpuMs = null,
    IReadOnlyList<double>? DenseCpuMs = null,
    IReadOnlyList<double>? MoeFaults = null,
    IReadOnlyList<double>? DenseFaults = null,
    long MoeJitMethods = 0,
    long DenseJitMethods = 0)
{
    /// <summary>Median minor page faults per pass (see <see cref="ProcessMemory.MinorPageFaults"/>); NaN when not measured.</summary>
    public double MoeFaultsMedian => MoeFaults is { Count: > 0 } ? MoeBenchmark.Median(MoeFaults) : double.NaN;
    public double DenseFaultsMedian => DenseFaults is { Count: > 0 } ? MoeBenchmark.Median(DenseFaults) : double.NaN;

    /// <summary>Median process CPU time per pass (see <see cref="CpuClock"/>); NaN when not measured.</summary>
    public double MoeCpuMedianMs => MoeCpuMs is { Count: > 0 } ? MoeBenchmark.Median(MoeCpuMs) : double.NaN;
    public double DenseCpuMedianMs => DenseCpuMs is { Count: > 0 } ? MoeBenchmark.Median(DenseCpuMs) : double.NaN;

    /// <summary>MoE / dense in process CPU time (steadier than <see cref="Ratio"/> on a busy machine with one thread).</summary>
    public double CpuRatio => MoeCpuMedianMs / DenseCpuMedianMs;

    /// <summary>MoE time / dense time (1.0 = as fast as the dense FFN with the same active parameters).</summary>
    public double Ratio => MoeMedianMs / DenseMedianMs;
}

/// <summary>Times MoE forward+backward against the active-parameter-matched dense FFN, interleaved
/// in the same run (the machines have slow phases; only ratios within one run are comparable).
/// GFLOP/s counts 3× the forward FLOPs of the active parameters (forward + backward).</summary>
public static class MoeBenchmark
{
    public static MoeBenchResult Run(MoeBenchCase c, int warmup, int repetitions, Device device, long seed = 0)
    {
        if (repetitions < 1) throw new ArgumentException($"repetitions = {repetitions}: expected ≥ 1.");
        torch.manual_seed(seed);
        var moe = new MoeLayer(c.LayerOptions, device);
        var dense = new FeedForward("dense", c.DenseShape, device);
        var input = torch.randn(new long[] { c.Tokens, c.DModel }, device: device);  // [T, d]
        var upstream = torch.randn(new long[] { c.Tokens, c.DModel }, device: device); // [T, d] dL/dy

        var (moeTimes, moeCpu, moeFaults) = (new List<double>(), new List<double>(), new List<double>());
        var (denseTimes, denseCpu, denseFaults) = (new List<double>(), new List<double>(), new List<double>());
        long moeJit = 0, denseJit = 0;                                                 // methods JIT-compiled during timed passes
        // As in training (Trainer): no garbage collection inside a timed pass; collections happen between passes.
        using var quiet = GcQuietRegion.Enter();
        // One forward+backward of ⟨model(x), upstream⟩; when recording, its wall time, process CPU time and minor faults.
        long Time(nn.Module model, Func<Tensor, Tensor> forward, List<double>? times, List<double> cpuTimes, List<double> faultCounts)
        {
            GcQuietRegion.SafePoint();
            using var scope = NewDisposeScope();
            model.zero_grad();
            var x = input.detach().requires_grad_(true);
            Synchronize(device);
            double cpu = CpuClock.NowMs();
            long faults = ProcessMemory.MinorPageFaults();
            long compiled = JitActivity.CompiledMethods;
            var sw = Stopwatch.StartNew();
            forward(x).mul(upstream).sum().backward();                // y [T, d]
            Synchronize(device);
            double wall = sw.Elapsed.TotalMilliseconds;
            if (times is null) return 0;
            times.Add(wall);
            cpuTimes.Add(CpuClock.NowMs() - cpu);
            if (faults >= 0) faultCounts.Add(ProcessMemory.MinorPageFaults() - faults);
            return JitActivity.CompiledMethods - compiled;
        }
        void TimeMoe(bool record) => moeJit += Time(moe, x => moe.forward(x).Output, record ? moeTimes : null, moeCpu, moeFaults);
        void TimeDense(bool record) => denseJit += Time(dense, dense.forward, record ? denseTimes : null, denseCpu, denseFaults);

        for (int i = 0; i < warmup; i++) { TimeMoe(false); TimeDense(false); }
        for (int i = 0; i < repetitions; i++)
        {
            if (i % 2 == 0) { TimeMoe(true); TimeDense(true); }
            else { TimeDense(true); TimeMoe(true); }
        }
        var moeCost = CostModel.Moe(c.LayerOptions);
        var denseCost = CostModel.FeedForward(c.DenseShape);
        double moeMs = Median(moeTimes), denseMs = Median(denseTimes);
        double Gflops(ModelCost cost, double ms) => 3 * cost.ForwardFlopsPerToken * c.Tokens / (ms * 1e-3) / 1e9;
        return new MoeBenchResult(c, moeMs, denseMs, Gflops(moeCost, moeMs), Gflops(denseCost, denseMs), moeCost, denseCost, moeTimes, denseTimes, moeCpu, denseCpu, moeFaults, denseFaults, moeJit, denseJit);
    }

    public static double Median(IReadOnlyList<double> values) => SampleStatistics.Median(values);

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
    }
}
