using MoeLab.Models.Experts;
using static TorchSharp.torch;

namespace MoeLab.Models.Layers;

/// <summary>A dense feed-forward slot: one <see cref="FeedForward"/> d → d_ff → d (the dense baseline
/// of every paper). Defaults: d 256, d_ff 1024 (4·d, the classic Transformer ratio), GELU, no bias.</summary>
public sealed record DenseFeedForwardOptions : FeedForwardSlotOptions
{
    /// <summary>Model width d.</summary>
    public int DModel { get; init; } = 256;

    /// <summary>Hidden width d_ff (for SwiGLU the width of each of the gate and up projections).</summary>
    public int DHidden { get; init; } = 1024;

    /// <summary>GELU FFN or SwiGLU.</summary>
    public ExpertKind Kind { get; init; } = ExpertKind.Gelu;

    /// <summary>Biases on both projections (ours: none, as the MoE experts).</summary>
    public bool Bias { get; init; } = false;

    /// <summary>Dropout on the hidden activations, training mode only (<see cref="FeedForwardShape.Dropout"/>). Default 0.</summary>
    public double Dropout { get; init; } = 0;

    /// <summary>Shape of the FFN.</summary>
    public FeedForwardShape Shape => new(DModel, DHidden, DModel, Kind, Bias, Dropout);

    public override int ModelWidth => DModel;

    public override IFeedForwardSlot CreateSlot(Device? device = null)
    {
        Validate();
        return new FeedForward("dense", Shape, device);
    }

    /// <summary>A dense FFN acts on each token alone: already causal.</summary>
    public override DenseFeedForwardOptions ForCausalModel() => this;

    public override void Validate() => Shape.Validate();
}
