using MoeLab.Models.Accounting;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>What a DynaMoE network returns: the prediction, the weighted auxiliary loss of all
/// its MoE layers, and each MoE layer's routing statistics (empty for the dense arm).</summary>
public sealed record NetworkOutput(Tensor Output, Tensor AuxiliaryLoss, IReadOnlyList<RoutingStatistics> Routing);

/// <summary>The feed-forward layers of one arm: L pre-norm residual blocks
/// h ← h + F_l(LayerNorm(h)), where F_l is a dense GELU FFN (k·d_ff hidden units) or an MoE layer
/// with N_l GELU experts of d_ff hidden units and the arm's router. Pre-norm residual blocks are
/// our choice: the paper says only "MLP-style" networks (papers/dynamoe.md).</summary>
public sealed class FeedForwardStack : nn.Module<Tensor, NetworkOutput>
{
    private readonly ModuleList<LayerNorm> norms = new();
    private readonly ModuleList<nn.Module> blocks = new();
    private readonly AuxiliaryLossWeights weights;

    public DynaMoeArm Arm { get; }
    public int Width { get; }
    /// <summary>Parameters of one routed expert (0 for dense).</summary>
    public long ExpertParameters { get; }

    public FeedForwardStack(DynaMoeArm arm, DynaMoeModelConfig model, Device device) : base("ffn_stack")
    {
        Arm = arm;
        Width = model.Width;
        var expertShape = new FeedForwardShape(model.Width, model.ExpertHidden, model.Width, ExpertKind.Gelu, Bias: false);
        ExpertParameters = arm.Kind == ArmKind.Dense ? 0 : expertShape.Parameters;
        weights = arm.Kind switch
        {
            ArmKind.TopK => new AuxiliaryLossWeights(LoadBalancing: model.BalanceWeight),
            ArmKind.TopP => new AuxiliaryLossWeights(LoadBalancing: model.BalanceWeight, Entropy: model.EntropyWeight),
            ArmKind.Percentile => new AuxiliaryLossWeights(LoadBalancing: model.PercentileBalanceWeight),
            _ => new AuxiliaryLossWeights(),
        };
        for (int l = 0; l < model.Layers; l++)
        {
            norms.Add(nn.LayerNorm(model.Width, device: device));
            if (arm.Kind == ArmKind.Dense)
            {
                blocks.Add(new FeedForward($"dense{l}", expertShape with { DHidden = model.TopK * model.ExpertHidden }, device));
                continue;
            }
            var router = arm.Kind switch
            {
                ArmKind.TopK => new RouterOptions { Kind = RouterKind.TopK, K = model.TopK, Renormalize = true },
                ArmKind.TopP => new RouterOptions { Kind = RouterKind.TopP, P = model.TopP },
                ArmKind.Percentile => new RouterOptions
                {
                    Kind = RouterKind.Percentile, Tau = model.Tau, Temperature = model.Temperature,
                    NoiseStd = model.NoiseStd, PercentileMode = arm.PercentileMode ?? PercentileMode.Batch,
                },
                _ => throw new ArgumentException($"arm {arm.Name}: unknown kind {arm.Kind}"),
            };
            blocks.Add(new MoeLayer(new MoeLayerOptions
            {
                DModel = model.Width, DHidden = model.ExpertHidden, Experts = arm.ExpertsPerLayer[l],
                Kind = ExpertKind.Gelu, Router = router,
            }, device));
        }
        RegisterComponents();
    }

    /// <summary>h [..., d] → h' [..., d] with the summed weighted auxiliary loss.</summary>
    public override NetworkOutput forward(Tensor h)
    {
        var stats = new List<RoutingStatistics>();
        Tensor aux = torch.zeros(Array.Empty<long>(), device: h.device);
        for (int l = 0; l < blocks.Count; l++)
        {
            var u = norms[l].forward(h);                                     // [..., d]
            switch (blocks[l])
            {
                case FeedForward dense:
                    h = h.add(dense.forward(u));
                    break;
                case MoeLayer moe:
                    var o = moe.forward(u);
                    h = h.add(o.Output);
                    aux = aux.add(o.Losses.Weighted(weights));
                    stats.Add(o.Statistics);
                    break;
            }
        }
        return new NetworkOutput(h, aux, stats);
    }
}

