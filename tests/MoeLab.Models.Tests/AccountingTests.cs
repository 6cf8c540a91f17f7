using MoeLab.Models.Accounting;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

public class AccountingTests
{
    [Theory]
    [InlineData(ExpertKind.Gelu, false, 0)]
    [InlineData(ExpertKind.SwiGlu, true, 2)]
    public void TotalParametersMatchTheLiveModule(ExpertKind kind, bool bias, int shared)
    {
        var options = new MoeLayerOptions { DModel = 8, DHidden = 12, Experts = 5, Kind = kind, Bias = bias, SharedExperts = shared, Router = new RouterOptions { K = 2 } };
        var layer = new MoeLayer(options);
        Assert.Equal(CostModel.CountParameters(layer), (long)CostModel.Of(layer).TotalParameters);
        var dense = new FeedForward("dense", options.ExpertShape);
        Assert.Equal(CostModel.CountParameters(dense), (long)CostModel.FeedForward(options.ExpertShape).TotalParameters);
    }

    [Fact]
    public void ActiveParametersAndFlopsCountOnlyChosenExperts()
    {
        // d 4, d_ff 6, 8 GELU experts, top-2, one shared expert of width 6, no bias
        var options = new MoeLayerOptions { DModel = 4, DHidden = 6, Experts = 8, SharedExperts = 1, Router = new RouterOptions { K = 2 } };
        var cost = CostModel.Moe(options);
        double expert = 4 * 6 + 6 * 4, router = 4 * 8;
        Assert.Equal(router + 8 * expert + expert, cost.TotalParameters);
        Assert.Equal(router + 2 * expert + expert, cost.ActiveParameters);
        Assert.Equal(2 * (router + 2 * expert + expert), cost.ForwardFlopsPerToken);
        // dynamic routers need the measured mean
        Assert.Throws<ArgumentException>(() => CostModel.Moe(options with { Router = new RouterOptions { Kind = RouterKind.TopP } }));
        var dynamic = CostModel.Moe(options with { Router = new RouterOptions { Kind = RouterKind.TopP } }, activeExperts: 1.5);
        Assert.Equal(router + 1.5 * expert + expert, dynamic.ActiveParameters);
        // SwiGLU experts have three projections
        Assert.Equal(3 * 4 * 6, new FeedForwardShape(4, 6, 4, ExpertKind.SwiGlu).Parameters);
        // a module reapplied C times (CoE's shared expert): parameters once, FLOPs × C
        var twice = CostModel.FeedForward(options.ExpertShape).Reapplied(2);
        Assert.Equal(expert, twice.TotalParameters);
        Assert.Equal(4 * expert, twice.ForwardFlopsPerToken);
    }

    [Fact]
    public void SegmentLayerCostMatchesTheModule()
    {
        var options = new SegmentMoeOptions { Moe = new MoeLayerOptions { DModel = 4, DHidden = 6, Experts = 3, Router = new RouterOptions { K = 1 } }, Omega = 3 };
        var layer = new SegmentMoeLayer(options);
        var cost = layer.Cost();
        Assert.Equal(CostModel.CountParameters(layer), (long)cost.TotalParameters);
        // per token: routed expert 2·48, router 2·12·3/3, shared 2·(12·18+18·12)/3 + gate 2·12/3
        Assert.Equal(2 * 48 + 2 * 12 * 3 / 3.0 + 2 * (12 * 18 + 18 * 12) / 3.0 + 2 * 12 / 3.0, cost.ForwardFlopsPerToken, 6);
    }

    [Fact]
    public void StatisticsCountDropsAndLoad()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(8);
        var layer = new MoeLayer(new MoeLayerOptions { DModel = 8, DHidden = 8, Experts = 4, CapacityFactor = 0.5, Router = new RouterOptions { K = 1 } });
        var o = layer.forward(torch.randn(64, 8));
        var s = o.Statistics.Summarize();
        Assert.Equal(64, s.RoutedPerExpert.Sum());
        Assert.All(s.TokensPerExpert, c => Assert.True(c <= 8));  // C = ceil(0.5·64/4) = 8
        Assert.Equal(64 - s.TokensPerExpert.Sum(), s.DroppedAssignments);
        Assert.Equal(s.DroppedAssignments, s.DroppedTokens);      // top-1: a dropped assignment is a dropped token
        Assert.Equal(s.DroppedTokens, s.ExpertsPerTokenHistogram[0]);
        var load = s.TokensPerExpert.Select(c => (double)c).ToArray();
        double mean = load.Average(), std = Math.Sqrt(load.Select(v => (v - mean) * (v - mean)).Average());
        Assert.Equal(std / mean, s.LoadCoefficientOfVariation, 4);
    }
}
