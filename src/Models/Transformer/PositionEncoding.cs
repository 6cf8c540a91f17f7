namespace MoeLab.Models.Transformer;

/// <summary>How a transformer knows where a token is.</summary>
public enum PositionEncoding
{
    /// <summary>Rotary position embeddings (RoPE, Su et al. 2021) on queries and keys in every
    /// attention layer: attention scores depend on relative positions only (<see cref="RotaryEmbedding"/>).</summary>
    Rotary,

    /// <summary>A learned vector per absolute position added to the token embedding (GPT-2); the
    /// longest input is the size of the table.</summary>
    LearnedAbsolute,
}
