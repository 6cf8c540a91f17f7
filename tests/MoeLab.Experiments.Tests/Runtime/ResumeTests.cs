using MoeLab.Experiments.Examples;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

/// <summary>Interrupt at step k (cancellation token, as Ctrl+C does), resume, and compare with an
/// uninterrupted run: the final metrics must be bit-identical on CPU.</summary>
public class ResumeTests
{
    [Theory]
    [InlineData(33)] // between checkpoints (checkpointEvery 20)
    [InlineData(40)] // right on a checkpoint
    public void Resumed_in_memory_run_equals_uninterrupted_run(int interruptAt)
    {
        var config = (ToyRegressionConfig)Toy.Smoke().Config;
        var full = new InMemoryRunContext("toy-regression", seed: 11);
        Toy.Experiment.Run(config, full);

        using var cts = new CancellationTokenSource();
        var store = new InMemoryCheckpointStore();
        var first = new InMemoryRunContext("toy-regression", seed: 11, cancellation: cts.Token, checkpoints: store,
            progress: new CancelAtStep(cts, interruptAt));
        Assert.Throws<OperationCanceledException>(() => Toy.Experiment.Run(config, first));
        Assert.True(store.Exists("state"));
        Assert.Empty(first.Summary);

        var second = new InMemoryRunContext("toy-regression", seed: 11, checkpoints: store);
        Toy.Experiment.Run(config, second);

        var resumed = first.Metrics.Concat(second.Metrics).ToList();
        Assert.Equal(full.Metrics.Select(r => (r.Step, r.Arm, r.Metric)), resumed.Select(r => (r.Step, r.Arm, r.Metric)));
        SameResults.AssertValues(full.Metrics.Select(r => r.Value), resumed.Select(r => r.Value), "metrics");
        SameResults.AssertValues([full.SummaryValue("val_loss"), full.SummaryValue("train_loss")],
            [second.SummaryValue("val_loss"), second.SummaryValue("train_loss")], "summary");
    }

    private sealed class SimulatedKill : Exception;

    [Theory]
    [InlineData("model.bin")]     // killed after the new weights were written, before the optimiser state
    [InlineData("rng.bin")]       // killed after every binary entry, before the state entry
    public void A_kill_in_the_middle_of_writing_a_checkpoint_resumes_from_the_previous_one(string killedAfter)
    {
        // Regression: entries used to be overwritten in place, so a kill between the model write and the
        // state write resumed the step-20 state with step-40 weights (seen as a 2-in-5 failure of the
        // SIGKILL drill under load). Saves are now generations, committed by the state entry.
        var config = (ToyRegressionConfig)Toy.Smoke().Config; // checkpoints every 20 of 60 steps
        var full = new InMemoryRunContext("toy-regression", seed: 11);
        Toy.Experiment.Run(config, full);

        using var store = new InMemoryCheckpointStore();
        int seen = 0;
        store.AfterSave = name =>
        {
            if (name.EndsWith(killedAfter, StringComparison.Ordinal) && ++seen == 2) throw new SimulatedKill();
        };
        var first = new InMemoryRunContext("toy-regression", seed: 11, checkpoints: store);
        Assert.Throws<SimulatedKill>(() => Toy.Experiment.Run(config, first));
        store.AfterSave = null;
        Assert.Contains(first.Metrics, r => r.Step == 40); // the torn save came after step 40 was logged

        var second = new InMemoryRunContext("toy-regression", seed: 11, checkpoints: store);
        Toy.Experiment.Run(config, second);
        Assert.Contains(second.LogLines, l => l.Contains("resuming from checkpoint at step 20", StringComparison.Ordinal));
        var expected = full.Metrics.Where(r => r.Step > 20).ToList();
        Assert.Equal(expected.Select(r => (r.Step, r.Arm, r.Metric)), second.Metrics.Select(r => (r.Step, r.Arm, r.Metric)));
        SameResults.AssertValues(expected.Select(r => r.Value), second.Metrics.Select(r => r.Value), "metrics after the resume");
        // The old generation is gone once a newer one is committed: one checkpoint's worth of entries.
        Assert.Single(store.Names, n => n.EndsWith("model.bin", StringComparison.Ordinal));
        Assert.Single(store.Names, n => n.EndsWith("optimizer.bin", StringComparison.Ordinal));
    }

    [Fact]
    public void Resumed_run_directory_has_the_same_metrics_and_summary_files_as_an_uninterrupted_one()
    {
        using var dir = new TempDir();
        var options = new RunOptions { ResultsRoot = dir.Path, Device = "cpu" };
        var cfg = Toy.Smoke();
        var full = ExperimentRunner.Run(Toy.Experiment, cfg, 3, options, Path.Combine(dir.Path, "full"));
        Assert.Equal(RunLayout.Status.Completed, full.Status);

        using var cts = new CancellationTokenSource();
        string runDir = Path.Combine(dir.Path, "interrupted");
        var cut = ExperimentRunner.Run(Toy.Experiment, cfg, 3,
            options with { Cancellation = cts.Token, Progress = new CancelAtStep(cts, 27) }, runDir);
        Assert.Equal(RunLayout.Status.Interrupted, cut.Status);
        var m = RunManifest.Read(runDir);
        Assert.Equal(RunLayout.Status.Interrupted, m.Status);
        Assert.Contains("--resume", m.Error);
        Assert.False(File.Exists(Path.Combine(runDir, RunLayout.Summary)));

        var resumed = ExperimentRunner.Resume(runDir, options);
        Assert.Equal(RunLayout.Status.Completed, resumed.Status);
        var after = RunManifest.Read(runDir);
        Assert.Single(after.ResumedAt);
        Assert.Equal(RunLayout.Status.Completed, after.Status);

        SameResults.AssertCsv(Path.Combine(full.RunDirectory, RunLayout.Metrics), Path.Combine(runDir, RunLayout.Metrics));
        SameResults.AssertCsv(Path.Combine(full.RunDirectory, RunLayout.Summary), Path.Combine(runDir, RunLayout.Summary));

        var again = Assert.Throws<ConfigException>(() => ExperimentRunner.Resume(runDir, options));
        Assert.Contains("already completed", again.Message);
    }

    [Fact]
    public void Resume_drops_history_logged_after_the_last_checkpoint()
    {
        // A crash (no checkpoint at the interruption) leaves rows after the last periodic
        // checkpoint; the resumed run logs those steps again and must not duplicate them.
        using var dir = new TempDir();
        var options = new RunOptions { ResultsRoot = dir.Path, Device = "cpu" };
        var cfg = Toy.Smoke();
        var full = ExperimentRunner.Run(Toy.Experiment, cfg, 4, options, Path.Combine(dir.Path, "full"));

        string runDir = Path.Combine(dir.Path, "crashed");
        var crashed = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke("train.fault=Throw", "train.faultStep=31"), 4, options, runDir);
        Assert.Equal(RunLayout.Status.Failed, crashed.Status);
        Assert.Contains(CsvText.ReadMetrics(Path.Combine(runDir, RunLayout.Metrics)), r => r.Step == 30); // after checkpoint 20
        // Pretend the process died (status running) with the fault removed from the stored config.
        var m = RunManifest.Read(runDir);
        (m with { Status = RunLayout.Status.Running, Config = System.Text.Json.Nodes.JsonNode.Parse(cfg.Json)! }).Write(runDir);

        Assert.Equal(RunLayout.Status.Completed, ExperimentRunner.Resume(runDir, options).Status);
        SameResults.AssertCsv(Path.Combine(full.RunDirectory, RunLayout.Metrics), Path.Combine(runDir, RunLayout.Metrics));
    }
}
