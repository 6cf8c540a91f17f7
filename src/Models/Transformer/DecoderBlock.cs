using MoeLab.Models.Accounting;
using MoeLab.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Transformer;

/// <summary>A pre-norm transformer block: h = x + Attn(RMSNorm(x)), then y = h + F(RMSNorm(h)) where
/// the feed-forward slot F is a dense FFN, an MoE layer, Chain-of-Experts or Seg-MoE
/// (<see cref="IFeedForwardSlot"/>; Chain-of-Experts without the outer residual gives y = F(RMSNorm(h))).
/// Parameters are created in the order attention norm, attention, feed-forward norm, slot.</summary>
public sealed class DecoderBlock : nn.Module<Tensor, DecoderBlockOutput>
{
    private readonly RmsNorm attention_norm;
    private readonly SelfAttention attention;
    private readonly RmsNorm ffn_norm;
    private readonly nn.Module ffn;   // the slot's module (an IFeedForwardSlot)

    public SelfAttention Attention => attention;
    public IFeedForwardSlot FeedForward => (IFeedForwardSlot)ffn;
    public RmsNorm AttentionNorm => attention_norm;
    public RmsNorm FeedForwardNorm => ffn_norm;

    /// <param name="attentionOptions">the attention layer.</param>
    /// <param name="feedForward">what fills the feed-forward slot (its width must be the attention's d).</param>
    /// <param name="normEpsilon">ε of both RMS norms.</param>
    public DecoderBlock(SelfAttentionOptions attentionOptions, FeedForwardSlotOptions feedForward, double normEpsilon = 1e-6, Device? device = null)
        : base(nameof(DecoderBlock))
    {
        attentionOptions.Validate();
        feedForward.Validate();
        if (feedForward.ModelWidth != attentionOptions.DModel)
            throw new ArgumentException($"DecoderBlock: the feed-forward slot has width {feedForward.ModelWidth}, the attention {attentionOptions.DModel}.");
        attention_norm = new RmsNorm("attention_norm", attentionOptions.DModel, normEpsilon, device);
        attention = new SelfAttention(attentionOptions, device);
        ffn_norm = new RmsNorm("ffn_norm", attentionOptions.DModel, normEpsilon, device);
        ffn = feedForward.CreateSlot(device).Module;
        RegisterComponents();
    }

    /// <summary>x [batch, tokens, d] → output [batch, tokens, d] and the slot's losses and routing.</summary>
    public override DecoderBlockOutput forward(Tensor x)
    {
        var h = x.add(attention.forward(attention_norm.forward(x)));        // [B, T, d]
        var f = FeedForward.ForwardSlot(ffn_norm.forward(h));                // [B, T, d]
        var y = FeedForward.Residual == FeedForwardResidual.Add ? h.add(f.Output) : f.Output; // [B, T, d]
        return new DecoderBlockOutput(y, f);
    }

    /// <summary>Parameters and forward FLOPs per token: two norms (d gains each, no FLOPs counted),
    /// the attention projections, the attention scores and values for sequences of
    /// <paramref name="sequenceLength"/>, and the feed-forward slot (<paramref name="activeExperts"/>:
    /// the measured mean experts per token for data-dependent routers).</summary>
    public ModelCost Cost(long sequenceLength, double? activeExperts = null,
        AttentionFlopsConvention convention = AttentionFlopsConvention.AllPositions)
    {
        int d = attention.Options.DModel;
        var norms = new ModelCost(2 * d, 2 * d, 0);
        return norms + attention.ProjectionCost() + attention.ScoreCost(sequenceLength, convention) + FeedForward.SlotCost(activeExperts);
    }
}
