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
        var environments = new (string Name, Dictionary<string, string> Env)[]
        {
            ("default-1", new()),
            ("default-2", new()),
            ("mkl-avx2", new() { ["MKL_ENABLE_INSTRUCTIONS"] = "AVX2" }),
        };
        foreach (var (name, env) in environments)
            using (var p = MoelabProcess.Start([.. Args, "--results", Path.Combine(dir.Path, name)], env))
                p.ExpectExit(0, TimeSpan.FromMinutes(2));
        string Metrics(string name) => Path.Combine(MoelabProcess.OnlyRun(Path.Combine(dir.Path, name), "toy-regression"), RunLayout.Metrics);
        var manifest = RunManifest.Read(Path.GetDirectoryName(Metrics("mkl-avx2"))!);
        Assert.Equal("AVX2", manifest.Numerics!.MklEnableInstructions);
        Assert.Equal(DeterministicNumerics.Current.Pinned, manifest.Numerics.Pinned);
        SameResults.AssertCsv(Metrics("default-1"), Metrics("default-2"));
        SameResults.AssertCsv(Metrics("default-1"), Metrics("mkl-avx2"));
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
