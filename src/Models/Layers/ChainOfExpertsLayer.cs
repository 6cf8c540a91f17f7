using MoeLab.Models.Accounting;
using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Layers;

/// <summary>Configuration of a Chain-of-Experts layer (Wang et al. 2025, arXiv 2506.18945).</summary>
public sealed record ChainOfExpertsOptions : FeedForwardSlotOptions
{
    /// <summary>Experts (one bank shared by all iterations), router rule with K per iteration, shared
    /// experts. CoE: fine-grained SwiGLU experts, raw top-K probabilities (<c>norm_topk_prob = false</c>),
    /// one shared expert, dropless.</summary>
    public MoeLayerOptions Moe { get; init; } = new()
    {
        Kind = ExpertKind.SwiGlu, SharedExperts = 1, Router = new RouterOptions { K = 4, Renormalize = false },
    };

    /// <summary>Iterations C (C = 1 is the MoE baseline through the same residual path).</summary>
    public int Iterations { get; init; } = 2;

    /// <summary>Ablation: one router for all iterations (the paper's "shared router" arm, worse).</summary>
    public bool ShareRouter { get; init; } = false;

    /// <summary>As a block's feed-forward slot: false (the official code's default) makes the block's
    /// output u_C itself; true adds the block input back, h + u_C (the paper's "outer residual" arm).</summary>
    public bool OuterResidual { get; init; } = false;

    public override int ModelWidth => Moe.DModel;

    public override IFeedForwardSlot CreateSlot(Device? device = null) => new ChainOfExpertsLayer(this, device);

    /// <summary>Every iteration's router made causal (<see cref="MoeLayerOptions.ForCausalModel"/>).</summary>
    public override ChainOfExpertsOptions ForCausalModel() => this with { Moe = Moe.ForCausalModel() };

    public override void Validate()
    {
        Moe.Validate();
        if (Iterations < 1) throw new ArgumentException($"ChainOfExpertsOptions.Iterations = {Iterations}: expected ≥ 1.");
        if (Moe.CapacityFactor is double cf)
            throw new ArgumentException($"ChainOfExpertsOptions.Moe.CapacityFactor = {cf}: Chain-of-Experts is dropless (no capacity limit in the " +
                "official code); expected null.");
    }
}

/// <summary>Output of a Chain-of-Experts layer: the final state u_C and, per iteration t, the
/// routed update, its unweighted losses, routing and statistics (so callers can weight the
/// per-router aux loss and measure the overlap of expert sets between iterations).</summary>
public sealed record ChainOfExpertsOutput(Tensor Output, IReadOnlyList<MoeOutput> Iterations)
{
    /// <summary>Each loss summed over iterations (CoE adds α·L_aux for every router of every iteration).</summary>
    public AuxiliaryLossSet Losses => AuxiliaryLossSet.Sum(Iterations.Select(i => i.Losses).ToList());
}

/// <summary>Chain-of-Experts (Wang et al. 2025, arXiv 2506.18945): C iterations over ONE expert bank,
/// each with its own router u_t (no bias, fp32 logits):
/// u_t = u_{t−1} + Σ_{i∈TopK(s_t)} g_{t,i}·FFN_i(u_{t−1}) + Shared(u_{t−1}), s_t = softmax(u_tᵀ u_{t−1}),
/// y = u_C (the official code's default path without an outer residual; the caller applies the
/// pre-norm). Input [..., S, d].</summary>
public sealed class ChainOfExpertsLayer : nn.Module<Tensor, ChainOfExpertsOutput>, IFeedForwardSlot
{
    private readonly ExpertBank experts;
    private readonly ModuleList<Router> routers;
    private readonly FeedForward? shared;

    public ChainOfExpertsOptions Options { get; }
    public ExpertBank Experts => experts;
    public IReadOnlyList<Router> Routers => routers.ToList();

