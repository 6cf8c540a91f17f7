using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Tests.Runtime;
using MoeLab.Experiments.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Tests.Training;

/// <summary>The shared training loop: arms that resume on their own, gradient accumulation, early
/// stopping errors, and wall-clock figures kept out of metrics.csv. (The toy experiment runs on it:
/// its resume and fault-drill tests cover single-arm resume byte for byte.)</summary>
public class TrainerTests
{
    /// <summary>y = x·w + noise, fixed data; batch b of step s is a slice of one fixed order.</summary>
    private sealed class LinearTask(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y, int batch, int microBatches = 1) : ITrainingTask
    {
        public long ItemsPerMicroBatch => batch / microBatches;

        public Tensor Loss(long step, int microBatch)
        {
            long n = x.shape[0], size = batch / microBatches;
            long start = step * batch % (n - batch + 1) + microBatch * size;
            return nn.functional.mse_loss(model.forward(x.narrow(0, start, size)), y.narrow(0, start, size)); // []
        }

        public IReadOnlyDictionary<string, double> Evaluate() =>
            new Dictionary<string, double> { ["val_loss"] = nn.functional.mse_loss(model.forward(x), y).item<float>() };
    }

    private static (Tensor X, Tensor Y) Data()
    {
        using var g = new Generator(7);
        var x = randn([256, 8], generator: g);
        var w = randn([8, 1], generator: g);
        return (x, x.matmul(w) + 0.1 * randn([256, 1], generator: g));
    }

    private static nn.Module<Tensor, Tensor> Model()
    {
        using var g = new Generator(11);
        var m = nn.Linear(8, 1);
        using (no_grad())
            foreach (var p in m.parameters()) p.copy_(randn(p.shape, generator: g) * 0.1);
        return m;
    }

    private static TrainerOptions Options(string arm, long steps = 60) => new()
    {
        Steps = steps, Schedule = LrSchedule.Create(ScheduleKind.WarmupCosine, 0.05, steps, 5), LogEvery = 5, EvalEvery = 20,
        CheckpointEvery = 15, ClipNorm = 1.0, Arm = arm, CheckpointPrefix = arm + "-",
    };

    /// <summary>Two arms in one run, each on its own model and optimiser.</summary>
    private static List<TrainerOutcome> TrainArms(RunContext ctx)
    {
        var (x, y) = Data();
        var outcomes = new List<TrainerOutcome>();
        foreach (string arm in new[] { "a", "b" })
        {
            var model = Model();
            var opt = Optimizers.AdamW(model.parameters(), 0.05);
            outcomes.Add(Trainer.Run(ctx, model, opt, new LinearTask(model, x, y, 32), Options(arm)));
            ctx.LogSummary(arm, Trainer.Evaluate(model, new LinearTask(model, x, y, 32)));
        }
        return outcomes;
    }

    [Fact]
    public void Each_arm_resumes_on_its_own_and_a_finished_arm_is_restored_not_retrained()
    {
        var full = new InMemoryRunContext(seed: 1);
        TrainArms(full);

        using var cts = new CancellationTokenSource();
        var store = new InMemoryCheckpointStore();
        int reports = 0;
        var first = new InMemoryRunContext(seed: 1, cancellation: cts.Token, checkpoints: store,
            progress: new ActionProgress(phase => { if (phase == "b" && ++reports == 37) cts.Cancel(); }));
        Assert.Throws<OperationCanceledException>(() => TrainArms(first)); // stopped inside arm b
        var second = new InMemoryRunContext(seed: 1, checkpoints: store);
        var outcomes = TrainArms(second);

        Assert.True(outcomes[0].ResumedCompleted);  // arm a had finished: restored
        Assert.False(outcomes[1].ResumedCompleted); // arm b resumed from the checkpoint taken when it was stopped (step 37)
        Assert.DoesNotContain(second.Metrics, r => r.Arm == "a");
        Assert.Equal(40, second.Metrics.Where(r => r.Arm == "b").Min(r => r.Step)); // next log step after 37
        var resumed = first.Metrics.Concat(second.Metrics).ToList();
        Assert.Equal(full.Metrics.Select(r => (r.Step, r.Arm, r.Metric)), resumed.Select(r => (r.Step, r.Arm, r.Metric)));
        SameResults.AssertValues(full.Metrics.Select(r => r.Value), resumed.Select(r => r.Value), "metrics");
        SameResults.AssertValues([full.SummaryValue("val_loss", "a"), full.SummaryValue("val_loss", "b")],
            [second.SummaryValue("val_loss", "a"), second.SummaryValue("val_loss", "b")], "summary");
    }

    [Fact]
    public void Two_micro_batches_of_half_size_match_one_batch_to_rounding()
    {
        var (x, y) = Data();
        double Train(int micro)
        {
            var model = Model();
            var ctx = new InMemoryRunContext();
            Trainer.Run(ctx, model, Optimizers.Sgd(model.parameters(), 0.05), new LinearTask(model, x, y, 32, micro),
                new TrainerOptions { Steps = 40, Schedule = LrSchedule.Create(ScheduleKind.Constant, 0.05, 40), GradientAccumulation = micro });
            return ctx.Metrics.Last(r => r.Metric == "val_loss").Value;
        }
        double one = Train(1), two = Train(2);
        Assert.True(Math.Abs(one - two) <= 1e-5 * Math.Abs(one), $"{one:R} vs {two:R}");
        Assert.True(one < 0.1, $"the model did not learn: val_loss {one}");
    }

    [Fact]
    public void Early_stopping_on_a_metric_the_task_does_not_return_is_a_clear_error()
    {
        var (x, y) = Data();
        var model = Model();
        var e = Assert.Throws<InvalidOperationException>(() => Trainer.Run(new InMemoryRunContext(), model,
            Optimizers.AdamW(model.parameters()), new LinearTask(model, x, y, 32),
            Options("main") with { EarlyStopPatience = 2, EarlyStopMetric = "val_accuracy" }));
        Assert.Contains("val_accuracy", e.Message);
        Assert.Contains("val_loss", e.Message);
    }

    [Fact]
    public void Throughput_and_memory_go_to_system_csv_not_metrics_csv()
    {
        using var dir = new TempDir();
        var run = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke(), 0, new RunOptions { ResultsRoot = dir.Path, Device = "cpu" });
        var system = CsvText.ReadMetrics(Path.Combine(run.RunDirectory, RunLayout.System));
        var metrics = CsvText.ReadMetrics(Path.Combine(run.RunDirectory, RunLayout.Metrics));
        Assert.Contains(system, r => r.Metric == "items_per_second" && r.Value > 0);
        Assert.Contains(system, r => r.Metric == "peak_rss_mib" && r.Value > 10);
        Assert.DoesNotContain(metrics, r => r.Metric is "items_per_second" or "peak_rss_mib");
    }

    private sealed class ActionProgress(Action<string> onReport) : IProgressSink
    {
        public void Report(string phase, long step, long total, double? loss) => onReport(phase);
        public void Log(string message) { }
    }
}
