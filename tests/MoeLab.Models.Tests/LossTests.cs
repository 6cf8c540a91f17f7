using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

public class LossTests
{
    // 4 tokens (2 sequences of 2), 2 experts, top-1 choices 0, 0, 1, 0.
    private static readonly float[,] Logits = { { 1.0f, -1.2f }, { 0.5f, 0.1f }, { -0.3f, 0.9f }, { 2.0f, 1.5f } };
    private static readonly long[] Choice = { 0, 0, 1, 0 };

    private static double[,] Softmax()
    {
        var p = new double[4, 2];
        for (int t = 0; t < 4; t++)
        {
            double a = Math.Exp(Logits[t, 0]), b = Math.Exp(Logits[t, 1]);
            p[t, 0] = a / (a + b); p[t, 1] = b / (a + b);
        }
        return p;
    }

    private static RoutingResult Routing()
    {
        var logits = torch.tensor(Logits.Cast<float>().ToArray()).reshape(4, 2);
        var probs = logits.softmax(-1);
        var indices = torch.tensor(Choice).reshape(4, 1);
        return RoutingResult.Create(logits, probs, indices, probs.gather(1, indices), torch.ones(4, 1, dtype: ScalarType.Bool), 2);
    }

    [Fact]
    public void LoadBalancingIsNTimesSumOfFractionTimesMeanProbability()
    {
        using var scope = NewDisposeScope();
        var p = Softmax();
        double p0 = (p[0, 0] + p[1, 0] + p[2, 0] + p[3, 0]) / 4, p1 = 1 - p0;
        double expected = 2 * (0.75 * p0 + 0.25 * p1);
        Assert.Equal(expected, AuxiliaryLosses.LoadBalancing(Routing()).item<float>(), 5);
    }

    [Fact]
    public void LoadBalancingIsOneWhenPerfectlyBalanced()
    {
        using var scope = NewDisposeScope();
        var probs = torch.full(4, 2, 0.5f);
        var r = RoutingResult.Create(probs.log(), probs, torch.tensor(new long[] { 0, 1, 0, 1 }).reshape(4, 1), torch.full(4, 1, 0.5f), torch.ones(4, 1, dtype: ScalarType.Bool), 2);
        Assert.Equal(1.0, AuxiliaryLosses.LoadBalancing(r).item<float>(), 6);
    }

    [Fact]
    public void RouterZLossIsMeanSquaredLogSumExp()
    {
        using var scope = NewDisposeScope();
        double expected = 0;
        for (int t = 0; t < 4; t++)
        {
            double lse = Math.Log(Math.Exp(Logits[t, 0]) + Math.Exp(Logits[t, 1]));
            expected += lse * lse / 4;
        }
        Assert.Equal(expected, AuxiliaryLosses.RouterZ(Routing().Logits).item<float>(), 5);
    }

    [Fact]
    public void EntropyIsMeanShannonEntropy()
    {
        using var scope = NewDisposeScope();
        var p = Softmax();
        double expected = 0;
        for (int t = 0; t < 4; t++) expected += -(p[t, 0] * Math.Log(p[t, 0]) + p[t, 1] * Math.Log(p[t, 1])) / 4;
        Assert.Equal(expected, AuxiliaryLosses.Entropy(Routing().Probabilities).item<float>(), 5);
    }

    [Fact]
    public void SequenceBalanceAveragesPerSequenceTerms()
    {
        using var scope = NewDisposeScope();
        var p = Softmax();
        // sequence 0: choices 0,0 → f = (2·2/2, 0) = (2, 0); P = mean of rows 0,1
        double seq0 = 2 * (p[0, 0] + p[1, 0]) / 2;
        // sequence 1: choices 1,0 → f = (1, 1); P sums to 1 → Σ f·P = 1
        double seq1 = 1 * (p[2, 0] + p[3, 0]) / 2 + 1 * (p[2, 1] + p[3, 1]) / 2;
        Assert.Equal((seq0 + seq1) / 2, AuxiliaryLosses.SequenceBalance(Routing(), 2).item<float>(), 5);
        // one sequence of 4 equals the batch-level load-balancing loss
        Assert.Equal(AuxiliaryLosses.LoadBalancing(Routing()).item<float>(), AuxiliaryLosses.SequenceBalance(Routing(), 1).item<float>(), 6);
        Assert.Throws<ArgumentException>(() => AuxiliaryLosses.SequenceBalance(Routing(), 3));
    }

    [Fact]
    public void WeightedCombinesTheTerms()
    {
        using var scope = NewDisposeScope();
        var set = new AuxiliaryLossSet(torch.tensor(1f), torch.tensor(2f), torch.tensor(3f), torch.tensor(4f));
        Assert.Equal(0.1 + 0.02 + 0.003 + 0.0004, set.Weighted(new AuxiliaryLossWeights(0.1, 0.01, 0.001, 0.0001)).item<float>(), 6);
    }
}
