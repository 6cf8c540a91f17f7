using MoeLab.Experiments.Papers.DynaMoE;
using MoeLab.Models.Networks;
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
        using var stack = new FeedForwardStack(DynaMoeNetworkOptions.Stack(arm, model), torch.CPU);
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

public sealed class MlpLanguageModelTests
{
    [Fact]
    public void UntrainedModelStartsNearUniformLossAndIsCausal()
    {
        torch.manual_seed(0);
        var model = new DynaMoeModelConfig { Width = 16, ExpertHidden = 16, Layers = 2, MeanExperts = 4, TopK = 1 };
        var arm = new DynaMoeArm("t", ArmKind.TopK, "uniform", "matched", null, [4, 4]);
        using var lm = new MlpLanguageModel(500, 12, DynaMoeNetworkOptions.Stack(arm, model), torch.CPU);
        lm.eval();
        using var ids = torch.randint(0, 500, new long[] { 4, 12 });        // [B, T]
        var logits = lm.forward(ids).Output;                                 // [B, T, V]
        double loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 500), ids.reshape(-1)).item<float>();
        Assert.InRange(loss, Math.Log(500) - 0.5, Math.Log(500) + 0.5);
        // changing the last token must not change predictions at earlier positions
        using var changed = ids.clone();
        changed[.., 11] = torch.tensor(7L);
        var logits2 = lm.forward(changed).Output;
        Assert.True(logits.narrow(1, 0, 11).allclose(logits2.narrow(1, 0, 11), rtol: 1e-5, atol: 1e-6));
        Assert.False(logits.narrow(1, 11, 1).allclose(logits2.narrow(1, 11, 1)));
    }
}
