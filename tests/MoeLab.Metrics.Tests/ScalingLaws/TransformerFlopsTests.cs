using MoeLab.Metrics.ScalingLaws;

namespace MoeLab.Metrics.Tests.ScalingLaws;

public class TransformerFlopsTests
{
    /// <summary>A hand count for a small MoE decoder: d 8, 2 layers, 2 heads (1 KV head), s 4, V 10,
    /// 4 routed GELU experts of width 4, top-2, 1 shared expert of width 4.</summary>
    [Fact]
    public void HandCountOfASmallMoeDecoder()
    {
        var m = new TransformerDescription
        {
            DModel = 8, Layers = 2, Heads = 2, KeyValueHeads = 1, SequenceLength = 4, Vocabulary = 10,
            FeedForward = FeedForwardDescription.Moe(experts: 4, active: 2, expertHidden: 4, shared: 1),
        };
        var f = TransformerFlops.Forward(m);
        // Q 8×8, K 8×4, V 8×4, O 8×8 = 192 MACs per layer → 384 FLOPs → 768 for 2 layers.
        Assert.Equal(768, f.AttentionProjections);
        // Scores + values: 2·d·s MACs = 64 → 128 FLOPs per layer → 256.
        Assert.Equal(256, f.AttentionScores);
        // One expert: 8×4 + 4×8 = 64 MACs; 2 active → 128 MACs → 256 FLOPs per layer → 512.
        Assert.Equal(512, f.RoutedExperts);
        Assert.Equal(256, f.SharedExperts);
        // Router 8×4 = 32 MACs → 64 FLOPs per layer → 128.
        Assert.Equal(128, f.Router);
        Assert.Equal(160, f.Logits);                            // 8×10 MACs
        Assert.Equal(0, f.DenseFeedForward);
        Assert.Equal(768 + 256 + 512 + 256 + 128 + 160, f.NonEmbeddingForward);
        Assert.Equal(3 * f.NonEmbeddingForward * 1000, f.TrainingCompute(1000));
    }

    [Fact]
    public void GatedDenseFeedForwardIsSixDdff()
    {
        var m = new TransformerDescription
        {
            DModel = 16, Layers = 1, Heads = 4, SequenceLength = 8, Vocabulary = 1,
            FeedForward = FeedForwardDescription.Dense(64, gated: true),
        };
        Assert.Equal(6.0 * 16 * 64, TransformerFlops.Forward(m).DenseFeedForward);
        Assert.Equal(4.0 * 16 * (8 + 1) / 2.0,
            TransformerFlops.Forward(m with { CausalScoresOnly = true }).AttentionScores);
    }

    /// <summary>The paper's printed projection term is half the count of 2 FLOPs per multiply–accumulate.</summary>
    [Fact]
    public void PaperPrintedProjectionTermIsHalfOurs()
    {
        var m = new TransformerDescription { DModel = 64, Layers = 1, Heads = 8, KeyValueHeads = 2, SequenceLength = 1, Vocabulary = 1, FeedForward = FeedForwardDescription.Dense(1) };
        Assert.Equal(2 * TransformerFlops.PaperPrintedAttentionProjectionsPerToken(64, 8, 2), TransformerFlops.Forward(m).AttentionProjections, 9);
    }

    /// <summary>An MoE has many more parameters than a dense model of the same per-token FLOPs; the count
    /// depends on active experts only.</summary>
    [Fact]
    public void InactiveExpertsCostNothing()
    {
        var baseModel = new TransformerDescription { DModel = 32, Layers = 2, Heads = 4, SequenceLength = 16, Vocabulary = 100 };
        var few = TransformerFlops.Forward(baseModel with { FeedForward = FeedForwardDescription.Moe(8, 2, 32, countRouter: false) });
        var many = TransformerFlops.Forward(baseModel with { FeedForward = FeedForwardDescription.Moe(64, 2, 32, countRouter: false) });
        Assert.Equal(few.NonEmbeddingForward, many.NonEmbeddingForward);
        var dense = TransformerFlops.Forward(baseModel with { FeedForward = FeedForwardDescription.Dense(64) });
        Assert.Equal(dense.NonEmbeddingForward, few.NonEmbeddingForward);
    }

    [Fact]
    public void BadDescriptionsAreRefused()
    {
        var m = new TransformerDescription { DModel = 30, Layers = 1, Heads = 4, SequenceLength = 8, Vocabulary = 5 };
        Assert.Contains("Heads", Assert.Throws<ArgumentException>(() => TransformerFlops.Forward(m)).Message);
        var moe = m with { DModel = 32, FeedForward = FeedForwardDescription.Moe(4, 5, 8) };
        Assert.Contains("ActiveExperts", Assert.Throws<ArgumentException>(() => TransformerFlops.Forward(moe)).Message);
    }
}
