using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Losses;
using MoeLab.Models.Networks;
using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

public class FeedForwardStackTests
{
    private static readonly MoeLayerOptions Moe = new() { DModel = 8, DHidden = 6, Experts = 4, Router = new RouterOptions { K = 2 } };

    [Fact]
    public void EverySlotKindFillsAStackAndReportsItsRoutedPasses()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(41);
        var options = new FeedForwardStackOptions
        {
            Width = 8,
            Layers = new FeedForwardSlotOptions[]
            {
                new DenseFeedForwardOptions { DModel = 8, DHidden = 12 },
                Moe,
                new ChainOfExpertsOptions { Moe = Moe with { SharedExperts = 1 }, Iterations = 2, OuterResidual = true },
                new SegmentMoeOptions { Moe = Moe with { Router = new RouterOptions { K = 1 } }, Omega = 2 },
            },
            LossWeights = new AuxiliaryLossWeights(LoadBalancing: 0.5),
        };
        var stack = new FeedForwardStack(options);
        Assert.IsType<FeedForward>(stack.Slots[0]);
        Assert.IsType<MoeLayer>(stack.Slots[1]);
        var x = torch.randn(2, 5, 8);                                      // [batch, tokens, d]
        var o = stack.forward(x);
        Assert.Equal(x.shape, o.Output.shape);
        Assert.Equal(1 + 2 + 1, o.Routing.Count);                          // MoE, CoE × 2 iterations, Seg-MoE
        Assert.True(o.AuxiliaryLoss.item<float>() > 0, "weighted balance losses of the routed passes");
        var unweighted = new FeedForwardStack(options with { LossWeights = new AuxiliaryLossWeights() });
        Assert.Equal(0f, unweighted.forward(x).AuxiliaryLoss.item<float>());
        o.Output.square().mean().add(o.AuxiliaryLoss).backward();
        foreach (var (name, p) in stack.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"no gradient reached {name}");
    }

    [Fact]
    public void ChainOfExpertsWithoutTheOuterResidualReplacesTheStream()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(42);
        var coe = new ChainOfExpertsOptions { Moe = Moe, Iterations = 2 };
        var replace = new FeedForwardStack(new FeedForwardStackOptions { Width = 8, Layers = new[] { coe } });
        var add = new FeedForwardStack(new FeedForwardStackOptions { Width = 8, Layers = new[] { coe with { OuterResidual = true } } });
        add.load_state_dict(replace.state_dict());
        var x = torch.randn(3, 8);
        var layer = (ChainOfExpertsLayer)replace.Slots[0];
        var uC = layer.forward(nn.functional.layer_norm(x, new long[] { 8 })).Output;  // u_C from u_0 = LayerNorm(x)
        Close(uC, replace.forward(x).Output, what: "replace: y = u_C");
        Close(x.add(uC), add.forward(x).Output, what: "outer residual: y = h + u_C");
    }

    [Fact]
    public void ASlotOfTheWrongWidthIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => new FeedForwardStack(new FeedForwardStackOptions { Width = 16, Layers = new[] { Moe } }));
        Assert.Contains("width 8", e.Message);
    }

    [Fact]
    public void MlpNetworksHaveTheirShapes()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(43);
        var options = new FeedForwardStackOptions { Width = 8, Layers = new FeedForwardSlotOptions[] { Moe, new DenseFeedForwardOptions { DModel = 8, DHidden = 8 } } };
        var classifier = new MlpClassifier(10, 3, options);
        Assert.Equal(new long[] { 4, 3 }, classifier.forward(torch.randn(4, 10)).Output.shape);
        var lm = new MlpLanguageModel(50, 6, options);
        var o = lm.forward(torch.randint(0, 50, new long[] { 2, 6 }));
        Assert.Equal(new long[] { 2, 6, 50 }, o.Output.shape);
        Assert.Single(o.Routing);
        Assert.Throws<ArgumentException>(() => lm.forward(torch.randint(0, 50, new long[] { 2, 7 })));
    }
}
