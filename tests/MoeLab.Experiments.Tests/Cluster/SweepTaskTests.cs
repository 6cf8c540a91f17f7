using System.Diagnostics;
using System.Text.Json.Nodes;
using MoeLab.Experiments.Cli;
using MoeLab.Experiments.Cluster;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Tests.Runtime;

namespace MoeLab.Experiments.Tests.Cluster;

/// <summary>The "index → run" step every backend shares, `moelab sweep-task`, the status of each
/// index from the results layout, and the Slurm batch script (run here by bash, without Slurm).</summary>
// Serial with the child-process tests: training in this process while other test classes train in
// parallel has, rarely, failed inside LibTorch (a scalar conversion error), so these runs get the process to themselves.
[Collection(ChildProcessCollection.Name)]
public class SweepTaskTests
{
    private static readonly string[] Short = ["train.steps=20", "train.evalEvery=10", "train.checkpointEvery=10"];

    private static SweepPlan Plan(string root, IReadOnlyList<string> sets, GridAxis[] grid, long[] seeds) =>
        SweepPlan.Create(Toy.Experiment, "smoke", null, sets, grid, seeds, root);

    private static IReadOnlyList<SweepTask> Write(SweepPlan plan)
    {
        using var _ = DirectoryLock.Acquire(plan.Directory, "sweep");
        return plan.WriteFiles();
    }

    /// <summary>The CLI in this process; an exception escaping a command fails the test with its stack
    /// trace (not System.CommandLine's exit code 1), and a parse error is shown.</summary>
    private static int Cli(params string[] args)
    {
        var errors = new StringWriter();
        var parsed = Program.BuildRoot().Parse(args);
        Assert.True(parsed.Errors.Count == 0, string.Join("; ", parsed.Errors.Select(e => e.Message)));
        return parsed.Invoke(new System.CommandLine.InvocationConfiguration { EnableDefaultExceptionHandler = false, Error = errors });
    }

    /// <summary>Asserts a CLI exit code; on a mismatch the message shows the run's manifest error and log.</summary>
    private static void ExpectCli(int expected, string runDir, params string[] args)
    {
        int code = Cli(args);
        if (code == expected) return;
        string manifest = Path.Combine(runDir, RunLayout.Manifest), log = Path.Combine(runDir, RunLayout.Log);
        Assert.Fail($"`moelab {string.Join(' ', args)}` exited {code}, expected {expected}. " +
                    (File.Exists(manifest) ? $"Run status {RunManifest.Read(runDir).Status}: {RunManifest.Read(runDir).Error}\n" : "No run manifest.\n") +
                    (File.Exists(log) ? File.ReadAllText(log) : ""));
    }

    [Fact]
    public void Sweep_task_runs_one_index_skips_it_when_completed_retries_failures_and_exits_like_run()
    {
        using var dir = new TempDir();
        var plan = Plan(dir.Path, [.. Short, "train.faultStep=3"], [GridAxis.Parse("train.fault=Throw,None")], [0]);
        var tasks = Write(plan);
        Assert.Equal(new[] { 0, 1 }, tasks.Select(t => t.Index));
        string failing = Path.Combine(plan.Directory, tasks[0].RunId), ok = Path.Combine(plan.Directory, tasks[1].RunId);

        ExpectCli(0, ok, "sweep-task", plan.Directory, "1", "--device", "cpu");
        Assert.Equal(RunLayout.Status.Completed, RunManifest.Read(ok).Status);
        Assert.False(Directory.Exists(failing)); // one index, one run
        var ended = RunManifest.Read(ok).EndedAt;
        ExpectCli(0, ok, "sweep-task", plan.Directory, "1", "--device", "cpu"); // completed: skipped
        Assert.Equal(ended, RunManifest.Read(ok).EndedAt);

        ExpectCli(1, failing, "sweep-task", plan.Directory, "0", "--device", "cpu"); // the run fails: exit 1
        Assert.Equal(RunLayout.Status.Failed, RunManifest.Read(failing).Status);
        var again = SweepTaskRunner.RunIndex(plan.Directory, 0, new RunOptions { Device = "cpu" });
        Assert.Equal("retried", again.Action);
        Assert.Equal(0, again.Index);

        Assert.Equal(2, Cli("sweep-task", plan.Directory, "2")); // no such index
        Assert.Equal(2, Cli("sweep-task", dir.Path, "0"));       // not a sweep directory
        using (DirectoryLock.Acquire(failing, "run"))            // live in "another process": refused, untouched
        {
            var live = SweepTaskRunner.RunIndex(plan.Directory, 0, new RunOptions { Device = "cpu" });
            Assert.Equal("skipped (live elsewhere)", live.Action);
            Assert.Equal(RunLayout.Status.Failed, RunManifest.Read(failing).Status);
            Assert.Equal(2, Cli("sweep-task", plan.Directory, "0", "--device", "cpu"));
        }
    }

