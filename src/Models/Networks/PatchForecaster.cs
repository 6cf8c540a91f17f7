using MoeLab.Models.Layers;
using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using MoeLab.Models.Runtime;
using MoeLab.Models.Transformer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Networks;

/// <summary>Configuration of <see cref="PatchForecaster"/>, the patch-based encoder forecaster of
/// Seg-MoE's official code ("TSFT"). Defaults: the official small config (4 layers, d 128, d_ff 256,
/// 4 query / 2 key-value heads, L = 512, p = 8, dropout 0.2, drop-path 0 → 0.3); the feed-forward
/// slots are supplied per layer.</summary>
public sealed record PatchForecasterOptions
{
    /// <summary>Look-back window L (official: 512). The model outputs L points: the window shifted by f.</summary>
    public int LookBack { get; init; } = 512;

    /// <summary>Patch length p (official: 8, so L/p = 64 tokens per channel).</summary>
    public int PatchLength { get; init; } = 8;

    /// <summary>Model width d.</summary>
    public int DModel { get; init; } = 128;

    /// <summary>Query heads (official small: 4).</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Key/value heads of grouped-query attention (official small: 2).</summary>
    public int KeyValueHeads { get; init; } = 2;

    /// <summary>Dropout after the patch embedding, on the attention weights and before the head's
    /// un-patching (official: 0.2). The experts' own dropout is part of their slot options.</summary>
    public double Dropout { get; init; } = 0.2;

    /// <summary>Largest drop-path (stochastic depth) rate; layer l of n uses DropPath·l/(n−1) (official: 0.3).</summary>
    public double DropPath { get; init; } = 0.3;

    /// <summary>RoPE base θ (official: 1e4).</summary>
    public double RotaryBase { get; init; } = 10_000;

    /// <summary>ε of the instance normalisation (official: 1e-5).</summary>
    public double InstanceNormEpsilon { get; init; } = 1e-5;

    /// <summary>One feed-forward slot per layer (dense FFN, <see cref="MoeLayerOptions"/> or
    /// <see cref="SegmentMoeOptions"/>); the number of layers is its length.</summary>
    public required IReadOnlyList<FeedForwardSlotOptions> FeedForwards { get; init; }

    /// <summary>Tokens per channel, L / p.</summary>
    public int Tokens => LookBack / PatchLength;

    /// <summary>Hidden channels of the un-patching head: d/4 rounded to a multiple of 8 (as the official
    /// <c>round_channels</c>: nearest multiple, at least 8, never more than 10 % below).</summary>
    public int HeadHidden
    {
        get
        {
            double c = DModel / 4;
            int r = Math.Max(8, (int)(c + 4) / 8 * 8);
            if (r < 0.9 * c) r += 8;
            return r;
        }
    }

    /// <summary>Kernel of the head's depthwise convolution (official: min(max(p/2 − 1, 1), 7), made odd downwards).</summary>
    public int HeadDepthwiseKernel
    {
        get
        {
            int k = Math.Min(Math.Max(PatchLength / 2 - 1, 1), 7);
            return k % 2 == 0 ? k - 1 : k;
        }
    }

    public void Validate()
    {
        if (LookBack <= 0 || PatchLength <= 0 || LookBack % PatchLength != 0)
            throw new ArgumentException($"PatchForecasterOptions: LookBack = {LookBack} must be a positive multiple of PatchLength = {PatchLength}.");
        if (DModel % 4 != 0) throw new ArgumentException($"PatchForecasterOptions: DModel = {DModel} must be divisible by 4 (the head narrows to d/4).");
        if (FeedForwards.Count == 0) throw new ArgumentException("PatchForecasterOptions: FeedForwards is empty (one slot per layer expected).");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"PatchForecasterOptions: Dropout = {Dropout}: expected [0, 1).");
        if (!(DropPath >= 0 && DropPath < 1)) throw new ArgumentException($"PatchForecasterOptions: DropPath = {DropPath}: expected [0, 1).");
        for (int l = 0; l < FeedForwards.Count; l++)
        {
            FeedForwards[l].Validate();
            if (FeedForwards[l].ModelWidth != DModel)
                throw new ArgumentException($"PatchForecasterOptions: FeedForwards[{l}] has width {FeedForwards[l].ModelWidth}, the model {DModel}.");
        }
        Attention.Validate();
    }

    /// <summary>The attention of every block: non-causal (an encoder), grouped-query, RoPE, biased
    /// q/k/v projections, dropout on the weights.</summary>
    public SelfAttentionOptions Attention => new()
    {
        DModel = DModel, Heads = Heads, KeyValueHeads = KeyValueHeads, Rotary = true, RotaryBase = RotaryBase,
        Causal = false, ProjectionBias = true, Dropout = Dropout,
    };
}

