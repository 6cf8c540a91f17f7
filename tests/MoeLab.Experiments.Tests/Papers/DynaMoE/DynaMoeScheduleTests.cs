using MoeLab.Experiments.Papers.DynaMoE;
using MoeLab.Models.Networks;
using TorchSharp;

namespace MoeLab.Experiments.Tests.Papers.DynaMoE;

public sealed class DynaMoeScheduleTests
{
    private static readonly DynaMoeModelConfig Model = new() { Layers = 4, MeanExperts = 8, MinExperts = 4, MaxExperts = 12, WaveAmplitude = 4, WaveFrequency = 1 };

    [Theory]
    [InlineData("uniform", new[] { 8, 8, 8, 8 })]
    [InlineData("descending", new[] { 12, 9, 7, 4 })]     // 12, 9.33, 6.67, 4
    [InlineData("ascending", new[] { 4, 7, 9, 12 })]
    [InlineData("pyramid", new[] { 4, 9, 9, 4 })]         // 4, 9.33, 9.33, 4
    [InlineData("valley", new[] { 12, 7, 7, 12 })]        // 12, 6.67, 6.67, 12
    [InlineData("wave", new[] { 8, 11, 5, 8 })]           // 8 + 4·sin(2π·{0, 1/3, 2/3, 1}) = 8, 11.46, 4.54, 8
    public void PublishedCountsFollowTheFormulas(string schedule, int[] expected) =>
        Assert.Equal(expected, DynaMoeArm.CapacityScheduleOf(schedule, "published", Model).ExpertsPerLayer());

    [Theory]
    [InlineData("uniform")]
    [InlineData("descending")]
    [InlineData("ascending")]
    [InlineData("pyramid")]
    [InlineData("valley")]
    [InlineData("wave")]
    public void MatchedCountsSumToTheUniformBudgetAndKeepTheShape(string schedule)
    {
        int[] matched = DynaMoeArm.CapacityScheduleOf(schedule, "matched", Model).ExpertsPerLayer();
        Assert.Equal(32, matched.Sum());
        Assert.All(matched, n => Assert.True(n >= 1));
        double[] raw = DynaMoeArm.CapacityScheduleOf(schedule, "published", Model).RawExperts();
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                if (raw[i] > raw[j] + 1) Assert.True(matched[i] >= matched[j], $"{schedule}: order of layers {i},{j} lost: {string.Join(",", matched)}");
    }

    [Fact]
    public void PyramidMatchedRescalesUpward()
    {
        // raw 4, 9.33, 9.33, 4 (sum 26.7) scaled to 32: 4.8, 11.2, 11.2, 4.8 → 5, 11, 11, 5
        Assert.Equal([5, 11, 11, 5], DynaMoeArm.CapacityScheduleOf("pyramid", "matched", Model).ExpertsPerLayer());
    }

    [Fact]
    public void ArmsUseTheScheduleCounts()
    {
        var arms = DynaMoeArm.Enumerate(Model, new DynaMoeArmsConfig());
        Assert.Equal([12, 9, 7, 4], arms.Single(a => a.Name == "descending-batch-published").ExpertsPerLayer);
        Assert.Equal(DynaMoeArm.CapacityScheduleOf("valley", "matched", Model).ExpertsPerLayer(), arms.Single(a => a.Name == "valley-batch-matched").ExpertsPerLayer);
        Assert.DoesNotContain(arms, a => a.Name == "uniform-batch-published"); // same model as uniform-batch-matched
        Assert.Contains(arms, a => a.Kind == ArmKind.Dense);
        Assert.Contains(arms, a => a.Kind == ArmKind.TopP);
        Assert.Equal("fixed (per-token percentile)", arms.Single(a => a.Name == "uniform-token-matched").RoutingFamily);
        Assert.Equal(15, arms.Count); // dense, top-k, 6 matched + 5 published (uniform once), per-token, top-p
    }

    [Fact]
    public void BudgetMatchedNetworksHaveEqualParameters()
    {
        var small = Model with { Width = 16, ExpertHidden = 8 };
        var arms = DynaMoeArm.Enumerate(small, new DynaMoeArmsConfig { BudgetModes = ["matched"] })
            .Where(a => a.Kind != ArmKind.Dense).ToList();
        var totals = arms.Select(a =>
        {
            using var net = new MlpClassifier(20, 3, DynaMoeNetworkOptions.Stack(a, small), torch.CPU);
            return net.parameters().Sum(p => p.numel());
        }).ToList();
        Assert.Single(totals.Distinct());
        // as published, descending and pyramid differ in total experts, hence parameters
        long Params(string name)
        {
            var arm = DynaMoeArm.Enumerate(small, new DynaMoeArmsConfig { BudgetModes = ["published"] }).Single(a => a.Name == name);
            using var net = new MlpClassifier(20, 3, DynaMoeNetworkOptions.Stack(arm, small), torch.CPU);
            return net.parameters().Sum(p => p.numel());
        }
        long expert = 2L * 16 * 8, router = 16;  // one GELU expert (no bias) and one router row
        Assert.Equal((32 - 26) * (expert + router), Params("descending-batch-published") - Params("pyramid-batch-published"));
    }

    [Fact]
    public void DenseBaselineMatchesTopKActiveParameters()
    {
        var small = Model with { Width = 16, ExpertHidden = 8, TopK = 2 };
        var arms = DynaMoeArm.Enumerate(small, new DynaMoeArmsConfig());
        using var dense = new MlpClassifier(20, 3, DynaMoeNetworkOptions.Stack(arms.Single(a => a.Kind == ArmKind.Dense), small), torch.CPU);
        using var topk = new MlpClassifier(20, 3, DynaMoeNetworkOptions.Stack(arms.Single(a => a.Kind == ArmKind.TopK), small), torch.CPU);
        long denseTotal = dense.parameters().Sum(p => p.numel());
        long topkTotal = topk.parameters().Sum(p => p.numel());
        long expert = 2L * 16 * 8, router = 8L * 16;
        // top-k active = total − (N − k) experts per layer − routers; the dense net has no routers
        Assert.Equal(denseTotal, topkTotal - 4 * ((8 - 2) * expert + router));
    }
}
