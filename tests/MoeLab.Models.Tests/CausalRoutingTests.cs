using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Networks;
using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

/// <summary>Routing inside causal sequence models: a token's experts may depend on tokens at the same
/// or earlier positions only. Bitwise checks use the reference dispatch, whose matmuls have the same
/// shapes whatever the routing; the grouped dispatch runs each expert on a block of the tokens routed
/// to it, and pinned MKL rounds blocks of 1–3 rows differently from larger ones, so there a later
/// token moving between experts can change an earlier token's output in its last bits (see
/// DecoderCausalityTests for that path).</summary>
public class CausalRoutingTests
{
    public static readonly TheoryData<string> RouterKinds = new() { "top-k", "top-p", "percentile-token", "percentile-batch", "percentile-position" };

    public static RouterOptions Router(string kind) => kind switch
    {
        "top-k" => new RouterOptions { Kind = RouterKind.TopK, K = 2 },
        "top-p" => new RouterOptions { Kind = RouterKind.TopP, P = 0.5 },
        "percentile-token" => new RouterOptions { Kind = RouterKind.Percentile, Tau = 0.6, PercentileMode = PercentileMode.PerToken },
        "percentile-batch" => new RouterOptions { Kind = RouterKind.Percentile, Tau = 0.6, PercentileMode = PercentileMode.Batch },
        "percentile-position" => new RouterOptions { Kind = RouterKind.Percentile, Tau = 0.6, PercentileMode = PercentileMode.BatchPerPosition },
        _ => throw new ArgumentException(kind),
    };

    /// <summary>True when the two tensors hold the same bits.</summary>
    public static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void PerPositionPercentileTakesOneThresholdPerPositionOverTheBatch()
    {
        using var scope = NewDisposeScope();
        // two sequences of two tokens, N = 4, rows b·T + t; temperature 1 so g = these probabilities
        var logits = LogitsOf(new float[,]
        {
            { 0.1f, 0.2f, 0.3f, 0.4f },     // b0 t0
            { 0.5f, 0.3f, 0.15f, 0.05f },   // b0 t1
            { 0.7f, 0.12f, 0.1f, 0.08f },   // b1 t0
            { 0.4f, 0.35f, 0.2f, 0.05f },   // b1 t1
        });
        var router = new PercentileRouter(4, 4, tau: 0.5, PercentileMode.BatchPerPosition, temperature: 1, noiseStd: 0);
        // t0: .08 .1 .1 .12 .2 .3 .4 .7 → θ = (.12 + .2)/2 = .16 → b0 keeps .4 .3 .2, b1 keeps .7
        //     (each token's own quantile would keep two experts for both)
        // t1: .05 .05 .15 .2 .3 .35 .4 .5 → θ = .25 → two each
        var r = router.Select(logits, tokensPerSequence: 2);
        Assert.Equal(new long[] { 3, 2, 1, 2 }, ToLongs(r.ExpertsPerUnit));
        Assert.Equal(new long[] { 3, 2, 1 }, ToLongs(r.ExpertIndices).Take(3).ToArray());
        // one sequence (no layout): the per-token rule
        var single = router.Select(logits.narrow(0, 0, 1));
        var perToken = new PercentileRouter(4, 4, tau: 0.5, PercentileMode.PerToken, temperature: 1, noiseStd: 0).Select(logits.narrow(0, 0, 1));
        Assert.Equal(ToLongs(perToken.ExpertIndices), ToLongs(single.ExpertIndices));
        Assert.Throws<ArgumentException>(() => router.Select(logits, tokensPerSequence: 3));
    }

    [Fact]
    public void OnlyTheBatchWidePercentileIsNonCausal()
    {
        foreach (string kind in RouterKinds)
        {
            var options = Router(kind);
            Assert.Equal(kind != "percentile-batch", options.IsCausal);
            Assert.Equal(options.IsCausal, options.Create(4, 4).IsCausal);
            Assert.True(options.ForCausalModel().IsCausal);
        }
        Assert.Equal(PercentileMode.BatchPerPosition, Router("percentile-batch").ForCausalModel().PercentileMode);
        Assert.Equal(Router("top-p"), Router("top-p").ForCausalModel());
    }

