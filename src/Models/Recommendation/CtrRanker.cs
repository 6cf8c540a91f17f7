using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Recommendation;

/// <summary>Which click-through-rate ranker <see cref="CtrRanker"/> builds. All see the same features:
/// user fields x, the target item e and the behaviour sequence b_1..b_T.</summary>
public enum CtrArchitecture
{
    /// <summary>One MLP on [x, e, mean_t b_t].</summary>
    DnnMeanPooling,

    /// <summary>DIN: one MLP on [x, e, Σ_t a_t b_t] with the activation unit's weights a_t.</summary>
    Din,

    /// <summary>Soft MoE; experts see [x, e, Σ_t a_t b_t]; the gate sees the non-sequence features [x, e] only.</summary>
    MoeFeatureGate,

    /// <summary>Soft MoE; experts as above; the gate sees [x, e, mean_t b_t].</summary>
    MoeMeanPoolGate,

    /// <summary>AW-MoE (our reconstruction): experts as above; one gate per behaviour g_t = softmax(W [b_t ; x]),
    /// combined by the activation unit's weights, w = Σ_t a_t g_t.</summary>
    AttentionWeightedMoe,
}

/// <summary>Sizes of a <see cref="CtrRanker"/>.</summary>
public sealed record CtrRankerOptions
{
    /// <summary>Cardinality of each user (non-sequence) field.</summary>
    public required long[] UserFields { get; init; }

    /// <summary>Cardinality of each item field (the same fields describe the target item and every behaviour).</summary>
    public required long[] ItemFields { get; init; }

    public int EmbeddingDim { get; init; } = 8;
    public int AttentionHidden { get; init; } = 32;
    public CtrArchitecture Architecture { get; init; } = CtrArchitecture.AttentionWeightedMoe;

    /// <summary>Number of experts K (MoE architectures).</summary>
    public int Experts { get; init; } = 4;

    /// <summary>Hidden width of each expert's MLP (one hidden layer), or of the single MLP of DNN and DIN.</summary>
    public int Hidden { get; init; } = 32;
}

/// <summary>Inputs of one batch. userFields [B, Fu] int64; targetItem [B, Fi] int64; history [B, T, Fi]
/// int64 (padded positions may hold any valid ids); historyMask [B, T] bool (true = real behaviour).</summary>
public sealed record CtrInputs(Tensor UserFields, Tensor TargetItem, Tensor History, Tensor HistoryMask);

/// <summary>Logits [B]; Gate [B, K] for MoE architectures (null otherwise); Attention [B, T] when an
/// activation unit is used (null otherwise).</summary>
public sealed record CtrOutput(Tensor Logits, Tensor? Gate, Tensor? Attention);

/// <summary>The rankers of the AW-MoE comparison in one class, so that every arm shares embeddings,
/// activation unit and expert design and differs only where the architecture says
/// (see <see cref="CtrArchitecture"/>). A soft MoE's prediction is ŷ = σ(Σ_k w_k · E_k(h)) with
/// h = [x, e, Σ_t a_t b_t] and E_k an MLP with one hidden ReLU layer.</summary>
public sealed class CtrRanker : nn.Module<CtrInputs, CtrOutput>
{
    private readonly SparseEmbeddingSet userEmbeddings, itemEmbeddings;
    private readonly ActivationUnit? activation;
    private readonly GateUnit? gate;
    private readonly ModuleList<Sequential> experts = new();

    public CtrRankerOptions Options { get; }
    public bool IsMixture => Options.Architecture is not (CtrArchitecture.DnnMeanPooling or CtrArchitecture.Din);
    public int UserSize => userEmbeddings.OutputSize;
    public int ItemSize => itemEmbeddings.OutputSize;

    public CtrRanker(CtrRankerOptions options, Device? device = null) : base("ctr_ranker")
    {
        if (options.Experts < 1 || options.Hidden < 1)
            throw new ArgumentException($"CtrRanker: experts ({options.Experts}) and hidden ({options.Hidden}) must be ≥ 1.");
        Options = options;
        userEmbeddings = new SparseEmbeddingSet(options.UserFields, options.EmbeddingDim, device);
        itemEmbeddings = new SparseEmbeddingSet(options.ItemFields, options.EmbeddingDim, device);
        int u = userEmbeddings.OutputSize, i = itemEmbeddings.OutputSize;
        if (options.Architecture != CtrArchitecture.DnnMeanPooling)
            activation = new ActivationUnit(i, options.AttentionHidden, device);
        int expertInput = u + 2 * i;
        gate = options.Architecture switch
        {
            CtrArchitecture.MoeFeatureGate => new GateUnit(u + i, options.Experts, device),
            CtrArchitecture.MoeMeanPoolGate => new GateUnit(u + 2 * i, options.Experts, device),
            CtrArchitecture.AttentionWeightedMoe => new GateUnit(i + u, options.Experts, device),
            _ => null,
        };
        int count = IsMixture ? options.Experts : 1;
        for (int k = 0; k < count; k++)
            experts.Add(nn.Sequential(nn.Linear(expertInput, options.Hidden, device: device), nn.ReLU(), nn.Linear(options.Hidden, 1, device: device)));
        RegisterComponents();
    }

