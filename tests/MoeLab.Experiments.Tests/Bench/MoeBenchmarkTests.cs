using MoeLab.Experiments.Bench;
using MoeLab.Experiments.Training;
using TorchSharp;

namespace MoeLab.Experiments.Tests.Bench;

/// <summary>Behaviour of the benchmark (not its speed): it runs a tiny case end to end and reports
/// consistent figures. Timings themselves are printed by `moelab bench`, never asserted.</summary>
public class MoeBenchmarkTests
{
    [Fact]
    public void TinyCaseReportsTimesCostsAndRatio()
    {
        var c = new MoeBenchCase("tiny", Tokens: 64, DModel: 16, DHidden: 32, Experts: 4, TopK: 2);
        var r = MoeBenchmark.Run(c, warmup: 1, repetitions: 3, torch.CPU);

        Assert.Equal(3, r.MoeTimesMs.Count);
        Assert.Equal(3, r.DenseTimesMs.Count);
        Assert.All(r.MoeTimesMs.Concat(r.DenseTimesMs), t => Assert.True(t > 0 && double.IsFinite(t)));
        Assert.Equal(MoeBenchmark.Median(r.MoeTimesMs), r.MoeMedianMs);
        Assert.Equal(r.MoeMedianMs / r.DenseMedianMs, r.Ratio, 12);
        // The dense baseline has k·d_ff hidden units: the same expert parameters a token uses.
        Assert.Equal(2 * 32, c.DenseShape.DHidden);
        Assert.True(r.MoeCost.TotalParameters > r.DenseCost.TotalParameters);
        Assert.True(r.MoeGflops > 0 && r.DenseGflops > 0);
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(3, r.MoeFaults!.Count);
            Assert.All(r.MoeFaults.Concat(r.DenseFaults!), f => Assert.True(f >= 0));
        }
    }

    /// <summary>The page-fault counter reads the minor-fault field: touching 32 MiB of never-used memory (8,192 pages)
    /// must add thousands of faults (the neighbouring fields — major faults, children's faults — would not move).</summary>
    [Fact]
    public void MinorPageFaultsCountFirstTouchesOfFreshMemory()
    {
        if (!OperatingSystem.IsLinux()) return;
        long before = ProcessMemory.MinorPageFaults();
        Assert.True(before > 0);
        const long size = 32L << 20;
        // A new anonymous mapping: its pages are fresh whatever the allocators have kept from earlier tests.
        using var mapping = System.IO.MemoryMappedFiles.MemoryMappedFile.CreateNew(null, size);
        using var view = mapping.CreateViewAccessor(0, size);
        for (long offset = 0; offset < size; offset += 4096) view.Write(offset, (byte)1);
        long after = ProcessMemory.MinorPageFaults();
        Assert.True(after - before >= 4_000, $"{after - before} minor faults for 8,192 fresh pages");
    }

    /// <summary>The JIT counter counts compilations: a method built at run time must add at least one when first called.</summary>
    [Fact]
    public void JitCounterCountsANewlyCompiledMethod()
    {
        var method = new System.Reflection.Emit.DynamicMethod("jit_probe_" + Guid.NewGuid().ToString("N"), typeof(int), new[] { typeof(int) });
        var il = method.GetILGenerator();
        il.Emit(System.Reflection.Emit.OpCodes.Ldarg_0);
        il.Emit(System.Reflection.Emit.OpCodes.Ldc_I4_7);
        il.Emit(System.Reflection.Emit.OpCodes.Add);
        il.Emit(System.Reflection.Emit.OpCodes.Ret);
        var probe = method.CreateDelegate<Func<int, int>>();
        long before = JitActivity.CompiledMethods;
        Assert.Equal(12, probe(5));
        Assert.True(JitActivity.CompiledMethods > before, "calling a never-compiled method did not move the JIT counter");
    }

    /// <summary>The moelab executable ships with tiered compilation off (its runtime configuration, next to the
    /// assembly), so a benchmark's background recompilation cannot land in timed passes; the test host itself runs
    /// with the .NET default (on), which <see cref="JitActivity.Tiered"/> must report unless overridden.</summary>
    [Fact]
    public void MoelabRuntimeConfigTurnsTieredCompilationOff()
    {
        var config = Path.Combine(AppContext.BaseDirectory, "MoeLab.Experiments.runtimeconfig.json");
        Assert.True(File.Exists(config), config);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(config));
        var properties = json.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.False(properties.GetProperty("System.Runtime.TieredCompilation").GetBoolean());
        if (Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") is null)
            Assert.True(JitActivity.Tiered, "the test host runs with the default (tiered) and JitActivity must say so");
    }

    [Fact]
    public void MedianOfEvenAndOddCounts()
    {
        Assert.Equal(2.0, MoeBenchmark.Median(new[] { 3.0, 1.0, 2.0 }));
        Assert.Equal(2.5, MoeBenchmark.Median(new[] { 4.0, 1.0, 2.0, 3.0 }));
        Assert.Throws<ArgumentException>(() => MoeBenchmark.Run(MoeBenchCase.Standard[0], 0, 0, torch.CPU));
    }
}