/// <summary>What <see cref="PatchForecaster"/> returns.</summary>
/// <param name="Prediction">[B, C, L] in the input's units (instance normalisation undone).</param>
/// <param name="Slots">each layer's feed-forward output (losses, routed passes).</param>
public sealed record PatchForecastOutput(Tensor Prediction, IReadOnlyList<FeedForwardSlotOutput> Slots)
{
    /// <summary>The routing units (segments for Seg-MoE, tokens for token MoE) of every routed layer, in order.</summary>
    public IReadOnlyList<RoutingResult> RoutingUnits => Slots.SelectMany(s => s.RoutedPasses).Select(p => p.RoutingUnits).ToList();

    /// <summary>The official code's auxiliary loss before its α: ONE Switch balance loss over the
    /// routing units of all routed layers concatenated (<see cref="AuxiliaryLosses.LoadBalancingAcrossLayers"/>);
    /// a zero scalar for a dense model.</summary>
    public Tensor BalanceLoss(Device device)
    {
        var units = RoutingUnits;
        return units.Count == 0 ? torch.zeros(Array.Empty<long>(), device: device) : AuxiliaryLosses.LoadBalancingAcrossLayers(units);
    }
}

/// <summary>The patch-based encoder forecaster of Seg-MoE's official code (a PatchTST-like Transformer
/// encoder), built as that code builds it:
/// <list type="number">
/// <item>channel independence: x [B, C, L] is treated as B·C univariate series;</item>
/// <item>instance normalisation of each series over its window (mean, std; no affine), undone on the output;</item>
/// <item>patch embedding Conv1d(1 → d, kernel = stride = p, no bias) → GroupNorm(1 group) → dropout: L/p tokens;</item>
/// <item>pre-norm blocks z' = z + DropPath(Attn(RMSNorm(z))), z'' = z' + DropPath(F(RMSNorm(z'))) with
/// grouped-query attention and rotary positions (the positional encoding), F the layer's slot (dense FFN,
/// token-wise MoE or Seg-MoE); drop-path rising linearly 0 → DropPath over the layers; a final RMSNorm;</item>
/// <item>head: Linear(d, d, no bias), dropout, then un-patching ConvTranspose1d(d → d, k = stride = p) → GELU →
/// depthwise Conv1d(k) → GroupNorm(1) → 1×1 Conv(d → d/4) → GELU → 1×1 Conv(d/4 → 1): L output points.</item>
/// </list>
/// Trained to output the look-back window shifted forward by f points; forecasts autoregressively
/// in steps of f (<see cref="Forecast"/>). Initialisation: TorchSharp's defaults (the official code
/// uses Xavier-uniform on its linear and conv weights).</summary>
public sealed class PatchForecaster : nn.Module<Tensor, PatchForecastOutput>
{
    private readonly Conv1d patch_embedding;        // [d, 1, p]
    private readonly GroupNorm embedding_norm;
    private readonly ModuleList<EncoderBlock> blocks;
    private readonly RmsNorm final_norm;
    private readonly Linear head_projection;        // [d, d]
    private readonly ConvTranspose1d unpatch;        // [d, d, p]
    private readonly Conv1d head_depthwise;         // [d, 1, k]
    private readonly GroupNorm head_norm;
    private readonly Conv1d head_narrow;            // [d/4, d, 1]
    private readonly Conv1d head_out;               // [1, d/4, 1]