    /// <summary>Number of trainable parameters.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>Re-draws every parameter from <paramref name="generator"/> (TorchSharp 0.107's init
    /// functions ignore a generator): embeddings N(0, 0.05²), linear weights and biases
    /// U(−1/√fan_in, 1/√fan_in) as PyTorch's default.</summary>
    public void Initialize(Generator generator)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var named = named_parameters().ToList();
        foreach (var (name, p) in named)
        {
            if (name.Contains("tables", StringComparison.Ordinal))
            {
                p.copy_(randn(p.shape, generator: generator) * 0.05);
                continue;
            }
            long fanIn = name.EndsWith("bias", StringComparison.Ordinal)
                ? named.First(q => q.name == name[..^4] + "weight").parameter.shape[1]
                : p.shape[1];
            double bound = 1.0 / Math.Sqrt(fanIn);
            p.copy_(rand(p.shape, generator: generator) * (2 * bound) - bound);
        }
    }

    /// <summary>The embedded inputs: x [B, Du], e [B, Di], behaviours [B, T, Di].</summary>
    public (Tensor User, Tensor Target, Tensor Behaviours) Embed(CtrInputs inputs) =>
        (userEmbeddings.forward(inputs.UserFields), itemEmbeddings.forward(inputs.TargetItem), itemEmbeddings.forward(inputs.History));

    /// <summary>The gate vector w [B, K] computed from the behaviours kept by <paramref name="mask"/>
    /// (null for DNN and DIN). Used for the contrastive views and for gate-similarity measurements.</summary>
    public Tensor? GateVector(Tensor user, Tensor target, Tensor behaviours, Tensor mask) =>
        GateAndAttention(user, target, behaviours, mask).Gate;

    private (Tensor? Gate, Tensor? Attention) GateAndAttention(Tensor user, Tensor target, Tensor behaviours, Tensor mask)
    {
        var a = activation?.forward(behaviours, target, mask);                          // [B, T]
        Tensor? w = Options.Architecture switch
        {
            CtrArchitecture.MoeFeatureGate => gate!.forward(cat([user, target], -1)),   // [B, K]
            CtrArchitecture.MoeMeanPoolGate => gate!.forward(cat([user, target, ActivationUnit.MeanPool(behaviours, mask)], -1)),
            CtrArchitecture.AttentionWeightedMoe => GateUnit.AttentionWeighted(a!,
                gate!.forward(cat([behaviours, user.unsqueeze(1).expand(-1, behaviours.shape[1], -1)], -1))), // g: [B, T, K]
            _ => null,
        };
        return (w, a);
    }

    public override CtrOutput forward(CtrInputs inputs)
    {
        var (x, e, b) = Embed(inputs);
        return Forward(x, e, b, inputs.HistoryMask);
    }

    /// <summary>The forward pass on already embedded inputs (lets a caller reuse the embeddings for extra gate views).</summary>
    public CtrOutput Forward(Tensor user, Tensor target, Tensor behaviours, Tensor mask)
    {
        var (w, a) = GateAndAttention(user, target, behaviours, mask);
        var pooled = a is null ? ActivationUnit.MeanPool(behaviours, mask) : ActivationUnit.Pool(a, behaviours); // [B, Di]
        var h = cat([user, target, pooled], -1);                                        // [B, Du + 2 Di]
        if (w is null) return new CtrOutput(experts[0].forward(h).squeeze(-1), null, a); // [B]
        var outs = cat(experts.Select(m => m.forward(h)).ToArray(), -1);                // [B, K]
        return new CtrOutput((w * outs).sum(-1), w, a);                                 // [B]
    }

    /// <summary>The hidden width of the single MLP of DNN/DIN whose total parameter count is closest to
    /// <paramref name="target"/> (e.g. the AW-MoE's), given the other sizes of <paramref name="options"/>.</summary>
    public static int MatchHidden(CtrRankerOptions options, long target)
    {
        // The count is linear in Hidden for every architecture: P(h) = P(1) + (h − 1)·slope.
        long p1 = Count(options with { Hidden = 1 }), slope = Count(options with { Hidden = 2 }) - p1;
        return (int)Math.Max(1, Math.Round(1 + (double)(target - p1) / slope));
    }

    /// <summary>Parameter count of a ranker with these options, computed without building it.</summary>
    public static long Count(CtrRankerOptions o)
    {
        long d = o.EmbeddingDim, u = o.UserFields.Length * d, i = o.ItemFields.Length * d;
        long embeddings = (o.UserFields.Sum() + o.ItemFields.Sum()) * d;
        long attention = o.Architecture == CtrArchitecture.DnnMeanPooling ? 0 : 4 * i * o.AttentionHidden + o.AttentionHidden + o.AttentionHidden;
        long gateIn = o.Architecture switch
        {
            CtrArchitecture.MoeFeatureGate => u + i,
            CtrArchitecture.MoeMeanPoolGate => u + 2 * i,
            CtrArchitecture.AttentionWeightedMoe => i + u,
            _ => 0,
        };
        long gate = gateIn == 0 ? 0 : gateIn * o.Experts + o.Experts;
        long expertInput = u + 2 * i;
        long expert = expertInput * o.Hidden + o.Hidden + o.Hidden + 1;
        long count = o.Architecture is CtrArchitecture.DnnMeanPooling or CtrArchitecture.Din ? 1 : o.Experts;
        return embeddings + attention + gate + count * expert;
    }
}
