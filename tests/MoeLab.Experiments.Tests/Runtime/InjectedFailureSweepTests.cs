using System.Collections.Concurrent;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Runtime;
using Plotly.NET;
using TorchSharp;

namespace MoeLab.Experiments.Tests.Runtime;

/// <summary>A 20-run sweep in which some runs throw at a random step (seeded) on their first attempt:
/// the sweep completes every other run; running it again retries only the failed ones, which then
/// end byte-identical to the same runs in an undisturbed sweep.</summary>
public class InjectedFailureSweepTests
{
    [Fact]
    public void Sweep_with_injected_failures_completes_the_others_and_retries_only_the_failed()
    {
        using var dir = new TempDir();
        var grid = new[] { GridAxis.Parse("model.experts=2,3,4,5") };
        var seeds = SeedList.Parse("5");
        string[] sets = ["train.steps=80", "train.checkpointEvery=20"];

        var clean = SweepRunner.Run(Toy.Experiment, "smoke", null, sets, grid, seeds,
            new RunOptions { ResultsRoot = Path.Combine(dir.Path, "clean"), Device = "cpu" });
        Assert.Equal(20, clean.Runs.Count);
        Assert.All(clean.Runs, r => Assert.Equal(RunLayout.Status.Completed, r.Status));

        var flaky = new FlakyExperiment(Toy.Experiment, failureRate: 0.3, rngSeed: 99);
        var options = new RunOptions { ResultsRoot = Path.Combine(dir.Path, "flaky"), Device = "cpu" };
        var first = SweepRunner.Run(flaky, "smoke", null, sets, grid, seeds, options);
        var failed = first.Runs.Where(r => r.Status == RunLayout.Status.Failed).Select(r => r.RunId).ToHashSet();
        Assert.InRange(failed.Count, 2, 12); // 30 % of 20, seeded
        Assert.Equal(20 - failed.Count, first.Runs.Count(r => r.Status == RunLayout.Status.Completed));
        Assert.All(first.Runs.Where(r => failed.Contains(r.RunId)), r => Assert.Contains("injected failure", r.Error));
        // Failures at a training step computed something: they are not "failed before start".
        Assert.All(first.Runs.Where(r => failed.Contains(r.RunId)), r => Assert.False(RunManifest.Read(r.RunDirectory).FailedBeforeStart));

        var second = SweepRunner.Run(flaky, "smoke", null, sets, grid, seeds, options);
        Assert.All(second.Runs, r => Assert.Equal(RunLayout.Status.Completed, r.Status));
        Assert.Equal(failed, second.Runs.Where(r => r.Action == "retried").Select(r => r.RunId).ToHashSet());
        Assert.All(second.Runs.Where(r => !failed.Contains(r.RunId)), r => Assert.Equal("skipped", r.Action));
        Assert.Equal(20, flaky.Attempts.Values.Sum() - failed.Count); // each run trained once, failed ones twice

        foreach (var run in second.Runs)
        {
            var twin = clean.Runs.Single(c => c.RunId == run.RunId);
            SameResults.AssertCsv(Path.Combine(twin.RunDirectory, RunLayout.Metrics), Path.Combine(run.RunDirectory, RunLayout.Metrics));
            SameResults.AssertCsv(Path.Combine(twin.RunDirectory, RunLayout.Summary), Path.Combine(run.RunDirectory, RunLayout.Summary));
        }
    }

    /// <summary>Wraps an experiment; on the first attempt at a run, a seeded share of runs throws at a
    /// seeded random step (from inside the run, when that step's metrics are logged).</summary>
    private sealed class FlakyExperiment(IExperiment inner, double failureRate, int rngSeed) : IExperiment
    {
        public ConcurrentDictionary<string, int> Attempts { get; } = new();

        public string Name => inner.Name;
        public string Description => inner.Description;
        public Type ConfigType => inner.ConfigType;
        public IReadOnlyDictionary<string, object> Presets => inner.Presets;
        public IReadOnlyList<string> Validate(object config) => inner.Validate(config);

        public void Run(object config, RunContext context)
        {
            string runId = Path.GetFileName(context.RunDirectory!);
            int attempt = Attempts.AddOrUpdate(runId, 1, (_, n) => n + 1);
            var rng = new Random(HashCode.Combine(rngSeed, StableHash(runId)));
            bool fail = attempt == 1 && rng.NextDouble() < failureRate;
            int failAt = rng.Next(1, 80);
            inner.Run(config, fail ? new FailingContext(context, failAt) : context);
        }

        private static int StableHash(string s) => s.Aggregate(17, (h, c) => unchecked(h * 31 + c));
    }

    /// <summary>Forwards everything to the real context and throws once a step ≥ failAt is logged.</summary>
    private sealed class FailingContext(RunContext inner, int failAt) : RunContext
    {
        public override string ExperimentName => inner.ExperimentName;
        public override string Preset => inner.Preset;
        public override long Seed => inner.Seed;
        public override torch.Device Device => inner.Device;
        public override CancellationToken Cancellation => inner.Cancellation;
        public override string? RunDirectory => inner.RunDirectory;
        public override ICheckpointStore Checkpoints => inner.Checkpoints;

        public override void LogMetrics(long step, IReadOnlyDictionary<string, double> values, string arm = "main")
        {
            inner.LogMetrics(step, values, arm);
            if (step >= failAt) throw new InvalidOperationException($"injected failure at step {step}");
        }

        public override void LogSummary(string arm, IReadOnlyDictionary<string, double> values, IReadOnlyDictionary<string, string>? labels = null) =>
            inner.LogSummary(arm, values, labels);

        public override void SaveTable(string name, DataFrame table) => inner.SaveTable(name, table);
        public override void SaveFigure(string name, GenericChart chart) => inner.SaveFigure(name, chart);
        public override void ReportProgress(string phase, long step, long total, double? loss = null) => inner.ReportProgress(phase, step, total, loss);
        public override void Log(string message) => inner.Log(message);
    }
}
