using System.Diagnostics;
using MoeLab.Experiments.Runtime;
using Xunit.Abstractions;

namespace MoeLab.Experiments.Tests.Runtime;

/// <summary>`./moelab run` executes from a snapshot of the build output, so a rebuild that rewrites bin/'s
/// DLLs in place while a run goes does not kill the run. Measured before the snapshot existed: truncating
/// and rewriting MoeLab.Models.dll under a running `moelab run` killed it with SIGBUS (exit 135), which is
/// how a rebuild killed long runs.</summary>
[Collection(ChildProcessCollection.Name)]
public class BuildSnapshotTests(ITestOutputHelper output)
{
    [Fact]
    public void A_run_survives_its_build_output_being_rewritten_in_place()
    {
        string repo = RunLayout.FindRepoRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("repository root not found");
        // A private copy of the wrapper and of a build output (this test's own bin), so that rewriting its
        // DLLs cannot disturb anything else (LibTorch is linked, not copied).
        using var root = new TempDir();
        File.Copy(Path.Combine(repo, "moelab"), Path.Combine(root.Path, "moelab"));
        string bin = Path.Combine(root.Path, "src", "Experiments", "bin", "Release", "net10.0", "linux-x64");
        string source = AppContext.BaseDirectory.TrimEnd('/');
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(bin, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (new FileInfo(file).Length > 64L << 20) File.CreateSymbolicLink(target, file); // LibTorch: read only
            else File.Copy(file, target);
        }

        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(root.Path, "moelab"), "run", "toy-regression", "--preset", "smoke", "--device", "cpu",
                     "--set", "train.steps=4000", "--results", Path.Combine(root.Path, "results") })
            psi.ArgumentList.Add(a);
        psi.Environment["MOELAB_NO_BUILD"] = "1";
        psi.Environment["OMP_NUM_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        var err = new System.Text.StringBuilder();
        p.ErrorDataReceived += (_, e) => { lock (err) err.AppendLine(e.Data); };
        p.OutputDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        try
        {
            string experimentDir = Path.Combine(root.Path, "results", "toy-regression");
            MoelabProcess.WaitFor(() => Directory.Exists(experimentDir) && Directory.GetDirectories(experimentDir).Length == 1 &&
                                        File.Exists(Path.Combine(Directory.GetDirectories(experimentDir)[0], RunLayout.Metrics)), p, "the first metric rows");
            // What a rebuild does to bin/: each changed DLL truncated and written again in place.
            int rewrites = 0;
            for (int i = 0; i < 3 && !p.HasExited; i++)
                foreach (string dll in new[] { "MoeLab.Models.dll", "MoeLab.Experiments.dll", "MoeLab.Metrics.dll" })
                {
                    string path = Path.Combine(bin, dll);
                    byte[] bytes = File.ReadAllBytes(path);
                    using (var f = new FileStream(path, FileMode.Open, FileAccess.Write)) f.SetLength(0);
                    Thread.Sleep(100);
                    File.WriteAllBytes(path, bytes);
                    rewrites++;
                }
            output.WriteLine($"{rewrites} in-place rewrites of bin/ DLLs while the run was going");
            Assert.True(rewrites >= 3, "the run finished before bin/ could be rewritten; the test needs a longer run");
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(10)), "moelab did not exit within 10 min");
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"moelab exited {p.ExitCode}:\n{err}");
            Assert.Equal(RunLayout.Status.Completed, RunManifest.Read(Directory.GetDirectories(experimentDir)[0]).Status);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        string snapshots = Path.Combine(root.Path, ".moelab", "builds");
        var snapshot = Assert.Single(Directory.GetDirectories(snapshots));
        Assert.True(File.Exists(Path.Combine(snapshot, ".complete")));
        Assert.True(File.Exists(Path.Combine(snapshot, "MoeLab.Models.dll")));
    }
}
