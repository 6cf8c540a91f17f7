namespace MoeLab.Metrics.ScalingLaws;

/// <summary>The feed-forward part of every block of a decoder: a dense FFN, or an MoE layer with routed
/// and shared experts.</summary>
public sealed record FeedForwardDescription
{
    /// <summary>Dense FFN hidden width d_ff (ignored for an MoE).</summary>
    public int DenseHidden { get; init; }

    /// <summary>Routed experts E; 0 = dense.</summary>
    public int Experts { get; init; }

    /// <summary>Routed experts chosen per token E_a.</summary>
    public int ActiveExperts { get; init; }

    /// <summary>Always-on shared experts E_s.</summary>
    public int SharedExperts { get; init; }

    /// <summary>Hidden width of one routed expert d_expert.</summary>
    public int ExpertHidden { get; init; }

    /// <summary>Hidden width of one shared expert; null = d_expert.</summary>
    public int? SharedHidden { get; init; }

    /// <summary>Gated FFN (SwiGLU: gate, up, down = 3 matrices, 6·d·d_ff FLOPs per token, the paper's
    /// count) or plain (GELU: 2 matrices, 4·d·d_ff).</summary>
    public bool Gated { get; init; }

    /// <summary>Count the router's d·E logits (2·d·E FLOPs per token). The paper's formula leaves them out;
    /// our decoder's own accounting counts them.</summary>
    public bool CountRouter { get; init; } = true;

    public bool IsMoe => Experts > 0;

    public static FeedForwardDescription Dense(int hidden, bool gated = false) => new() { DenseHidden = hidden, Gated = gated };

    public static FeedForwardDescription Moe(int experts, int active, int expertHidden, int shared = 0, bool gated = false, bool countRouter = true) =>
        new() { Experts = experts, ActiveExperts = active, ExpertHidden = expertHidden, SharedExperts = shared, Gated = gated, CountRouter = countRouter };

    public void Validate()
    {
        if (IsMoe)
        {
            if (ActiveExperts < 1 || ActiveExperts > Experts)
                throw new ArgumentException($"FeedForwardDescription.ActiveExperts = {ActiveExperts}: expected 1..Experts = {Experts}.");
            if (ExpertHidden < 1) throw new ArgumentException($"FeedForwardDescription.ExpertHidden = {ExpertHidden}: expected ≥ 1.");
            if (SharedExperts < 0) throw new ArgumentException($"FeedForwardDescription.SharedExperts = {SharedExperts}: expected ≥ 0.");
            if (SharedHidden is < 1) throw new ArgumentException($"FeedForwardDescription.SharedHidden = {SharedHidden}: expected ≥ 1 or null.");
        }
        else if (DenseHidden < 1)
            throw new ArgumentException($"FeedForwardDescription.DenseHidden = {DenseHidden}: expected ≥ 1 for a dense FFN (or set Experts > 0).");
        else if (Experts < 0)
            throw new ArgumentException($"FeedForwardDescription.Experts = {Experts}: expected ≥ 0.");
    }
}

/// <summary>What a decoder-only Transformer is, for counting its compute: width, depth, heads,
/// sequence length, vocabulary and the feed-forward of every block.</summary>
public sealed record TransformerDescription
{
    public int DModel { get; init; }
    public int Layers { get; init; }
    public int Heads { get; init; }

    /// <summary>Key/value heads (grouped-query attention); null = <see cref="Heads"/>.</summary>
    public int? KeyValueHeads { get; init; }

    /// <summary>Training sequence length s.</summary>
    public int SequenceLength { get; init; }

    /// <summary>Vocabulary V (for the logits).</summary>
    public int Vocabulary { get; init; }

    /// <summary>Attention scores over all s positions (4·s·d per token, the paper's 4·s²·d per sequence,
    /// what a dense masked kernel computes) or only those the causal mask keeps (on average (s + 1)/2).</summary>
    public bool CausalScoresOnly { get; init; }

    public FeedForwardDescription FeedForward { get; init; } = FeedForwardDescription.Dense(1);

