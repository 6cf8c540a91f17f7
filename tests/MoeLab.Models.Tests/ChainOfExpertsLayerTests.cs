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
    public void IterationsReuseTheBankWithDistinctRouters()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(32);
        var coe = new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = Moe, Iterations = 2 });
        Assert.Equal(2, coe.Routers.Count);
        Assert.False(torch.allclose(coe.Routers[0].GateWeight, coe.Routers[1].GateWeight), "routers must be distinct parameters");
        var x = torch.randn(2, 5, 8);
        var o = coe.forward(x);
        Assert.Equal(2, o.Iterations.Count);
        // second iteration = first state + routed/shared update computed from the first state
        Close(x.add(o.Iterations[0].Output).add(o.Iterations[1].Output), o.Output, what: "u_2");
        o.Output.square().mean().add(o.Losses.SequenceBalance).backward();
        foreach (var (name, p) in coe.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"no gradient reached {name}");
        var shared = new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = Moe, Iterations = 2, ShareRouter = true });
        Assert.Single(shared.Routers);
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