/// <summary>The profile, scaling and training modes of `moelab bench` (behaviour, never speed).</summary>
public class BenchModesTests
{
    [Fact]
    public void ProfileOfATinyCaseTimesEveryFusedPhase()
    {
        var c = new MoeBenchCase("tiny", Tokens: 64, DModel: 16, DHidden: 32, Experts: 4, TopK: 2);
        var r = MoeProfile.Run(c, warmup: 1, repetitions: 3, torch.CPU, cpuTime: true);
        Assert.Equal("fused", r.Kernel);
        // Small blocks: the gather and the combine's backward run inside the experts' forward and backward.
        foreach (var phase in new[] { "plan: counting sort by expert (host)", "gather + expert matmuls + activation forward",
                     "combine (weighted un-permute) forward", "expert matmuls + activation + combine backward", "gather backward (sum of the k rows)" })
            Assert.Contains(r.Phases, p => p.Phase == phase && p.Instrumented);
        Assert.DoesNotContain(r.Phases, p => p.Phase is "combine backward" or "gather rows into expert order");
        Assert.All(r.Phases, p => Assert.True(p.MedianMs >= 0 && double.IsFinite(p.MedianMs), p.Phase));
        // The losses and statistics the layer defers are timed when read, outside the pass's total.
        Assert.Equal(new[] { "auxiliary losses, all four, when read", "routing statistics, when read" },
            r.Phases.Where(p => !p.InTotal).Select(p => p.Phase).ToArray());
        Assert.True(r.MoeTotalMs > 0 && r.DenseForwardMs > 0 && r.DenseBackwardMs > 0);
        Assert.False(Models.Dispatch.DispatchProfiler.Enabled, "the profiler must be switched off again");
        // The floor (experts alone) is measured beside them, and its ratio is that time over the dense FFN's.
        Assert.True(r.FloorForwardMs > 0 && r.FloorBackwardMs > 0);
        Assert.Equal((r.FloorForwardMs!.Value + r.FloorBackwardMs!.Value) / r.DenseTotalMs, r.FloorRatio!.Value, 12);
        // No floor where the layer does not run the fused blocks layout.
        var padded = MoeProfile.Run(c with { Kernel = Models.Dispatch.GroupedKernel.FusedPadded }, warmup: 0, repetitions: 1, torch.CPU, cpuTime: true);
        Assert.Null(padded.FloorRatio);
        foreach (var phase in new[] { "gather rows into expert order", "combine backward", "expert matmuls + activation backward" }) // padded: apart
            Assert.Contains(padded.Phases, p => p.Phase == phase && p.Instrumented);
    }

    [Fact]
    public void ScalingSweepCoversTheIssueCasesWithTheirTargets()
    {
        var tokens = MoeBenchCase.Scaling.Where(c => c.Experts == 8).Select(c => c.Tokens).ToList();
        Assert.Equal(new[] { 1024, 2048, 4096, 8192, 16384 }, tokens);
        Assert.All(MoeBenchCase.Scaling.Where(c => c.Experts == 8), c => Assert.Equal(1.15, c.TargetRatio));
        Assert.Equal(1.6, MoeBenchCase.Scaling.Single(c => c.Experts == 256).TargetRatio);
        Assert.Equal(1.6, MoeBenchCase.Scaling.Single(c => c.Experts == 128).TargetRatio);
        Assert.Equal(1.08, MoeBenchCase.Standard[0].TargetRatio);
        Assert.Equal(1.25, MoeBenchCase.Standard[1].TargetRatio);
    }

    [Fact]
    public void TrainingBenchmarkTimesTheRequestedStepsOfAnExperimentAndStopsIt()
    {
        var r = TrainingBenchmark.Run("toy-regression", "smoke", Array.Empty<string>(), warmup: 2, steps: 4, seed: 0, torch.CPU);
        Assert.True(r.Completed);
        Assert.Equal(4, r.Steps.Count);
        Assert.Equal(new long[] { 2, 3, 4, 5 }, r.Steps.Select(s => s.Step));
        Assert.All(r.Steps, s =>
        {
            Assert.True(s.ForwardMs >= 0 && s.BackwardMs >= 0 && s.OptimizerMs >= 0);
            Assert.True(s.TotalMs + 1e-9 >= s.ForwardMs + s.BackwardMs + s.OptimizerMs);
            Assert.True(s.Items > 0);
        });
        Assert.True(r.ItemsPerSecond > 0 && r.PeakResidentMiB > 0);
        Assert.Throws<MoeLab.Experiments.Runtime.ConfigException>(() => TrainingBenchmark.Run("no-such-experiment", "smoke", Array.Empty<string>(), 0, 1, 0, torch.CPU));
    }
}
