namespace MoeLab.Models.Transformer;

/// <summary>Which query–key pairs the attention FLOPs count (scores QKᵀ and the weighted sum of values,
/// each 2·d_h FLOPs per pair and head; softmax and masking ignored like all element-wise work).</summary>
public enum AttentionFlopsConvention
{
    /// <summary>Every token against all T positions: 4·H·d_h·T per token. What a dense masked kernel
    /// computes, and the convention of Kaplan et al. (2020) and of the efficiency-leverage paper
    /// (4·s²·d per sequence).</summary>
    AllPositions,

    /// <summary>Only the pairs the causal mask keeps: the token at position t (0-based) attends to t + 1
    /// keys, so 4·H·d_h·(T + 1)/2 per token on average over a sequence of T.</summary>
    CausalPositions,
}
