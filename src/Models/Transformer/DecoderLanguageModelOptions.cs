using MoeLab.Models.Layers;

namespace MoeLab.Models.Transformer;

/// <summary>Configuration of a <see cref="DecoderLanguageModel"/> (immutable; defaults are a small
/// model that trains on a 2-core CPU, our choice unless marked).</summary>
public sealed record DecoderLanguageModelOptions
{
    /// <summary>Vocabulary size V (256: byte-level text).</summary>
    public int Vocabulary { get; init; } = 256;

    /// <summary>Model width d (128: the low end of the Chain-of-Experts reproduction's d 128–256).</summary>
    public int DModel { get; init; } = 128;

    /// <summary>Number of decoder blocks L.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Query heads H (d_h = d / H = 32 by default).</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Key/value heads for grouped-query attention; null = H (plain multi-head attention).
    /// Must divide H.</summary>
    public int? KeyValueHeads { get; init; }

    /// <summary>Longest input: the size of the learned position table; rotary models accept no longer
    /// input either, so both encodings behave alike (128 ≈ the sequence length of the CoE spec).</summary>
    public int MaxSequenceLength { get; init; } = 128;

    /// <summary>Rotary (RoPE, LLaMA-style; default) or learned absolute positions (GPT-2).</summary>
    public PositionEncoding Positions { get; init; } = PositionEncoding.Rotary;

    /// <summary>RoPE frequency base (10,000: RoFormer, LLaMA).</summary>
    public double RotaryBase { get; init; } = 10_000;

    /// <summary>Output projection = the token embedding transposed (GPT-2; saves V·d parameters), or a
    /// separate bias-free Linear(d, V).</summary>
    public bool TieEmbeddings { get; init; } = true;

    /// <summary>ε of every RMS norm (1e-6 as LLaMA).</summary>
    public double NormEpsilon { get; init; } = 1e-6;

    /// <summary>What fills every block's feed-forward slot (dense FFN, <see cref="MoeLayerOptions"/>,
    /// <see cref="ChainOfExpertsOptions"/>, <see cref="SegmentMoeOptions"/>); null = a dense GELU FFN
    /// of d_ff = 4·d (the classic Transformer ratio). The model builds it with
    /// <see cref="FeedForwardSlotOptions.ForCausalModel"/>.</summary>
    public FeedForwardSlotOptions? FeedForward { get; init; }

    /// <summary>One slot per block, bottom to top, overriding <see cref="FeedForward"/> (e.g. dense first
    /// layers, or Seg-MoE's per-layer ω); null = <see cref="FeedForward"/> everywhere.</summary>
    public IReadOnlyList<FeedForwardSlotOptions>? FeedForwardPerLayer { get; init; }

    /// <summary>Accept slots that compute a segment of tokens jointly (Seg-MoE with ω &gt; 1). Such a
    /// slot lets a token see the later tokens of its own segment, so next-token training could read
    /// the answer; the model is then causal only between segments, which suits models that predict
    /// segment by segment. false (default) refuses them.</summary>
    public bool AllowMixingWithinSegments { get; init; } = false;

    /// <summary>The slot of block <paramref name="layer"/> as configured (before <see cref="FeedForwardSlotOptions.ForCausalModel"/>).</summary>
    public FeedForwardSlotOptions FeedForwardOf(int layer) =>
        FeedForwardPerLayer?[layer] ?? FeedForward ?? new DenseFeedForwardOptions { DModel = DModel, DHidden = 4 * DModel };

    /// <summary>The attention layer of every block (always causal).</summary>
    public SelfAttentionOptions Attention => new()
    {
        DModel = DModel, Heads = Heads, KeyValueHeads = KeyValueHeads,
        Rotary = Positions == PositionEncoding.Rotary, RotaryBase = RotaryBase, Causal = true,
    };

    public void Validate()
    {
        if (Vocabulary <= 0) throw new ArgumentException($"DecoderLanguageModelOptions.Vocabulary = {Vocabulary}: expected > 0.");
        if (Layers < 1) throw new ArgumentException($"DecoderLanguageModelOptions.Layers = {Layers}: expected ≥ 1.");
        if (MaxSequenceLength <= 0) throw new ArgumentException($"DecoderLanguageModelOptions.MaxSequenceLength = {MaxSequenceLength}: expected > 0.");
        if (!(NormEpsilon > 0)) throw new ArgumentException($"DecoderLanguageModelOptions.NormEpsilon = {NormEpsilon}: expected > 0.");
        Attention.Validate();
        if (FeedForwardPerLayer is not null && FeedForwardPerLayer.Count != Layers)
            throw new ArgumentException($"DecoderLanguageModelOptions.FeedForwardPerLayer has {FeedForwardPerLayer.Count} entries for {Layers} layers.");
        for (int l = 0; l < Layers; l++)
        {
            var slot = FeedForwardOf(l).ForCausalModel();
            slot.Validate();
            if (slot.ModelWidth != DModel)
                throw new ArgumentException($"DecoderLanguageModelOptions: the feed-forward slot of layer {l} has width {slot.ModelWidth}, the model {DModel}.");
            if (slot.TokenMixingSpan > 1 && !AllowMixingWithinSegments)
                throw new ArgumentException($"DecoderLanguageModelOptions: the feed-forward slot of layer {l} computes segments of {slot.TokenMixingSpan} tokens " +
                    "jointly (segment routing / segment shared expert), so a token would see the later tokens of its segment and a next-token " +
                    "model could read its target. Use ω = 1, or set AllowMixingWithinSegments for a model that is causal between segments only.");
        }
    }
}