    [Fact]
    public void A_task_holds_its_run_lock_while_it_runs_releases_it_at_the_end_and_resumes_an_interrupted_run()
    {
        using var dir = new TempDir();
        var plan = Plan(dir.Path, Short, [], [5]);
        var task = Write(plan).Single();
        string runDir = Path.Combine(plan.Directory, task.RunId);
        using var cts = new CancellationTokenSource();
        var held = new List<bool>();
        var cut = SweepTaskRunner.RunIndex(plan.Directory, 0,
            new RunOptions { Device = "cpu", Cancellation = cts.Token, Progress = new Probe(runDir, held, cts, 13) });
        Assert.Equal(RunLayout.Status.Interrupted, cut.Status);
        Assert.NotEmpty(held);
        Assert.All(held, Assert.True);
        Assert.False(DirectoryLock.IsHeld(runDir)); // released at the end

        var resumed = SweepTaskRunner.RunIndex(plan.Directory, 0, new RunOptions { Device = "cpu" });
        Assert.Equal(("resumed", RunLayout.Status.Completed), (resumed.Action, resumed.Status));
        var fresh = ExperimentRunner.Run(Toy.Experiment, task.Resolve(Toy.Experiment, "test"), 5, new RunOptions { Device = "cpu" },
            Path.Combine(dir.Path, "fresh"));
        SameResults.AssertCsv(Path.Combine(fresh.RunDirectory, RunLayout.Metrics), Path.Combine(runDir, RunLayout.Metrics));
    }

    [Fact]
    public void Local_sweeps_write_the_task_list_and_more_seeds_append_tasks_without_renumbering()
    {
        using var dir = new TempDir();
        var options = new RunOptions { ResultsRoot = dir.Path, Device = "cpu" };
        GridAxis[] grid = [GridAxis.Parse("model.experts=1,2")];
        var first = SweepRunner.Run(Toy.Experiment, "smoke", null, Short, grid, [0], options);
        var list1 = SweepTaskList.Read(first.Directory);
        Assert.Equal(first.Runs.Select(r => r.RunId), list1.Tasks.Select(t => t.RunId));
        Assert.Equal(new[] { 0, 1 }, first.Runs.Select(r => r.Index));

        var second = SweepRunner.Run(Toy.Experiment, "smoke", null, Short, grid, [0, 1], options);
        var list2 = SweepTaskList.Read(second.Directory);
        Assert.Equal(4, list2.Tasks.Count);
        Assert.Equal(list1.Tasks.Select(t => t.RunId), list2.Tasks.Take(2).Select(t => t.RunId)); // old indices kept
        Assert.Equal(new[] { "model.experts=1", "model.experts=2" }, list2.Tasks.Skip(2).Select(t => t.Point));
        Assert.All(list2.Tasks.Skip(2), t => Assert.Equal(1, t.Seed));
        // Results come in plan order (point-major), each with its task index.
        Assert.Equal(new[] { 0, 2, 1, 3 }, second.Runs.Select(r => r.Index));
        Assert.Equal(new[] { "skipped", "ran", "skipped", "ran" }, second.Runs.Select(r => r.Action));
    }

