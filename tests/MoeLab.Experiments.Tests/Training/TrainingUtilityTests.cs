using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Tests.Training;

public class LrScheduleTests
{
    [Fact]
    public void Constant_schedule_is_constant()
    {
        var s = LrSchedule.Create(ScheduleKind.Constant, 0.1, totalSteps: 100);
        Assert.All(new long[] { 0, 50, 99, 1000 }, step => Assert.Equal(0.1, s.At(step)));
    }

    [Fact]
    public void Warmup_cosine_rises_linearly_then_follows_the_cosine_to_the_minimum()
    {
        var s = new WarmupCosineSchedule(1.0, WarmupSteps: 10, TotalSteps: 110, MinLr: 0.1);
        Assert.Equal(0.1, s.At(0), 12);
        Assert.Equal(0.5, s.At(4), 12);
        Assert.Equal(1.0, s.At(10), 12); // peak right after warm-up
        Assert.Equal(0.1 + 0.45 * (1 + Math.Cos(Math.PI * 0.5)), s.At(60), 12); // half-way
        Assert.Equal(0.1, s.At(110), 12);
        Assert.Equal(0.1, s.At(500), 12);
        for (long t = 11; t < 110; t++) Assert.True(s.At(t) < s.At(t - 1));
    }

    [Fact]
    public void Warmup_stable_decay_holds_the_peak_then_decays_linearly()
    {
        var s = new WarmupStableDecaySchedule(2.0, WarmupSteps: 5, TotalSteps: 100, DecayFraction: 0.2, MinLr: 0.0);
        Assert.Equal(80, s.DecayStart);
        Assert.Equal(0.4, s.At(0), 12);
        Assert.Equal(2.0, s.At(5), 12);
        Assert.Equal(2.0, s.At(79), 12);
        Assert.Equal(1.0, s.At(90), 12);
        Assert.Equal(0.0, s.At(100), 12);
    }

    [Fact]
    public void Apply_sets_the_optimizer_rate_and_the_torch_adaptor_matches()
    {
        var lin = nn.Linear(2, 1);
        var opt = Optimizers.AdamW(lin.parameters(), lr: 1.0);
        var s = new WarmupCosineSchedule(1.0, 4, 20);
        Assert.Equal(s.At(7), s.Apply(opt, 7));
        Assert.Equal(s.At(7), Optimizers.LearningRate(opt), 12);

        var opt2 = Optimizers.Sgd(nn.Linear(2, 1).parameters(), lr: 1.0);
        var sched = s.ToTorchScheduler(opt2);
        Assert.Equal(s.At(0), Optimizers.LearningRate(opt2), 9);
        for (int i = 1; i <= 6; i++)
        {
            opt2.step();
            sched.step();
            Assert.Equal(s.At(i), Optimizers.LearningRate(opt2), 9);
        }
    }
}

public class GradientAndOptimizerTests
{
    [Fact]
    public void Gradient_norm_and_clipping()
    {
        var w = nn.Linear(2, 1, hasBias: false);
        using (no_grad()) w.weight!.copy_(tensor(new float[] { 0, 0 }).reshape(1, 2));
        var x = tensor(new float[] { 3, 4 }).reshape(1, 2); // d(sum(w·x))/dw = x → norm 5
        w.forward(x).sum().backward();
        Assert.Equal(5.0, Gradients.Norm(w.parameters()), 5);
        Assert.Equal(5.0, Gradients.ClipNorm(w.parameters(), 1.0), 5); // returns the pre-clip norm
        Assert.Equal(1.0, Gradients.Norm(w.parameters()), 4);
        Assert.Equal(1.0, Gradients.ClipNorm(w.parameters(), 0), 4); // 0 = no clipping
    }

