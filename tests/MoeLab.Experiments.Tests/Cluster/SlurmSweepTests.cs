using System.Diagnostics;
using System.Text.Json.Nodes;
using MoeLab.Experiments.Cluster;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Tests.Runtime;
using Xunit.Abstractions;

namespace MoeLab.Experiments.Tests.Cluster;

/// <summary>Sweeps on a real Slurm cluster (the single-node one of build/slurm-single-node.sh in CI):
/// results byte for byte equal to the same sweep run locally, a task cancelled with scancel and
/// completed by `moelab sweep-resubmit`, and `moelab sweep-status` matching what is on disk and in
/// the queue at each stage.</summary>
[Collection(ChildProcessCollection.Name)]
[Trait("Category", "Slurm")]
public class SlurmSweepTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    [SlurmFact]
    public void A_six_run_sweep_on_slurm_gives_the_bytes_of_the_same_sweep_run_locally()
    {
        using var dir = new TempDir();
        string[] sweep = ["sweep", "toy-regression", "--grid", "model.experts=2,3", "--seeds", "3", "--device", "cpu"];
        string localRoot = Path.Combine(dir.Path, "local"), clusterRoot = Path.Combine(dir.Path, "slurm");

        var clock = Stopwatch.StartNew();
        using (var local = MoelabProcess.Start([.. sweep, "--results", localRoot])) local.ExpectExit(0, Patience);
        var localTime = clock.Elapsed;

        clock.Restart();
        string jobId;
        using (var submit = MoelabProcess.Start([.. sweep, "--results", clusterRoot, "--backend", "slurm", "--cpus-per-task", "1"]))
            jobId = LastLine(submit.ExpectExit(0, TimeSpan.FromMinutes(1)).Out);
        Assert.Matches("^[0-9]+$", jobId);
        string sweepDir = Directory.GetDirectories(Path.Combine(clusterRoot, "toy-regression")).Single();

        // Just submitted: every index is in job <id>, Slurm knows each task, nothing failed.
        var early = Status(sweepDir);
        Assert.Equal(6, early["tasks"]!.AsArray().Count);
        foreach (var t in early["tasks"]!.AsArray())
        {
            Assert.Equal(jobId, (string?)t!["jobId"]);
            Assert.Contains((string)t["state"]!, new[] { "pending", "running", "completed" });
            Assert.Contains((string)t["scheduler"]!["state"]!, new[] { "PENDING", "RUNNING", "COMPLETING", "COMPLETED" });
        }

        WaitUntil(sweepDir, r => r.Indices.All(i => i.State == RunLayout.Status.Completed), "all six runs completed");
        var clusterTime = clock.Elapsed;
        // Slurm marks a task COMPLETED a moment after its process ended.
        WaitUntil(sweepDir, r => r.Indices.All(i => i.Scheduler is { IsActive: false }), "Slurm to mark the six tasks finished");
        output.WriteLine($"6-run sweep: local {localTime.TotalSeconds:F1} s, Slurm (submit → all completed) {clusterTime.TotalSeconds:F1} s");

        var done = Status(sweepDir);
        Assert.Equal(6, (int)done["counts"]!["completed"]!);
        foreach (var t in done["tasks"]!.AsArray())
        {
            Assert.Equal("completed", (string?)t!["state"]);
            Assert.Equal("COMPLETED", (string?)t["scheduler"]!["state"]);
            Assert.False((bool)t["needsResubmit"]!);
            int index = (int)t["index"]!;
            string log = File.ReadAllText(SlurmBatchScript.LogPath(sweepDir, index));
            Assert.Contains($"== moelab sweep-task {index}: job {jobId}_{index}", log);
            Assert.Contains($"sweep-task {index}: completed (ran)", log);
        }
        Assert.Equal(jobId, Assert.Single(SweepJobLog.Read(sweepDir)).JobId);
        // The tasks ran on jemalloc where the node has it (this machine is the node), as under the ./moelab wrapper.
        var allocator = RunManifest.Read(Path.Combine(sweepDir, SweepTaskList.Read(sweepDir).Tasks[0].RunId)).Allocator;
        if (MoelabInvocation.FindJemalloc() is null) Assert.Equal("glibc", allocator);
        else Assert.Equal($"jemalloc (MALLOC_CONF={MoelabInvocation.JemallocConf})", allocator);

        string localSweep = Path.Combine(localRoot, "toy-regression", Path.GetFileName(sweepDir));
        foreach (var task in SweepTaskList.Read(sweepDir).Tasks)
            foreach (string file in new[] { RunLayout.Metrics, RunLayout.Summary })
                SameResults.AssertCsv(Path.Combine(localSweep, task.RunId, file), Path.Combine(sweepDir, task.RunId, file));
        var view = TfEventFile.View(Path.Combine(sweepDir, SweepTaskList.Read(sweepDir).Tasks[0].RunId, RunLayout.TensorBoard));
        Assert.Contains("val_loss", view.Keys);

        using var again = MoelabProcess.Start(["sweep-resubmit", sweepDir]);
        Assert.Contains("nothing to resubmit", again.ExpectExit(0, TimeSpan.FromMinutes(1)).Out);
    }

    [SlurmFact]
    public void A_task_cancelled_with_scancel_is_interrupted_and_resubmit_completes_it_with_identical_results()
    {
        using var dir = new TempDir();
        string[] sweep =
        [
            "sweep", "toy-regression", "--device", "cpu", "--grid", "train.steps=60,3000",
            "--set", "train.logEvery=10", "--set", "train.evalEvery=100", "--set", "train.checkpointEvery=150", "--set", "train.warmupSteps=50",
        ];
        string clusterRoot = Path.Combine(dir.Path, "slurm");
        string jobId;
        using (var submit = MoelabProcess.Start([.. sweep, "--results", clusterRoot, "--backend", "slurm", "--cpus-per-task", "1"]))
            jobId = LastLine(submit.ExpectExit(0, TimeSpan.FromMinutes(1)).Out);
        string sweepDir = Directory.GetDirectories(Path.Combine(clusterRoot, "toy-regression")).Single();
        var tasks = SweepTaskList.Read(sweepDir).Tasks;
        Assert.Equal("train.steps=3000", tasks[1].Point);
        string longRun = Path.Combine(sweepDir, tasks[1].RunId);

        // Mid-run: the long task holds its run and has checkpointed at least once.
        WaitUntil(sweepDir, r => r.Indices[1].State == RunLayout.Status.Running &&
                                 File.Exists(Path.Combine(longRun, RunLayout.Checkpoint, "state.json")), "index 1 running with a checkpoint");
        var running = Status(sweepDir)["tasks"]![1]!;
        Assert.Equal("running", (string?)running["state"]);
        Assert.Equal("RUNNING", (string?)running["scheduler"]!["state"]);

        var (code, _, err) = ExternalCommand.Run(ExternalCommand.Find("scancel")!, [$"{jobId}_1"]);
        Assert.True(code == 0, err);
        WaitUntil(sweepDir, r => r.Indices[1].State == RunLayout.Status.Interrupted, "index 1 interrupted");
        // Slurm shows the task COMPLETING until it has cleaned up, then CANCELLED.
        WaitUntil(sweepDir, r => r.Indices[1].Scheduler is { IsActive: false }, "Slurm to finish cancelling task 1");
        WaitUntil(sweepDir, r => r.Indices[0].State == RunLayout.Status.Completed, "index 0 completed");
        var cut = Status(sweepDir);
        var cancelled = cut["tasks"]![1]!;
        Assert.Equal("interrupted", (string?)cancelled["state"]);
        Assert.Equal("CANCELLED", ((string)cancelled["scheduler"]!["state"]!).Split(' ')[0]);
        Assert.True((bool)cancelled["needsResubmit"]!);
        Assert.False((bool)cut["tasks"]![0]!["needsResubmit"]!);
        Assert.StartsWith("stopped by SIGTERM", RunManifest.Read(longRun).Error);
        Assert.Contains("SIGTERM received: checkpointing", File.ReadAllText(SlurmBatchScript.LogPath(sweepDir, 1)));
        int rowsAtCancel = CsvText.ReadMetrics(Path.Combine(longRun, RunLayout.Metrics)).Count;
        output.WriteLine($"scancel {jobId}_1: interrupted with {rowsAtCancel} metric rows (of {3000 / 10 * 3 + 3000 / 100})");
        Assert.InRange(rowsAtCancel, 1, 3000 / 10 * 3 + 3000 / 100 - 1);

        string newJob;
        using (var resubmit = MoelabProcess.Start(["sweep-resubmit", sweepDir]))
        {
            string text = resubmit.ExpectExit(0, TimeSpan.FromMinutes(1)).Out;
            newJob = LastLine(text);
            Assert.Contains($"indices 1 as Slurm array job {newJob}", text);
        }
        Assert.NotEqual(jobId, newJob);
        WaitUntil(sweepDir, r => r.Indices[1].State == RunLayout.Status.Completed && r.Indices[1].Scheduler is { IsActive: false },
            "index 1 completed after resubmit, and Slurm done with it");
        var final = Status(sweepDir);
        Assert.Equal(2, (int)final["counts"]!["completed"]!);
        Assert.Equal(newJob, (string?)final["tasks"]![1]!["jobId"]);
        Assert.Equal("COMPLETED", (string?)final["tasks"]![1]!["scheduler"]!["state"]);
        Assert.Equal(jobId, (string?)final["tasks"]![0]!["jobId"]);
        Assert.Equal(new[] { "submit", "resubmit" }, SweepJobLog.Read(sweepDir).Select(j => j.Kind));
        Assert.Single(RunManifest.Read(longRun).ResumedAt);
        Assert.Contains("sweep-task 1: completed (resumed)", File.ReadAllText(SlurmBatchScript.LogPath(sweepDir, 1)));

        // The same sweep, run locally without interruption: the same bytes.
        string localRoot = Path.Combine(dir.Path, "local");
        using (var local = MoelabProcess.Start([.. sweep, "--results", localRoot])) local.ExpectExit(0, Patience);
        string twin = Path.Combine(localRoot, "toy-regression", Path.GetFileName(sweepDir), tasks[1].RunId);
        foreach (string file in new[] { RunLayout.Metrics, RunLayout.Summary })
            SameResults.AssertCsv(Path.Combine(twin, file), Path.Combine(longRun, file));
        // TensorBoard: two event files (the cancelled process and the resumed one), whose merged view is metrics.csv.
        Assert.Equal(2, Directory.GetFiles(Path.Combine(longRun, RunLayout.TensorBoard)).Length);
        var view = TfEventFile.View(Path.Combine(longRun, RunLayout.TensorBoard));
        Assert.Equal(CsvText.ReadMetrics(Path.Combine(longRun, RunLayout.Metrics)).Where(r => r.Metric == "val_loss").Select(r => (r.Step, (float)r.Value)),
            view["val_loss"].Select(kv => (kv.Key, kv.Value)));
    }

    /// <summary>`moelab sweep-status --json`, as a user would call it.</summary>
    private static JsonNode Status(string sweepDir)
    {
        using var p = MoelabProcess.Start(["sweep-status", sweepDir, "--json"]);
        return JsonNode.Parse(p.ExpectExit(0, TimeSpan.FromMinutes(1)).Out)!;
    }

    private static void WaitUntil(string sweepDir, Func<SweepStatusReport, bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        var client = new SlurmClient();
        SweepStatusReport report;
        while (!condition(report = SweepStatusReport.Read(sweepDir, client)))
        {
            if (sw.Elapsed > Patience)
                Assert.Fail($"timed out after {Patience} waiting for {what}: " +
                            string.Join("; ", report.Indices.Select(i => $"{i.Index} {i.State} {i.Scheduler}")));
            Thread.Sleep(300);
        }
    }

    private static string LastLine(string text) => text.Trim().Split('\n').Last().Trim();
}
