using MoeLab.Models.Accounting;
using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using MoeLab.Models.Transformer;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

public class TransformerTests
{
    private static MoeLayerOptions Moe(int d, RouterOptions? router = null) =>
        new() { DModel = d, DHidden = 16, Experts = 4, Router = router ?? new RouterOptions { K = 2 } };

    private static DecoderLanguageModelOptions Tiny(FeedForwardSlotOptions? ffn = null) => new()
    {
        Vocabulary = 16, DModel = 16, Layers = 2, Heads = 4, KeyValueHeads = 2, MaxSequenceLength = 8, FeedForward = ffn,
    };

    [Fact]
    public void RmsNormDividesByTheRootMeanSquareAndScalesByTheGain()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(61);
        var norm = new RmsNorm("norm", 6, epsilon: 1e-6);
        using (torch.no_grad()) norm.Weight.copy_(torch.arange(1, 7, dtype: float32));
        var x = torch.randn(3, 4, 6);
        var expected = x.div(x.square().mean(new long[] { -1 }, keepdim: true).add(1e-6).sqrt()).mul(torch.arange(1, 7, dtype: float32));
        Close(expected, norm.forward(x), what: "RMSNorm");
        Close(norm.forward(x), norm.forward(x.mul(7)), what: "scale invariance");
    }

    [Fact]
    public void RotaryEmbeddingPreservesNormsAndScoresDependOnRelativePositionOnly()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(62);
        var rope = new RotaryEmbedding(8);
        var x = torch.randn(2, 3, 5, 8);                                    // [B, H, T, d_h]
        var rotated = rope.Rotate(x, firstPosition: 3);
        Close(x.square().sum(-1).sqrt(), rotated.square().sum(-1).sqrt(), what: "norms");
        Assert.True(CausalRoutingTests.Identical(x.select(2, 0), rope.Rotate(x).select(2, 0)), "position 0 is not rotated");
        Assert.False(torch.allclose(x, rotated, rtol: 1e-3, atol: 1e-3));

        var q = torch.randn(1, 8);                                          // one query, one key: [1, d_h]
        var k = torch.randn(1, 8);
        double Score(long m, long n) => rope.Rotate(q, m).mul(rope.Rotate(k, n)).sum().item<float>();
        foreach (var (m, n) in new[] { (0L, 0L), (2L, 5L), (7L, 1L) })
            foreach (long shift in new[] { 1L, 13L, 100L })
                Assert.Equal(Score(m, n), Score(m + shift, n + shift), 4);
        Assert.NotEqual(Score(2, 5), Score(2, 6), 3);                       // a different distance, a different score
    }

    [Fact]
    public void AttentionWithAsManyKeyValueHeadsAsQueryHeadsIsPlainCausalMultiHeadAttention()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(63);
        var options = new SelfAttentionOptions { DModel = 12, Heads = 3, KeyValueHeads = 3 };
        var attention = new SelfAttention(options);
        var x = torch.randn(2, 5, 12);                                      // [B, T, d]
        // by hand: per head softmax(q kᵀ/√d_h + causal mask) v, RoPE on q and k
        var rope = new RotaryEmbedding(4);
        Tensor Heads(Tensor w) => x.matmul(w.t()).view(2, 5, 3, 4).transpose(1, 2); // [B, H, T, d_h]
        var q = rope.Rotate(Heads(attention.QueryWeight));
        var k = rope.Rotate(Heads(attention.KeyWeight));
        var v = Heads(attention.ValueWeight);
        var mask = torch.ones(5, 5).triu(1).to(ScalarType.Bool);            // [T, T] true above the diagonal
        var weights = q.matmul(k.transpose(-2, -1)).div(2.0).masked_fill(mask, double.NegativeInfinity).softmax(-1);
        var expected = weights.matmul(v).transpose(1, 2).reshape(2, 5, 12).matmul(attention.OutputWeight.t());
        Close(expected, attention.forward(x), atol: 1e-5, what: "multi-head attention");
        var implicitHeads = new SelfAttention(options with { KeyValueHeads = null });
        implicitHeads.load_state_dict(attention.state_dict());
        Assert.True(CausalRoutingTests.Identical(attention.forward(x), implicitHeads.forward(x)));
    }

    [Fact]
    public void GroupedQueryAttentionEqualsMultiHeadAttentionWithSharedKeyValueWeights()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(64);
        var gqa = new SelfAttention(new SelfAttentionOptions { DModel = 16, Heads = 4, KeyValueHeads = 2 });
        var mha = new SelfAttention(new SelfAttentionOptions { DModel = 16, Heads = 4 });
        Assert.Equal(new long[] { 8, 16 }, gqa.KeyWeight.shape);            // H_kv·d_h rows
        using (torch.no_grad())
        {
            mha.QueryWeight.copy_(gqa.QueryWeight);
            mha.OutputWeight.copy_(gqa.OutputWeight);
            // key/value head g serves query heads 2g and 2g + 1
            mha.KeyWeight.copy_(gqa.KeyWeight.view(2, 4, 16).repeat_interleave(2, dim: 0).reshape(16, 16));
            mha.ValueWeight.copy_(gqa.ValueWeight.view(2, 4, 16).repeat_interleave(2, dim: 0).reshape(16, 16));
        }
        var x = torch.randn(2, 6, 16);
        Close(mha.forward(x), gqa.forward(x), atol: 1e-6, rtol: 1e-5, what: "GQA = MHA with repeated K/V");
        Assert.Throws<ArgumentException>(() => new SelfAttention(new SelfAttentionOptions { DModel = 16, Heads = 4, KeyValueHeads = 3 }));
    }

    [Theory]
    [InlineData(PositionEncoding.Rotary, true)]
    [InlineData(PositionEncoding.LearnedAbsolute, false)]
    public void TheLanguageModelHasItsShapesAndReportsEveryLayer(PositionEncoding positions, bool tied)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(65);
        var lm = new DecoderLanguageModel(Tiny(Moe(16)) with { Positions = positions, TieEmbeddings = tied });
        var o = lm.forward(torch.randint(0, 16, new long[] { 3, 7 }));
        Assert.Equal(new long[] { 3, 7, 16 }, o.Logits.shape);
        Assert.Equal(2, o.Layers.Count);
        Assert.Equal(new[] { (0, 0), (1, 0) }, o.Statistics.Select(s => (s.Layer, s.Pass)));
        Assert.Equal(3 * 7 * 2, ToLongs(o.Layers[1].Statistics[0].TokensPerExpert).Sum());   // top-2 of 21 tokens
        Assert.NotNull(o.Losses);
        Assert.True(o.AuxiliaryLoss(new AuxiliaryLossWeights(LoadBalancing: 1)).item<float>() > 0);
        Assert.Throws<ArgumentException>(() => lm.forward(torch.randint(0, 16, new long[] { 1, 9 })));  // longer than MaxSequenceLength
        var dense = new DecoderLanguageModel(Tiny());
        var d = dense.forward(torch.randint(0, 16, new long[] { 2, 5 }));
        Assert.All(d.Layers, l => Assert.False(l.IsRouted));
        Assert.Null(d.Losses);
        Assert.Equal(0f, d.AuxiliaryLoss(new AuxiliaryLossWeights(LoadBalancing: 1)).item<float>());
    }

    [Fact]
    public void AOneExpertTopOneMoeLanguageModelEqualsTheDenseOneWithTheSameWeights()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(66);
        var one = new MoeLayerOptions { DModel = 16, DHidden = 24, Experts = 1, Router = new RouterOptions { K = 1 } };
        var moe = new DecoderLanguageModel(Tiny(one));
        var dense = new DecoderLanguageModel(Tiny(new DenseFeedForwardOptions { DModel = 16, DHidden = 24 }));
        var moeState = moe.state_dict();
        using (torch.no_grad())
            foreach (var (name, p) in dense.named_parameters())
                if (moeState.TryGetValue(name, out var source)) p.copy_(source);   // embedding, attention, norms
        for (int l = 0; l < 2; l++)
            ((MoeLayer)moe.Blocks[l].FeedForward).Experts.CopyExpertTo(0, (FeedForward)dense.Blocks[l].FeedForward);
        var ids = torch.randint(0, 16, new long[] { 2, 8 });
        Close(dense.forward(ids).Logits, moe.forward(ids).Logits, atol: 1e-6, rtol: 0, what: "one expert, top-1 = dense");
    }

    [Fact]
    public void ParametersAndFlopsMatchAHandCount()
    {
        // V 10, d 8, H 2, H_kv 1 (d_h 4), one block, learned positions (T_max 6), untied head;
        // FFN: router 8·4, 4 GELU experts 8→6→8 (96 weights each), top-2, one shared expert of the same shape.
        var moe = new MoeLayerOptions { DModel = 8, DHidden = 6, Experts = 4, SharedExperts = 1, Router = new RouterOptions { K = 2 } };
        var options = new DecoderLanguageModelOptions
        {
            Vocabulary = 10, DModel = 8, Layers = 1, Heads = 2, KeyValueHeads = 1, MaxSequenceLength = 6,
            Positions = PositionEncoding.LearnedAbsolute, TieEmbeddings = false, FeedForward = moe,
        };
        var lm = new DecoderLanguageModel(options);
        var cost = lm.Cost(sequenceLength: 6);
        // embedding: 10·8 tokens + 6·8 positions; one row of each per token
        Assert.Equal(new ModelCost(128, 16, 0), cost.Embedding);
        // block: norms 2·8; projections Q 8·8, K 8·4, V 8·4, O 8·8 = 192 (384 FLOPs);
        // scores + values 4·H·d_h·T = 4·2·4·6 = 192 FLOPs; FFN 32 + 4·96 + 96 = 512 params,
        // active 32 + 2·96 + 96 = 320 (640 FLOPs)
        Assert.Equal(new ModelCost(16 + 192 + 512, 16 + 192 + 320, 384 + 192 + 640), cost.Blocks[0]);
        Assert.Equal(new ModelCost(8, 8, 0), cost.FinalNorm);
        Assert.Equal(new ModelCost(80, 80, 160), cost.Head);                // logits 2·d·V
        Assert.Equal(new ModelCost(936, 632, 1376), cost.Total);
        Assert.Equal(CostModel.CountParameters(lm), (long)cost.Total.TotalParameters);
        Assert.Equal(1376 - 0, cost.NonEmbedding.ForwardFlopsPerToken);
        // only the unmasked pairs: (T + 1)/2 = 3.5 keys per token
        Assert.Equal(1376 - 192 + 4 * 2 * 4 * 3.5, lm.Cost(6, convention: AttentionFlopsConvention.CausalPositions).Total.ForwardFlopsPerToken);
        // tied, rotary: no position table, the head's parameters are the embedding's
        var tied = new DecoderLanguageModel(options with { TieEmbeddings = true, Positions = PositionEncoding.Rotary });
        var tiedCost = tied.Cost(6).Total;
        Assert.Equal(CostModel.CountParameters(tied), (long)tiedCost.TotalParameters);
        Assert.Equal(936 - 48 - 80, tiedCost.TotalParameters);
        Assert.Equal(632 - 16, tiedCost.ActiveParameters);
        // dynamic routers need the measured mean
        var topP = new DecoderLanguageModel(options with { FeedForward = moe with { Router = new RouterOptions { Kind = RouterKind.TopP } } });
        Assert.Throws<ArgumentException>(() => topP.Cost(6));
        Assert.Equal(cost.Total.ForwardFlopsPerToken - 2 * 96 * 0.5, topP.Cost(6, new double?[] { 1.5 }).Total.ForwardFlopsPerToken);
    }

    [Fact]
    public void GradientsReachEveryParameter()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(67);
        var options = Tiny() with
        {
            Layers = 4, Positions = PositionEncoding.LearnedAbsolute, TieEmbeddings = false,
            FeedForwardPerLayer = new FeedForwardSlotOptions[]
            {
                Moe(16) with { SharedExperts = 1 },
                new ChainOfExpertsOptions { Moe = Moe(16) with { Kind = ExpertKind.SwiGlu, SharedExperts = 1 }, Iterations = 2 },
                new SegmentMoeOptions { Moe = Moe(16, new RouterOptions { Kind = RouterKind.Percentile, PercentileMode = PercentileMode.Batch }), Omega = 1 },
                new DenseFeedForwardOptions { DModel = 16, DHidden = 16 },
            },
        };
        var lm = new DecoderLanguageModel(options);
        var ids = torch.randint(0, 16, new long[] { 4, 8 });
        var o = lm.forward(ids);
        var loss = DecoderLanguageModel.NextTokenLoss(o.Logits.narrow(1, 0, 7), ids.narrow(1, 1, 7))
            .add(o.AuxiliaryLoss(new AuxiliaryLossWeights(LoadBalancing: 0.01)));
        loss.backward();
        foreach (var (name, p) in lm.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"no gradient reached {name}");
    }

    [Fact]
    public void TheReadmeExampleRuns()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(69);
        var lm = new DecoderLanguageModel(new DecoderLanguageModelOptions
        {
            Vocabulary = 256, DModel = 128, Layers = 2, Heads = 4, KeyValueHeads = 2,
            Positions = PositionEncoding.Rotary, MaxSequenceLength = 128,
            FeedForward = new MoeLayerOptions { DModel = 128, DHidden = 128, Experts = 8, Kind = ExpertKind.SwiGlu,
                SharedExperts = 1, Router = new RouterOptions { K = 2 } },
        });
        const int T = 12;
        var ids = torch.randint(0, 256, new long[] { 2, T });
        var o = lm.forward(ids);
        var loss = DecoderLanguageModel.NextTokenLoss(o.Logits.narrow(1, 0, T - 1), ids.narrow(1, 1, T - 1))
            .add(o.AuxiliaryLoss(new AuxiliaryLossWeights(LoadBalancing: 0.01)));
        Assert.InRange(loss.item<float>(), Math.Log(256) - 1, Math.Log(256) + 1);   // untrained: ≈ ln V
        var logged = o.Statistics.Select(x => (x.Layer, x.Pass, x.Statistics.Summarize().MeanExpertsPerToken)).ToList();
        Assert.Equal(new[] { (0, 0, 2.0), (1, 0, 2.0) }, logged);
        Assert.True(lm.Cost(sequenceLength: 128).Total.ForwardFlopsPerToken > 0);
    }

    [Fact]
    public void ATinyMoeLanguageModelOverfitsAFixedBatch()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(68);
        var lm = new DecoderLanguageModel(Tiny(Moe(16)) with { DModel = 16 });
        var ids = torch.randint(0, 16, new long[] { 4, 8 });
        var inputs = ids.narrow(1, 0, 7);
        var targets = ids.narrow(1, 1, 7);
        var optimizer = new MoeLab.Models.Optimization.GcSafeAdamW(lm.parameters(), 0.02, 0.9, 0.999, 1e-8, weightDecay: 0); // Adam (no decay); GC-safe step
        double first = 0, last = 0;
        int steps = 0;
        for (; steps < 100; steps++)
        {
            using var step = NewDisposeScope();
            optimizer.zero_grad();
            var o = lm.forward(inputs);
            var loss = DecoderLanguageModel.NextTokenLoss(o.Logits, targets);
            loss.add(o.AuxiliaryLoss(new AuxiliaryLossWeights(LoadBalancing: 0.01))).backward();
            optimizer.step();
            last = loss.item<float>();
            if (steps == 0) first = last;
            if (last < 0.4 * first) break;
        }
        Assert.True(last < 0.5 * first, $"loss {first:F3} → {last:F3} after {steps} steps");
    }
}
