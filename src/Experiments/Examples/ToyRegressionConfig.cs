using System.ComponentModel.DataAnnotations;
using MoeLab.Experiments.Training;

namespace MoeLab.Experiments.Examples;

/// <summary>Activation inside each expert MLP.</summary>
public enum ToyActivation
{
    Relu,
    Tanh,
    Gelu,
}

/// <summary>Fault injection for the runtime's own tests (not a modelling choice).</summary>
public enum ToyFault
{
    None,

    /// <summary>Throw an exception at <see cref="ToyTrainConfig.FaultStep"/> (tests: a failed run is recorded, a sweep goes on).</summary>
    Throw,

    /// <summary>Log a NaN training loss at <see cref="ToyTrainConfig.FaultStep"/> (tests: NaN detection).</summary>
    NaN,
}

/// <summary>Config of <see cref="ToyRegressionExperiment"/>, the runtime's test experiment. All
/// values are our choices (there is no paper): small enough that the smoke preset runs in well
/// under a second on one CPU core.</summary>
public sealed record ToyRegressionConfig
{
    public ToyModelConfig Model { get; init; } = new();
    public ToyDataConfig Data { get; init; } = new();
    public ToyTrainConfig Train { get; init; } = new();

    /// <summary>Write figures/val_loss.json (a loss curve; off in smoke).</summary>
    public bool SaveFigures { get; init; } = true;
}

/// <summary>A dense (soft) mixture of small MLP experts with a softmax gate.</summary>
public sealed record ToyModelConfig
{
    /// <summary>Number of experts (our choice: a handful).</summary>
    [Range(1, 64)] public int Experts { get; init; } = 4;

    /// <summary>Hidden layer widths of each expert MLP, e.g. [32,32] (our choice).</summary>
    public int[] HiddenSizes { get; init; } = [16];

    /// <summary>Activation between expert layers.</summary>
    public ToyActivation Activation { get; init; } = ToyActivation.Relu;
}

/// <summary>Seeded synthetic regression: y = sin(x·a) + 0.5 (x·b)² + noise, x ~ N(0, I).</summary>
public sealed record ToyDataConfig
{
    /// <summary>Input dimension.</summary>
    [Range(1, 1024)] public int Features { get; init; } = 8;

    /// <summary>Training examples.</summary>
    [Range(8, 10_000_000)] public int TrainSize { get; init; } = 1024;

    /// <summary>Validation examples (model selection and early stopping use these only).</summary>
    [Range(8, 10_000_000)] public int ValidSize { get; init; } = 256;

    /// <summary>Standard deviation of the label noise.</summary>
    [Range(0.0, 10.0)] public double Noise { get; init; } = 0.1;
}

public sealed record ToyTrainConfig
{
    /// <summary>Optimisation steps (one mini-batch each).</summary>
    [Range(1, 100_000_000)] public int Steps { get; init; } = 300;

    /// <summary>Mini-batch size.</summary>
    [Range(1, 65_536)] public int BatchSize { get; init; } = 32;

    /// <summary>Optimiser.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;

    /// <summary>Peak learning rate.</summary>
    [Range(0.0, 10.0)] public double Lr { get; init; } = 1e-2;

    /// <summary>Weight decay (decoupled for AdamW).</summary>
    [Range(0.0, 10.0)] public double WeightDecay { get; init; } = 0.0;

    /// <summary>Learning-rate schedule.</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.WarmupCosine;

    /// <summary>Warm-up steps (must be ≤ steps).</summary>
    [Range(0, 100_000_000)] public int WarmupSteps { get; init; } = 20;

    /// <summary>Global gradient-norm clip (0 = off).</summary>
    [Range(0.0, 1e6)] public double ClipNorm { get; init; } = 1.0;

    /// <summary>Log training metrics every this many steps.</summary>
    [Range(1, 1_000_000)] public int LogEvery { get; init; } = 10;

    /// <summary>Evaluate on the validation set every this many steps.</summary>
    [Range(1, 1_000_000)] public int EvalEvery { get; init; } = 50;

    /// <summary>Save a checkpoint every this many steps (0 = only when interrupted).</summary>
    [Range(0, 1_000_000)] public int CheckpointEvery { get; init; } = 100;

    /// <summary>Stop after this many evaluations without validation improvement (0 = off).</summary>
    [Range(0, 1_000_000)] public int EarlyStopPatience { get; init; }

    /// <summary>Test hook: inject a fault (see <see cref="ToyFault"/>).</summary>
    public ToyFault Fault { get; init; } = ToyFault.None;

    /// <summary>Step at which <see cref="Fault"/> fires.</summary>
    [Range(0, 100_000_000)] public int FaultStep { get; init; }
}
