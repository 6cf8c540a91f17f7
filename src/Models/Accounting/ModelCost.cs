using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using TorchSharp;

namespace MoeLab.Models.Accounting;

/// <summary>Parameters and forward compute of a network or part of one. FLOPs are counted from the
/// ACTIVE parameters only, 2 FLOPs per multiply–accumulate of a weight (elementwise work, softmax
/// and sorting ignored); the training step is ≈ 3× the forward.</summary>
/// <param name="TotalParameters">all parameters.</param>
/// <param name="ActiveParameters">parameters a single token uses on average.</param>
/// <param name="ForwardFlopsPerToken">forward FLOPs per token.</param>
public readonly record struct ModelCost(double TotalParameters, double ActiveParameters, double ForwardFlopsPerToken)
{
    public static readonly ModelCost Zero = new(0, 0, 0);

    public static ModelCost operator +(ModelCost a, ModelCost b) =>
        new(a.TotalParameters + b.TotalParameters, a.ActiveParameters + b.ActiveParameters, a.ForwardFlopsPerToken + b.ForwardFlopsPerToken);

    /// <summary>The same module applied <paramref name="times"/> times per token with the same
    /// weights (e.g. CoE's shared expert in every iteration): parameters once, FLOPs × times.</summary>
    public ModelCost Reapplied(int times) => this with { ForwardFlopsPerToken = ForwardFlopsPerToken * times };

    /// <summary>Sum over layers.</summary>
    public static ModelCost Sum(IEnumerable<ModelCost> parts) => parts.Aggregate(Zero, (a, b) => a + b);

    public override string ToString() =>
        $"total {TotalParameters:N0} params, active {ActiveParameters:N0}, {ForwardFlopsPerToken:N0} forward FLOPs/token";
}

/// <summary>Cost formulas of the modules of this library.</summary>
public static class CostModel
{
    /// <summary>A dense FFN (also one expert): every parameter active; 2·MACs FLOPs per token.</summary>
    public static ModelCost FeedForward(FeedForwardShape shape) =>
        new(shape.Parameters, shape.Parameters, 2.0 * shape.MacsPerToken);

    /// <summary>A linear map d_in → d_out applied once per token.</summary>
    public static ModelCost Linear(int dIn, int dOut, bool bias = false) =>
        new((long)dIn * dOut + (bias ? dOut : 0), (long)dIn * dOut + (bias ? dOut : 0), 2.0 * dIn * dOut);

    /// <summary>A token-wise MoE layer: router (d·N, all active) + N routed experts of which
    /// <paramref name="activeExperts"/> are used per token on average + shared experts (always on).
    /// activeExperts defaults to k for top-k routers; dynamic routers need the measured mean
    /// (<see cref="RoutingSummary.MeanExpertsPerToken"/>).</summary>
    public static ModelCost Moe(MoeLayerOptions options, double? activeExperts = null)
    {
        double k = activeExperts ?? options.Router.StaticActiveExperts
            ?? throw new ArgumentException($"CostModel.Moe: a {options.Router.Kind} router activates a data-dependent number of experts; pass the measured mean (RoutingSummary.MeanExpertsPerToken).");
        if (k < 0 || k > options.Experts) throw new ArgumentException($"CostModel.Moe: active experts {k} not in [0, {options.Experts}].");
        var expert = FeedForward(options.ExpertShape);
        var router = Linear(options.DModel, options.Experts);
        var routed = new ModelCost(expert.TotalParameters * options.Experts, expert.ActiveParameters * k, expert.ForwardFlopsPerToken * k);
        var shared = options.SharedShape is FeedForwardShape s ? FeedForward(s) : ModelCost.Zero;
        return router + routed + shared;
    }

    /// <summary>Cost of a live MoE layer.</summary>
    public static ModelCost Of(MoeLayer layer, double? activeExperts = null) => Moe(layer.Options, activeExperts);

    /// <summary>Parameters actually held by a module (to cross-check the formulas).</summary>
    public static long CountParameters(torch.nn.Module module) => module.parameters().Sum(p => p.numel());
}
