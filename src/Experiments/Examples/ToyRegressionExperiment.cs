using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;
using Microsoft.Data.Analysis;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Examples;

/// <summary>The runtime's own test experiment (not a paper): a dense mixture of MLP experts fit
/// to seeded synthetic regression data. It exercises everything a real experiment does: seeded
/// data, schedules, clipping, evaluation, early stopping, metrics, summary, a table, a figure,
/// and exact resume.
/// <para>Training runs on the shared <see cref="Trainer"/> (the worked example of
/// src/Experiments/Papers/README.md): the experiment supplies data, model, optimiser and an
/// <see cref="ITrainingTask"/>. Resume: the trainer's checkpoint holds the model, the optimiser state,
/// the completed steps and the early-stopping state; no RNG state is needed because the data are
/// regenerated from the seed, each epoch's order is drawn from <c>CreateRandom("data-order-epoch-N")</c>,
/// the learning rate is a function of the step and training uses no torch randomness. So a resumed
/// run ends with bit-identical metrics.</para></summary>
[ExcludeFromLab("runtime test experiment, not a paper reproduction")]
public sealed class ToyRegressionExperiment : Experiment<ToyRegressionConfig>
{
    public override string Name => "toy-regression";

    public override string Description =>
        "Runtime test experiment (not a paper): a soft mixture of small MLP experts on seeded synthetic regression data.";

    public override IReadOnlyDictionary<string, ToyRegressionConfig> TypedPresets { get; } =
        new Dictionary<string, ToyRegressionConfig>
        {
            // Well under a second: tests and CI.
            ["smoke"] = new()
            {
                Model = new() { Experts = 2, HiddenSizes = [8] },
                Data = new() { Features = 4, TrainSize = 256, ValidSize = 64 },
                Train = new() { Steps = 60, BatchSize = 32, WarmupSteps = 5, LogEvery = 5, EvalEvery = 20, CheckpointEvery = 20 },
                SaveFigures = false,
            },
            // A few seconds on a 2-core laptop.
            ["cpu"] = new()
            {
                Model = new() { Experts = 4, HiddenSizes = [32, 32] },
                Data = new() { Features = 8, TrainSize = 4096, ValidSize = 1024 },
                Train = new() { Steps = 2000, BatchSize = 64, WarmupSteps = 100, LogEvery = 20, EvalEvery = 200, CheckpointEvery = 500 },
            },
            // "Paper" scale has no paper here; a larger run that benefits from a GPU.
            ["paper"] = new()
            {
                Model = new() { Experts = 16, HiddenSizes = [256, 256] },
                Data = new() { Features = 32, TrainSize = 200_000, ValidSize = 20_000 },
                Train = new() { Steps = 20_000, BatchSize = 512, Lr = 3e-3, WarmupSteps = 500, LogEvery = 100, EvalEvery = 1000, CheckpointEvery = 2000 },
            },
        };

    public override IReadOnlyList<string> Validate(ToyRegressionConfig c)
    {
        var problems = new List<string>();
        if (c.Train.WarmupSteps > c.Train.Steps)
            problems.Add($"'train.warmupSteps' = {c.Train.WarmupSteps} must be ≤ 'train.steps' = {c.Train.Steps}.");
        if (c.Train.BatchSize > c.Data.TrainSize)
            problems.Add($"'train.batchSize' = {c.Train.BatchSize} must be ≤ 'data.trainSize' = {c.Data.TrainSize}.");
        if (c.Model.HiddenSizes.Length is 0 or > 8)
            problems.Add($"'model.hiddenSizes' has {c.Model.HiddenSizes.Length} entries; allowed: 1 to 8 layer widths, e.g. [32,32].");
        foreach (int h in c.Model.HiddenSizes)
            if (h is < 1 or > 4096)
                problems.Add($"'model.hiddenSizes' contains {h}; allowed widths: 1 … 4096.");
        return problems;
    }

