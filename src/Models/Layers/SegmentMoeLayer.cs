using MoeLab.Models.Accounting;
using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Routing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Layers;

/// <summary>Configuration of a Seg-MoE layer (Ortigossa &amp; Segal 2026, arXiv 2601.21641).</summary>
public sealed record SegmentMoeOptions : FeedForwardSlotOptions
{
    /// <summary>Routed experts, router rule, capacity and dispatch. The router is built on the
    /// concatenated segment (input ω·d). Seg-MoE: top-1, N = 4 (small) / 8 (base), GELU, no bias.
    /// The layer's own <see cref="MoeLayerOptions.SharedExperts"/> must be 0: Seg-MoE's shared expert
    /// is the segment-level one below.</summary>
    public MoeLayerOptions Moe { get; init; } = new() { Experts = 4, Router = new RouterOptions { K = 1, Renormalize = false } };

    /// <summary>Segment length ω (1 = token-wise routing). Per-layer values: small [3,5,5,5], base [5,5,4,4,3,3].</summary>
    public int Omega { get; init; } = 1;

    /// <summary>Segment length of the ROUTER when it differs from <see cref="Omega"/> (null = ω). Setting 1
    /// with ω &gt; 1 gives the Seg-MoE reproduction's control arm: the segment-concatenated shared expert
    /// with token-wise routing, separating routing granularity from the bigger shared expert.</summary>
    public int? RouterOmega { get; init; }

    /// <summary>ω used by the router.</summary>
    public int EffectiveRouterOmega => RouterOmega ?? Omega;

    /// <summary>Add the shared expert on the concatenated segment, σ(w_sᵀ S_j)·E_s(S_j) with
    /// E_s = FFN(ω·d → ω·d_ff → ω·d) (Seg-MoE; its size grows with ω²).</summary>
    public bool SegmentSharedExpert { get; init; } = true;

    /// <summary>Per-token hidden width of the shared expert (its hidden layer is ω times this); null = d_ff.</summary>
    public int? SharedHidden { get; init; }

    public override int ModelWidth => Moe.DModel;

    public override IFeedForwardSlot CreateSlot(Device? device = null) => new SegmentMoeLayer(this, device);

    /// <summary>Segments computed jointly: the router's ω (ω·d inputs choose the experts of all ω tokens)
    /// and, with the shared expert, ω (it maps a whole segment to a whole segment); the larger of the two.</summary>
    public override int TokenMixingSpan => Math.Max(EffectiveRouterOmega, SegmentSharedExpert ? Omega : 1);

    /// <summary>The router made causal between segments (<see cref="MoeLayerOptions.ForCausalModel"/>).
    /// Segment routing and the segment shared expert are inherently non-causal WITHIN a segment (a
    /// token's output depends on the later tokens of its segment): with ω &gt; 1 the layer is causal
    /// only at segment granularity (<see cref="TokenMixingSpan"/>).</summary>
    public override SegmentMoeOptions ForCausalModel() => this with { Moe = Moe.ForCausalModel() };

    public override void Validate()
    {
        Moe.Validate();
        if (Omega < 1) throw new ArgumentException($"SegmentMoeOptions.Omega = {Omega}: expected ≥ 1.");
        if (RouterOmega is < 1) throw new ArgumentException($"SegmentMoeOptions.RouterOmega = {RouterOmega}: expected ≥ 1 or null.");
        if (Moe.SharedExperts != 0) throw new ArgumentException("SegmentMoeOptions.Moe.SharedExperts must be 0 (the segment shared expert replaces token-wise shared experts).");
    }
}

/// <summary>The Seg-MoE layer (Ortigossa &amp; Segal 2026, arXiv 2601.21641): tokens are right-padded
/// to a multiple of ω and routed per segment (<see cref="SegmentRouter"/>); routed experts are
/// position-wise, y_t = Σ_{i∈K_j} g_{j,i} E_i(u_t) for every token t of segment j; plus, optionally,
/// the gated shared expert on the concatenated segment σ(w_sᵀ S_j)·E_s(S_j); padded positions are
/// cropped. Aux losses are computed over segments (the paper's L_aux over segments); the segment
/// routing is returned as <see cref="MoeOutput.UnitRouting"/> so a network can compute the official
/// code's single balance loss over the segments of all its layers
/// (<see cref="MoeLab.Models.Losses.AuxiliaryLosses.LoadBalancingAcrossLayers"/>).
/// Input and output [B, T, d].</summary>
public sealed class SegmentMoeLayer : nn.Module<Tensor, MoeOutput>, IFeedForwardSlot
{
    private readonly SegmentRouter router;
    private readonly ExpertBank experts;
    private readonly FeedForward? shared;
    private readonly Linear? shared_gate; // w_s: [1, ω·d]

