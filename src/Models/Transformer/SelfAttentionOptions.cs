namespace MoeLab.Models.Transformer;

/// <summary>Configuration of one <see cref="SelfAttention"/> layer (defaults: the small CPU decoder
/// of <see cref="DecoderLanguageModelOptions"/>).</summary>
public sealed record SelfAttentionOptions
{
    /// <summary>Model width d.</summary>
    public int DModel { get; init; } = 128;

    /// <summary>Query heads H; the head width is d_h = d / H.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Key/value heads H_kv (grouped-query attention, Ainslie et al. 2023): each key/value
    /// head serves H / H_kv consecutive query heads. null = H (multi-head attention); 1 = multi-query.</summary>
    public int? KeyValueHeads { get; init; }

    /// <summary>Rotary embeddings on queries and keys (true) or none (positions come from elsewhere,
    /// e.g. learned absolute embeddings added to the input).</summary>
    public bool Rotary { get; init; } = true;

    /// <summary>RoPE frequency base (10,000: RoFormer, LLaMA, Seg-MoE).</summary>
    public double RotaryBase { get; init; } = 10_000;

    /// <summary>Causal mask: position t attends to positions ≤ t (a decoder). false = every position
    /// attends to every position (an encoder, e.g. Seg-MoE's forecasting backbone).</summary>
    public bool Causal { get; init; } = true;

    /// <summary>Biases on the query, key and value projections (the output projection has none).
    /// Seg-MoE's official attention: true. Default false.</summary>
    public bool ProjectionBias { get; init; } = false;

    /// <summary>Dropout on the attention weights, training mode only (torch's global generator).
    /// Seg-MoE: 0.2. Default 0.</summary>
    public double Dropout { get; init; } = 0;

    /// <summary>H_kv actually used.</summary>
    public int EffectiveKeyValueHeads => KeyValueHeads ?? Heads;

    /// <summary>Head width d_h = d / H.</summary>
    public int HeadDim => DModel / Heads;

    public void Validate()
    {
        if (DModel <= 0 || Heads <= 0) throw new ArgumentException($"SelfAttentionOptions: DModel ({DModel}) and Heads ({Heads}) must be positive.");
        if (DModel % Heads != 0) throw new ArgumentException($"SelfAttentionOptions: Heads = {Heads} must divide DModel = {DModel}.");
        int kv = EffectiveKeyValueHeads;
        if (kv <= 0 || Heads % kv != 0) throw new ArgumentException($"SelfAttentionOptions: KeyValueHeads = {kv} must be positive and divide Heads = {Heads}.");
        if (Rotary && HeadDim % 2 != 0) throw new ArgumentException($"SelfAttentionOptions: rotary embeddings need an even head width, d / H = {HeadDim}.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"SelfAttentionOptions: Dropout = {Dropout}: expected a probability in [0, 1).");
        if (!(RotaryBase > 1)) throw new ArgumentException($"SelfAttentionOptions: RotaryBase = {RotaryBase} must be > 1.");
    }
}
