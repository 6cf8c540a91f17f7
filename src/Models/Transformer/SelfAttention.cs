using MoeLab.Models.Accounting;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Transformer;

/// <summary>Multi-head self-attention (Vaswani et al. 2017) with optional grouped-query attention and
/// rotary position embeddings, causal by default:
/// Q = x W_q, K = x W_k, V = x W_v (no biases), per head softmax(Q_h K_gᵀ / √d_h + mask) V_g with
/// g = h / (H / H_kv) the key/value head of query head h, heads concatenated, then W_o.
/// RoPE rotates Q and K before the scores. The scores use torch's
/// <c>scaled_dot_product_attention</c> (no dropout); the causal mask is its <c>is_causal</c>.
/// Parameters are created in the order W_q, W_k, W_v, W_o (nn.Linear's default initialisation).</summary>
public sealed class SelfAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear query;   // W_q: [H·d_h, d]
    private readonly Linear key;     // W_k: [H_kv·d_h, d]
    private readonly Linear value;   // W_v: [H_kv·d_h, d]
    private readonly Linear output;  // W_o: [d, H·d_h]

    public SelfAttentionOptions Options { get; }
    public RotaryEmbedding? Rotary { get; }

    public SelfAttention(SelfAttentionOptions options, Device? device = null) : base(nameof(SelfAttention))
    {
        options.Validate();
        Options = options;
        int d = options.DModel, dh = options.HeadDim;
        query = nn.Linear(d, options.Heads * dh, hasBias: options.ProjectionBias, device: device);
        key = nn.Linear(d, options.EffectiveKeyValueHeads * dh, hasBias: options.ProjectionBias, device: device);
        value = nn.Linear(d, options.EffectiveKeyValueHeads * dh, hasBias: options.ProjectionBias, device: device);
        output = nn.Linear(options.Heads * dh, d, hasBias: false, device: device);
        if (options.Rotary) Rotary = new RotaryEmbedding(dh, options.RotaryBase);
        RegisterComponents();
    }

    /// <summary>W_q [H·d_h, d] (nn.Linear layout: y = x Wᵀ).</summary>
    public Tensor QueryWeight => query.weight!;
    /// <summary>W_k [H_kv·d_h, d].</summary>
    public Tensor KeyWeight => key.weight!;
    /// <summary>W_v [H_kv·d_h, d].</summary>
    public Tensor ValueWeight => value.weight!;
    /// <summary>W_o [d, H·d_h].</summary>
    public Tensor OutputWeight => output.weight!;

    /// <summary>x [batch, tokens, d] → [batch, tokens, d].</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 3 || x.shape[2] != Options.DModel)
            throw new ArgumentException($"SelfAttention: expected input [batch, tokens, {Options.DModel}], got [{string.Join(", ", x.shape)}].");
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int h = Options.Heads, kv = Options.EffectiveKeyValueHeads, dh = Options.HeadDim;
        var q = query.forward(x).view(b, t, h, dh).transpose(1, 2);          // [B, H, T, d_h]
        var k = key.forward(x).view(b, t, kv, dh).transpose(1, 2);           // [B, H_kv, T, d_h]
        var v = value.forward(x).view(b, t, kv, dh).transpose(1, 2);         // [B, H_kv, T, d_h]
        if (Rotary is not null)
        {
            q = Rotary.Rotate(q);                                            // [B, H, T, d_h]
            k = Rotary.Rotate(k);                                            // [B, H_kv, T, d_h]
        }
        if (kv != h)
        {
            k = k.repeat_interleave(h / kv, dim: 1);                         // [B, H, T, d_h] head h → K_{h / (H/H_kv)}
            v = v.repeat_interleave(h / kv, dim: 1);                         // [B, H, T, d_h]
        }
        var attended = nn.functional.scaled_dot_product_attention(q, k, v,
            p: training ? Options.Dropout : 0, is_casual: Options.Causal); // [B, H, T, d_h]
        var merged = attended.transpose(1, 2).reshape(b, t, h * dh);         // [B, T, H·d_h]
        return output.forward(merged).MoveToOuterDisposeScope();             // [B, T, d]
    }

    /// <summary>Parameters and forward FLOPs per token of the four projections (all active):
    /// d·H·d_h (Q) + 2·d·H_kv·d_h (K, V) + H·d_h·d (O) parameters, 2 FLOPs per weight.</summary>
    public ModelCost ProjectionCost()
    {
        int d = Options.DModel, dh = Options.HeadDim;
        var keyOrValue = CostModel.Linear(d, Options.EffectiveKeyValueHeads * dh);
        return CostModel.Linear(d, Options.Heads * dh) + keyOrValue + keyOrValue + CostModel.Linear(Options.Heads * dh, d);
    }

    /// <summary>FLOPs per token of the scores QKᵀ and the weighted sum of values for sequences of
    /// <paramref name="sequenceLength"/> tokens (no parameters): 4·H·d_h·T for
    /// <see cref="AttentionFlopsConvention.AllPositions"/>, 4·H·d_h·(T + 1)/2 for
    /// <see cref="AttentionFlopsConvention.CausalPositions"/>. Grouped-query attention shares keys and
    /// values, not score computations, so H (not H_kv) counts.</summary>
    public ModelCost ScoreCost(long sequenceLength, AttentionFlopsConvention convention = AttentionFlopsConvention.AllPositions)
    {
        if (sequenceLength <= 0) throw new ArgumentException($"SelfAttention.ScoreCost: sequence length {sequenceLength} must be positive.");
        double keys = convention == AttentionFlopsConvention.AllPositions ? sequenceLength : (sequenceLength + 1) / 2.0;
        return new ModelCost(0, 0, 4.0 * Options.Heads * Options.HeadDim * keys);
    }
}
