using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using MoeLab.Models.Transformer;
using TorchSharp;
using static MoeLab.Models.Tests.CausalRoutingTests;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

/// <summary>Change the last token: the decoder's logits at every earlier position must keep their
/// bits (reference dispatch) — for every router, Chain-of-Experts, and Seg-MoE at segment granularity.</summary>
public class DecoderCausalityTests
{
    private const int Vocabulary = 20, Tokens = 8;

    private static DecoderLanguageModelOptions Model(FeedForwardSlotOptions ffn) => new()
    {
        Vocabulary = Vocabulary, DModel = 16, Layers = 2, Heads = 4, KeyValueHeads = 2, MaxSequenceLength = Tokens, FeedForward = ffn,
    };

    private static MoeLayerOptions Moe(RouterOptions router, DispatchMode dispatch = DispatchMode.Reference) =>
        new() { DModel = 16, DHidden = 16, Experts = 4, Router = router, Dispatch = dispatch };

    /// <summary>Logits for ids [B, T] and for the same ids with the last token of every sequence changed,
    /// in eval mode and in training mode (router noise, same draws).</summary>
    private static IEnumerable<(Tensor Before, Tensor After, string Mode)> LastTokenChanged(DecoderLanguageModel lm, long seed)
    {
        torch.manual_seed(seed);
        var ids = torch.randint(0, Vocabulary, new long[] { 3, Tokens });   // [B, T]
        var changed = ids.clone();
        changed[.., Tokens - 1] = ids[.., Tokens - 1].add(1).remainder(Vocabulary);
        foreach (bool training in new[] { false, true })
        {
            lm.train(training);
            torch.manual_seed(seed + 1);
            var before = lm.forward(ids).Logits;                             // [B, T, V]
            torch.manual_seed(seed + 1);
            var after = lm.forward(changed).Logits;
            yield return (before, after, training ? "training" : "eval");
        }
    }