    [Fact]
    public void A_stored_config_that_no_longer_hashes_the_same_is_refused_naming_the_file_and_task()
    {
        using var dir = new TempDir();
        var plan = Plan(dir.Path, Short, [], [0]);
        Write(plan);
        string path = SweepTaskList.PathIn(plan.Directory);
        var doc = JsonNode.Parse(File.ReadAllText(path))!;
        doc["tasks"]![0]!["config"]!["train"]!["steps"] = 21;
        File.WriteAllText(path, doc.ToJsonString());
        var e = Assert.Throws<ConfigException>(() => SweepTaskRunner.RunIndex(plan.Directory, 0, new RunOptions { Device = "cpu" }));
        Assert.Contains($"{path}, task 0: the stored config hashes to", e.Message);
        Assert.False(Directory.Exists(Path.Combine(plan.Directory, plan.Points[0].RunId)));

        doc["tasks"]![0]!["index"] = 3;
        File.WriteAllText(path, doc.ToJsonString());
        var bad = Assert.Throws<InvalidDataException>(() => SweepTaskList.Read(plan.Directory));
        Assert.Contains("'tasks[0].index' is 3; expected 0", bad.Message);
    }

    [Fact]
    public void Status_reads_each_index_from_the_results_layout_and_the_run_locks()
    {
        using var dir = new TempDir();
        var plan = Plan(dir.Path, [.. Short, "train.faultStep=3"], [GridAxis.Parse("train.fault=Throw,None")], [0, 1, 2]);
        var tasks = Write(plan);
        var options = new RunOptions { Device = "cpu" };
        SweepTaskRunner.RunIndex(plan.Directory, 0, options); // Throw, seed 0 → failed
        SweepTaskRunner.RunIndex(plan.Directory, 3, options); // None, seed 0 → completed
        using (var cts = new CancellationTokenSource())       // None, seed 1 → interrupted
            SweepTaskRunner.RunIndex(plan.Directory, 4, options with { Cancellation = cts.Token, Progress = new CancelAtStep(cts, 5) });
        SweepTaskRunner.RunIndex(plan.Directory, 5, options); // None, seed 2 → completed, then "crashed": running without a lock
        string crashed = Path.Combine(plan.Directory, tasks[5].RunId);
        var m = JsonNode.Parse(File.ReadAllText(Path.Combine(crashed, RunLayout.Manifest)))!;
        m["status"] = "running";
        File.WriteAllText(Path.Combine(crashed, RunLayout.Manifest), m.ToJsonString());
        using var live = DirectoryLock.Acquire(Path.Combine(plan.Directory, tasks[1].RunId), "run"); // a task starting up

        var report = SweepStatusReport.Read(plan.Directory, scheduler: null);
        Assert.Equal(new[] { "failed", "running", "pending", "completed", "interrupted", "crashed" }, report.Indices.Select(i => i.State));
        Assert.Equal(new[] { true, false, true, false, true, true }, report.Indices.Select(i => i.NeedsResubmit));
        Assert.Equal("6 task(s): 1 completed, 1 running, 1 pending, 1 interrupted, 1 crashed, 1 failed", report.Counts());
        Assert.Contains("injected failure", report.Indices[0].Error);
        Assert.Empty(report.Jobs);
    }

