using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

public class SegmentMoeLayerTests
{
    private static readonly MoeLayerOptions Moe = new() { DModel = 6, DHidden = 10, Experts = 3, Router = new RouterOptions { K = 1, Renormalize = false } };

    [Fact]
    public void OmegaOneWithoutSharedExpertIsTheTokenWiseMoe()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(21);
        var seg = new SegmentMoeLayer(new SegmentMoeOptions { Moe = Moe, Omega = 1, SegmentSharedExpert = false });
        var tokenwise = new MoeLayer(Moe);
        tokenwise.Experts.load_state_dict(seg.Experts.state_dict());
        tokenwise.Router.load_state_dict(seg.Router.Inner.state_dict());
        var x = torch.randn(2, 5, 6);
        var a = seg.forward(x);
        var b = tokenwise.forward(x);
        Close(b.Output, a.Output, what: "output");
        Close(b.Losses.LoadBalancing, a.Losses.LoadBalancing, what: "load balancing");
    }

    [Fact]
    public void TokensOfASegmentShareExpertsAndPaddingIsCropped()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(22);
        var layer = new SegmentMoeLayer(new SegmentMoeOptions { Moe = Moe, Omega = 3 });
        var x = torch.randn(2, 7, 6).requires_grad_(true);  // 7 tokens → 3 segments of 3 (2 padded)
        var o = layer.forward(x);
        Assert.Equal(new long[] { 2, 7, 6 }, o.Output.shape);
        Assert.Equal(14, o.Routing.Units);
        var experts = ToLongs(o.Routing.ExpertIndices);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 7; t++)
                Assert.Equal(experts[b * 7 + t / 3 * 3], experts[b * 7 + t]);
        o.Output.square().mean().add(o.Losses.LoadBalancing).backward();
        foreach (var (name, p) in layer.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"no gradient reached {name}");
    }

    [Fact]
    public void SharedExpertMixesTokensWithinASegmentOnly()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(23);
        var layer = new SegmentMoeLayer(new SegmentMoeOptions { Moe = Moe, Omega = 2 });
        var x = torch.randn(1, 4, 6);
        var y0 = layer.forward(x).Output;
        var x2 = x.clone();
        x2[0, 3] = torch.randn(6);                // change a token of the second segment
        var y1 = layer.forward(x2).Output;
        Close(y0[0].narrow(0, 0, 2), y1[0].narrow(0, 0, 2), what: "first segment unaffected");
        Assert.False(torch.allclose(y0[0, 2], y1[0, 2]), "the changed token's segment neighbour should change");
    }
}
