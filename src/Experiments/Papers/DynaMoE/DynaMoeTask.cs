using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;
using MoeLab.Models.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>One DynaMoE arm as a task of the shared <see cref="Trainer"/>: minibatches of a
/// <see cref="DeviceSplit"/> in a fresh seeded permutation per epoch, loss = cross-entropy + the
/// network's weighted auxiliary losses; validation loss and accuracy (or perplexity).
/// <para>Data position: step s is batch s mod B of epoch ⌊s / B⌋ (B = ⌈n / batch size⌉; the last
/// batch of an epoch is smaller), and epoch e's order comes from
/// <c>ctx.CreateRandom("data-order-epoch-e")</c>: every arm of a run sees the same batches, and a
/// resumed arm needs no data state.</para></summary>
public sealed class DynaMoeTask(nn.Module<Tensor, NetworkOutput> network, DeviceSplit train, DeviceSplit validation,
    DynaMoeTrainConfig config, RunContext context, string metric, int evalBatch) : ITrainingTask
{
    private readonly long _batchesPerEpoch = (train.Count + config.BatchSize - 1) / config.BatchSize;
    private long _cachedEpoch = -1;
    private int[] _order = [];
    private double _task, _auxiliary;

    /// <summary>Optimiser steps of the arm: epochs × batches per epoch, capped by <c>maxSteps</c> (when &gt; 0).</summary>
    public long Steps => config.MaxSteps > 0 ? Math.Min(_batchesPerEpoch * config.Epochs, config.MaxSteps) : _batchesPerEpoch * config.Epochs;

    public long ItemsPerMicroBatch => config.BatchSize * (train.Targets.dim() > 1 ? train.Targets.shape[1] : 1);

    public Tensor Loss(long step, int microBatch) => Loss(Batch(step, microBatch));

    /// <summary>The inputs and targets of step <paramref name="step"/>'s minibatch.</summary>
    public object Batch(long step, int microBatch)
    {
        long epoch = step / _batchesPerEpoch, batch = step % _batchesPerEpoch;
        if (epoch != _cachedEpoch)
        {
            _order = Enumerable.Range(0, (int)train.Count).ToArray();
            context.CreateRandom($"data-order-epoch-{epoch}").Shuffle(_order);
            _cachedEpoch = epoch;
        }
        int start = (int)(batch * config.BatchSize), end = Math.Min(start + config.BatchSize, _order.Length);
        var idx = torch.tensor(_order[start..end].Select(i => (long)i).ToArray(), device: train.Inputs.device); // [batch]
        return (train.Inputs.index_select(0, idx), train.Targets.index_select(0, idx));
    }

    public Tensor Loss(object batch)
    {
        var (inputs, targets) = ((Tensor, Tensor))batch;
        var (task, aux) = DynaMoeTrainer.Loss(network, inputs, targets);
        _task = task.item<float>();
        _auxiliary = aux.item<float>();
        return task.add(aux);
    }

    /// <summary>The task (cross-entropy) and auxiliary loss of the last step; <c>train_loss</c> is their sum.</summary>
    public IReadOnlyDictionary<string, double>? LastStepMetrics =>
        new Dictionary<string, double> { ["task_loss"] = _task, ["aux_loss"] = _auxiliary };

    public IReadOnlyDictionary<string, double> Evaluate()
    {
        var e = DynaMoeTrainer.Evaluate(network, validation, evalBatch);
        return new Dictionary<string, double>
        {
            ["val_loss"] = e.Loss,
            [$"val_{metric}"] = DynaMoeRunner.Score(e, metric),
        };
    }
}
