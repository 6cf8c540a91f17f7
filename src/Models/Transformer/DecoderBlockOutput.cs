using MoeLab.Models.Layers;
using static TorchSharp.torch;

namespace MoeLab.Models.Transformer;

/// <summary>What a <see cref="DecoderBlock"/> returns: its output and everything its feed-forward slot
/// reported (unweighted auxiliary losses, one routing record and statistics per routed pass).</summary>
/// <param name="Output">[batch, tokens, d].</param>
/// <param name="FeedForward">the slot's output, losses and routed passes.</param>
public sealed record DecoderBlockOutput(Tensor Output, FeedForwardSlotOutput FeedForward);
