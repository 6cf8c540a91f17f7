using MoeLab.Experiments.Runtime;
using MoeLab.Models.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

/// <summary>Same seed → same bytes: across processes, and with MKL forced onto another code path
/// (<c>MKL_ENABLE_INSTRUCTIONS=AVX2</c>, as on a CPU without AVX-512) as a stand-in for another machine.</summary>
[Collection(ChildProcessCollection.Name)]
public class DeterminismTests
{
    private static readonly string[] Args =
    [
        "run", "toy-regression", "--device", "cpu", "--preset", "smoke", "--seeds", "7,",
        "--set", "train.steps=300", "--set", "model.hiddenSizes=[64,64]", "--set", "model.experts=4",
    ];

    [Fact]
    public void Same_seed_gives_the_same_bytes_in_separate_processes_and_on_another_mkl_code_path()
    {
        using var dir = new TempDir();
        var metrics = RunEach(dir, "toy-regression", Args,
            ("default-1", new()),
            ("default-2", new()),
            ("mkl-avx2", new() { ["MKL_ENABLE_INSTRUCTIONS"] = "AVX2" }));
        var manifest = RunManifest.Read(Path.GetDirectoryName(metrics["mkl-avx2"])!);
        Assert.Equal("AVX2", manifest.Numerics!.MklEnableInstructions);
        Assert.Equal(DeterministicNumerics.Current.Pinned, manifest.Numerics.Pinned);
        SameResults.AssertCsv(metrics["default-1"], metrics["default-2"]);
        SameResults.AssertCsv(metrics["default-1"], metrics["mkl-avx2"]);
    }

    /// <summary>An experiment with GELU and convolutions (Seg-MoE's patch forecaster): LibTorch runs those through oneDNN
    /// by default, whose kernels follow the CPU and which MKL_CBWR/ATEN_CPU_CAPABILITY do not pin. oneDNN is told to stop
    /// at AVX2 (ONEDNN_MAX_CPU_ISA) as a stand-in for an AVX2 machine. With oneDNN on (MOELAB_ONEDNN=1) the metrics
    /// differed in 3 of 3 seeds on the AVX-512 development VMs; MoeLab keeps it off (see CpuBackends).</summary>
    [Fact]
    public void Same_seed_gives_the_same_bytes_with_onednn_and_mkl_on_another_instruction_set()
    {
        if (CpuBackends.Requested) return; // oneDNN kept on purpose (MOELAB_ONEDNN): not promised then
        using var dir = new TempDir();
        var metrics = RunEach(dir, "seg-moe", ["run", "seg-moe", "--device", "cpu", "--preset", "smoke", "--seeds", "5,"],
            ("default", new()),
            ("avx2", new() { ["MKL_ENABLE_INSTRUCTIONS"] = "AVX2", ["ONEDNN_MAX_CPU_ISA"] = "AVX2" }));
        var manifest = RunManifest.Read(Path.GetDirectoryName(metrics["avx2"])!);
        Assert.Equal("off", manifest.Numerics!.CpuBackends);
        SameResults.AssertCsv(metrics["default"], metrics["avx2"]);
    }

    /// <summary>Runs <paramref name="args"/> once per environment, one after another (results under the directory named
    /// after it), and returns each run's metrics.csv by environment name.</summary>
    private static Dictionary<string, string> RunEach(TempDir dir, string experiment, string[] args,
        params (string Name, Dictionary<string, string> Env)[] environments)
    {
        foreach (var (name, env) in environments)
            using (var p = MoelabProcess.Start([.. args, "--results", Path.Combine(dir.Path, name)], env))
                p.ExpectExit(0, TimeSpan.FromMinutes(2));
        return environments.ToDictionary(e => e.Name,
            e => Path.Combine(MoelabProcess.OnlyRun(Path.Combine(dir.Path, e.Name), experiment), RunLayout.Metrics));
    }

    [Fact]
    public void Pins_are_in_the_native_environment_before_libtorch_runs()
    {
        var n = DeterministicNumerics.Current;
        if (Environment.GetEnvironmentVariable("MOELAB_DETERMINISTIC") == "0")
        {
            Assert.False(n.Pinned);
            return;
        }
        Assert.True(n.Pinned);
        Assert.True(n.AppliedBeforeLibTorchLoaded, n.ToString());
        // What native code sees (libc's getenv), not only .NET's copy of the environment.
        Assert.Equal(n.MklCbwr, System.Runtime.InteropServices.Marshal.PtrToStringUTF8(getenv("MKL_CBWR")));
        Assert.Equal(n.AtenCpuCapability, System.Runtime.InteropServices.Marshal.PtrToStringUTF8(getenv("ATEN_CPU_CAPABILITY")));
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern nint getenv(string name);
}