/// <summary>MLP-style MoE classifier: flattened input → Linear(D_in, d) → L feed-forward blocks
/// (<see cref="FeedForwardStack"/>) → LayerNorm → Linear(d, classes).</summary>
public sealed class DynaMoeClassifier : nn.Module<Tensor, NetworkOutput>
{
    private readonly Linear input;
    private readonly FeedForwardStack stack;
    private readonly LayerNorm final;
    private readonly Linear head;

    public FeedForwardStack Stack => stack;

    public DynaMoeClassifier(int inputFeatures, int classes, DynaMoeArm arm, DynaMoeModelConfig model, Device device)
        : base("dynamoe_classifier")
    {
        input = nn.Linear(inputFeatures, model.Width, device: device);
        stack = new FeedForwardStack(arm, model, device);
        final = nn.LayerNorm(model.Width, device: device);
        head = nn.Linear(model.Width, classes, device: device);
        RegisterComponents();
    }

    /// <summary>x [batch, D_in] → logits [batch, classes].</summary>
    public override NetworkOutput forward(Tensor x)
    {
        var h = input.forward(x);                                            // [batch, d]
        var s = stack.forward(h);                                            // [batch, d]
        var logits = head.forward(final.forward(s.Output));                 // [batch, classes]
        return s with { Output = logits };
    }
}

/// <summary>MLP-only causal language model (no attention, as the paper's LMs). Token mixing is
/// our choice, since the paper does not say how its MLP-only LM sees context: each block first adds
/// h_t ← h_t + W_prev·u_{t−1} + W_mean·mean(u_1..u_t), u = LayerNorm(h) — a fixed causal
/// previous-token shift and prefix mean, each followed by a learned d×d projection — then the
/// arm's feed-forward layer. Token embedding + learned position embedding; the output projection
/// is tied to the token embedding (saves V·d parameters).</summary>
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
    /// <summary>Parameters of one routed expert (0 for dense).</summary>
    public long ExpertParameters => ffns[0].ExpertParameters;
    /// <summary>Token-embedding parameters (tied with the output layer).</summary>
    public long EmbeddingParameters => tokens.weight!.numel();

    public MlpLanguageModel(int vocabulary, int sequenceLength, DynaMoeArm arm, DynaMoeModelConfig model, Device device)
        : base("mlp_language_model")
    {
        SequenceLength = sequenceLength;
        tokens = nn.Embedding(vocabulary, model.Width, device: device);
        // GPT-2 initialisation N(0, 0.02²): with the tied output layer, TorchSharp's default N(0, 1)
        // would start at logits of std ≈ √d and a loss far above ln V.
        using (torch.no_grad()) nn.init.normal_(tokens.weight!, 0, 0.02);
        positions = new Parameter(torch.randn(sequenceLength, model.Width, device: device).mul(0.02));
        var one = model with { Layers = 1 };
        for (int l = 0; l < model.Layers; l++)
        {
            mixNorms.Add(nn.LayerNorm(model.Width, device: device));
            previous.Add(nn.Linear(model.Width, model.Width, hasBias: false, device: device));
            prefixMean.Add(nn.Linear(model.Width, model.Width, hasBias: false, device: device));
            var layerArm = arm with { ExpertsPerLayer = arm.ExpertsPerLayer.Length == 0 ? [] : [arm.ExpertsPerLayer[l]] };
            ffns.Add(new FeedForwardStack(layerArm, one, device));
        }
        final = nn.LayerNorm(model.Width, device: device);
        RegisterComponents();
    }

    /// <summary>ids [batch, T] int64 → next-token logits [batch, T, V].</summary>
    public override NetworkOutput forward(Tensor ids)
    {
        long t = ids.shape[1];
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