    public override void Run(ToyRegressionConfig c, RunContext ctx)
    {
        var device = ctx.Device;
        var (xTrain, yTrain, xValid, yValid) = MakeData(c.Data, ctx, device);
        var model = new ToyMixture(c.Data.Features, c.Model, ctx.CreateGenerator("init"), device);
        var optimizer = c.Train.Optimizer == OptimizerKind.AdamW
            ? Optimizers.AdamW(model.parameters(), c.Train.Lr, c.Train.WeightDecay)
            : Optimizers.Sgd(model.parameters(), c.Train.Lr, momentum: 0.9, weightDecay: c.Train.WeightDecay);
        var task = new ToyTask(c, ctx, model, xTrain, yTrain, xValid, yValid);
        var outcome = Trainer.Run(ctx, model, optimizer, task, new TrainerOptions
        {
            Steps = c.Train.Steps,
            Schedule = LrSchedule.Create(c.Train.Schedule, c.Train.Lr, c.Train.Steps, c.Train.WarmupSteps, minLr: c.Train.Lr * 0.01),
            LogEvery = c.Train.LogEvery,
            EvalEvery = c.Train.EvalEvery,
            CheckpointEvery = c.Train.CheckpointEvery,
            ClipNorm = c.Train.ClipNorm,
            EarlyStopPatience = c.Train.EarlyStopPatience,
        });
        long step = outcome.Steps;
        var early = outcome.Early;

        double finalValid = MeanSquaredError(model, xValid, yValid, c.Train.BatchSize * 4);
        double finalTrain = MeanSquaredError(model, xTrain, yTrain, c.Train.BatchSize * 4);
        ctx.LogSummary("main", new Dictionary<string, double>
        {
            ["val_loss"] = finalValid,
            ["train_loss"] = finalTrain,
            ["steps"] = step,
            ["best_val_loss"] = early?.Best ?? finalValid,
        }, new Dictionary<string, string> { ["optimizer"] = c.Train.Optimizer.ToString(), ["schedule"] = c.Train.Schedule.ToString() });

        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            model.eval();
            var gates = model.Gates(xValid).mean([0]).to(float64).cpu().data<double>().ToArray(); // [experts]
            ctx.SaveTable("expert_load", new DataFrame(
                new PrimitiveDataFrameColumn<int>("expert", Enumerable.Range(0, gates.Length)),
                new PrimitiveDataFrameColumn<double>("mean_gate", gates)));
        }
        if (c.SaveFigures && ctx is not InMemoryRunContext)
        {
            // A simple loss curve; richer figures are built from metrics.csv by `moelab figures`.
            var steps = new List<long>();
            var values = new List<double>();
            if (ctx is RunRecorder rec)
                foreach (var r in rec.Metrics.Where(r => r.Metric == "val_loss" && r.Arm == "main"))
                {
                    steps.Add(r.Step);
                    values.Add(r.Value);
                }
            ctx.SaveFigure("val_loss", MoeLab.Experiments.Plotting.Charts.LineWithBand(
                new[] { new MoeLab.Experiments.Plotting.BandSeries("validation loss", steps.Select(s => (double)s).ToList(), values) },
                $"toy-regression: validation loss (seed {ctx.Seed})", "step", "validation loss (MSE)",
                yType: "log", legendTitle: "series", integerX: true, size: MoeLab.Experiments.Plotting.FigureSize.SingleColumn));
        }
        ctx.Log($"done: val_loss {finalValid:G6}, train_loss {finalTrain:G6}");
    }

    private static (Tensor xTrain, Tensor yTrain, Tensor xValid, Tensor yValid) MakeData(ToyDataConfig d, RunContext ctx, Device device)
    {
        var rng = ctx.CreateRandom("data");
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var a = Enumerable.Range(0, d.Features).Select(_ => Normal() / Math.Sqrt(d.Features)).ToArray();
        var b = Enumerable.Range(0, d.Features).Select(_ => Normal() / Math.Sqrt(d.Features)).ToArray();
        (Tensor, Tensor) Make(int n)
        {
            var x = new float[n * d.Features];
            var y = new float[n];
            for (int i = 0; i < n; i++)
            {
                double xa = 0, xb = 0;
                for (int j = 0; j < d.Features; j++)
                {
                    double v = Normal();
                    x[i * d.Features + j] = (float)v;
                    xa += v * a[j];
                    xb += v * b[j];
                }
                y[i] = (float)(Math.Sin(2 * xa) + 0.5 * xb * xb + d.Noise * Normal());
            }
            return (tensor(x, [n, d.Features], device: device), tensor(y, [n], device: device)); // [n, features], [n]
        }
        var (xt, yt) = Make(d.TrainSize);
        var (xv, yv) = Make(d.ValidSize);
        return (xt, yt, xv, yv);
    }

    internal static double MeanSquaredError(ToyMixture model, Tensor x, Tensor y, int batchSize)
    {
        long n = x.shape[0];
        var batches = Enumerable.Range(0, (int)((n + batchSize - 1) / batchSize)).Select(i => (start: (long)i * batchSize, len: Math.Min(batchSize, n - (long)i * batchSize)));
        return Evaluation.Run(model, batches, b =>
        {
            var xb = x.narrow(0, b.start, b.len); // [len, features]
            var yb = y.narrow(0, b.start, b.len); // [len]
            var sum = (model.forward(xb) - yb).pow(2).sum(); // []
            return (new Dictionary<string, Tensor> { ["mse"] = sum }, b.len);
        })["mse"];
    }
}

