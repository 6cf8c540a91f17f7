using static TorchSharp.torch;

namespace MoeLab.Models.Layers;

/// <summary>Configuration of whatever fills the feed-forward slot of a residual block: a dense FFN
/// (<see cref="DenseFeedForwardOptions"/>), a token-wise MoE (<see cref="MoeLayerOptions"/>),
/// Chain-of-Experts (<see cref="ChainOfExpertsOptions"/>) or Seg-MoE (<see cref="SegmentMoeOptions"/>).
/// Networks (<c>FeedForwardStack</c>, <c>DecoderLanguageModel</c>) take these records and build the
/// modules, so one network class serves every paper's layer.</summary>
public abstract record FeedForwardSlotOptions
{
    /// <summary>Width d of the slot's input and output.</summary>
    public abstract int ModelWidth { get; }

    /// <summary>Builds the module (parameters are drawn from torch's global generator in the order
    /// of the layer's constructor).</summary>
    public abstract IFeedForwardSlot CreateSlot(Device? device = null);

    public abstract void Validate();
}
