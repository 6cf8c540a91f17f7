using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;
using MoeLab.Models.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>A supervised data split held on the device: inputs [n, ...] and targets [n] (classes)
/// or [n, T] (next tokens).</summary>
public sealed class DeviceSplit(Tensor inputs, Tensor targets) : IDisposable
{
    public Tensor Inputs { get; } = inputs;
    public Tensor Targets { get; } = targets;
    public long Count => Inputs.shape[0];
    public void Dispose() { Inputs.Dispose(); Targets.Dispose(); }
}

/// <summary>Measurements of one trained arm.</summary>
public sealed record ArmEvaluation(
    double Loss,
    double Accuracy,
    IReadOnlyList<double[]> ExpertsPerTokenHistogram,   // per MoE layer: [j] = share of tokens using j experts (j = 0..N_l)
    IReadOnlyList<double> MeanExpertsPerToken,          // per MoE layer
    IReadOnlyList<double> StdExpertsPerToken);          // per MoE layer: std over tokens (0 = fixed count)

/// <summary>Gradient-norm statistics over minibatches at fixed weights.</summary>
/// <param name="MeanNorm">mean ‖∇L‖ over the minibatches.</param>
/// <param name="Variance">variance of ‖∇L‖ (unbiased).</param>
public sealed record GradientStatistics(double MeanNorm, double Variance, int Batches)
{
    /// <summary>Variance / mean²: scale-free, comparable across arms whose gradients differ in size.</summary>
    public double RelativeVariance => MeanNorm > 0 ? Variance / (MeanNorm * MeanNorm) : double.NaN;
}

/// <summary>The DynaMoE loss, evaluation and gradient-variance measurement shared by the image and LM
/// experiments. Loss = cross-entropy (over classes, or over next tokens) + the network's weighted
/// auxiliary losses. Training itself runs on the shared <see cref="Trainer"/> (<see cref="DynaMoeTask"/>).</summary>
public static class DynaMoeTrainer
{
    /// <summary>Task cross-entropy and weighted auxiliary loss of one batch.</summary>
    public static (Tensor Task, Tensor Auxiliary) Loss(nn.Module<Tensor, NetworkOutput> network, Tensor inputs, Tensor targets)
    {
        var o = network.forward(inputs);
        var logits = o.Output;                                               // [batch, C] or [batch, T, V]
        var flat = logits.reshape(-1, logits.shape[^1]);                     // [units, C]
        var task = nn.functional.cross_entropy(flat, targets.reshape(-1));
        return (task, o.AuxiliaryLoss);
    }

    /// <summary>Mean loss, accuracy (top-1, over classes or next tokens) and experts-per-token
    /// histograms in eval mode (no router noise), in batches of <paramref name="batchSize"/>. Note
    /// that a batch-wide percentile threshold depends on the evaluation batch.</summary>
    public static ArmEvaluation Evaluate(nn.Module<Tensor, NetworkOutput> network, DeviceSplit split, int batchSize)
    {
        network.eval();
        double lossSum = 0; long correct = 0, units = 0;
        long[][]? histograms = null;
        try
        {
            using var noGrad = torch.no_grad();
            for (long start = 0; start < split.Count; start += batchSize)
            {
                using var scope = torch.NewDisposeScope();
                long n = Math.Min(batchSize, split.Count - start);
                var x = split.Inputs.narrow(0, start, n);
                var y = split.Targets.narrow(0, start, n).reshape(-1);           // [units]
                var o = network.forward(x);
                var flat = o.Output.reshape(-1, o.Output.shape[^1]);              // [units, C]
                lossSum += nn.functional.cross_entropy(flat, y, reduction: nn.Reduction.Sum).item<float>();
                correct += flat.argmax(-1).eq(y).sum().item<long>();
                units += y.shape[0];
                histograms ??= o.Routing.Select(r => new long[r.ExpertsPerTokenHistogram.shape[0]]).ToArray();
                for (int l = 0; l < o.Routing.Count; l++)
                {
                    long[] h = o.Routing[l].ExpertsPerTokenHistogram.cpu().data<long>().ToArray();
                    for (int j = 0; j < h.Length; j++) histograms[l][j] += h[j];
                }
            }
        }
        finally { network.train(); }
        var shares = new List<double[]>();
        var means = new List<double>();
        var stds = new List<double>();
        foreach (var h in histograms ?? [])
        {
            double tot = h.Sum();
            var share = h.Select(c => c / Math.Max(1, tot)).ToArray();
            double mean = share.Select((p, j) => p * j).Sum();
            double var = share.Select((p, j) => p * (j - mean) * (j - mean)).Sum();
            shares.Add(share); means.Add(mean); stds.Add(Math.Sqrt(var));
        }
        return new ArmEvaluation(lossSum / Math.Max(1, units), correct / (double)Math.Max(1, units), shares, means, stds);
    }

    /// <summary>Variance of the task-loss gradient norm over <paramref name="batches"/> random
    /// minibatches at the current (fixed) weights, in training mode (router noise on, as during
    /// training); the weights are not changed.</summary>
    public static GradientStatistics GradientVariance(nn.Module<Tensor, NetworkOutput> network, DeviceSplit split,
        int batchSize, int batches, Random order)
    {
        network.train();
        var parameters = network.parameters().ToArray();
        var norms = new List<double>();
        for (int b = 0; b < batches; b++)
        {
            using var scope = torch.NewDisposeScope();
            var idx = torch.tensor(Enumerable.Range(0, batchSize).Select(_ => (long)order.Next((int)split.Count)).ToArray(),
                device: split.Inputs.device);                                  // [batch]
            foreach (var p in parameters) p.grad?.zero_();
            var (task, _) = Loss(network, split.Inputs.index_select(0, idx), split.Targets.index_select(0, idx));
            task.backward();
            var squares = parameters.Where(p => p.grad is not null).Select(p => p.grad!.square().sum()).ToList();
            norms.Add(Math.Sqrt(torch.stack(squares).sum().item<float>()));
        }
        foreach (var p in parameters) p.grad?.zero_();
        double mean = norms.Average();
        double variance = norms.Count > 1 ? norms.Sum(v => (v - mean) * (v - mean)) / (norms.Count - 1) : 0;
        return new GradientStatistics(mean, variance, norms.Count);
    }

    /// <summary>Total parameters and parameters active per token: total minus the experts a token
    /// does not use, Σ_l (N_l − mean experts per token_l) · expert parameters.</summary>
    public static (long Total, double Active) Parameters(nn.Module network, IReadOnlyList<int> expertsPerLayer,
        IReadOnlyList<double> meanExpertsPerToken, long expertParameters, long excludedFromActive = 0)
    {
        long total = network.parameters().Sum(p => p.numel());
        double inactive = 0;
        for (int l = 0; l < meanExpertsPerToken.Count; l++)
            inactive += (expertsPerLayer[l] - meanExpertsPerToken[l]) * expertParameters;
        return (total, total - inactive - excludedFromActive);
    }

}
