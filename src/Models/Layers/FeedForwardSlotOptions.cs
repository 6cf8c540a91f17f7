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

    /// <summary>Number of consecutive tokens whose outputs the slot computes jointly (Seg-MoE's ω when
    /// it routes or runs its shared expert on whole segments; 1 for token-wise slots). Inside a causal
    /// model a slot with a span above 1 is causal only between its segments.</summary>
    public virtual int TokenMixingSpan => 1;

    /// <summary>Builds the module (parameters are drawn from torch's global generator in the order
    /// of the layer's constructor).</summary>
    public abstract IFeedForwardSlot CreateSlot(Device? device = null);

    /// <summary>The same slot configured for a causal sequence model: marked causal (so a router
    /// whose decision mixes positions, or capacity dropping, is refused) and with a batch-wide
    /// percentile router replaced by its causal per-position variant
    /// (<see cref="Routing.PercentileMode.BatchPerPosition"/>).</summary>
    public abstract FeedForwardSlotOptions ForCausalModel();

    public abstract void Validate();
}
