using System.Diagnostics;
using System.Runtime.InteropServices;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

[Collection(ChildProcessCollection.Name)]
public class AtomicWriteTests
{
    [Fact]
    public void Crash_between_temp_write_and_rename_keeps_the_previous_file()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "sub", "metrics.csv");
        AtomicFile.WriteAllText(path, "step,arm,metric,value\n1,main,loss,2\n");
        AtomicFile.BeforeRename.Value = _ => throw new IOException("simulated crash");
        try
        {
            Assert.Throws<IOException>(() => AtomicFile.WriteAllText(path, "step,arm,metric,value\n1,main,loss,2\n2,main,lo"));
        }
        finally
        {
            AtomicFile.BeforeRename.Value = null;
        }
        Assert.Equal("step,arm,metric,value\n1,main,loss,2\n", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void Checkpoint_store_writes_json_and_binary_entries_atomically()
    {
        using var dir = new TempDir();
        var store = new FileCheckpointStore(Path.Combine(dir.Path, "checkpoint"));
        Assert.False(store.Exists("state"));
        store.SaveJson("state", new Dictionary<string, int> { ["step"] = 7 });
        store.SaveFile("blob", p => File.WriteAllBytes(p, [1, 2, 3]));
        Assert.Equal(7, store.LoadJson<Dictionary<string, int>>("state")!["step"]);
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(store.PathOf("blob")));
        Assert.Throws<IOException>(() => store.SaveFile("broken", _ => { })); // writer wrote nothing
        Assert.False(store.Exists("broken"));
        Assert.Throws<ArgumentException>(() => store.SaveJson("../escape", 1));
        Assert.Contains("does not exist", Assert.Throws<FileNotFoundException>(() => store.PathOf("nope")).Message);
    }

    private static Process Start(params string[] args) => MoelabProcess.Start(args);

    private static void WaitFor(Func<bool> condition, Process p, string what) => MoelabProcess.WaitFor(condition, p, what);

    private static string OnlyRunDir(string results) =>
        Directory.GetDirectories(Path.Combine(results, "toy-regression")).Single();

    [Fact]
    public void Killed_run_process_leaves_readable_results_that_resume()
    {
        using var dir = new TempDir();
        using var p = Start("run", "toy-regression", "--device", "cpu", "--results", dir.Path,
            "--set", "train.steps=100000", "--set", "train.checkpointEvery=25", "--set", "train.evalEvery=25");
        string? runDir = null;
        WaitFor(() => Directory.Exists(Path.Combine(dir.Path, "toy-regression")) &&
                      (runDir = Directory.GetDirectories(Path.Combine(dir.Path, "toy-regression")).FirstOrDefault()) is not null &&
                      File.Exists(Path.Combine(runDir, RunLayout.Checkpoint, "state.json")) &&
                      CsvText.ReadMetrics(Path.Combine(runDir, RunLayout.Metrics)).Count > 0, p, "a checkpoint and metrics");
        p.Kill(); // SIGKILL: no chance to clean up
        p.WaitForExit();

        var m = RunManifest.Read(runDir!);
        Assert.Equal(RunLayout.Status.Running, m.Status); // it never got to write an end status
        var rows = CsvText.ReadMetrics(Path.Combine(runDir!, RunLayout.Metrics)); // parses completely
        Assert.All(rows, r => Assert.True(r.Step > 0 && r.Metric.Length > 0));
        Assert.DoesNotContain(Directory.GetFiles(runDir!, "*", SearchOption.AllDirectories), f => new FileInfo(f).Length == 0 && !AtomicFile.IsTempFile(f) && Path.GetFileName(f) != DirectoryLock.LockFile);

        // The crashed run resumes from its last periodic checkpoint (config shortened to end soon).
        int step = (int)System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(runDir!, RunLayout.Checkpoint, "state.json")))!["step"]!;
        var cfg = m.Config.DeepClone();
        cfg["train"]!["steps"] = step + 5;
        (m with { Config = cfg }).Write(runDir!);
        var outcome = ExperimentRunner.Resume(runDir!, new RunOptions { Device = "cpu" });
        Assert.Equal(RunLayout.Status.Completed, outcome.Status);
        var after = CsvText.ReadMetrics(Path.Combine(runDir!, RunLayout.Metrics));
        Assert.Equal(after.Count, after.Select(r => (r.Step, r.Arm, r.Metric)).Distinct().Count()); // no duplicated history
        Assert.Equal(step + 5, after.Where(r => r.Metric == "val_loss").Max(r => r.Step));
    }

    [Fact]
    public void Sigterm_checkpoints_marks_interrupted_and_resume_completes()
    {
        using var dir = new TempDir();
        using var p = Start("run", "toy-regression", "--device", "cpu", "--results", dir.Path,
            "--set", "train.steps=100000", "--set", "train.checkpointEvery=0", "--set", "train.evalEvery=1000");
        WaitFor(() => Directory.Exists(Path.Combine(dir.Path, "toy-regression")) &&
                      Directory.GetDirectories(Path.Combine(dir.Path, "toy-regression")).Length == 1 &&
                      File.Exists(Path.Combine(OnlyRunDir(dir.Path), RunLayout.Metrics)) &&
                      CsvText.ReadMetrics(Path.Combine(OnlyRunDir(dir.Path), RunLayout.Metrics)).Count > 0, p, "first metrics");
        Assert.Equal(0, MoelabProcess.kill(p.Id, 15)); // SIGTERM
        Assert.True(p.WaitForExit(60_000));
        Assert.Equal(143, p.ExitCode); // 128 + SIGTERM
        string runDir = OnlyRunDir(dir.Path);
        var m = RunManifest.Read(runDir);
        Assert.Equal(RunLayout.Status.Interrupted, m.Status);
        Assert.True(File.Exists(Path.Combine(runDir, RunLayout.Checkpoint, "state.json")));

        // Resume it (shortened: the stored config is what resume uses, so edit it to finish soon).
        var state = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, RunLayout.Checkpoint, "state.json")))!;
        int step = (int)state["step"]!;
        var cfg = m.Config.DeepClone();
        cfg["train"]!["steps"] = step + 10;
        (m with { Config = cfg }).Write(runDir);
        var outcome = ExperimentRunner.Resume(runDir, new RunOptions { Device = "cpu" });
        Assert.Equal(RunLayout.Status.Completed, outcome.Status);
        Assert.Equal(step + 10, outcome.Summary.Single().Values["steps"]);
    }
}
