using static TorchSharp.torch;

namespace MoeLab.Experiments.Training;

/// <summary>The paper-specific part of a training run that <see cref="Trainer"/> drives: the loss of
/// a micro-batch and the validation metrics. The data position must be a pure function of
/// (step, micro-batch) — e.g. a permutation per epoch drawn from
/// <c>ctx.CreateRandom($"data-order-epoch-{epoch}")</c> — so that a resumed run needs no data state.</summary>
public interface ITrainingTask
{
    /// <summary>Loss of micro-batch <paramref name="microBatch"/> (0-based, &lt; gradient accumulation)
    /// of optimiser step <paramref name="step"/> (0-based), a scalar tensor with its graph. Called
    /// inside the step's dispose scope, in training mode.</summary>
    Tensor Loss(long step, int microBatch);

    /// <summary>Validation metrics (e.g. {"val_loss": …}); the trainer calls it in eval mode without
    /// gradients and switches back to training mode afterwards.</summary>
    IReadOnlyDictionary<string, double> Evaluate();

    /// <summary>Examples or tokens in one micro-batch (for the throughput in system.csv).</summary>
    long ItemsPerMicroBatch { get; }

    /// <summary>Called after each optimiser step with the step's mean training loss; returns the loss
    /// to log. The default returns it unchanged (the runtime's own test experiment injects faults here).</summary>
    double AfterOptimizerStep(long step, double loss) => loss;

    /// <summary>Extra training metrics of the last optimiser step (e.g. the task loss and the auxiliary
    /// loss when the optimised loss is their sum), logged with <c>train_loss</c> on the steps the
    /// trainer logs. The default has none.</summary>
    IReadOnlyDictionary<string, double>? LastStepMetrics => null;

    /// <summary>Optional: the data of a micro-batch (indices, host work, copies) loaded apart from the
    /// forward pass, so that <c>moelab bench --train</c> can time data and forward separately; pass it to
    /// <see cref="Loss(object)"/>. <c>Loss(step, microBatch)</c> must equal <c>Loss(Batch(step, microBatch))</c>.
    /// The default (null) means the task does not split them.</summary>
    object? Batch(long step, int microBatch) => null;

    /// <summary>The loss of a batch from <see cref="Batch"/> (called only when that returned non-null).</summary>
    Tensor Loss(object batch) => throw new NotSupportedException($"{GetType().Name} does not split data loading from its loss.");
}
