using System.Diagnostics;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

/// <summary>The <c>./moelab</c> wrapper runs MoeLab on jemalloc where it is installed (see the wrapper for why). CI
/// installs it (Debian libjemalloc2), so there these tests must find it; elsewhere they check what they can.</summary>
[Collection(ChildProcessCollection.Name)]
public class AllocatorTests
{
    /// <summary>The wrapper's first candidate paths (Debian/Ubuntu on x86-64 and arm64, then other layouts).</summary>
    private static readonly string[] Candidates =
    [
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
        "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2",
    ];

    private static string? Installed()
    {
        string? found = Candidates.FirstOrDefault(File.Exists);
        if (found is null && Environment.GetEnvironmentVariable("CI") == "true")
            Assert.Fail("CI installs libjemalloc2 (.ci/run), but libjemalloc.so.2 was not found in: " + string.Join(", ", Candidates));
        return found;
    }

    private static string Doctor(Dictionary<string, string> environment)
    {
        string repo = RunLayout.FindRepoRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("repository root not found");
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(repo, "moelab"));
        psi.ArgumentList.Add("doctor");
        psi.Environment["MOELAB_NO_BUILD"] = "1";
        psi.Environment.Remove("LD_PRELOAD");
        psi.Environment.Remove("MALLOC_CONF");
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(1)), "moelab doctor did not finish within a minute");
        Assert.True(p.ExitCode == 0, $"moelab doctor exited {p.ExitCode}:\n{stdout}\n{stderr.Result}");
        return stdout.Split('\n').Single(l => l.StartsWith("allocator ", StringComparison.Ordinal))["allocator".Length..].Trim();
    }

    [Fact]
    public void The_wrapper_runs_on_jemalloc_where_installed_and_on_glibc_when_told()
    {
        Assert.Equal("glibc", Doctor(new() { ["MOELAB_ALLOCATOR"] = "glibc" }));
        string expected = Installed() is null ? "glibc" : "jemalloc (MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1)";
        Assert.Equal(expected, Doctor(new()));
        // A MALLOC_CONF of the user's own is kept.
        if (Installed() is not null)
            Assert.Equal("jemalloc (MALLOC_CONF=narenas:1)", Doctor(new() { ["MALLOC_CONF"] = "narenas:1" }));
    }

    /// <summary>The allocator changes where tensors live, not what is computed: the same run gives the same bytes on
    /// jemalloc and on glibc (MKL's STRICT mode makes its results independent of the operands' alignment).</summary>
    [Fact]
    public void Same_seed_gives_the_same_bytes_on_jemalloc_and_on_glibc()
    {
        if (Installed() is not { } jemalloc) return; // nothing to compare with on this machine
        using var dir = new TempDir();
        string[] args = ["run", "seg-moe", "--device", "cpu", "--preset", "smoke", "--seeds", "3,"];
        string Run(string name, Dictionary<string, string> env)
        {
            using (var p = MoelabProcess.Start([.. args, "--results", Path.Combine(dir.Path, name)], env))
                p.ExpectExit(0, TimeSpan.FromMinutes(2));
            return Path.Combine(MoelabProcess.OnlyRun(Path.Combine(dir.Path, name), "seg-moe"), RunLayout.Metrics);
        }
        string glibc = Run("glibc", new() { ["LD_PRELOAD"] = "" });
        string onJemalloc = Run("jemalloc", new() { ["LD_PRELOAD"] = jemalloc, ["MALLOC_CONF"] = "dirty_decay_ms:-1,muzzy_decay_ms:-1" });
        Assert.Equal("glibc", RunManifest.Read(Path.GetDirectoryName(glibc)!).Allocator);
        Assert.StartsWith("jemalloc", RunManifest.Read(Path.GetDirectoryName(onJemalloc)!).Allocator);
        SameResults.AssertCsv(glibc, onJemalloc);
    }
}
