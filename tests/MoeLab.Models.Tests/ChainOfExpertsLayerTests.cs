using MoeLab.Models.Accounting;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

public class ChainOfExpertsLayerTests
{
    private static readonly MoeLayerOptions Moe = new()
    {
        DModel = 8, DHidden = 6, Experts = 6, Kind = ExpertKind.SwiGlu, SharedExperts = 1,
        Router = new RouterOptions { K = 2, Renormalize = false },
    };

    [Fact]
    public void OneIterationIsResidualPlusTheMoeLayer()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(31);
        var coe = new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = Moe, Iterations = 1 });
        var moe = new MoeLayer(Moe);
        moe.Experts.load_state_dict(coe.Experts.state_dict());
        moe.Router.load_state_dict(coe.Routers[0].state_dict());
        moe.Shared!.load_state_dict(coe.Shared!.state_dict());
        var x = torch.randn(2, 5, 8);
        Close(x.add(moe.forward(x).Output), coe.forward(x).Output, what: "u_1 = u_0 + MoE(u_0)");
    }

    [Fact]
    public void IterationsReuseTheBankAndEachStateFeedsTheNext()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(32);
        var coe = new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = Moe, Iterations = 2 });
        Assert.Equal(2, coe.Routers.Count);
        var x = torch.randn(2, 5, 8);
        var o = coe.forward(x);
        Assert.Equal(2, o.Iterations.Count);
        // second iteration = first state + routed/shared update computed from the first state
        Close(x.add(o.Iterations[0].Output).add(o.Iterations[1].Output), o.Output, what: "u_2");
        // recompute iteration 2 by hand from u_1 with router 2 and the same bank (as a C = 1 MoE layer)
        var moe = new MoeLayer(Moe);
        moe.Experts.load_state_dict(coe.Experts.state_dict());
        moe.Router.load_state_dict(coe.Routers[1].state_dict());
        moe.Shared!.load_state_dict(coe.Shared!.state_dict());
        var u1 = x.add(o.Iterations[0].Output);
        Close(u1.add(moe.forward(u1).Output), o.Output, what: "u_2 = u_1 + MoE_router2(u_1)");
        o.Output.square().mean().add(o.Losses.SequenceBalance).backward();
        foreach (var (name, p) in coe.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"no gradient reached {name}");
    }

    /// <summary>By construction, not by comparing random initial values: start both routers from the SAME
    /// weights; they are still two parameters (writing one leaves the other), they receive different
    /// gradients (iteration 2 routes u_1, not u_0), and one optimiser step makes them differ. The
    /// shared-router ablation has one router used by both iterations.</summary>
    [Fact]
    public void RoutersAreDistinctParametersThatReceiveDifferentGradients()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(33);
        var coe = new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = Moe, Iterations = 2 });
        using (torch.no_grad()) coe.Routers[1].GateWeight.copy_(coe.Routers[0].GateWeight);
        Assert.True(coe.Routers[0].GateWeight.eq(coe.Routers[1].GateWeight).all().item<bool>());
        var routerParameters = coe.named_parameters().Where(p => p.name.StartsWith("routers.")).ToList();
        Assert.Equal(2, routerParameters.Count);

        var x = torch.randn(3, 7, 8);
        var o = coe.forward(x);
        o.Output.square().mean().add(o.Losses.SequenceBalance).backward();
        var g0 = coe.Routers[0].GateWeight.grad!;
        var g1 = coe.Routers[1].GateWeight.grad!;
        Assert.True(g0.abs().sum().item<float>() > 0 && g1.abs().sum().item<float>() > 0, "both routers must receive gradient");
        Assert.False(torch.allclose(g0, g1, rtol: 1e-3, atol: 1e-7), "identical routers must get different gradients (different inputs u_0, u_1)");

        using (torch.no_grad())                                    // one plain gradient step on the routers
            foreach (var r in coe.Routers) r.GateWeight.sub_(r.GateWeight.grad!.mul(0.1));
        Assert.False(coe.Routers[0].GateWeight.eq(coe.Routers[1].GateWeight).all().item<bool>(), "after a step the routers must differ");
        using (torch.no_grad()) coe.Routers[0].GateWeight.zero_();
        Assert.True(coe.Routers[1].GateWeight.abs().sum().item<float>() > 0, "writing router 1 must not change router 2");

        var shared = new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = Moe, Iterations = 2, ShareRouter = true });
        Assert.Single(shared.Routers);
        Assert.Same(shared.RouterOf(0), shared.RouterOf(1));
        Assert.Single(shared.named_parameters(), p => p.name.StartsWith("routers."));
    }

    [Fact]
    public void OneExpertWithoutSharedEqualsTheResidualFeedForwardAppliedTwice()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(34);
        var single = Moe with { Experts = 1, SharedExperts = 0, Router = new RouterOptions { K = 1, Renormalize = false } };
        var coe = new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = single, Iterations = 2 });
        var dense = new IteratedFeedForward(new IteratedFeedForwardOptions { DModel = 8, DHidden = 6, Kind = ExpertKind.SwiGlu, Iterations = 2 });
        using (torch.no_grad())
        {
            dense.FeedForward.InputWeight.copy_(coe.Experts.InputWeight[0]);
            dense.FeedForward.OutputWeight.copy_(coe.Experts.OutputWeight[0]);
        }
        var x = torch.randn(2, 5, 8);
        var ffn = dense.FeedForward;
        var u1 = x.add(ffn.forward(x));
        var byHand = u1.add(ffn.forward(u1));
        Close(byHand, dense.forward(x), what: "iterated dense = u + FFN(u), twice");
        Close(byHand, coe.forward(x).Output, what: "CoE with one expert (softmax weight 1) = the FFN iterated");
        Assert.Equal(FeedForwardResidual.Replace, dense.Residual);
        Assert.Equal(FeedForwardResidual.Add, new IteratedFeedForward(new IteratedFeedForwardOptions { DModel = 8, DHidden = 6, OuterResidual = true }).Residual);
    }

    [Fact]
    public void CostMatchesAHandCount()
    {
        // d 8, SwiGLU expert of 6: MACs 8·12 + 6·8 = 144 → 288 FLOPs; router 2·8·6 = 96 FLOPs.
        // Per iteration: router 96 + K=2 experts 576 + shared 288 = 960; C = 2 → 1920 FLOPs per token.
        // Parameters: 2 routers 2·48, 6 experts 6·144, shared 144 → 1104.
        var coe = new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = Moe, Iterations = 2 });
        Assert.Equal(1920, coe.Cost().ForwardFlopsPerToken);
        Assert.Equal(1104, coe.Cost().TotalParameters);
        var shared = new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = Moe, Iterations = 2, ShareRouter = true });
        Assert.Equal(1104 - 48, shared.Cost().TotalParameters);
        Assert.Equal(1920, shared.Cost().ForwardFlopsPerToken);
        // iterated dense of width 6: 288 FLOPs per application, 144 parameters
        var dense = new IteratedFeedForward(new IteratedFeedForwardOptions { DModel = 8, DHidden = 6, Iterations = 2 });
        Assert.Equal(576, dense.SlotCost().ForwardFlopsPerToken);
        Assert.Equal(144, dense.SlotCost().TotalParameters);
        Assert.Equal(CostModel.CountParameters(dense), (long)dense.SlotCost().TotalParameters);
    }

    [Fact]
    public void CapacityDroppingIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = Moe with { CapacityFactor = 1.25 } }));
        Assert.Contains("dropless", e.Message);
    }

    [Fact]
    public void RouterLogitsAreFp32WithoutBias()
    {
        var coe = new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = Moe, Iterations = 2 });
        Assert.DoesNotContain(coe.named_parameters(), p => p.name.StartsWith("routers.") && p.name.EndsWith("bias"));
        var o = coe.forward(torch.randn(2, 5, 8).to(bfloat16).to(float32));
        Assert.All(o.Iterations, i => Assert.Equal(ScalarType.Float32, i.Routing.Logits.dtype));
    }

    [Fact]
    public void CostCountsRoutedAndSharedComputePerIteration()
    {
        var coe = new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = Moe, Iterations = 2 });
        var cost = coe.Cost();
        Assert.Equal(CostModel.CountParameters(coe), (long)cost.TotalParameters);
        Assert.Equal(2 * CostModel.Moe(Moe).ForwardFlopsPerToken, cost.ForwardFlopsPerToken);
    }
}