    public SegmentMoeOptions Options { get; }
    public SegmentRouter Router => router;
    public ExpertBank Experts => experts;
    public FeedForward? SharedExpert => shared;

    public SegmentMoeLayer(SegmentMoeOptions options, Device? device = null) : base(nameof(SegmentMoeLayer))
    {
        options.Validate();
        Options = options;
        var moe = options.Moe;
        int omega = options.Omega;
        int routerOmega = options.EffectiveRouterOmega;
        router = new SegmentRouter(moe.DModel, routerOmega, moe.Router.Create(routerOmega * moe.DModel, moe.Experts, device));
        experts = new ExpertBank("experts", moe.Experts, moe.ExpertShape, device);
        if (options.SegmentSharedExpert)
        {
            int hidden = omega * (options.SharedHidden ?? moe.DHidden);
            shared = new FeedForward("shared", new FeedForwardShape(omega * moe.DModel, hidden, omega * moe.DModel, moe.Kind, moe.Bias, moe.Dropout), device);
            shared_gate = nn.Linear(omega * moe.DModel, 1, hasBias: false, device: device);
        }
        RegisterComponents();
    }

    public override MoeOutput forward(Tensor x)
    {
        var moe = Options.Moe;
        if (x.dim() != 3 || x.shape[2] != moe.DModel)
            throw new ArgumentException($"SegmentMoeLayer: expected input [batch, tokens, {moe.DModel}], got [{string.Join(", ", x.shape)}].");
        long b = x.shape[0], t = x.shape[1], d = moe.DModel;
        var segments = router.forward(x);                                   // routing over B·S segments
        var perToken = segments.PerToken();                                  // [B·T, k] routing of each token
        var flat = x.reshape(-1, d);                                         // [B·T, d]
        var dispatched = ExpertDispatch.Run(experts, flat, perToken, moe.Dispatch, moe.CapacityFactor, moe.Kernel);
        var y = dispatched.Output.reshape(b, t, d);                           // [B, T, d]
        if (shared is not null)
        {
            long padded = segments.PaddedTokens;
            var s = Options.Omega == segments.Omega
                ? segments.Segments                                          // [B·S, ω·d]
                : SegmentRouter.Concatenate(x, Options.Omega, out padded);
            var mixed = shared.forward(s).mul(torch.sigmoid(shared_gate!.forward(s))); // [B·S, ω·d]
            var tokens = mixed.reshape(b, padded, d).narrow(1, 0, t);         // [B, T, d]
            y = y.add(tokens);
        }
        var losses = MoeLayer.ComputeLosses(segments.Routing, b);
        var stats = RoutingStatistics.From(dispatched.Routing, dispatched.TokensPerExpert);
        return new MoeOutput(y, losses, dispatched.Routing, stats) { UnitRouting = segments.Routing };
    }

    public int ModelWidth => Options.Moe.DModel;

    public FeedForwardResidual Residual => FeedForwardResidual.Add;

    /// <summary>x [batch, tokens, d] → the layer's output, losses and statistics as one routed pass.</summary>
    public FeedForwardSlotOutput ForwardSlot(Tensor x)
    {
        var o = forward(x);
        return new FeedForwardSlotOutput(o.Output, o.Losses, new[] { o });
    }

    public ModelCost SlotCost(double? activeExperts = null) => Cost(activeExperts);

    nn.Module IFeedForwardSlot.Module => this;

    /// <summary>Parameters and forward FLOPs per token (router and shared expert run once per segment).</summary>
    public ModelCost Cost(double? activeExperts = null)
    {
        var moe = Options.Moe;
        int omega = Options.Omega, routerOmega = Options.EffectiveRouterOmega;
        var routed = CostModel.Moe(moe, activeExperts);
        var tokenRouter = CostModel.Linear(moe.DModel, moe.Experts);
        var segmentRouter = CostModel.Linear(routerOmega * moe.DModel, moe.Experts);
        // replace the token router by the segment router (run once per ω_router tokens)
        var cost = routed + new ModelCost(segmentRouter.TotalParameters - tokenRouter.TotalParameters,
            segmentRouter.ActiveParameters - tokenRouter.ActiveParameters,
            segmentRouter.ForwardFlopsPerToken / routerOmega - tokenRouter.ForwardFlopsPerToken);
        if (shared is not null)
        {
            var s = CostModel.FeedForward(shared.Shape) + CostModel.Linear(omega * moe.DModel, 1);
            cost += s with { ForwardFlopsPerToken = s.ForwardFlopsPerToken / omega };
        }
        return cost;
    }
}
