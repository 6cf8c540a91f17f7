using System.CommandLine;
using System.Globalization;
using MoeLab.Experiments.Bench;
using MoeLab.Experiments.Cluster;
using MoeLab.Experiments.Training;
using MoeLab.Models.Dispatch;
using MoeLab.Models.Runtime;
using TorchSharp;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab bench`: MoE forward+backward against the dense FFN with the same active
/// parameters (issue 2's two shapes), medians of interleaved repetitions.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var repetitions = new Option<int>("--repetitions") { Description = "Timed repetitions per variant (median reported; ≥ 10 recommended).", DefaultValueFactory = _ => 20 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up repetitions per variant.", DefaultValueFactory = _ => 3 };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => "auto" };
        var threads = new Option<int>("--threads") { Description = "Torch intra-op threads (0 = library default).", DefaultValueFactory = _ => 0 };
        var only = new Option<string>("--case") { Description = "Run only the named case (E8-top2 or E32-top4-fine); default all.", DefaultValueFactory = _ => "all" };
        var tokens = new Option<int>("--tokens") { Description = "Override the number of tokens (default 4096).", DefaultValueFactory = _ => 0 };
        var kernel = new Option<string>("--kernel") { Description = "Grouped-dispatch kernel: auto, loop or batched.", DefaultValueFactory = _ => "auto" };
        var ctrUsers = new Option<int>("--ctr-data") { Description = "Instead: time the synthetic CTR generator of aw-moe for this many users (≈ 10 impressions each), median of the repetitions.", DefaultValueFactory = _ => 0 };
        var profile = new Option<bool>("--profile") { Description = "Per-phase breakdown of each case (router, sort, gather, expert matmuls, combine, and their backward) next to the dense FFN's forward and backward." };
        var scaling = new Option<bool>("--scaling") { Description = "The tokens and granularity sweep (T 1k–16k at E 8 k 2; E 16–256 at T 4,096) with the targets." };
        var clock = new Option<string>("--clock") { Description = "With --profile: wall or cpu (process CPU time; steadier on a busy machine with --threads 1).", DefaultValueFactory = _ => "wall" };
        var train = new Option<string>("--train") { Description = "Instead: time optimiser steps of this experiment (its data, model and optimiser; the first arm): ms per step split into data/forward/backward/optimiser, items per second, peak RSS." };
        var preset = new Option<string>("--preset") { Description = "With --train: the experiment's preset.", DefaultValueFactory = _ => "cpu" };
        var steps = new Option<int>("--steps") { Description = "With --train: timed optimiser steps (after --warmup untimed ones).", DefaultValueFactory = _ => 20 };
        var seed = new Option<long>("--seed") { Description = "With --train: the run's seed.", DefaultValueFactory = _ => 0 };
        var sets = CliOptions.Set();
        var cmd = new Command("bench", "Time MoE forward+backward vs a dense FFN with the same active parameters.");
        foreach (var o in new Option[] { repetitions, warmup, device, threads, only, tokens, kernel, ctrUsers, profile, scaling, train, preset, steps, seed, sets, clock }) cmd.Options.Add(o);
        cmd.SetAction(r => r.GetValue(train) is { Length: > 0 } experiment
            ? RunTraining(Console.Out, experiment, r.GetValue(preset) ?? "cpu", r.GetValue(sets) ?? Array.Empty<string>(), r.GetValue(warmup), r.GetValue(steps),
                r.GetValue(seed), r.GetValue(device) ?? "auto", r.GetValue(threads))
            : r.GetValue(ctrUsers) > 0 ? RunCtrData(Console.Out, r.GetValue(ctrUsers), r.GetValue(repetitions)) : Run(Console.Out, r.GetValue(repetitions), r.GetValue(warmup), r.GetValue(device) ?? "auto",
            r.GetValue(threads), r.GetValue(only) ?? "all", r.GetValue(tokens), r.GetValue(kernel) ?? "auto",
            r.GetValue(profile) ? BenchMode.Profile : r.GetValue(scaling) ? BenchMode.Scaling : BenchMode.Ratio, r.GetValue(clock) ?? "wall"));
        return cmd;
    }

    public enum BenchMode { Ratio, Profile, Scaling }

    /// <summary>"1-min 5-min 15-min" load average from /proc/loadavg ("n/a" elsewhere): printed beside every figure,
    /// since the machines are shared.</summary>
    public static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "n/a"; }
        catch (UnauthorizedAccessException) { return "n/a"; }
    }

    public static int Run(TextWriter output, int repetitions, int warmup, string deviceName, int threads, string only, int tokens, string kernelName = "auto",
        BenchMode mode = BenchMode.Ratio, string clock = "wall")
    {
        if (clock is not ("wall" or "cpu")) { output.WriteLine($"--clock '{clock}' is not one of: wall, cpu."); return 2; }
        if (!Enum.TryParse<GroupedKernel>(kernelName, ignoreCase: true, out var kernel))
        {
            output.WriteLine($"--kernel '{kernelName}' is not one of: auto, loop, batched.");
            return 2;
        }
        if (repetitions < 1) { output.WriteLine($"--repetitions must be ≥ 1, got {repetitions}."); return 2; }
        if (warmup < 0) { output.WriteLine($"--warmup must be ≥ 0, got {warmup}."); return 2; }
        var known = mode == BenchMode.Scaling ? MoeBenchCase.Scaling : MoeBenchCase.Standard.Concat(MoeBenchCase.Scaling).ToList();
        var defaults = mode == BenchMode.Scaling ? MoeBenchCase.Scaling : MoeBenchCase.Standard;
        var cases = (only == "all" ? defaults : known.Where(c => c.Name.Equals(only, StringComparison.OrdinalIgnoreCase))).ToList();
        if (cases.Count == 0)
        {
            output.WriteLine($"--case '{only}' is not one of: all, {string.Join(", ", known.Select(c => c.Name))}.");
            return 2;
        }
        if (tokens > 0) cases = cases.Select(c => c with { Tokens = tokens }).ToList();
        cases = cases.Select(c => c with { Kernel = kernel }).ToList();
        var device = TorchDevice.Resolve(deviceName);
        if (threads > 0) torch.set_num_threads(threads);
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine($"moelab bench: device {device}, torch threads {torch.get_num_threads()}, {Environment.ProcessorCount} logical cores, fp32");
        output.WriteLine($"allocator: {MoelabInvocation.DescribeAllocator()}; allocator/OpenMP env: {MoelabInvocation.DescribeEnvironment()} (the ./moelab wrapper sets " +
                         string.Join(", ", MoelabInvocation.Environment.Select(kv => kv.Value)) + "; unset means the glibc/libgomp defaults)");
        output.WriteLine($"grouped-dispatch kernel: {kernel} ({Models.Runtime.DispatchThreading.Describe()}); numerics: {Models.Runtime.DeterministicNumerics.Current}");
        output.WriteLine(JitActivity.Describe());
        output.WriteLine($"load average at start: {LoadAverage()}");
        output.WriteLine($"median of {repetitions} interleaved forward+backward passes after {warmup} warm-up; GFLOP/s = 3 × active forward FLOPs / time");
        output.WriteLine();
        if (mode == BenchMode.Profile) return RunProfile(output, cases, warmup, repetitions, device, clock == "cpu");
        if (mode == BenchMode.Scaling) return RunScaling(output, cases, warmup, repetitions, device);
        output.WriteLine(string.Format(inv, "{0,-15} {1,6} {2,5} {3,6} {4,4} {5,3} | {6,9} {7,8} | {8,9} {9,8} | {10,6}",
            "case", "tokens", "d", "d_ff", "E", "k", "MoE ms", "GFLOP/s", "dense ms", "GFLOP/s", "ratio"));
        foreach (var c in cases)
        {
            var r = MoeBenchmark.Run(c, warmup, repetitions, device);
            output.WriteLine(string.Format(inv, "{0,-15} {1,6} {2,5} {3,6} {4,4} {5,3} | {6,9:F2} {7,8:F1} | {8,9:F2} {9,8:F1} | {10,6:F3}",
                c.Name, c.Tokens, c.DModel, c.DHidden, c.Experts, c.TopK, r.MoeMedianMs, r.MoeGflops, r.DenseMedianMs, r.DenseGflops, r.Ratio));
            output.WriteLine(string.Format(inv, "    MoE: {0}", r.MoeCost));
            output.WriteLine(string.Format(inv, "    dense (d_ff {0}): {1}", c.DenseShape.DHidden, r.DenseCost));
            output.WriteLine(string.Format(inv, "    process CPU time: MoE {0:F1} ms, dense {1:F1} ms, ratio {2:F3}; wall-time range MoE {3:F1}–{4:F1}, dense {5:F1}–{6:F1}",
                r.MoeCpuMedianMs, r.DenseCpuMedianMs, r.CpuRatio, r.MoeTimesMs.Min(), r.MoeTimesMs.Max(), r.DenseTimesMs.Min(), r.DenseTimesMs.Max()));
            output.WriteLine(string.Format(inv, "    minor page faults per pass (median): MoE {0:F0}, dense {1:F0}; methods JIT-compiled during the timed passes: MoE {2}, dense {3}",
                r.MoeFaultsMedian, r.DenseFaultsMedian, r.MoeJitMethods, r.DenseJitMethods));
            output.WriteLine(string.Format(inv, "    target ratio {0}; load average after: {1}", c.TargetRatio?.ToString("F2", inv) ?? "none", LoadAverage()));
        }
        return 0;
    }

    private static int RunProfile(TextWriter output, IReadOnlyList<MoeBenchCase> cases, int warmup, int repetitions, TorchSharp.torch.Device device, bool cpuTime)
    {
        var inv = CultureInfo.InvariantCulture;
        foreach (var c in cases)
        {
            var r = MoeProfile.Run(c, warmup, repetitions, device, cpuTime: cpuTime);
            output.WriteLine(string.Format(inv, "{0}: T {1}, d {2}, d_ff {3}, E {4}, k {5}, {6} dispatch, {7}; load average after: {8}",
                c.Name, c.Tokens, c.DModel, c.DHidden, c.Experts, c.TopK, r.Kernel, r.Clock, LoadAverage()));
            output.WriteLine(string.Format(inv, "  {0,-48} {1,9} {2,7}", "phase", "median ms", "share"));
            foreach (var p in r.Phases.Where(p => p.InTotal))
                output.WriteLine(string.Format(inv, "  {0,-48} {1,9:F2} {2,6:F1}%", p.Phase, p.MedianMs, 100 * p.MedianMs / r.MoeTotalMs));
            output.WriteLine(string.Format(inv, "  {0,-48} {1,9:F2}", "MoE total (median of whole passes)", r.MoeTotalMs));
            foreach (var p in r.Phases.Where(p => !p.InTotal))
                output.WriteLine(string.Format(inv, "  {0,-48} {1,9:F2}   (deferred: computed only when read, not in the total)", p.Phase, p.MedianMs));
            output.WriteLine(string.Format(inv, "  {0,-48} {1,9:F2}", "dense FFN forward", r.DenseForwardMs));
            output.WriteLine(string.Format(inv, "  {0,-48} {1,9:F2}", "dense FFN backward", r.DenseBackwardMs));
            output.WriteLine(string.Format(inv, "  {0,-48} {1,9:F3}", "ratio (MoE total / dense total)", r.MoeTotalMs / r.DenseTotalMs));
            if (r.FloorRatio is double floor)
            {
                output.WriteLine(string.Format(inv, "  {0,-48} {1,9:F2}", "floor: the expert blocks alone, forward", r.FloorForwardMs));
                output.WriteLine(string.Format(inv, "  {0,-48} {1,9:F2}", "floor: the expert blocks alone, backward", r.FloorBackwardMs));
                string verdict = c.TargetRatio is not double target ? ""
                    : r.RoutingBudgetMs(target) is > 0 and double budget
                        ? string.Format(inv, "   (target {0:F2}: leaves {1:F1} ms for routing and permutation, which take {2:F1} here)", target, budget, r.AboveFloorMs)
                        : string.Format(inv, "   (target {0:F2}: out of reach even with free routing)", target);
                output.WriteLine(string.Format(inv, "  {0,-48} {1,9:F3}{2}", "floor ratio (experts alone / dense total)", floor, verdict));
            }
            output.WriteLine();
        }
        return 0;
    }

    private static int RunScaling(TextWriter output, IReadOnlyList<MoeBenchCase> cases, int warmup, int repetitions, TorchSharp.torch.Device device)
    {
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine("| case | T | E | k | d_ff | MoE ms | dense ms | ratio | CPU-time ratio | target | met | load avg |");
        output.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        int missed = 0;
        foreach (var c in cases)
        {
            var r = MoeBenchmark.Run(c, warmup, repetitions, device);
            string met = c.TargetRatio is double target ? (r.Ratio <= target ? "yes" : "no") : "";
            if (met == "no") missed++;
            output.WriteLine(string.Format(inv, "| {0} | {1:N0} | {2} | {3} | {4} | {5:F1} | {6:F1} | {7:F2} | {8:F2} | {9} | {10} | {11} |",
                c.Name, c.Tokens, c.Experts, c.TopK, c.DHidden, r.MoeMedianMs, r.DenseMedianMs, r.Ratio, r.CpuRatio,
                c.TargetRatio?.ToString("F2", inv) ?? "", met, LoadAverage()));
        }
        output.WriteLine();
        output.WriteLine($"{missed} of {cases.Count(c => c.TargetRatio is not null)} targets missed in this run.");
        return 0;
    }

    /// <summary>`moelab bench --train`: see <see cref="TrainingBenchmark"/>.</summary>
    public static int RunTraining(TextWriter output, string experiment, string preset, IReadOnlyList<string> sets, int warmup, int steps, long seed,
        string deviceName, int threads)
    {
        if (steps < 1) { output.WriteLine($"--steps must be ≥ 1, got {steps}."); return 2; }
        if (warmup < 0) { output.WriteLine($"--warmup must be ≥ 0, got {warmup}."); return 2; }
        var device = TorchDevice.Resolve(deviceName);
        if (threads > 0) torch.set_num_threads(threads);
        var inv = CultureInfo.InvariantCulture;
        string loadBefore = LoadAverage();
        TrainingBenchResult r;
        try { r = TrainingBenchmark.Run(experiment, preset, sets, warmup, steps, seed, device); }
        catch (Runtime.ConfigException e) { output.WriteLine(e.Message); return 2; }
        output.WriteLine($"moelab bench --train {r.Experiment}: preset {r.Preset}{(sets.Count > 0 ? " " + string.Join(" ", sets.Select(x => "--set " + x)) : "")}, seed {seed}, arm '{r.Arm}', device {device}, " +
                         $"torch threads {torch.get_num_threads()}, CPU {DeterministicNumerics.CpuModel()}");
        output.WriteLine($"allocator: {MoelabInvocation.DescribeAllocator()}; allocator/OpenMP env: {MoelabInvocation.DescribeEnvironment()}; numerics: {Models.Runtime.DeterministicNumerics.Current}; fused dispatch: {Models.Runtime.DispatchThreading.Describe()}");
        output.WriteLine($"load average before: {loadBefore}; after: {LoadAverage()}");
        if (r.Steps.Count == 0) { output.WriteLine($"the first arm ended during the {warmup} warm-up steps: nothing timed (lower --warmup or raise the preset's steps)."); return 1; }
        if (!r.Completed) output.WriteLine($"note: the first arm ended after {r.Steps.Count} of {steps} timed steps.");
        output.WriteLine(string.Format(inv, "{0} timed optimiser steps after {1} warm-up; {2:N0} items (tokens or examples) per step", r.Steps.Count, r.Warmup, r.Steps[0].Items));
        output.WriteLine(string.Format(inv, "throughput: {0:N0} items/s (median step)", r.ItemsPerSecond));
        output.WriteLine(string.Format(inv, "  {0,-12} {1,10} {2,10} {3,10}", "ms per step", "median", "min", "max"));
        void Row(string name, Func<TrainingStepTiming, double> f)
        {
            var v = r.Steps.Select(f).Where(double.IsFinite).ToList();
            if (v.Count == 0) output.WriteLine(string.Format(inv, "  {0,-12} {1,10}", name, "n/a"));
            else output.WriteLine(string.Format(inv, "  {0,-12} {1,10:F2} {2,10:F2} {3,10:F2}", name, r.Median(f), v.Min(), v.Max()));
        }
        Row("total", s => s.TotalMs);
        Row("data", s => s.DataMs);
        Row("forward", s => s.ForwardMs);
        Row("backward", s => s.BackwardMs);
        Row("optimiser", s => s.OptimizerMs);
        Row("other", s => s.TotalMs - s.ForwardMs - s.BackwardMs - s.OptimizerMs - (double.IsFinite(s.DataMs) ? s.DataMs : 0));
        if (!r.DataSplit) output.WriteLine("  (this experiment's task does not load data apart from its forward pass: data is inside forward)");
        output.WriteLine(string.Format(inv, "peak RSS: {0:F0} MiB (whole process, including data set-up)", r.PeakResidentMiB));
        return 0;
    }

    /// <summary>Times <see cref="Data.Ctr.SyntheticCtrGenerator"/> (default world, <paramref name="users"/> users).</summary>
    public static int RunCtrData(TextWriter output, int users, int repetitions)
    {
        if (repetitions < 1) { output.WriteLine($"--repetitions must be ≥ 1, got {repetitions}."); return 2; }
        var config = new Data.Ctr.SyntheticCtrConfig { Users = users };
        var seconds = new List<double>();
        int impressions = 0;
        for (int r = 0; r < repetitions; r++)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var data = Data.Ctr.SyntheticCtrGenerator.Generate(config, new Random(r));
            double elapsed = watch.Elapsed.TotalSeconds;
            seconds.Add(elapsed);
            impressions = data.Impressions;
            output.WriteLine(string.Format(CultureInfo.InvariantCulture, "ctr-data repetition {0}: {1} users, {2} impressions in {3:F2} s", r, users, data.Impressions, elapsed));
        }
        double median = Metrics.Statistics.SampleStatistics.Median(seconds);
        output.WriteLine(string.Format(CultureInfo.InvariantCulture, "ctr-data: median {0:F2} s for ≈ {1} impressions ({2:F0} impressions/s, one thread)", median, impressions, impressions / median));
        return 0;
    }
}
