using System.Diagnostics;
using MoeLab.Experiments.Cluster;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

/// <summary>The <c>./moelab</c> wrapper runs MoeLab on jemalloc where it is installed (see the wrapper for why). CI
/// installs it (Debian libjemalloc2), so there these tests must find it; elsewhere they check what they can.</summary>
[Collection(ChildProcessCollection.Name)]
public class AllocatorTests
{
    /// <summary>Where the wrapper, the Slurm script and the kernel spec look (Debian/Ubuntu on x86-64 and arm64, then other layouts).</summary>
    private static IReadOnlyList<string> Candidates => MoelabInvocation.JemallocCandidates;

    private static string Repo => RunLayout.FindRepoRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("repository root not found");

    private static string? Installed()
    {
        string? found = Candidates.FirstOrDefault(File.Exists);
        if (found is null && Environment.GetEnvironmentVariable("CI") == "true")
            Assert.Fail("CI installs libjemalloc2 (.ci/run), but libjemalloc.so.2 was not found in: " + string.Join(", ", Candidates));
        return found;
    }

    private static string Doctor(Dictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(Repo, "moelab"));
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

    [Fact]
    public void The_wrapper_looks_for_jemalloc_where_the_launchers_do()
    {
        string wrapper = File.ReadAllText(Path.Combine(Repo, "moelab"));
        int start = wrapper.IndexOf("for candidate in ", StringComparison.Ordinal);
        Assert.True(start >= 0, "the wrapper's jemalloc loop was not found");
        start += "for candidate in ".Length;
        string list = wrapper[start..wrapper.IndexOf("; do", start, StringComparison.Ordinal)].Replace("\\\n", " ");
        Assert.Equal(Candidates, list.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>The fragment the Slurm script runs on the compute node, in bash, with a stand-in library.</summary>
    [Theory]
    [InlineData("default", true, "dirty_decay_ms:-1,muzzy_decay_ms:-1")]
    [InlineData("told glibc", false, "")]
    [InlineData("own MALLOC_CONF", true, "narenas:1")]
    [InlineData("already preloaded", false, "dirty_decay_ms:-1,muzzy_decay_ms:-1")]
    [InlineData("not on this node", false, "")]
    public void The_batch_script_fragment_preloads_jemalloc_where_the_node_has_it(string situation, bool preloads, string conf)
    {
        using var dir = new TempDir();
        string library = Path.Combine(dir.Path, "libjemalloc.so.2");
        if (situation != "not on this node") File.WriteAllText(library, "");
        string fragment = MoelabInvocation.JemallocShell([Path.Combine(dir.Path, "missing", "libjemalloc.so.2"), library]);
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("set -euo pipefail\n" + fragment + "printf '%s|%s' \"${LD_PRELOAD:-}\" \"${MALLOC_CONF:-}\"");
        psi.Environment.Remove("LD_PRELOAD");
        psi.Environment.Remove("MALLOC_CONF");
        psi.Environment.Remove("MOELAB_ALLOCATOR");
        if (situation == "told glibc") psi.Environment["MOELAB_ALLOCATOR"] = "glibc";
        if (situation == "own MALLOC_CONF") psi.Environment["MALLOC_CONF"] = "narenas:1";
        if (situation == "already preloaded") psi.Environment["LD_PRELOAD"] = "/opt/x/libjemalloc.so.2";
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{situation}: bash exited {p.ExitCode}: {stderr}");
        string expectedPreload = situation == "already preloaded" ? "/opt/x/libjemalloc.so.2" : preloads ? library : "";
        Assert.Equal($"{expectedPreload}|{conf}", stdout);
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
