using MoeLab.Models.Accounting;
using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Layers;

/// <summary>A token-wise MoE feed-forward layer:
/// y_t = Σ_{i ∈ S_t, kept} g_{t,i} · E_i(x_t) + Σ_{shared} E_s(x_t)
/// (Shazeer et al. 2017 eq. 1; shared experts as DeepSeekMoE eq. 9). The router, experts and
/// dispatch are chosen by <see cref="MoeLayerOptions"/>; forward returns <see cref="MoeOutput"/>.
/// Input [..., d]; the second-to-last axis is the sequence (a 2-D input is one sequence), for the
/// sequence-level balance loss and for routers that compare tokens at the same position.</summary>
public sealed class MoeLayer : nn.Module<Tensor, MoeOutput>, IFeedForwardSlot
{
    private readonly Router router;
    private readonly ExpertBank experts;
    private readonly FeedForward? shared;

    public MoeLayerOptions Options { get; }
    public Router Router => router;
    public ExpertBank Experts => experts;
    public FeedForward? Shared => shared;

    public MoeLayer(MoeLayerOptions options, Device? device = null)
        : this(options, options.Router.Create(options.DModel, options.Experts, device), device) { }

    /// <summary>With a custom router (its input width must be d and its expert count N).</summary>
    public MoeLayer(MoeLayerOptions options, Router router, Device? device = null) : base(nameof(MoeLayer))
    {
        options.Validate();
        if (router.InputDim != options.DModel || router.Experts != options.Experts)
            throw new ArgumentException($"MoeLayer: router maps {router.InputDim} → {router.Experts}, expected {options.DModel} → {options.Experts}.");
        if (options.Causal && !router.IsCausal)
            throw new ArgumentException($"MoeLayer: the layer is causal, but its {router.GetName()} mixes positions (its choice for a token depends on later tokens).");
        Options = options;
        this.router = router;
        experts = new ExpertBank("experts", options.Experts, options.ExpertShape, device);
        if (options.SharedShape is FeedForwardShape s) shared = new FeedForward("shared", s, device);
        RegisterComponents();
    }

    public override MoeOutput forward(Tensor x)
    {
        int d = Options.DModel;
        if (x.dim() < 2 || x.shape[^1] != d)
            throw new ArgumentException($"MoeLayer: expected input [..., tokens, {d}], got [{string.Join(", ", x.shape)}].");
        var flat = x.reshape(-1, d);                                          // [T, d]
        var routing = router.Route(flat, x.shape[^2]);                        // sequences of x.shape[^2] tokens
        var dispatched = ExpertDispatch.Run(experts, flat, routing, Options.Dispatch, Options.CapacityFactor, Options.Kernel);
        var y = dispatched.Output;                                            // [T, d]
        if (shared is not null) y = y.add(shared.forward(flat));
        long sequences = x.dim() >= 3 ? flat.shape[0] / x.shape[^2] : 1;
        var losses = ComputeLosses(routing, sequences);
        var stats = RoutingStatistics.From(dispatched.Routing, dispatched.TokensPerExpert);
        return new MoeOutput(y.reshape(x.shape), losses, dispatched.Routing, stats);
    }

    public int ModelWidth => Options.DModel;

    public FeedForwardResidual Residual => FeedForwardResidual.Add;

    /// <summary>The layer's output, losses and statistics as one routed pass.</summary>
    public FeedForwardSlotOutput ForwardSlot(Tensor x)
    {
        var o = forward(x);
        return new FeedForwardSlotOutput(o.Output, o.Losses, new[] { o });
    }

    /// <summary><see cref="CostModel.Moe"/> of this layer's options.</summary>
    public ModelCost SlotCost(double? activeExperts = null) => CostModel.Of(this, activeExperts);

    nn.Module IFeedForwardSlot.Module => this;

    /// <summary>All four auxiliary losses of a routing over <paramref name="sequences"/> equal-length sequences, each
    /// computed when first read (<see cref="AuxiliaryLossSet.Deferred"/>).</summary>
    public static AuxiliaryLossSet ComputeLosses(RoutingResult routing, long sequences)
    {
        if (sequences <= 0 || routing.Units % sequences != 0) // checked now, not when the loss is first read
            throw new ArgumentException($"MoeLayer: {routing.Units} routing units do not split into {sequences} sequences.");
        return AuxiliaryLossSet.Deferred(
            () => AuxiliaryLosses.LoadBalancing(routing),
            () => AuxiliaryLosses.RouterZ(routing.Logits),
            () => AuxiliaryLosses.Entropy(routing.Probabilities),
            () => AuxiliaryLosses.SequenceBalance(routing, sequences));
    }
}