    public PatchForecasterOptions Options { get; }

    public PatchForecaster(PatchForecasterOptions options, Device? device = null) : base(nameof(PatchForecaster))
    {
        CpuBackends.EnsureDefault(); // ATen's convolutions and GELU, not oneDNN's (see CpuBackends)
        options.Validate();
        Options = options;
        int d = options.DModel, p = options.PatchLength, n = options.FeedForwards.Count, h = options.HeadHidden;
        patch_embedding = nn.Conv1d(1, d, p, stride: p, bias: false, device: device);
        embedding_norm = nn.GroupNorm(1, d, device: device);
        var list = new List<EncoderBlock>();
        for (int l = 0; l < n; l++)
        {
            double dropPath = n == 1 ? 0 : options.DropPath * l / (n - 1);
            list.Add(new EncoderBlock(options.Attention, options.FeedForwards[l], dropPath, device));
        }
        blocks = nn.ModuleList(list.ToArray());
        final_norm = new RmsNorm("final_norm", d, device: device);
        head_projection = nn.Linear(d, d, hasBias: false, device: device);
        unpatch = nn.ConvTranspose1d(d, d, p, stride: p, bias: false, device: device);
        int k = options.HeadDepthwiseKernel;
        head_depthwise = nn.Conv1d(d, d, k, padding: k / 2, groups: d, bias: false, device: device);
        head_norm = nn.GroupNorm(1, d, device: device);
        head_narrow = nn.Conv1d(d, h, 1, bias: false, device: device);
        head_out = nn.Conv1d(h, 1, 1, bias: false, device: device);
        ResetAffine(embedding_norm);
        ResetAffine(head_norm);
        RegisterComponents();
    }

    /// <summary>GroupNorm gain 1, shift 0 (as the official code sets them). Needed: TorchSharp 0.107's
    /// nn.GroupNorm leaves its affine parameters UNINITIALISED (measured: NaN, 1e29 or 0 from one
    /// construction to the next).</summary>
    private static void ResetAffine(GroupNorm norm)
    {
        using var _ = torch.no_grad();
        norm.weight!.fill_(1);
        norm.bias!.zero_();
    }

    /// <summary>The encoder blocks, in order.</summary>
    public IReadOnlyList<EncoderBlock> Blocks => blocks.ToList();

    /// <summary>x [B, C, L] → the model's L outputs per channel (the window shifted by f), with each
    /// layer's losses and routing.</summary>
    public override PatchForecastOutput forward(Tensor x)
    {
        if (x.dim() != 3 || x.shape[2] != Options.LookBack)
            throw new ArgumentException($"PatchForecaster: expected input [batch, channels, {Options.LookBack}], got [{string.Join(", ", x.shape)}].");
        long b = x.shape[0], c = x.shape[1], L = x.shape[2];
        int d = Options.DModel;
        var mean = x.mean(new long[] { 2 }, keepdim: true);                                        // [B, C, 1]
        var std = x.var(2, unbiased: false, keepdim: true).add(Options.InstanceNormEpsilon).sqrt(); // [B, C, 1]
        var normalised = x.sub(mean).div(std).reshape(b * c, 1, L);                                 // [B·C, 1, L]
        var z = embedding_norm.forward(ConvolutionsAsMatmuls.Patches(normalised, patch_embedding.weight!)); // [B·C, d, P]
        z = Drop(z).transpose(1, 2);                                                                // [B·C, P, d]
        var slots = new List<FeedForwardSlotOutput>(blocks.Count);
        foreach (var block in blocks)
        {
            var (y, slot) = block.forward(z);                                                       // [B·C, P, d]
            z = y;
            slots.Add(slot);
        }
        z = head_projection.forward(final_norm.forward(z));                                         // [B·C, P, d]
        // The convolutions of the head, computed as the matmuls they are (ConvolutionsAsMatmuls; same modules and weights).
        var u = nn.functional.gelu(ConvolutionsAsMatmuls.Unpatch(Drop(z), unpatch.weight!));       // [B·C, d, L]
        u = head_norm.forward(ConvolutionsAsMatmuls.Depthwise(u, head_depthwise.weight!));         // [B·C, d, L]
        // The last 1×1 convolution (one output channel) stays a convolution: ATen's is faster there (0.09 vs 0.17 ms).
        u = head_out.forward(nn.functional.gelu(ConvolutionsAsMatmuls.Pointwise(u, head_narrow.weight!))); // [B·C, 1, L]
        var prediction = u.reshape(b, c, L).mul(std).add(mean);                                     // [B, C, L]
        return new PatchForecastOutput(prediction, slots);
    }