    /// <summary>The router of iteration <paramref name="t"/> (0-based): its own, or the one shared router.</summary>
    public Router RouterOf(int t) => routers[Options.ShareRouter ? 0 : t];
    public FeedForward? Shared => shared;

    public ChainOfExpertsLayer(ChainOfExpertsOptions options, Device? device = null) : base(nameof(ChainOfExpertsLayer))
    {
        options.Validate();
        Options = options;
        var moe = options.Moe;
        experts = new ExpertBank("experts", moe.Experts, moe.ExpertShape, device);
        int routerCount = options.ShareRouter ? 1 : options.Iterations;
        routers = new ModuleList<Router>(Enumerable.Range(0, routerCount).Select(_ => moe.Router.Create(moe.DModel, moe.Experts, device)).ToArray());
        if (moe.SharedShape is FeedForwardShape s) shared = new FeedForward("shared", s, device);
        RegisterComponents();
    }

    public override ChainOfExpertsOutput forward(Tensor x)
    {
        var moe = Options.Moe;
        if (x.dim() < 2 || x.shape[^1] != moe.DModel)
            throw new ArgumentException($"ChainOfExpertsLayer: expected input [..., tokens, {moe.DModel}], got [{string.Join(", ", x.shape)}].");
        long sequences = x.dim() >= 3 ? x.numel() / moe.DModel / x.shape[^2] : 1;
        var u = x.reshape(-1, moe.DModel);                                 // [T, d] u_0
        var iterations = new List<MoeOutput>(Options.Iterations);
        for (int t = 0; t < Options.Iterations; t++)
        {
            var router = RouterOf(t);
            var routing = router.Route(u, x.shape[^2]);
            var dispatched = ExpertDispatch.Run(experts, u, routing, moe.Dispatch, moe.CapacityFactor, moe.Kernel);
            var update = dispatched.Output;                                // [T, d] routed
            if (shared is not null) update = update.add(shared.forward(u));
            iterations.Add(new MoeOutput(update.reshape(x.shape), MoeLayer.ComputeLosses(routing, sequences), dispatched.Routing,
                RoutingStatistics.From(dispatched.Routing, dispatched.TokensPerExpert)));
            u = u.add(update);                                             // u_t = u_{t−1} + update
        }
        return new ChainOfExpertsOutput(u.reshape(x.shape), iterations);
    }

    public int ModelWidth => Options.Moe.DModel;

    public FeedForwardResidual Residual => Options.OuterResidual ? FeedForwardResidual.Add : FeedForwardResidual.Replace;

    /// <summary>u_C, the losses summed over iterations, and one routed pass per iteration.</summary>
    public FeedForwardSlotOutput ForwardSlot(Tensor x)
    {
        var o = forward(x);
        return new FeedForwardSlotOutput(o.Output, o.Losses, o.Iterations);
    }

    /// <summary><see cref="Cost"/>; <paramref name="activeExperts"/> is per iteration.</summary>
    public ModelCost SlotCost(double? activeExperts = null) => Cost(activeExperts);

    nn.Module IFeedForwardSlot.Module => this;

    /// <summary>Parameters and forward FLOPs per token. Total counts every parameter once (one bank,
    /// the routers, the shared expert). Routed experts (K per iteration), the shared expert and one
    /// router run in each of the C iterations, so FLOPs are C× a single MoE pass; ActiveParameters
    /// here counts parameters APPLIED per token, each iteration separately (= FLOPs/2), which is an
    /// upper bound on the distinct parameters a token touches.</summary>
    public ModelCost Cost(double? activeExpertsPerIteration = null)
    {
        var moe = Options.Moe;
        var single = CostModel.Moe(moe, activeExpertsPerIteration);           // one router + routed + shared
        var router = CostModel.Linear(moe.DModel, moe.Experts);
        double total = single.TotalParameters + router.TotalParameters * (routers.Count - 1);
        double flops = single.ForwardFlopsPerToken * Options.Iterations;
        return new ModelCost(total, flops / 2, flops);
    }
}
