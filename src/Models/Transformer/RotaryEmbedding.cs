using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Transformer;

/// <summary>Rotary position embedding (RoPE, Su et al. 2021, "RoFormer"): the feature pairs of a
/// query or key at position m are rotated by the angles m·θ_i, θ_i = base^(−2i/d_h),
/// i = 0 … d_h/2 − 1, so that ⟨R_m q, R_n k⟩ depends on q, k and n − m only. Pairs are (i, i + d_h/2)
/// (the "rotate half" layout of GPT-NeoX and the Hugging Face LLaMA; the original pairs adjacent
/// features — same family, different permutation of the head features):
/// x' = x ⊙ cos(mθ) + rotate_half(x) ⊙ sin(mθ), rotate_half([x₁, x₂]) = [−x₂, x₁].
/// Angles are computed in float64 and rounded once to the input's type. No parameters.</summary>
public sealed class RotaryEmbedding
{
    public int HeadDim { get; }
    public double Base { get; }

    /// <param name="headDim">d_h, even.</param>
    /// <param name="rotaryBase">the base of the frequencies (10,000 in RoFormer, LLaMA and Seg-MoE).</param>
    public RotaryEmbedding(int headDim, double rotaryBase = 10_000)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"RotaryEmbedding: head dimension {headDim} must be positive and even.");
        if (!(rotaryBase > 1)) throw new ArgumentException($"RotaryEmbedding: base {rotaryBase} must be > 1.");
        HeadDim = headDim;
        Base = rotaryBase;
    }

    /// <summary>Rotates x [..., T, d_h] (the token axis second to last) for positions
    /// <paramref name="firstPosition"/> … <paramref name="firstPosition"/> + T − 1.</summary>
    public Tensor Rotate(Tensor x, long firstPosition = 0)
    {
        if (x.dim() < 2 || x.shape[^1] != HeadDim)
            throw new ArgumentException($"RotaryEmbedding: expected input [..., tokens, {HeadDim}], got [{string.Join(", ", x.shape)}].");
        using var scope = NewDisposeScope();
        long t = x.shape[^2], half = HeadDim / 2;
        var frequencies = torch.arange(half, dtype: float64, device: x.device).mul(-2.0 / HeadDim)
            .mul(Math.Log(Base)).exp();                                                     // [d_h/2] θ_i
        var angles = torch.arange(firstPosition, firstPosition + t, dtype: float64, device: x.device)
            .unsqueeze(1).mul(frequencies.unsqueeze(0));                                    // [T, d_h/2] m·θ_i
        var cos = torch.cat(new[] { angles.cos(), angles.cos() }, 1).to(x.dtype);          // [T, d_h]
        var sin = torch.cat(new[] { angles.sin(), angles.sin() }, 1).to(x.dtype);          // [T, d_h]
        var halves = x.chunk(2, -1);                                                        // x₁, x₂: [..., T, d_h/2]
        var rotatedHalf = torch.cat(new[] { halves[1].neg(), halves[0] }, -1);             // [..., T, d_h]
        return x.mul(cos).add(rotatedHalf.mul(sin)).MoveToOuterDisposeScope();              // [..., T, d_h]
    }
}
