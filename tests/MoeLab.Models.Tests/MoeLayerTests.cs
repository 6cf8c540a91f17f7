using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

public class MoeLayerTests
{
    private static readonly MoeLayerOptions Small = new() { DModel = 16, DHidden = 32, Experts = 4, Router = new RouterOptions { K = 2 } };

    [Fact]
    public void OutputKeepsTheInputShapeAndRecordsAreConsistent()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        var layer = new MoeLayer(Small with { SharedExperts = 1 });
        var o = layer.forward(torch.randn(3, 7, 16));
        Assert.Equal(new long[] { 3, 7, 16 }, o.Output.shape);
        Assert.Equal(new long[] { 21, 4 }, o.Routing.Probabilities.shape);
        Assert.Equal(new long[] { 21, 2 }, o.Routing.ExpertIndices.shape);
        var summary = o.Statistics.Summarize();
        Assert.Equal(42, summary.TokensPerExpert.Sum());
        Assert.Equal(new long[] { 0, 0, 21, 0, 0 }, summary.ExpertsPerTokenHistogram);
        Assert.Equal(2.0, summary.MeanExpertsPerToken);
        Assert.Equal(0, summary.DroppedAssignments);
        foreach (var loss in new[] { o.Losses.LoadBalancing, o.Losses.RouterZ, o.Losses.Entropy, o.Losses.SequenceBalance })
            Assert.Equal(0, loss.dim());
    }

    [Theory]
    [InlineData(RouterKind.TopK)]
    [InlineData(RouterKind.TopP)]
    [InlineData(RouterKind.Percentile)]
    public void GradientsReachRouterExpertsAndSharedExperts(RouterKind kind)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(2);
        var layer = new MoeLayer(Small with { SharedExperts = 1, Router = new RouterOptions { Kind = kind, K = 2 } });
        var x = torch.randn(2, 8, 16).requires_grad_(true);
        var o = layer.forward(x);
        o.Output.square().mean().backward();   // task loss only: router gradient comes through the weights g
        foreach (var (name, p) in layer.named_parameters())
        {
            Assert.NotNull(p.grad);
            Assert.True(p.grad!.abs().sum().item<float>() > 0, $"no gradient reached {name}");
        }
        Assert.True(x.grad!.abs().sum().item<float>() > 0);
    }

    [Theory]
    [InlineData(ExpertKind.Gelu, false)]
    [InlineData(ExpertKind.SwiGlu, true)]
    public void MoeWithOneExpertEqualsTheDenseFfn(ExpertKind kind, bool bias)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        var options = new MoeLayerOptions { DModel = 10, DHidden = 24, Experts = 1, Kind = kind, Bias = bias, Router = new RouterOptions { K = 1 } };
        var moe = new MoeLayer(options);
        var dense = new FeedForward("dense", options.ExpertShape);
        moe.Experts.CopyExpertTo(0, dense);
        var input = torch.randn(5, 6, 10);
        var x1 = input.clone().requires_grad_(true);
        var x2 = input.clone().requires_grad_(true);
        var moeOut = moe.forward(x1).Output;
        var denseOut = dense.forward(x2);
        Close(denseOut, moeOut, what: "output");
        moeOut.sum().backward();
        denseOut.sum().backward();
        Close(x2.grad!, x1.grad!, what: "input gradient");
        Close(dense.InputWeight.grad!, moe.Experts.InputWeight.grad![0], what: "first-projection gradient");
    }

    [Fact]
    public void ExpertBankExpertEqualsDenseFfnWithCopiedWeights()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(4);
        var bank = new ExpertBank("bank", 3, new FeedForwardShape(6, 8, 6, ExpertKind.SwiGlu, Bias: true));
        var dense = new FeedForward("dense", bank.Shape);
        var x = torch.randn(7, 6);
        var all = bank.ForwardAll(x);                 // [3, 7, 6]
        for (int e = 0; e < 3; e++)
        {
            bank.CopyExpertTo(e, dense);
            Close(dense.forward(x), all[e], what: $"expert {e}");
        }
        var grouped = bank.ForwardGrouped(x, new long[] { 2, 0, 5 });
        Close(all[0].narrow(0, 0, 2), grouped.narrow(0, 0, 2), what: "grouped block 0");
        Close(all[2].narrow(0, 2, 5), grouped.narrow(0, 2, 5), what: "grouped block 2");
    }

    [Fact]
    public void SameSeedGivesTheSameOutput()
    {
        float[] Run(long seed)
        {
            using var scope = NewDisposeScope();
            torch.manual_seed(seed);
            var layer = new MoeLayer(Small with { Router = new RouterOptions { Kind = RouterKind.Percentile, NoiseStd = 0.1 } });
            layer.train();                               // with routing noise drawn from the seeded generator
            return ToArray(layer.forward(torch.randn(4, 5, 16)).Output);
        }
        var a = Run(42);
        var b = Run(42);
        Assert.Equal(a, b);
        Assert.NotEqual(a, Run(43)); // a different seed changes initialisation and noise
    }

    [Fact]
    public void FineGrainedSegmentationKeepsParametersAndActiveCompute()
    {
        var coarse = new MoeLayerOptions { DModel = 16, DHidden = 64, Experts = 4, Router = new RouterOptions { K = 1 } };
        var fine = coarse.FineGrained(4);
        Assert.Equal(16, fine.Experts);
        Assert.Equal(16, fine.DHidden);
        Assert.Equal(4, fine.Router.K);
        var a = Accounting.CostModel.Moe(coarse);
        var b = Accounting.CostModel.Moe(fine);
        // expert parameters equal; only the router grows (d·N)
        Assert.Equal(a.TotalParameters - 16 * 4, b.TotalParameters - 16 * 16);
        Assert.Equal(a.ForwardFlopsPerToken - 2 * 16 * 4, b.ForwardFlopsPerToken - 2 * 16 * 16);
        Assert.Throws<ArgumentException>(() => coarse.FineGrained(3));
    }

    [Fact]
    public void MemoryStaysFlatOverTrainingSteps()
    {
        torch.manual_seed(5);
        var layer = new MoeLayer(Small with { SharedExperts = 1, CapacityFactor = 1.0, Router = new RouterOptions { Kind = RouterKind.TopP } });
        // A plain SGD update with its Scalar held alive: TorchSharp 0.107's optimisers pass temporary
        // Scalars to native code and can fail when another thread's garbage collection finalises
        // one mid-call (MoeLab's experiments use GcSafeAdamW for that reason).
        using var minusLr = (-1e-3).ToScalar();
        var weights = new AuxiliaryLossWeights(LoadBalancing: 0.01, RouterZ: 1e-3, Entropy: 1e-4, SequenceBalance: 1e-3);
        long liveAfterWarmup = 0;
        for (int step = 0; step < 200; step++)
        {
            using (var scope = NewDisposeScope())
            {
                var x = torch.randn(4, 16, 16);
                var o = layer.forward(x);
                var loss = o.Output.sub(x).square().mean().add(o.Losses.Weighted(weights));
                foreach (var p in layer.parameters()) p.grad?.zero_();
                loss.backward();
                using (torch.no_grad())
                    foreach (var p in layer.parameters()) p.add_(p.grad!, alpha: minusLr);
                _ = o.Statistics.Summarize();
            }
            if (step == 9) liveAfterWarmup = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        long liveAtEnd = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var leak = torch.zeros(1)) // the counter does see a tensor kept outside any scope
            Assert.Equal(liveAtEnd + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.True(liveAtEnd <= liveAfterWarmup, $"live tensors grew from {liveAfterWarmup} to {liveAtEnd} over 190 steps");
    }
}
