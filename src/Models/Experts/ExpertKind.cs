namespace MoeLab.Models.Experts;

/// <summary>Shape of one feed-forward expert.</summary>
public enum ExpertKind
{
    /// <summary>y = W₂ · GELU(W₁ x) (Switch / GShard / Seg-MoE experts; the classic Transformer FFN).</summary>
    Gelu,

    /// <summary>y = W₂ · (SiLU(W_g x) ⊙ W_u x) (Shazeer 2020; DeepSeekMoE, Chain-of-Experts, top-p MoE experts).</summary>
    SwiGlu,
}

/// <summary>Size of one feed-forward network (an expert or a dense FFN).</summary>
/// <param name="DIn">input width d.</param>
/// <param name="DHidden">hidden width d_ff (for SwiGLU: width of each of the gate and up projections).</param>
/// <param name="DOut">output width (usually d).</param>
/// <param name="Kind">GELU FFN or SwiGLU.</param>
/// <param name="Bias">biases on both projections (Seg-MoE and CoE use none).</param>
/// <param name="Dropout">dropout probability on the hidden activations (after the activation, before
/// the second projection), applied in training mode only; 0 = none (the lab's default). Seg-MoE's
/// official experts and shared expert use 0.2. Drawn from torch's global generator, which the
/// trainer's checkpoints hold, so a resumed run stays bit-identical.</param>
public sealed record FeedForwardShape(int DIn, int DHidden, int DOut, ExpertKind Kind = ExpertKind.Gelu, bool Bias = false, double Dropout = 0)
{
    /// <summary>Columns of the first (stacked) projection: d_ff for GELU, 2·d_ff for SwiGLU (gate ‖ up).</summary>
    public int FirstProjectionWidth => Kind == ExpertKind.SwiGlu ? 2 * DHidden : DHidden;

    /// <summary>Parameters of one such network (weights and biases).</summary>
    public long Parameters =>
        (long)DIn * FirstProjectionWidth + (long)DHidden * DOut + (Bias ? FirstProjectionWidth + DOut : 0);

    /// <summary>Multiply–accumulates per token of one forward pass (weights only; elementwise work ignored).</summary>
    public long MacsPerToken => (long)DIn * FirstProjectionWidth + (long)DHidden * DOut;

    public void Validate()
    {
        if (DIn <= 0 || DHidden <= 0 || DOut <= 0)
            throw new ArgumentException($"FeedForwardShape: DIn, DHidden and DOut must be positive, got {DIn}, {DHidden}, {DOut}.");
        if (!(Dropout >= 0 && Dropout < 1))
            throw new ArgumentException($"FeedForwardShape: Dropout = {Dropout}: expected a probability in [0, 1).");
    }

    /// <summary>Fine-grained expert segmentation (DeepSeekMoE, Dai et al. 2024, §3.1): each expert is
    /// split into <paramref name="m"/> experts of 1/m the hidden width, so N experts become m·N;
    /// keep total and active parameters by also multiplying top-k by m.</summary>
    public FeedForwardShape Segmented(int m)
    {
        if (m <= 0 || DHidden % m != 0)
            throw new ArgumentException($"Fine-grained segmentation: m = {m} must be positive and divide d_ff = {DHidden}.");
        return this with { DHidden = DHidden / m };
    }
}