    [Theory]
    [MemberData(nameof(RouterKinds), MemberType = typeof(CausalRoutingTests))]
    public void EarlierLogitsKeepTheirBitsForEveryRouter(string kind)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(71);
        var lm = new DecoderLanguageModel(Model(Moe(Router(kind))));
        if (kind == "percentile-batch")
            Assert.Equal(PercentileMode.BatchPerPosition, ((PercentileRouter)((MoeLayer)lm.Blocks[0].FeedForward).Router).Mode);
        foreach (var (before, after, mode) in LastTokenChanged(lm, 72))
        {
            Assert.True(Identical(before.narrow(1, 0, Tokens - 1), after.narrow(1, 0, Tokens - 1)), $"{kind}, {mode}: earlier logits changed");
            Assert.False(Identical(before.narrow(1, Tokens - 1, 1), after.narrow(1, Tokens - 1, 1)));
        }
    }

    [Theory]
    [MemberData(nameof(RouterKinds), MemberType = typeof(CausalRoutingTests))]
    public void WithTheGroupedDispatchEarlierLogitsMoveAtMostByRounding(string kind)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(73);
        var lm = new DecoderLanguageModel(Model(Moe(Router(kind), DispatchMode.Grouped)));
        foreach (var (before, after, mode) in LastTokenChanged(lm, 74))
            Close(before.narrow(1, 0, Tokens - 1), after.narrow(1, 0, Tokens - 1), atol: 1e-5, rtol: 1e-5, what: $"{kind}, {mode}");
    }

    [Fact]
    public void ChainOfExpertsDenseAndLearnedPositionsAreCausal()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(75);
        var coe = new ChainOfExpertsOptions
        {
            Moe = Moe(Router("percentile-batch")) with { Kind = ExpertKind.SwiGlu, SharedExperts = 1 }, Iterations = 2,
        };
        var options = Model(coe) with
        {
            Positions = PositionEncoding.LearnedAbsolute, TieEmbeddings = false,
            FeedForwardPerLayer = new FeedForwardSlotOptions[] { coe, new DenseFeedForwardOptions { DModel = 16, DHidden = 16 } },
        };
        var lm = new DecoderLanguageModel(options);
        foreach (var (before, after, mode) in LastTokenChanged(lm, 76))
            Assert.True(Identical(before.narrow(1, 0, Tokens - 1), after.narrow(1, 0, Tokens - 1)), $"{mode}: earlier logits changed");
    }

    /// <summary>Every slot of the Chain-of-Experts experiment (top-k CoE with C = 1 and 2, one shared router,
    /// the outer residual, the iterated dense FFN): earlier logits keep their bits when the last token changes.</summary>
    [Theory]
    [InlineData(1, false, false, false)]
    [InlineData(2, false, false, false)]
    [InlineData(2, true, false, false)]
    [InlineData(2, false, true, false)]
    [InlineData(2, false, false, true)]
    public void ChainOfExpertsArmsAreCausal(int iterations, bool shareRouter, bool outerResidual, bool dense)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(77);
        FeedForwardSlotOptions slot = dense
            ? new IteratedFeedForwardOptions { DModel = 16, DHidden = 24, Iterations = iterations }
            : new ChainOfExpertsOptions
            {
                Moe = Moe(new RouterOptions { K = 2 }) with { Kind = ExpertKind.SwiGlu, SharedExperts = 1 },
                Iterations = iterations, ShareRouter = shareRouter, OuterResidual = outerResidual,
            };
        var lm = new DecoderLanguageModel(Model(slot));
        foreach (var (before, after, mode) in LastTokenChanged(lm, 78))
        {
            Assert.True(Identical(before.narrow(1, 0, Tokens - 1), after.narrow(1, 0, Tokens - 1)), $"{mode}: earlier logits changed");
            Assert.False(Identical(before.narrow(1, Tokens - 1, 1), after.narrow(1, Tokens - 1, 1)), $"{mode}: the last position ignored its token");
        }
    }

    [Fact]
    public void SegmentMixingIsRefusedUnlessAskedFor()
    {
        var segment = new SegmentMoeOptions { Moe = Moe(new RouterOptions { K = 1 }), Omega = 3 };
        var e = Assert.Throws<ArgumentException>(() => new DecoderLanguageModel(Model(segment)));
        Assert.Contains(nameof(DecoderLanguageModelOptions.AllowMixingWithinSegments), e.Message);
        // the control arm (segment shared expert, token-wise router) mixes a segment too
        Assert.Throws<ArgumentException>(() => new DecoderLanguageModel(Model(segment with { RouterOmega = 1 })));
        // token-wise: accepted
        _ = new DecoderLanguageModel(Model(segment with { Omega = 1 }));
    }

    [Theory]
    [InlineData("top-k")]
    [InlineData("percentile-batch")]
    public void WithSegmentMixingAllowedTheModelIsCausalBetweenSegments(string kind)
    {
        // ω = 3, T = 8: segments [0, 3), [3, 6), [6, 9) (the last one padded). Changing token 7 may
        // change positions 6 and 7, never 0–5.
        using var scope = NewDisposeScope();
        torch.manual_seed(77);
        var router = kind == "top-k" ? new RouterOptions { K = 1 } : Router(kind);
        var segment = new SegmentMoeOptions { Moe = Moe(router), Omega = 3 };
        var lm = new DecoderLanguageModel(Model(segment) with { AllowMixingWithinSegments = true });
        foreach (var (before, after, mode) in LastTokenChanged(lm, 78))
        {
            Assert.True(Identical(before.narrow(1, 0, 6), after.narrow(1, 0, 6)), $"{kind}, {mode}: an earlier segment changed");
            Assert.False(Identical(before.narrow(1, 6, 1), after.narrow(1, 6, 1)), $"{kind}, {mode}: position 6 should see token 7 of its segment");
        }
    }
}
