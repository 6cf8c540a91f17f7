using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Losses;
using MoeLab.Models.Networks;
using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

public class PatchForecasterTests
{
    private static MoeLayerOptions Moe(int d, int dff, double dropout = 0) =>
        new() { DModel = d, DHidden = dff, Experts = 4, Dropout = dropout, Router = new RouterOptions { K = 1, Renormalize = false } };

    private static PatchForecasterOptions Tiny(double dropout = 0, double dropPath = 0) => new()
    {
        LookBack = 24, PatchLength = 4, DModel = 16, Heads = 2, KeyValueHeads = 1, Dropout = dropout, DropPath = dropPath,
        FeedForwards =
        [
            new SegmentMoeOptions { Moe = Moe(16, 8, dropout), Omega = 2 },
            new SegmentMoeOptions { Moe = Moe(16, 8, dropout), Omega = 4 },
        ],
    };

    /// <summary>The official small config counted by hand, term by term, from the official code's modules.</summary>
    private static long OfficialSmallByHand()
    {
        long d = 128, dff = 256, n = 4, p = 8, kvDim = 64;
        long embedding = d * p + 2 * d;                                         // conv (no bias) + GroupNorm
        long attention = (d * d + d) + 2 * (d * kvDim + kvDim) + d * d;          // q, k, v with bias; o without
        long norms = 2 * d;
        long Moe(long w) => w * d * n + n * (2 * d * dff) + (w * d) * (w * dff) * 2 + w * d; // router, experts, shared FFN, shared gate
        long blocks = 4 * (norms + attention) + Moe(3) + 3 * Moe(5);
        long head = d * d + d * d * p + d * 3 + 2 * d + d * 32 + 32;            // linear, conv-transpose, depthwise k=3, GroupNorm, 1×1 to d/4, 1×1 to 1
        return embedding + blocks + d + head;                                   // + final RMSNorm
    }