    [Fact]
    public void The_slurm_dry_run_script_is_valid_bash_and_runs_its_index_when_bash_runs_it()
    {
        using var dir = new TempDir();
        var plan = Plan(dir.Path, Short, [GridAxis.Parse("model.experts=1,2")], [0, 1, 2]);
        var options = new SlurmOptions(new ClusterResources(1, "1G", "10", 2).Validated(), "debug", ["--requeue"], "cpu");
        var cli = MoelabInvocation.Current();
        var dry = SlurmSweepSubmitter.Submit(plan, options, new SlurmClient(), cli, dryRun: true);
        Assert.False(Directory.Exists(plan.Directory)); // a dry run writes nothing
        Assert.Null(dry.JobId);
        Assert.Equal(Enumerable.Range(0, 6), dry.Indices);
        string[] lines = dry.Script.Split('\n');
        Assert.Equal("#!/bin/bash", lines[0]);
        Assert.Contains("#SBATCH --array=0-5%2", lines);
        Assert.Contains($"#SBATCH --output={plan.Directory}/logs/task-%a.log", lines);
        Assert.Contains("#SBATCH --open-mode=append", lines);
        Assert.Contains("#SBATCH --partition=debug", lines);
        Assert.Contains("#SBATCH --cpus-per-task=1", lines);
        Assert.Contains("#SBATCH --mem=1G", lines);
        Assert.Contains("#SBATCH --time=10", lines);
        Assert.Contains("#SBATCH --requeue", lines);
        Assert.Contains("export MALLOC_MMAP_MAX_=\"${MALLOC_MMAP_MAX_:-0}\"", lines);
        Assert.Contains("export MALLOC_ARENA_MAX=\"${MALLOC_ARENA_MAX:-1}\"", lines);
        Assert.Contains("export GOMP_SPINCOUNT=\"${GOMP_SPINCOUNT:-30000}\"", lines);
        Assert.True(Path.IsPathRooted(cli.Dotnet) && File.Exists(cli.Dotnet), cli.Dotnet);
        Assert.Contains($"exec {cli.Dotnet} {cli.Assembly} sweep-task {plan.Directory} \"$SLURM_ARRAY_TASK_ID\" --device cpu", lines);

        // What a compute node does: bash runs the script with Slurm's variables set.
        Write(plan);
        string script = Path.Combine(dir.Path, "task.sh");
        File.WriteAllText(script, dry.Script);
        var (code, output) = Bash(script, new() { ["SLURM_ARRAY_TASK_ID"] = "4", ["SLURM_ARRAY_JOB_ID"] = "77", ["SLURM_CPUS_PER_TASK"] = "1" });
        Assert.True(code == 0, output);
        Assert.Contains("== moelab sweep-task 4: job 77_4", output);
        Assert.Contains("sweep-task 4: completed (ran)", output);
        var report = SweepStatusReport.Read(plan.Directory, scheduler: null);
        Assert.Equal(new[] { 4 }, report.Indices.Where(i => i.State == RunLayout.Status.Completed).Select(i => i.Index));
        Assert.Equal(1L, report.Indices[4].Seed);
    }

    [Fact]
    public void Cluster_options_are_refused_for_the_wrong_backend()
    {
        using var dir = new TempDir();
        Assert.Equal(2, Cli("sweep", "toy-regression", "--results", dir.Path, "--partition", "debug"));
        Assert.Equal(2, Cli("sweep", "toy-regression", "--results", dir.Path, "--backend", "slurm", "--image", "x"));
        Assert.Equal(2, Cli("sweep", "toy-regression", "--results", dir.Path, "--backend", "k8s", "--emit", Path.Combine(dir.Path, "j.yaml")));
        Assert.Equal(2, Cli("sweep", "toy-regression", "--results", dir.Path, "--backend", "slurm", "--mem", "4 GB", "--dry-run"));
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "toy-regression")));
    }

    private static (int Code, string Output) Bash(string script, Dictionary<string, string> env)
    {
        var psi = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)), "the batch script did not finish");
        return (p.ExitCode, output + err.Result);
    }

    /// <summary>Records whether the run's lock is held at every step, and cancels at one step.</summary>
    private sealed class Probe(string runDir, List<bool> held, CancellationTokenSource cts, long cancelAt) : IProgressSink
    {
        public void Report(string phase, long step, long total, double? loss)
        {
            held.Add(DirectoryLock.IsHeld(runDir));
            if (step == cancelAt) cts.Cancel();
        }

        public void Log(string message) { }
    }
}
