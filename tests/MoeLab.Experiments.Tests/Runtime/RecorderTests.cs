using System.Text.Json.Nodes;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

public class RecorderTests
{
    [Fact]
    public void Completed_run_writes_the_layout_with_all_manifest_fields()
    {
        using var dir = new TempDir();
        var outcome = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke("model.experts=3"), 1,
            new RunOptions { ResultsRoot = dir.Path, Device = "cpu" });
        Assert.Equal(RunLayout.Status.Completed, outcome.Status);
        Assert.StartsWith(Path.Combine(dir.Path, "toy-regression"), outcome.RunDirectory);

        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(outcome.RunDirectory, RunLayout.Manifest)))!.AsObject();
        foreach (string field in new[] { "experiment", "runId", "preset", "seed", "overrides", "config", "configHash", "gitCommit",
                     "device", "packages", "startedAt", "endedAt", "status", "error" })
            Assert.True(manifest.ContainsKey(field), $"manifest lacks '{field}'");
        Assert.Equal("completed", (string?)manifest["status"]);
        Assert.Equal(3, (int?)manifest["config"]!["model"]!["experts"]);
        Assert.Equal("model.experts=3", (string?)manifest["overrides"]![0]);
        Assert.Equal("0.107.0", (string?)manifest["packages"]!["TorchSharp"]);
        Assert.Matches("^([0-9a-f]{40}|unknown)$", (string?)manifest["gitCommit"]);

        var metrics = CsvText.ReadMetrics(Path.Combine(outcome.RunDirectory, RunLayout.Metrics));
        Assert.Contains(metrics, r => r.Metric == "val_loss" && r.Step == 60);
        Assert.Equal(12, metrics.Count(r => r.Metric == "train_loss")); // every 5 of 60 steps

        var summary = File.ReadAllLines(Path.Combine(outcome.RunDirectory, RunLayout.Summary));
        Assert.Equal("arm,optimizer,schedule,val_loss,train_loss,steps,best_val_loss", summary[0]);
        Assert.StartsWith("main,AdamW,WarmupCosine,", summary[1]);
        Assert.Equal("expert,mean_gate", File.ReadLines(Path.Combine(outcome.RunDirectory, RunLayout.Tables, "expert_load.csv")).First());
        Assert.Contains("status: completed", File.ReadAllText(Path.Combine(outcome.RunDirectory, RunLayout.Log)));
    }

    [Fact]
    public void NaN_metric_fails_the_run_naming_metric_and_step_and_keeps_the_history()
    {
        using var dir = new TempDir();
        var outcome = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke("train.fault=NaN", "train.faultStep=12"), 0,
            new RunOptions { ResultsRoot = dir.Path, Device = "cpu" });
        Assert.Equal(RunLayout.Status.Failed, outcome.Status);
        Assert.Contains("Metric 'train_loss' (arm 'main') is NaN at step 13", outcome.Error);
        var m = RunManifest.Read(outcome.RunDirectory);
        Assert.Equal(RunLayout.Status.Failed, m.Status);
        Assert.Equal(outcome.Error, m.Error);
        var rows = CsvText.ReadMetrics(Path.Combine(outcome.RunDirectory, RunLayout.Metrics));
        Assert.Contains(rows, r => r.Step == 10 && r.Metric == "train_loss" && double.IsFinite(r.Value));
        Assert.Contains(rows, r => r.Step == 13 && r.Metric == "train_loss" && double.IsNaN(r.Value));
    }

    [Fact]
    public void Exceptions_become_failed_status_with_the_message()
    {
        using var dir = new TempDir();
        var outcome = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke("train.fault=Throw", "train.faultStep=2"), 0,
            new RunOptions { ResultsRoot = dir.Path, Device = "cpu" });
        Assert.Equal(RunLayout.Status.Failed, outcome.Status);
        Assert.Equal("InvalidOperationException: toy-regression: injected failure at step 2 (train.fault=Throw).", outcome.Error);
        Assert.Contains("exception: System.InvalidOperationException", File.ReadAllText(Path.Combine(outcome.RunDirectory, RunLayout.Log)));
    }

    [Fact]
    public void In_memory_context_keeps_metrics_summary_tables_and_rejects_non_finite_values()
    {
        var ctx = new InMemoryRunContext(seedTorch: false);
        ctx.LogMetrics(1, new Dictionary<string, double> { ["loss"] = 2.0 });
        ctx.LogMetrics(2, new Dictionary<string, double> { ["loss"] = 1.5 }, arm: "b");
        ctx.LogSummary("b", new Dictionary<string, double> { ["loss"] = 1.0 });
        ctx.LogSummary("b", new Dictionary<string, double> { ["loss"] = 0.5 }, new Dictionary<string, string> { ["kind"] = "x" });
        ctx.SaveTable("t", new DataFrame(new PrimitiveDataFrameColumn<int>("a", [1, 2])));
        Assert.Equal(new[] { (2L, 1.5) }, ctx.Series("loss", "b"));
        Assert.Equal(0.5, ctx.SummaryValue("loss", "b"));
        Assert.Single(ctx.Summary);
        Assert.Equal(2, ctx.Tables["t"].Rows.Count);
        Assert.Equal(2, ctx.MetricsFrame().Rows.Count);
        var e = Assert.Throws<NonFiniteMetricException>(() =>
            ctx.LogMetrics(3, new Dictionary<string, double> { ["loss"] = double.PositiveInfinity }));
        Assert.Equal("loss", e.Metric);
        Assert.Equal(3, e.Step);
        Assert.Equal(3, ctx.Metrics.Count); // kept
        Assert.Contains("unknown", Assert.Throws<KeyNotFoundException>(() => ctx.SummaryValue("loss", "unknown")).Message);
    }

    [Fact]
    public void Summary_csv_puts_labels_before_metrics_and_leaves_missing_cells_empty()
    {
        string csv = CsvText.Summary([
            new SummaryRow("a", new Dictionary<string, double> { ["acc"] = 0.5 }, new Dictionary<string, string> { ["name"] = "x,y" }),
            new SummaryRow("b", new Dictionary<string, double> { ["loss"] = 1.25 }, new Dictionary<string, string>()),
        ]);
        Assert.Equal("arm,name,acc,loss\na,\"x,y\",0.5,\nb,,,1.25\n", csv);
    }

    [Fact]
    public void Registry_finds_the_toy_experiment_and_suggests_names()
    {
        Assert.Contains(ExperimentRegistry.All, e => e.Name == "toy-regression");
        Assert.DoesNotContain(ExperimentRegistry.ForLab, e => e.Name == "toy-regression");
        var e = Assert.Throws<ConfigException>(() => ExperimentRegistry.Get("toy-regresion"));
        Assert.Contains("Did you mean 'toy-regression'", e.Message);
        foreach (var exp in ExperimentRegistry.All)
            foreach (string preset in new[] { "smoke", "cpu", "paper" })
                Assert.True(exp.Presets.ContainsKey(preset), $"{exp.Name} lacks preset {preset}");
    }

    [Fact]
    public void Git_commit_is_read_from_the_repository()
    {
        string? repo = RunLayout.FindRepoRoot(AppContext.BaseDirectory);
        string commit = GitInfo.CurrentCommit(repo ?? AppContext.BaseDirectory);
        if (repo is not null && (Directory.Exists(Path.Combine(repo, ".git")) || File.Exists(Path.Combine(repo, ".git"))))
            Assert.Matches("^[0-9a-f]{40}$", commit);
        Assert.Equal("unknown", GitInfo.CurrentCommit(Path.GetTempPath()));
    }
}

public class FailedBeforeStartTests
{
    [Fact]
    public void A_run_whose_data_set_is_missing_is_failed_before_start_and_says_how_to_get_it()
    {
        using var dir = new TempDir();
        var experiment = ExperimentRegistry.Get("dynamoe-images");
        var config = ConfigBinder.Resolve(experiment, "smoke", null, ["dataDirectory=" + Path.Combine(dir.Path, "no-such-folder")]);
        var outcome = ExperimentRunner.Run(experiment, config, 0, new RunOptions { ResultsRoot = dir.Path, Device = "cpu" });
        Assert.Equal(RunLayout.Status.Failed, outcome.Status);
        var m = RunManifest.Read(outcome.RunDirectory);
        Assert.True(m.FailedBeforeStart);
        Assert.Contains("no-such-folder", m.Error);

        // A run that failed after it computed something is not "before start".
        var late = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke("train.fault=Throw", "train.faultStep=30"), 0,
            new RunOptions { ResultsRoot = dir.Path, Device = "cpu" });
        Assert.Equal(RunLayout.Status.Failed, late.Status);
        Assert.False(RunManifest.Read(late.RunDirectory).FailedBeforeStart);
    }
}
