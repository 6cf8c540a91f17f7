using MoeLab.Models.Accounting;

namespace MoeLab.Models.Transformer;

/// <summary>Parameters and forward FLOPs per token of a <see cref="DecoderLanguageModel"/>, by part.</summary>
/// <param name="Embedding">token table (V·d; plus T_max·d learned positions). Lookups cost no FLOPs; one
/// row per token is active when the head is untied (tied: the row is one of the head's, counted there).</param>
/// <param name="Blocks">each block: norms, attention projections, attention scores/values, feed-forward slot.</param>
/// <param name="FinalNorm">the last RMS norm (d gains, no FLOPs counted).</param>
/// <param name="Head">logits: 2·d·V FLOPs, V·d active parameters; its own V·d parameters only when untied.</param>
public sealed record DecoderCost(ModelCost Embedding, IReadOnlyList<ModelCost> Blocks, ModelCost FinalNorm, ModelCost Head)
{
    /// <summary>The whole model.</summary>
    public ModelCost Total => Embedding + ModelCost.Sum(Blocks) + FinalNorm + Head;

    /// <summary>Everything but the embedding table(s): blocks, final norm and the logits (the
    /// "non-embedding FLOPs per token" of scaling-law work include the logits; with untied
    /// embeddings the head's V·d parameters are counted here too).</summary>
    public ModelCost NonEmbedding => ModelCost.Sum(Blocks) + FinalNorm + Head;
}
