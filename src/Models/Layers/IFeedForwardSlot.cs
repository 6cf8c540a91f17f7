using MoeLab.Models.Accounting;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Layers;

/// <summary>A module that can fill the feed-forward slot of a residual block: implemented by
/// <see cref="Experts.FeedForward"/>, <see cref="MoeLayer"/>, <see cref="ChainOfExpertsLayer"/> and
/// <see cref="SegmentMoeLayer"/> (only by modules: <see cref="Module"/> is the object itself).</summary>
public interface IFeedForwardSlot
{
    /// <summary>Width d of the input and output.</summary>
    int ModelWidth { get; }

    /// <summary>How the block combines the slot's output with its input.</summary>
    FeedForwardResidual Residual { get; }

    /// <summary>x [batch, tokens, d] (token-wise slots also take [..., d]) → output of the same shape,
    /// unweighted losses and routing statistics.</summary>
    FeedForwardSlotOutput ForwardSlot(Tensor x);

    /// <summary>Parameters and forward FLOPs per token. <paramref name="activeExperts"/>: the measured
    /// mean experts per token (per iteration for Chain-of-Experts) for routers whose count is
    /// data-dependent; ignored by a dense FFN.</summary>
    ModelCost SlotCost(double? activeExperts = null);

    /// <summary>The module itself (to register it as a submodule).</summary>
    nn.Module Module { get; }
}