    /// <summary>The forecaster computes its convolutions as matmuls on the modules' weights: each must equal the module's
    /// own forward (ATen's convolution), and so must the gradients of the input and the weight.</summary>
    [Fact]
    public void ConvolutionsAsMatmulsEqualTheConvolutionModules()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(5);
        const int n = 6, d = 12, p = 4, patches = 5, length = p * patches, h = 3;
        void Check(nn.Module<Tensor, Tensor> conv, Tensor input, Func<Tensor, Tensor, Tensor> asMatmul, Func<Tensor, Tensor> arrange, string what)
        {
            var weight = conv.parameters().Single();
            var x1 = input.detach().requires_grad_(true);
            var x2 = input.detach().requires_grad_(true);
            var expected = conv.forward(x1);
            var actual = asMatmul(arrange(x2), weight);
            Close(expected, actual, what: what + " forward");
            var g = torch.randn_like(expected);
            var grads1 = torch.autograd.grad(new[] { expected }, new[] { x1, weight }, new[] { g });
            var grads2 = torch.autograd.grad(new[] { actual }, new[] { x2, weight }, new[] { g });
            Close(grads1[0], grads2[0], what: what + " input gradient");
            Close(grads1[1], grads2[1], what: what + " weight gradient");
        }
        Check(nn.Conv1d(1, d, p, stride: p, bias: false), torch.randn(n, 1, length), ConvolutionsAsMatmuls.Patches, x => x, "patch embedding");
        // The forecaster hands Unpatch the tokens [N, P, d], the transpose of the convolution's input [N, d, P].
        Check(nn.ConvTranspose1d(d, d, p, stride: p, bias: false), torch.randn(n, d, patches), ConvolutionsAsMatmuls.Unpatch, x => x.transpose(1, 2), "un-patching");
        foreach (int k in new[] { 1, 3, 7 })
            Check(nn.Conv1d(d, d, k, padding: k / 2, groups: d, bias: false), torch.randn(n, d, length), ConvolutionsAsMatmuls.Depthwise, x => x, $"depthwise k {k}");
        Check(nn.Conv1d(d, h, 1, bias: false), torch.randn(n, d, length), ConvolutionsAsMatmuls.Pointwise, x => x, "1×1 narrowing");
        Check(nn.Conv1d(h, 1, 1, bias: false), torch.randn(n, h, length), ConvolutionsAsMatmuls.Pointwise, x => x, "1×1 output");
    }

    [Fact]
    public void OfficialSmallConfigHasTheOfficialParameterCount()
    {
        var moe = Moe(128, 256, 0.2);
        var options = new PatchForecasterOptions
        {
            FeedForwards = new[] { 3, 5, 5, 5 }.Select(w => (FeedForwardSlotOptions)new SegmentMoeOptions { Moe = moe, Omega = w }).ToList(),
        };
        Assert.Equal(512, options.LookBack);
        Assert.Equal(32, options.HeadHidden);
        Assert.Equal(3, options.HeadDepthwiseKernel);
        using var model = new PatchForecaster(options);
        Assert.Equal(OfficialSmallByHand(), model.ParameterCount());
        Assert.Equal(6_917_408, model.ParameterCount());
    }

    [Fact]
    public void EveryParameterIsInitialisedFinite()
    {
        for (int i = 0; i < 5; i++)
        {
            using var model = new PatchForecaster(Tiny());
            foreach (var (name, p) in model.named_parameters())
            {
                Assert.True(p.isfinite().all().item<bool>(), $"{name} holds non-finite values");
                if (name.EndsWith("norm.weight")) Assert.True(p.eq(1).all().item<bool>(), $"{name} should start at 1");
                if (name.EndsWith("norm.bias")) Assert.True(p.eq(0).all().item<bool>(), $"{name} should start at 0");
            }
        }
    }

    [Fact]
    public void InstanceNormalisationMakesTheForecasterEquivariantToScaleAndShift()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        using var model = new PatchForecaster(Tiny());
        model.eval();
        var x = torch.randn(3, 2, 24);                                          // [B, C, L]
        var y = model.forward(x).Prediction;
        Assert.Equal(new long[] { 3, 2, 24 }, y.shape);
        Assert.True(y.abs().max().item<float>() < 100, $"output magnitude {y.abs().max().item<float>()} for standard-normal input");
        var centred = y.sub(x.mean(new long[] { 2 }, keepdim: true));
        Assert.True(centred.std().item<float>() > 1e-3, "the output depends on more than the window mean");
        var shifted = model.forward(x.mul(5).add(-7)).Prediction;
        Close(y.mul(5).add(-7), shifted, atol: 1e-3, what: "f(5x − 7) = 5 f(x) − 7");
    }

    [Fact]
    public void DropoutAndDropPathActOnlyInTrainingModeAndFollowTorchsSeed()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(5);
        using var model = new PatchForecaster(Tiny(dropout: 0.2, dropPath: 0.3));
        var x = torch.randn(2, 2, 24);
        model.eval();
        var e1 = model.forward(x).Prediction;
        var e2 = model.forward(x).Prediction;
        Close(e1, e2, atol: 0, rtol: 0, what: "eval mode is deterministic");
        model.train();
        torch.manual_seed(9);
        var t1 = model.forward(x).Prediction;
        var t2 = model.forward(x).Prediction;
        Assert.True(t1.sub(t2).abs().max().item<float>() > 1e-6, "two training passes draw different dropout masks");
        torch.manual_seed(9);
        var t1Again = model.forward(x).Prediction;
        Close(t1, t1Again, atol: 0, rtol: 0, what: "the same torch seed gives the same masks");
    }

    [Fact]
    public void ExpertDropoutZeroesHiddenUnitsInTrainingOnly()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        var ffn = new FeedForward("f", new FeedForwardShape(8, 64, 8, Dropout: 0.5));
        var plain = new FeedForward("g", new FeedForwardShape(8, 64, 8));
        plain.load_state_dict(ffn.state_dict());
        var x = torch.randn(4, 8);
        ffn.eval();
        Close(plain.forward(x), ffn.forward(x), atol: 0, rtol: 0, what: "eval: no dropout");
        ffn.train();
        Assert.True(plain.forward(x).sub(ffn.forward(x)).abs().max().item<float>() > 1e-4, "training: dropout changes the output");
        Assert.Throws<ArgumentException>(() => new FeedForwardShape(8, 8, 8, Dropout: 1.0).Validate());
    }

    [Fact]
    public void AutoregressiveForecastAppendsEachStepToTheWindow()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(4);
        using var model = new PatchForecaster(Tiny());
        var x = torch.randn(2, 3, 24);
        var forecast = model.Forecast(x, 10, 4);                                 // 3 passes, cropped to 10
        Assert.Equal(new long[] { 2, 3, 10 }, forecast.shape);
        model.eval();
        using var _ = torch.no_grad();
        var first = model.forward(x).Prediction.narrow(2, 20, 4);
        Close(first, forecast.narrow(2, 0, 4), what: "first step = last f outputs");
        var window = torch.cat(new[] { x.narrow(2, 4, 20), first }, 2);
        var second = model.forward(window).Prediction.narrow(2, 20, 4);
        Close(second, forecast.narrow(2, 4, 4), what: "second step from the slid window");
    }

    [Fact]
    public void BalanceLossIsOneLossOverTheSegmentsOfAllLayers()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(8);
        using var model = new PatchForecaster(Tiny());
        var output = model.forward(torch.randn(3, 2, 24));
        var units = output.RoutingUnits;
        Assert.Equal(2, units.Count);
        Assert.Equal(6 * 3 * 2 / 2, units[0].Units);                             // ⌈6/2⌉ segments × B·C
        Assert.Equal(2 * 3 * 2, units[1].Units);                                 // ⌈6/4⌉ = 2 segments (padded) × B·C
        var expected = AuxiliaryLosses.LoadBalancingAcrossLayers(units).item<float>();
        Assert.Equal(expected, output.BalanceLoss(CPU).item<float>(), 6);
        var perLayerSum = units.Sum(u => AuxiliaryLosses.LoadBalancing(u).item<float>());
        Assert.True(Math.Abs(perLayerSum - expected) > 0.5, $"one loss ({expected}) is not the per-layer sum ({perLayerSum})");
    }
}

