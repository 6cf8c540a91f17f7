using MoeLab.Models.Accounting;
using MoeLab.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Transformer;

/// <summary>A small decoder-only (causal) language model: token embedding (+ learned absolute
/// positions, or RoPE inside attention) → L pre-norm <see cref="DecoderBlock"/>s (causal self-attention,
/// then the configured feed-forward slot: dense, MoE, Chain-of-Experts or Seg-MoE) → RMSNorm → logits
/// (tied to the embedding, or a separate projection).
/// <para>Causal: a position's logits depend on no later token. Attention is masked; every slot is built
/// with <see cref="FeedForwardSlotOptions.ForCausalModel"/> (a batch-wide percentile router becomes the
/// per-position one; capacity dropping is refused); slots that mix the tokens of a segment are refused
/// unless <see cref="DecoderLanguageModelOptions.AllowMixingWithinSegments"/> (then the model is causal
/// between segments only). Bitwise: with the reference dispatch, earlier logits keep their bits when a
/// later token changes; the grouped dispatch multiplies each expert's token block at once and MKL rounds
/// blocks of 1–3 rows differently from larger ones, so there they can move in the last bits when a later
/// token changes the size of an earlier token's block (information still flows forward only).</para>
/// <para>Initialisation (our choice): embedding and learned positions N(0, 0.02²) (GPT-2), linear layers
/// and experts as nn.Linear (U(±1/√fan_in)), norm gains 1. Parameters are created in the order token
/// embedding, positions, blocks bottom to top, final norm, output projection. No dropout.</para></summary>
public sealed class DecoderLanguageModel : nn.Module<Tensor, DecoderLanguageModelOutput>
{
    private readonly Embedding tokens;           // [V, d]
    private readonly Parameter? positions;       // [T_max, d] learned absolute positions
    private readonly ModuleList<DecoderBlock> blocks = new();
    private readonly RmsNorm final_norm;
    private readonly Linear? head;               // [V, d] when untied

    public DecoderLanguageModelOptions Options { get; }
    public IReadOnlyList<DecoderBlock> Blocks => blocks.ToList();

    /// <summary>The token embedding table [V, d] (also the output projection when tied).</summary>
    public Tensor TokenEmbedding => tokens.weight!;

    public DecoderLanguageModel(DecoderLanguageModelOptions options, Device? device = null) : base(nameof(DecoderLanguageModel))
    {
        options.Validate();
        Options = options;
        int d = options.DModel;
        tokens = nn.Embedding(options.Vocabulary, d, device: device);
        using (torch.no_grad()) nn.init.normal_(tokens.weight!, 0, 0.02);
        if (options.Positions == PositionEncoding.LearnedAbsolute)
            positions = new Parameter(torch.randn(options.MaxSequenceLength, d, device: device).mul(0.02));
        for (int l = 0; l < options.Layers; l++)
            blocks.Add(new DecoderBlock(options.Attention, options.FeedForwardOf(l).ForCausalModel(), options.NormEpsilon, device));
        final_norm = new RmsNorm("final_norm", d, options.NormEpsilon, device);
        if (!options.TieEmbeddings) head = nn.Linear(d, options.Vocabulary, hasBias: false, device: device);
        RegisterComponents();
    }

    /// <summary>ids [batch, tokens] int64 (tokens ≤ <see cref="DecoderLanguageModelOptions.MaxSequenceLength"/>)
    /// → next-token logits [batch, tokens, V] and each block's feed-forward report.</summary>
    public override DecoderLanguageModelOutput forward(Tensor ids)
    {
        if (ids.dim() != 2)
            throw new ArgumentException($"DecoderLanguageModel: expected token ids [batch, tokens], got [{string.Join(", ", ids.shape)}].");
        long t = ids.shape[1];
        if (t > Options.MaxSequenceLength)
            throw new ArgumentException($"DecoderLanguageModel: {t} tokens, but MaxSequenceLength is {Options.MaxSequenceLength}.");
        var h = tokens.forward(ids);                                         // [B, T, d]
        if (positions is not null) h = h.add(positions.narrow(0, 0, t));    // [B, T, d]
        var layers = new List<FeedForwardSlotOutput>(blocks.Count);
        foreach (var block in blocks)
        {
            var o = block.forward(h);
            h = o.Output;                                                    // [B, T, d]
            layers.Add(o.FeedForward);
        }
        var normed = final_norm.forward(h);                                  // [B, T, d]
        var logits = head is null ? normed.matmul(tokens.weight!.t()) : head.forward(normed); // [B, T, V]
        return new DecoderLanguageModelOutput(logits, layers);
    }

    /// <summary>Mean next-token cross-entropy: logits [B, T, V] against targets [B, T] (the ids shifted
    /// left by one).</summary>
    public static Tensor NextTokenLoss(Tensor logits, Tensor targets) =>
        nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1));

    /// <summary>Parameters and forward FLOPs per token, by part, for sequences of
    /// <paramref name="sequenceLength"/> tokens. <paramref name="activeExpertsPerLayer"/>: per block the
    /// measured mean experts per token (per iteration for Chain-of-Experts; null entries or list for
    /// top-k routers, whose k is known).</summary>
    public DecoderCost Cost(long sequenceLength, IReadOnlyList<double?>? activeExpertsPerLayer = null,
        AttentionFlopsConvention convention = AttentionFlopsConvention.AllPositions)
    {
        if (activeExpertsPerLayer is not null && activeExpertsPerLayer.Count != blocks.Count)
            throw new ArgumentException($"DecoderLanguageModel.Cost: {activeExpertsPerLayer.Count} expert counts for {blocks.Count} blocks.");
        long v = Options.Vocabulary, d = Options.DModel;
        var table = new ModelCost(v * d, head is null ? 0 : d, 0);
        var learned = positions is null ? ModelCost.Zero : new ModelCost(Options.MaxSequenceLength * d, d, 0);
        var blockCosts = blocks.Select((b, l) => b.Cost(sequenceLength, activeExpertsPerLayer?[l], convention)).ToList();
        var finalNorm = new ModelCost(d, d, 0);
        var logits = new ModelCost(head is null ? 0 : v * d, v * d, 2.0 * v * d);
        return new DecoderCost(table + learned, blockCosts, finalNorm, logits);
    }
}
