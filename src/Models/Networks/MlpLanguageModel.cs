using MoeLab.Models.Accounting;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Networks;

/// <summary>MLP-only causal language model (no attention). Each block first mixes tokens causally,
/// h_t ← h_t + W_prev·u_{t−1} + W_mean·mean(u_1..u_t) with u = LayerNorm(h) — a fixed previous-token
/// shift and prefix mean, each followed by a learned d×d projection — then applies one feed-forward
/// block (<see cref="FeedForwardStack"/> with that layer's slot). Token embedding + learned position
/// embedding; the output projection is tied to the token embedding (saves V·d parameters).
/// The model is causal: its slots are built with <see cref="FeedForwardStackOptions.ForCausalModel"/>
/// (a batch-wide percentile router becomes the per-position one), and slots that mix the tokens of a
/// segment (Seg-MoE with ω &gt; 1) are refused.
/// Parameters are created in the order: embedding, positions, then per layer norm, W_prev, W_mean, slot.</summary>
public sealed class MlpLanguageModel : nn.Module<Tensor, NetworkOutput>
{
    private readonly Embedding tokens;
    private readonly Parameter positions;                  // [T, d]
    private readonly ModuleList<LayerNorm> mixNorms = new();
    private readonly ModuleList<Linear> previous = new();  // W_prev per block
    private readonly ModuleList<Linear> prefixMean = new(); // W_mean per block
    private readonly ModuleList<FeedForwardStack> ffns = new();
    private readonly LayerNorm final;

    public int SequenceLength { get; }
    public IReadOnlyList<FeedForwardStack> FeedForwards => ffns.ToList();
    /// <summary>Token-embedding parameters (tied with the output layer).</summary>
    public long EmbeddingParameters => tokens.weight!.numel();

    /// <param name="vocabulary">V.</param>
    /// <param name="sequenceLength">longest input (size of the position table).</param>
    /// <param name="feedForward">width, one slot per block, auxiliary-loss weights.</param>
    public MlpLanguageModel(int vocabulary, int sequenceLength, FeedForwardStackOptions feedForward, Device? device = null)
        : base("mlp_language_model")
    {
        if (vocabulary <= 0 || sequenceLength <= 0)
            throw new ArgumentException($"MlpLanguageModel: vocabulary ({vocabulary}) and sequence length ({sequenceLength}) must be positive.");
        feedForward = feedForward.ForCausalModel();
        feedForward.Validate();
        for (int l = 0; l < feedForward.Layers.Count; l++)
            if (feedForward.Layers[l].TokenMixingSpan > 1)
                throw new ArgumentException($"MlpLanguageModel: layer {l} computes segments of {feedForward.Layers[l].TokenMixingSpan} tokens jointly, " +
                    "so a token would see later tokens of its segment; a causal language model needs token-wise slots.");
        SequenceLength = sequenceLength;
        int width = feedForward.Width;
        tokens = nn.Embedding(vocabulary, width, device: device);
        // GPT-2 initialisation N(0, 0.02²): with the tied output layer, TorchSharp's default N(0, 1)
        // would start at logits of std ≈ √d and a loss far above ln V.
        using (torch.no_grad()) nn.init.normal_(tokens.weight!, 0, 0.02);
        positions = new Parameter(torch.randn(sequenceLength, width, device: device).mul(0.02));
        for (int l = 0; l < feedForward.Layers.Count; l++)
        {
            mixNorms.Add(nn.LayerNorm(width, device: device));
            previous.Add(nn.Linear(width, width, hasBias: false, device: device));
            prefixMean.Add(nn.Linear(width, width, hasBias: false, device: device));
            ffns.Add(new FeedForwardStack(feedForward with { Layers = new[] { feedForward.Layers[l] } }, device));
        }
        final = nn.LayerNorm(width, device: device);
        RegisterComponents();
    }

    /// <summary>ids [batch, T] int64 → next-token logits [batch, T, V].</summary>
    public override NetworkOutput forward(Tensor ids)
    {
        long t = ids.shape[1];
        if (t > SequenceLength)
            throw new ArgumentException($"MlpLanguageModel: {t} tokens, but the position table holds {SequenceLength}.");
        var h = tokens.forward(ids).add(positions.narrow(0, 0, t));            // [B, T, d]
        var counts = torch.arange(1, t + 1, dtype: h.dtype, device: h.device).reshape(1, t, 1); // [1, T, 1]
        Tensor aux = torch.zeros(Array.Empty<long>(), device: h.device);
        var stats = new List<RoutingStatistics>();
        for (int l = 0; l < ffns.Count; l++)
        {
            var u = mixNorms[l].forward(h);                                      // [B, T, d]
            var shifted = nn.functional.pad(u, [0, 0, 1, 0]).narrow(1, 0, t);   // [B, T, d]  u_{t−1}, zeros at t = 0
            var mean = u.cumsum(1).div(counts);                                  // [B, T, d]  mean(u_1..u_t)
            h = h.add(previous[l].forward(shifted)).add(prefixMean[l].forward(mean));
            var o = ffns[l].forward(h);                                          // [B, T, d]
            h = o.Output;
            aux = aux.add(o.AuxiliaryLoss);
            stats.AddRange(o.Routing);
        }
        var logits = final.forward(h).matmul(tokens.weight!.t());               // [B, T, V]
        return new NetworkOutput(logits, aux, stats);
    }
}
