using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Training;

/// <summary>An evaluation loop: model in eval mode, no gradients, one dispose scope per batch,
/// metrics averaged over examples (not over batches, so a short last batch counts correctly).
/// The model's previous training mode is restored afterwards.</summary>
public static class Evaluation
{
    /// <summary>Runs <paramref name="evaluateBatch"/> on every batch. It returns, per metric, the
    /// SUM over the batch's examples (a scalar tensor) and the number of examples in the batch.
    /// The result is sum/count per metric.</summary>
    public static Dictionary<string, double> Run<TBatch>(nn.Module model, IEnumerable<TBatch> batches,
        Func<TBatch, (IReadOnlyDictionary<string, Tensor> Sums, long Count)> evaluateBatch)
    {
        bool wasTraining = model.training;
        model.eval();
        var sums = new Dictionary<string, double>();
        long count = 0;
        try
        {
            using var noGrad = no_grad();
            foreach (var batch in batches)
            {
                using var scope = NewDisposeScope();
                var (batchSums, n) = evaluateBatch(batch);
                foreach (var (k, t) in batchSums)
                    sums[k] = sums.GetValueOrDefault(k) + t.to(float64).item<double>();
                count += n;
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        if (count == 0) throw new InvalidOperationException("Evaluation ran over zero examples.");
        return sums.ToDictionary(kv => kv.Key, kv => kv.Value / count);
    }
}