    [Fact]
    public void Optimizer_state_round_trips_so_training_continues_identically()
    {
        var gen = new Generator(3);
        var data = rand([16, 3], generator: gen); // [16, 3]
        var target = rand([16, 1], generator: gen); // [16, 1]
        Linear Make()
        {
            var m = nn.Linear(3, 1);
            using (no_grad())
            {
                m.weight!.copy_(ones(1, 3) * 0.1);
                m.bias!.copy_(zeros(1));
            }
            return m;
        }
        void Step(Linear m, optim.Optimizer o)
        {
            o.zero_grad();
            nn.functional.mse_loss(m.forward(data), target).backward();
            o.step();
        }
        var a = Make();
        var oa = Optimizers.AdamW(a.parameters(), 0.05);
        for (int i = 0; i < 3; i++) Step(a, oa);

        using var dir = new Runtime.TempDir();
        string mp = Path.Combine(dir.Path, "m.bin"), op = Path.Combine(dir.Path, "o.bin");
        a.save(mp);
        Optimizers.SaveState(oa, op);
        var b = Make();
        var ob = Optimizers.AdamW(b.parameters(), 0.05);
        b.load(mp);
        Optimizers.LoadState(ob, op);
        for (int i = 0; i < 3; i++)
        {
            Step(a, oa);
            Step(b, ob);
        }
        Assert.True(a.weight!.equal(b.weight!).all().item<bool>());

        // Without the optimizer state the continuation differs (the test can fail).
        var c = Make();
        var oc = Optimizers.AdamW(c.parameters(), 0.05);
        c.load(mp);
        for (int i = 0; i < 3; i++) Step(c, oc);
        Assert.False(a.weight!.equal(c.weight!).all().item<bool>());
    }

    [Fact]
    public void Optimizer_settings_create_the_requested_kind()
    {
        var lin = nn.Linear(2, 1);
        Assert.Equal(3e-4, Optimizers.LearningRate(new OptimizerSettings { Lr = 3e-4 }.Create(lin.parameters())), 12);
        Assert.Contains("SGD", new OptimizerSettings { Kind = OptimizerKind.Sgd, Lr = 0.1 }.Create(lin.parameters()).GetType().Name,
            StringComparison.OrdinalIgnoreCase);
    }
}

public class EvaluationAndStoppingTests
{
    [Fact]
    public void Evaluation_averages_over_examples_and_restores_training_mode()
    {
        var model = nn.Linear(1, 1);
        model.train();
        var batches = new[] { new float[] { 1, 1, 1 }, new float[] { 4 } };
        var result = Evaluation.Run(model, batches, b =>
        {
            Assert.False(model.training);
            Assert.False(is_grad_enabled());
            var t = tensor(b); // [n]
            return (new Dictionary<string, Tensor> { ["v"] = t.sum() }, (long)b.Length);
        });
        Assert.Equal(7.0 / 4.0, result["v"], 12); // per example, not the mean of batch means (2.5)
        Assert.True(model.training);
    }

    [Fact]
    public void Early_stopping_counts_patience_in_both_modes_and_restores_state()
    {
        var min = new EarlyStopping(MetricMode.Min, patience: 2, minDelta: 0.01);
        Assert.True(min.Update(1, 1.0));
        Assert.False(min.Update(2, 0.995)); // within minDelta: not an improvement
        Assert.False(min.ShouldStop);
        Assert.True(min.Update(3, 0.5));
        Assert.False(min.Update(4, 0.6));
        Assert.False(min.Update(5, double.NaN));
        Assert.True(min.ShouldStop);
        Assert.Equal((0.5, 3L), (min.Best, min.BestStep));

        var max = new EarlyStopping(MetricMode.Max, patience: 1);
        max.Update(1, 0.5);
        Assert.True(max.Update(2, 0.7));
        Assert.False(max.Update(3, 0.6));
        Assert.True(max.ShouldStop);

        var restored = new EarlyStopping(MetricMode.Min, 2, 0.01);
        restored.Restore(min.State);
        Assert.Equal(min.State, restored.State);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EarlyStopping(MetricMode.Min, 0));
    }

    [Fact]
    public void Non_finite_guard_names_metric_and_step()
    {
        Assert.Equal(1.5, NonFinite.Check("loss", 3, 1.5));
        var e = Assert.Throws<NonFiniteMetricException>(() => NonFinite.Check("loss", 42, tensor(float.NaN)));
        Assert.Equal("loss", e.Metric);
        Assert.Equal(42, e.Step);
        Assert.StartsWith("Metric 'loss' (arm 'main') is NaN at step 42", e.Message);
    }

    [Fact]
    public void Toy_early_stopping_stops_before_the_step_budget()
    {
        var ctx = new InMemoryRunContext("toy-regression", seed: 0);
        var cfg = Runtime.Toy.Config("train.steps=400", "train.evalEvery=5", "train.earlyStopPatience=1", "train.lr=0.5",
            "train.schedule=Constant", "train.warmupSteps=0");
        Experiments.Examples.ToyRegressionExperiment exp = new();
        exp.Run(cfg, ctx);
        Assert.True(ctx.SummaryValue("steps") < 400);
        Assert.Contains(ctx.LogLines, l => l.StartsWith("early stopping at step"));
    }
}