    [Fact]
    public void ACausalLayerRefusesTheBatchWidePercentileAndCapacityDropping()
    {
        var options = new MoeLayerOptions { DModel = 8, DHidden = 6, Experts = 4, Router = Router("percentile-batch"), Causal = true };
        var e = Assert.Throws<ArgumentException>(() => new MoeLayer(options));
        Assert.Contains("BatchPerPosition", e.Message);
        Assert.Throws<ArgumentException>(() => new ChainOfExpertsLayer(new ChainOfExpertsOptions { Moe = options with { Kind = ExpertKind.SwiGlu } }));
        Assert.Throws<ArgumentException>(() => new SegmentMoeLayer(new SegmentMoeOptions { Moe = options }));
        var custom = new PercentileRouter(8, 4, tau: 0.5, PercentileMode.Batch);
        Assert.Throws<ArgumentException>(() => new MoeLayer(options with { Router = Router("top-k") }, custom));
        var capacity = Assert.Throws<ArgumentException>(() => new MoeLayer(options with { Router = Router("top-k"), CapacityFactor = 1.25 }));
        Assert.Contains("dropless", capacity.Message);
        // the causal variant is accepted, and ForCausalModel picks it
        var causal = (options with { Causal = false }).ForCausalModel();
        Assert.True(causal.Causal);
        Assert.Equal(PercentileMode.BatchPerPosition, ((PercentileRouter)new MoeLayer(causal).Router).Mode);
    }

    /// <summary>Outputs of a layer for x and for x with the last position replaced (every sequence).</summary>
    private static (Tensor Before, Tensor After) ChangeLastPosition(Func<Tensor, Tensor> layer, long batch, long tokens, long width)
    {
        var x = torch.randn(batch, tokens, width);                            // [B, T, d]
        var changed = x.clone();
        changed[.., (int)tokens - 1] = torch.randn(batch, width).mul(4);
        return (layer(x), layer(changed));
    }

    [Theory]
    [MemberData(nameof(RouterKinds))]
    public void ACausalMoeLayerIgnoresLaterTokens(string kind)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(51);
        var options = new MoeLayerOptions { DModel = 8, DHidden = 6, Experts = 4, Router = Router(kind), Dispatch = DispatchMode.Reference }.ForCausalModel();
        var layer = new MoeLayer(options);
        layer.eval();
        var (before, after) = ChangeLastPosition(x => layer.forward(x).Output, 4, 6, 8);
        Assert.True(Identical(before.narrow(1, 0, 5), after.narrow(1, 0, 5)), $"{kind}: earlier positions changed");
        Assert.False(Identical(before.narrow(1, 5, 1), after.narrow(1, 5, 1)));
    }

    [Fact]
    public void TheBatchWidePercentileOfANonCausalLayerLeaksLaterTokens()
    {
        // the leak the causal variant removes (and proof that the check above can fail)
        using var scope = NewDisposeScope();
        torch.manual_seed(51);
        var layer = new MoeLayer(new MoeLayerOptions { DModel = 8, DHidden = 6, Experts = 4, Router = Router("percentile-batch"), Dispatch = DispatchMode.Reference });
        layer.eval();
        var (before, after) = ChangeLastPosition(x => layer.forward(x).Output, 8, 8, 8);
        Assert.False(Identical(before.narrow(1, 0, 7), after.narrow(1, 0, 7)), "a batch-wide threshold should move with the last tokens");
    }

    [Theory]
    [MemberData(nameof(RouterKinds))]
    public void TheMlpLanguageModelIsCausalForEveryRouter(string kind)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(52);
        var moe = new MoeLayerOptions { DModel = 8, DHidden = 8, Experts = 4, Router = Router(kind), Dispatch = DispatchMode.Reference };
        var lm = new MlpLanguageModel(20, 6, new FeedForwardStackOptions { Width = 8, Layers = new[] { moe, moe } });
        if (kind == "percentile-batch")
            Assert.Equal(PercentileMode.BatchPerPosition, ((PercentileRouter)((MoeLayer)lm.FeedForwards[0].Slots[0]).Router).Mode);
        var ids = torch.randint(0, 20, new long[] { 3, 6 });                 // [B, T]
        var changed = ids.clone();
        changed[.., 5] = ids[.., 5].add(1).remainder(20);
        foreach (bool training in new[] { false, true })                    // training: router noise, same draws
        {
            lm.train(training);
            torch.manual_seed(7);
            var before = lm.forward(ids).Output;                             // [B, T, V]
            torch.manual_seed(7);
            var after = lm.forward(changed).Output;
            Assert.True(Identical(before.narrow(1, 0, 5), after.narrow(1, 0, 5)), $"{kind} (training {training}): earlier positions changed");
            Assert.False(Identical(before.narrow(1, 5, 1), after.narrow(1, 5, 1)));
        }
    }

    [Fact]
    public void TheMlpLanguageModelRefusesSegmentMixing()
    {
        var segment = new SegmentMoeOptions { Moe = new MoeLayerOptions { DModel = 8, DHidden = 8, Experts = 4, Router = new RouterOptions { K = 1 } }, Omega = 2 };
        var e = Assert.Throws<ArgumentException>(() => new MlpLanguageModel(20, 6, new FeedForwardStackOptions { Width = 8, Layers = new[] { segment } }));
        Assert.Contains("segments of 2", e.Message);
        // token-wise Seg-MoE (ω = 1, no segment shared expert) is allowed
        _ = new MlpLanguageModel(20, 6, new FeedForwardStackOptions { Width = 8, Layers = new[] { segment with { Omega = 1 } } });
    }
}
