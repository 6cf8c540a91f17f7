using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

public class SweepTests
{
    private static readonly string[] Short = ["train.steps=20", "train.evalEvery=10", "train.checkpointEvery=10"];

    [Fact]
    public void Sweep_runs_the_product_continues_after_a_failure_and_skips_completed_runs_on_rerun()
    {
        using var dir = new TempDir();
        var options = new RunOptions { ResultsRoot = dir.Path, Device = "cpu" };
        GridAxis[] grid = [GridAxis.Parse("train.fault=Throw,None"), GridAxis.Parse("model.experts=1,2")];
        var sets = Short.Append("train.faultStep=3").ToList();

        var first = SweepRunner.Run(Toy.Experiment, "smoke", null, sets, grid, [0, 1], options);
        Assert.Equal(8, first.Runs.Count);
        Assert.Equal(4, first.Runs.Count(r => r.Status == RunLayout.Status.Failed));
        Assert.Equal(4, first.Runs.Count(r => r.Status == RunLayout.Status.Completed));
        Assert.All(first.Runs, r => Assert.Equal("ran", r.Action));
        Assert.Equal("train.fault=Throw model.experts=1", first.Runs[0].Point);
        Assert.Equal(RunLayout.Status.Failed, first.Runs[0].Status); // the first run failed, the rest went on
        Assert.All(first.Runs.Where(r => r.Status == RunLayout.Status.Completed), r => Assert.NotEmpty(r.Summary));
        Assert.All(first.Runs, r => Assert.StartsWith(first.Directory, r.RunDirectory));
        Assert.Equal(8, first.Runs.Select(r => r.RunId).Distinct().Count());
        Assert.True(File.Exists(Path.Combine(first.Directory, "sweep.json")));

        var manifestTimes = first.Runs.Where(r => r.Status == RunLayout.Status.Completed)
            .ToDictionary(r => r.RunId, r => RunManifest.Read(r.RunDirectory).EndedAt);
        var second = SweepRunner.Run(Toy.Experiment, "smoke", null, sets, grid, [0, 1], options);
        Assert.Equal(first.SweepId, second.SweepId);
        Assert.Equal(first.Runs.Select(r => r.RunId), second.Runs.Select(r => r.RunId));
        Assert.All(second.Runs.Where(r => r.Status == RunLayout.Status.Completed), r =>
        {
            Assert.Equal("skipped", r.Action);
            Assert.Equal(manifestTimes[r.RunId], RunManifest.Read(r.RunDirectory).EndedAt);
            Assert.NotEmpty(r.Summary);
        });
        Assert.All(second.Runs.Where(r => r.Status == RunLayout.Status.Failed), r => Assert.Equal("retried", r.Action));
    }

    [Fact]
    public void Interrupted_sweep_leaves_the_rest_pending_and_rerun_resumes_to_the_same_numbers()
    {
        using var dir = new TempDir();
        var options = new RunOptions { ResultsRoot = dir.Path, Device = "cpu" };
        GridAxis[] grid = [GridAxis.Parse("train.lr=0.01,0.02")];
        using var cts = new CancellationTokenSource();
        var cut = SweepRunner.Run(Toy.Experiment, "smoke", null, Short, grid, [5],
            options with { Cancellation = cts.Token, Progress = new CancelAtStep(cts, 13) });
        Assert.Equal(new[] { RunLayout.Status.Interrupted, "pending" }, cut.Runs.Select(r => r.Status));

        var rerun = SweepRunner.Run(Toy.Experiment, "smoke", null, Short, grid, [5], options);
        Assert.Equal(new[] { "resumed", "ran" }, rerun.Runs.Select(r => r.Action));
        Assert.All(rerun.Runs, r => Assert.Equal(RunLayout.Status.Completed, r.Status));

        var fresh = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke(Short.Append("train.lr=0.01").ToArray()), 5, options,
            Path.Combine(dir.Path, "fresh"));
        Assert.Equal(fresh.Summary.Single().Values, rerun.Runs[0].Summary.Single().Values);
    }

    [Fact]
    public void A_bad_grid_point_stops_the_sweep_before_anything_runs()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ConfigException>(() => SweepRunner.Run(Toy.Experiment, "smoke", null, Short,
            [GridAxis.Parse("model.experts=2,0")], [0], new RunOptions { ResultsRoot = dir.Path, Device = "cpu" }));
        Assert.Contains("[model.experts=0] --set model.experts=0: 'model.experts' = 0 is out of range: allowed 1 … 64.", e.Message);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "toy-regression")));
        Assert.Contains("expected key=v1,v2", Assert.Throws<ConfigException>(() => GridAxis.Parse("model.experts")).Message);
        Assert.Equal(new[] { "[8,8]", "[16]" }, GridAxis.Parse("model.hiddenSizes=[8,8];[16]").Values);
    }
}