public class SegmentMoeOfficialLossTests
{
    private static RoutingResult Routing(float[,] probabilities)
    {
        int rows = probabilities.GetLength(0);
        var p = torch.tensor(probabilities);
        var top = p.max(1);
        return RoutingResult.Create(LogitsOf(probabilities), p, top.indexes.unsqueeze(1), top.values.unsqueeze(1),
            torch.ones(rows, 1, dtype: ScalarType.Bool), probabilities.GetLength(1));
    }

    [Fact]
    public void BalanceLossOverLayersMatchesAHandComputedValue()
    {
        using var scope = NewDisposeScope();
        var a = Routing(new float[,] { { 0.8f, 0.2f }, { 0.6f, 0.4f } });   // layer A: both units choose expert 0
        var b = Routing(new float[,] { { 0.3f, 0.7f } });                   // layer B: one unit chooses expert 1
        // concatenated: f = [2/3, 1/3], P = [1.7/3, 1.3/3]; L = 2·(2/3·1.7/3 + 1/3·1.3/3) = 9.4/9
        Assert.Equal(9.4 / 9, AuxiliaryLosses.LoadBalancingAcrossLayers([a, b]).item<float>(), 5);
        // per layer each is 2·0.7 = 1.4: their sum (2.8) and mean (1.4) are different objectives
        Assert.Equal(1.4, AuxiliaryLosses.LoadBalancing(a).item<float>(), 5);
        Assert.Equal(1.4, AuxiliaryLosses.LoadBalancing(b).item<float>(), 5);
        Assert.Equal(AuxiliaryLosses.LoadBalancing(a).item<float>(), AuxiliaryLosses.LoadBalancingAcrossLayers([a]).item<float>(), 6);
        Assert.Throws<ArgumentException>(() => AuxiliaryLosses.LoadBalancingAcrossLayers([]));
    }

    [Fact]
    public void OmegaOneWithSharedExpertIsTokenMoePlusTheGatedTokenSharedExpert()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(13);
        var moe = new MoeLayerOptions { DModel = 6, DHidden = 10, Experts = 3, Router = new RouterOptions { K = 1 } };
        var seg = new SegmentMoeLayer(new SegmentMoeOptions { Moe = moe, Omega = 1, SegmentSharedExpert = true });
        var tokenwise = new MoeLayer(moe);
        tokenwise.Experts.load_state_dict(seg.Experts.state_dict());
        tokenwise.Router.load_state_dict(seg.Router.Inner.state_dict());
        var gate = seg.named_parameters().Single(p => p.name == "shared_gate.weight").parameter; // [1, d]
        var x = torch.randn(2, 5, 6);
        var expected = tokenwise.forward(x).Output.add(seg.SharedExpert!.forward(x).mul(torch.sigmoid(x.matmul(gate.t()))));
        Close(expected, seg.forward(x).Output, what: "ω = 1 Seg-MoE = official token MoE (routed + σ(w·x)·shared(x))");
    }
}