    private Tensor Drop(Tensor t) => Options.Dropout > 0 && training ? nn.functional.dropout(t, Options.Dropout, training: true) : t;

    /// <summary>Autoregressive forecast of <paramref name="horizon"/> points in steps of
    /// <paramref name="step"/> (f): each pass keeps the last f outputs, appends them to the window and
    /// drops the oldest f points. history [B, C, L] → [B, C, horizon]. Runs in eval mode without gradients
    /// (restores the previous mode).</summary>
    public Tensor Forecast(Tensor history, int horizon, int step)
    {
        if (step <= 0 || step > Options.LookBack)
            throw new ArgumentException($"PatchForecaster.Forecast: step f = {step} must be in 1..{Options.LookBack}.");
        bool wasTraining = training;
        eval();
        try
        {
            using var _ = torch.no_grad();
            using var scope = NewDisposeScope();
            var window = history;                                                                   // [B, C, L]
            var parts = new List<Tensor>();
            int produced = 0;
            while (produced < horizon)
            {
                var next = forward(window).Prediction.narrow(2, Options.LookBack - step, step);     // [B, C, f]
                parts.Add(next);
                produced += step;
                window = torch.cat(new[] { window.narrow(2, step, Options.LookBack - step), next }, 2); // [B, C, L]
            }
            return torch.cat(parts, 2).narrow(2, 0, horizon).MoveToOuterDisposeScope();             // [B, C, H]
        }
        finally
        {
            if (wasTraining) train();
        }
    }

    /// <summary>Number of parameters (all tensors of the module).</summary>
    public long ParameterCount() => parameters().Sum(p => p.numel());
}

/// <summary>The patch forecaster's convolutions written as the matmuls they are, on the convolution modules' own weights
/// (same parameters, names and checkpoints). Each equals the module's <c>forward</c> to float rounding (tested, with
/// gradients). Why: with oneDNN off (<see cref="CpuBackends"/>), ATen runs a convolution as an im2col + GEMM per sample,
/// and a grouped one per group and sample — thousands of tiny GEMMs per step for Seg-MoE's shapes; here each is one
/// batched matmul (or, for the depthwise kernel, k multiply-adds). Forward + backward at the cpu preset's shapes
/// (96 series, d 32, L 96, p 8, k 3; median of 200, ms, ATen's convolution → this): patch embedding 0.70 → 0.15,
/// un-patching 4.5 → 0.85, depthwise 3.6 → 1.0, 1×1 to d/4 0.92 → 0.60 (oneDNN's kernels: 0.36, 1.05, 0.65, 0.50).</summary>
public static class ConvolutionsAsMatmuls
{
    /// <summary>Conv1d(1 → d, kernel = stride = p, no bias): x [N, 1, L] (L a multiple of p), W [d, 1, p] → [N, d, L/p];
    /// y[n, o, t] = Σ_j W[o, 0, j] x[n, 0, t·p + j], the non-overlapping patches times Wᵀ.</summary>
    public static Tensor Patches(Tensor x, Tensor weight)
    {
        long n = x.shape[0], length = x.shape[2], d = weight.shape[0], p = weight.shape[2];
        return x.reshape(n, length / p, p).matmul(weight.reshape(d, p).t()).transpose(1, 2);     // [N, d, P]
    }