    public void Validate()
    {
        if (DModel < 1 || Layers < 1 || Heads < 1 || SequenceLength < 1 || Vocabulary < 1)
            throw new ArgumentException($"TransformerDescription: DModel {DModel}, Layers {Layers}, Heads {Heads}, SequenceLength {SequenceLength}, " +
                $"Vocabulary {Vocabulary}: each must be ≥ 1.");
        if (DModel % Heads != 0) throw new ArgumentException($"TransformerDescription: Heads = {Heads} must divide DModel = {DModel}.");
        int kv = KeyValueHeads ?? Heads;
        if (kv < 1 || Heads % kv != 0) throw new ArgumentException($"TransformerDescription: KeyValueHeads = {kv} must divide Heads = {Heads}.");
        FeedForward.Validate();
    }
}

/// <summary>Forward FLOPs per token of a decoder, by part (2 FLOPs per multiply–accumulate of a weight;
/// norms, softmax, activations and the embedding lookup cost nothing). Sums over all layers.</summary>
public sealed record FlopBreakdown(
    double AttentionProjections, double AttentionScores, double DenseFeedForward, double RoutedExperts,
    double SharedExperts, double Router, double Logits)
{
    /// <summary>Non-embedding forward FLOPs per token M (everything above; the embedding lookup is free).</summary>
    public double NonEmbeddingForward => AttentionProjections + AttentionScores + DenseFeedForward + RoutedExperts + SharedExperts + Router + Logits;

    /// <summary>Training FLOPs per token ≈ 3 × forward (the backward pass costs about twice the forward).</summary>
    public double TrainingPerToken => 3 * NonEmbeddingForward;

    /// <summary>Training compute of <paramref name="tokens"/> tokens: C = 3·M·D.</summary>
    public double TrainingCompute(double tokens) => TrainingPerToken * tokens;
}

/// <summary>Counts compute from a model's shape (never from its total parameter count: an MoE's
/// inactive experts cost nothing per token).</summary>
public static class TransformerFlops
{
    /// <summary>Per-token forward FLOPs by part:
    /// attention projections 2·d·(d + 2·d·H_kv/H + d) per layer (Q, K, V, O; grouped-query attention
    /// shrinks K and V); scores and weighted values 4·d·s (all positions) or 4·d·(s + 1)/2 (causal);
    /// dense FFN 2·m·d·d_ff (m = 2 plain, 3 gated); routed experts 2·m·d·E_a·d_expert; shared experts
    /// 2·m·d·E_s·d_shared; router 2·d·E; logits 2·d·V once.</summary>
    public static FlopBreakdown Forward(TransformerDescription m)
    {
        m.Validate();
        double d = m.DModel, layers = m.Layers;
        double kvShare = (double)(m.KeyValueHeads ?? m.Heads) / m.Heads;
        double projections = layers * 2 * d * (d + 2 * d * kvShare + d);
        double keys = m.CausalScoresOnly ? (m.SequenceLength + 1) / 2.0 : m.SequenceLength;
        double scores = layers * 4 * d * keys;
        var f = m.FeedForward;
        double matrices = f.Gated ? 3 : 2;
        double dense = 0, routed = 0, shared = 0, router = 0;
        if (f.IsMoe)
        {
            routed = layers * 2 * matrices * d * f.ActiveExperts * f.ExpertHidden;
            shared = layers * 2 * matrices * d * f.SharedExperts * (f.SharedHidden ?? f.ExpertHidden);
            router = f.CountRouter ? layers * 2 * d * f.Experts : 0;
        }
        else dense = layers * 2 * matrices * d * f.DenseHidden;
        double logits = 2 * d * m.Vocabulary;
        return new FlopBreakdown(projections, scores, dense, routed, shared, router, logits);
    }

    /// <summary>The attention-projection term as printed in the paper, s·d²·(2 + 2/(n_h/n_kv)) per
    /// sequence, i.e. d²·(2 + 2·H_kv/H) per token and layer: half of <see cref="Forward"/>'s count (which
    /// is 2 FLOPs per multiply–accumulate of the 2 + 2·H_kv/H d×d-sized projection matrices). Kept to
    /// document the discrepancy; not used for our compute.</summary>
    public static double PaperPrintedAttentionProjectionsPerToken(int dModel, int heads, int keyValueHeads) =>
        (double)dModel * dModel * (2 + 2.0 / ((double)heads / keyValueHeads));
}