/// <summary>The toy's data and loss for the shared <see cref="Trainer"/>: batch b of step s is a slice
/// of the permutation of epoch s / batchesPerEpoch (drawn from the run's seed), so resume needs no data
/// state. Also injects the runtime tests' faults after an optimiser step.</summary>
internal sealed class ToyTask(ToyRegressionConfig c, RunContext ctx, ToyMixture model, Tensor xTrain, Tensor yTrain, Tensor xValid, Tensor yValid)
    : ITrainingTask
{
    private readonly int _batchesPerEpoch = c.Data.TrainSize / c.Train.BatchSize;
    private int _cachedEpoch = -1;
    private long[] _order = Array.Empty<long>();

    public long ItemsPerMicroBatch => c.Train.BatchSize;

    public Tensor Loss(long step, int microBatch)
    {
        int epoch = (int)(step / _batchesPerEpoch);
        if (epoch != _cachedEpoch)
        {
            _order = RunRandom.Permutation(c.Data.TrainSize, ctx.CreateRandom($"data-order-epoch-{epoch}"));
            _cachedEpoch = epoch;
        }
        int offset = (int)(step % _batchesPerEpoch) * c.Train.BatchSize;
        var idx = tensor(_order[offset..(offset + c.Train.BatchSize)], device: ctx.Device); // [batch]
        var xb = xTrain.index_select(0, idx); // [batch, features]
        var yb = yTrain.index_select(0, idx); // [batch]
        return nn.functional.mse_loss(model.forward(xb), yb); // []
    }

    public IReadOnlyDictionary<string, double> Evaluate() => new Dictionary<string, double>
    {
        ["val_loss"] = ToyRegressionExperiment.MeanSquaredError(model, xValid, yValid, c.Train.BatchSize * 4),
    };

    public double AfterOptimizerStep(long step, double loss)
    {
        if (c.Train.Fault == ToyFault.Throw && step == c.Train.FaultStep)
            throw new InvalidOperationException($"toy-regression: injected failure at step {step} (train.fault=Throw).");
        return c.Train.Fault == ToyFault.NaN && step == c.Train.FaultStep ? double.NaN : loss;
    }
}

/// <summary>out(x) = Σ_e softmax(W_g x)_e · MLP_e(x): a dense mixture of experts.</summary>
internal sealed class ToyMixture : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> experts;

    public ToyMixture(int features, ToyModelConfig c, Generator init, Device device) : base("ToyMixture")
    {
        gate = nn.Linear(features, c.Experts);
        experts = new ModuleList<nn.Module<Tensor, Tensor>>();
        for (int e = 0; e < c.Experts; e++)
        {
            var layers = new List<nn.Module<Tensor, Tensor>>();
            int width = features;
            foreach (int h in c.HiddenSizes)
            {
                layers.Add(nn.Linear(width, h));
                layers.Add(c.Activation switch
                {
                    ToyActivation.Tanh => nn.Tanh(),
                    ToyActivation.Gelu => nn.GELU(),
                    _ => nn.ReLU(),
                });
                width = h;
            }
            layers.Add(nn.Linear(width, 1));
            experts.Add(nn.Sequential(layers));
        }
        RegisterComponents();
        // Re-initialise from the run's own generator (PyTorch's default Linear bounds, 1/sqrt(fan_in)),
        // so initialisation does not depend on torch's process-wide generator.
        using (no_grad())
            foreach (var (name, p) in named_parameters())
            {
                long fanIn = name.EndsWith("bias", StringComparison.Ordinal)
                    ? named_parameters().First(q => q.name == name[..^4] + "weight").parameter.shape[1]
                    : p.shape[1];
                double bound = 1.0 / Math.Sqrt(fanIn);
                // (torch.nn.init.uniform_ in TorchSharp 0.107 ignores its generator argument; rand honours it.)
                p.copy_(rand(p.shape, generator: init) * (2 * bound) - bound); // U(-bound, bound)
            }
        this.to(device);
    }

    /// <summary>Gate probabilities.</summary>
    public Tensor Gates(Tensor x) => nn.functional.softmax(gate.forward(x), 1); // [batch, experts]

    public override Tensor forward(Tensor x)
    {
        var g = Gates(x); // [batch, experts]
        var outs = stack(experts.Select(e => e.forward(x).squeeze(1)).ToArray(), 1); // [batch, experts]
        return (g * outs).sum(1); // [batch]
    }
}