    /// <summary>ConvTranspose1d(d → d_out, kernel = stride = p, no bias, no padding) of the transposed tokens:
    /// tokens [N, P, d], W [d, d_out, p] → [N, d_out, P·p]; y[n, o, t·p + j] = Σ_i tokens[n, t, i] W[i, o, j].</summary>
    public static Tensor Unpatch(Tensor tokens, Tensor weight)
    {
        long n = tokens.shape[0], patches = tokens.shape[1], d = weight.shape[0], dOut = weight.shape[1], p = weight.shape[2];
        return tokens.matmul(weight.reshape(d, dOut * p))                                         // [N, P, d_out·p]
            .reshape(n, patches, dOut, p).permute(0, 2, 1, 3).reshape(n, dOut, patches * p);      // [N, d_out, P·p]
    }

    /// <summary>Depthwise Conv1d(d → d, odd kernel k, padding k/2, groups d, no bias): x [N, d, L], W [d, 1, k] → [N, d, L];
    /// y[n, c, t] = Σ_j W[c, 0, j] x[n, c, t + j − k/2] (zero outside the window), as k shifted multiply-adds (an
    /// unfold into [N, d, L, k] and a sum measured 5× slower).</summary>
    public static Tensor Depthwise(Tensor x, Tensor weight)
    {
        long d = weight.shape[0], k = weight.shape[2], length = x.shape[2];
        var padded = nn.functional.pad(x, new[] { k / 2, k / 2 });                               // [N, d, L + k − 1]
        Tensor Tap(long j) => padded.narrow(2, j, length).mul(weight.narrow(2, j, 1).reshape(1, d, 1)); // [N, d, L]
        var y = Tap(0);
        for (long j = 1; j < k; j++) y = y.add(Tap(j));
        return y;
    }

    /// <summary>1×1 Conv1d(d → h, no bias): x [N, d, L], W [h, d, 1] → [N, h, L] = W x per position (as xᵀ Wᵀ, transposed
    /// back: one GEMM over all N·L positions).</summary>
    public static Tensor Pointwise(Tensor x, Tensor weight) =>
        x.transpose(1, 2).matmul(weight.reshape(weight.shape[0], weight.shape[1]).t()).transpose(1, 2);
}

/// <summary>One pre-norm encoder block of <see cref="PatchForecaster"/>: h = z + DropPath(Attn(RMSNorm(z))),
/// y = h + DropPath(F(RMSNorm(h))). DropPath zeroes a whole sample's residual branch with probability r
/// (and scales survivors by 1/(1−r)) in training mode; torch's global generator.</summary>
public sealed class EncoderBlock : nn.Module<Tensor, (Tensor, FeedForwardSlotOutput)>
{
    private readonly RmsNorm attention_norm;
    private readonly SelfAttention attention;
    private readonly RmsNorm ffn_norm;
    private readonly nn.Module ffn;

    public double DropPathRate { get; }
    public IFeedForwardSlot FeedForward => (IFeedForwardSlot)ffn;

    public EncoderBlock(SelfAttentionOptions attentionOptions, FeedForwardSlotOptions feedForward, double dropPath, Device? device = null)
        : base(nameof(EncoderBlock))
    {
        DropPathRate = dropPath;
        attention_norm = new RmsNorm("attention_norm", attentionOptions.DModel, device: device);
        attention = new SelfAttention(attentionOptions, device);
        ffn_norm = new RmsNorm("ffn_norm", attentionOptions.DModel, device: device);
        ffn = feedForward.CreateSlot(device).Module;
        RegisterComponents();
    }

    public override (Tensor, FeedForwardSlotOutput) forward(Tensor z)
    {
        var h = z.add(DropPath(attention.forward(attention_norm.forward(z))));   // [B, T, d]
        var f = FeedForward.ForwardSlot(ffn_norm.forward(h));                      // [B, T, d]
        return (h.add(DropPath(f.Output)), f);
    }

    private Tensor DropPath(Tensor branch)
    {
        if (!training || DropPathRate <= 0) return branch;
        double keep = 1 - DropPathRate;
        var mask = torch.rand(new[] { branch.shape[0], 1L, 1L }, device: branch.device).lt(keep).to(branch.dtype); // [B, 1, 1]
        return branch.mul(mask).div(keep);
    }
}
