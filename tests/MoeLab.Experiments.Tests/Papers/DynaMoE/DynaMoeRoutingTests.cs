using MoeLab.Experiments.Papers.DynaMoE;
using MoeLab.Models.Routing;
using TorchSharp;

namespace MoeLab.Experiments.Tests.Papers.DynaMoE;

/// <summary>The percentile router as our networks configure it: per-token selects a fixed count,
/// batch-wide varies per token.</summary>
public sealed class DynaMoeRoutingTests
{
    private static (double Mean, double Std, int Distinct) ExpertsPerToken(PercentileMode mode)
    {
        torch.manual_seed(3);
        var model = new DynaMoeModelConfig { Width = 16, ExpertHidden = 8, Layers = 1, MeanExperts = 8, Tau = 0.75 };
        var arm = new DynaMoeArm("t", ArmKind.Percentile, "uniform", "matched", mode, [8]);
        using var stack = new FeedForwardStack(arm, model, torch.CPU);
        stack.eval();
        using var x = torch.randn(512, 16).mul(3);                          // [tokens, d]
        var o = stack.forward(x);
        long[] h = o.Routing[0].ExpertsPerTokenHistogram.data<long>().ToArray();
        double n = h.Sum(), mean = h.Select((c, j) => c * (double)j).Sum() / n;
        double std = Math.Sqrt(h.Select((c, j) => c * (j - mean) * (j - mean)).Sum() / n);
        return (mean, std, h.Count(c => c > 0));
    }

    [Fact]
    public void PerTokenPercentileSelectsTheSameCountForEveryToken()
    {
        var (mean, std, distinct) = ExpertsPerToken(PercentileMode.PerToken);
        // τ = 0.75 of 8 gate values: the 0.75-quantile lies between the 6th and 7th smallest,
        // so exactly 2 values exceed it, for every token.
        Assert.Equal(2.0, mean, 6);
        Assert.Equal(0.0, std, 6);
        Assert.Equal(1, distinct);
    }

    [Fact]
    public void BatchPercentileVariesAcrossTokensWithTheSameAverageBudget()
    {
        var (mean, std, distinct) = ExpertsPerToken(PercentileMode.Batch);
        Assert.True(std > 0.3, $"std {std}");
        Assert.True(distinct >= 3, $"{distinct} distinct counts");
        Assert.InRange(mean, 1.7, 2.6);   // ≈ a quarter of 8 (plus the at-least-one rule)
    }
}
