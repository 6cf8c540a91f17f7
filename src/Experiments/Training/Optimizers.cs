using System.ComponentModel.DataAnnotations;
using MoeLab.Models.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Training;

/// <summary>Which optimiser a config asks for.</summary>
public enum OptimizerKind
{
    AdamW,
    Sgd,
}

/// <summary>Optimiser settings as a config record (use as <c>train.optimizer</c>). Defaults are
/// PyTorch's AdamW defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01).</summary>
public sealed record OptimizerSettings
{
    /// <summary>AdamW (decoupled weight decay, Loshchilov &amp; Hutter 2019) or SGD.</summary>
    public OptimizerKind Kind { get; init; } = OptimizerKind.AdamW;

    /// <summary>Peak learning rate (the schedule scales it).</summary>
    [Range(0.0, 10.0)] public double Lr { get; init; } = 1e-3;

    /// <summary>Decoupled (AdamW) or L2 (SGD) weight decay.</summary>
    [Range(0.0, 10.0)] public double WeightDecay { get; init; } = 0.01;

    /// <summary>AdamW β1 (PyTorch default).</summary>
    [Range(0.0, 0.999999)] public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW β2 (PyTorch default).</summary>
    [Range(0.0, 0.999999)] public double Beta2 { get; init; } = 0.999;

    /// <summary>AdamW ε (PyTorch default).</summary>
    [Range(0.0, 1.0)] public double Eps { get; init; } = 1e-8;

    /// <summary>SGD momentum (0 = plain SGD).</summary>
    [Range(0.0, 0.999999)] public double Momentum { get; init; }

    /// <summary>SGD Nesterov momentum.</summary>
    public bool Nesterov { get; init; }

    public optim.Optimizer Create(IEnumerable<TorchSharp.Modules.Parameter> parameters) => Kind switch
    {
        OptimizerKind.AdamW => Optimizers.AdamW(parameters, Lr, WeightDecay, Beta1, Beta2, Eps),
        OptimizerKind.Sgd => Optimizers.Sgd(parameters, Lr, Momentum, WeightDecay, Nesterov),
        _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown optimizer kind."),
    };
}

/// <summary>Factories of the optimisers every experiment uses (TorchSharp's AdamW and SGD with a
/// GC-safe step: <see cref="GcSafeAdamW"/>), plus learning-rate access and state save/load for
/// checkpoints. Create optimisers here, never with <c>torch.optim.*</c> directly.</summary>
public static class Optimizers
{
    public static optim.Optimizer AdamW(IEnumerable<TorchSharp.Modules.Parameter> parameters, double lr = 1e-3, double weightDecay = 0.01,
        double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8) =>
        new GcSafeAdamW(parameters, lr, beta1, beta2, eps, weightDecay);

    public static optim.Optimizer Sgd(IEnumerable<TorchSharp.Modules.Parameter> parameters, double lr, double momentum = 0,
        double weightDecay = 0, bool nesterov = false) =>
        new GcSafeSgd(parameters, lr, momentum, weightDecay, nesterov);

    /// <summary>Sets the learning rate of every parameter group.</summary>
    public static void SetLearningRate(optim.Optimizer optimizer, double lr)
    {
        foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
    }

    /// <summary>The learning rate of the first parameter group.</summary>
    public static double LearningRate(optim.Optimizer optimizer) => optimizer.ParamGroups.First().LearningRate;

    /// <summary>Writes the optimiser state (moments, step counts) to <paramref name="path"/>.</summary>
    public static void SaveState(optim.Optimizer optimizer, string path) => Helper(optimizer).save_state_dict(path);

    /// <summary>Restores the optimiser state written by <see cref="SaveState"/>; the optimiser must
    /// have been created over the same parameters in the same order.</summary>
    public static void LoadState(optim.Optimizer optimizer, string path) => Helper(optimizer).load_state_dict(path);

    private static TorchSharp.Modules.OptimizerHelper Helper(optim.Optimizer optimizer) =>
        optimizer as TorchSharp.Modules.OptimizerHelper
        ?? throw new NotSupportedException($"Optimizer {optimizer.GetType().Name} does not support state save/load.");
}
