using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Routing;
using static TorchSharp.torch;

namespace MoeLab.Models.Layers;

/// <summary>Configuration of one MoE feed-forward layer (immutable; defaults are the benchmark
/// shape of issue 2: d 256, d_ff 1024, 8 GELU experts, top-2).</summary>
public sealed record MoeLayerOptions : FeedForwardSlotOptions
{
    /// <summary>Model width d (input and output of every expert).</summary>
    public int DModel { get; init; } = 256;

    /// <summary>Hidden width d_ff of one routed expert (after any fine-grained segmentation).</summary>
    public int DHidden { get; init; } = 1024;

    /// <summary>Number of routed experts N (m·N after fine-grained segmentation).</summary>
    public int Experts { get; init; } = 8;

    /// <summary>Expert network: GELU FFN (Switch, Seg-MoE, DynaMoE MLPs) or SwiGLU (CoE, top-p MoE).</summary>
    public ExpertKind Kind { get; init; } = ExpertKind.Gelu;

    /// <summary>Biases in the expert projections (none in Seg-MoE/CoE; our default none).</summary>
    public bool Bias { get; init; } = false;

    /// <summary>Dropout on the hidden activations of every routed and shared expert, training mode only
    /// (<see cref="FeedForwardShape.Dropout"/>). Seg-MoE's official code: 0.2. Default 0.</summary>
    public double Dropout { get; init; } = 0;

    /// <summary>Router selection rule.</summary>
    public RouterOptions Router { get; init; } = new();

    /// <summary>Always-on shared experts (DeepSeekMoE, CoE: 1). They run as one FFN of width
    /// <see cref="SharedExperts"/>·<see cref="SharedHidden"/>, which equals the sum of that many experts.</summary>
    public int SharedExperts { get; init; } = 0;

    /// <summary>Hidden width of one shared expert; null = <see cref="DHidden"/>.</summary>
    public int? SharedHidden { get; init; }

    /// <summary>Capacity factor (Switch); null = dropless.</summary>
    public double? CapacityFactor { get; init; }

    /// <summary>Grouped (fast) or reference (every expert on every token; tests) dispatch.</summary>
    public DispatchMode Dispatch { get; init; } = DispatchMode.Grouped;

    /// <summary>Kernel of the grouped dispatch (auto: the fused CPU path, see <see cref="GroupedKernel.Auto"/>).</summary>
    public GroupedKernel Kernel { get; init; } = GroupedKernel.Auto;

    /// <summary>The layer sits in a causal sequence model: a token's output may depend on tokens at the
    /// same or earlier positions only. <see cref="Validate"/> then refuses a router whose choice mixes
    /// positions (percentile in <see cref="PercentileMode.Batch"/> mode; <see cref="ForCausalModel"/>
    /// switches it to <see cref="PercentileMode.BatchPerPosition"/>) and a capacity factor (capacity
    /// dropping ranks every assignment of the batch, slot by slot, so a later token's first choice can
    /// displace an earlier token's second, and a token of one sequence can displace an earlier-position
    /// token of the next one). Default false.</summary>
    public bool Causal { get; init; } = false;

    /// <summary>Shape of one routed expert.</summary>
    public FeedForwardShape ExpertShape => new(DModel, DHidden, DModel, Kind, Bias, Dropout);

    /// <summary>Shape of the merged shared-expert FFN, or null without shared experts.</summary>
    public FeedForwardShape? SharedShape => SharedExperts > 0
        ? new(DModel, SharedExperts * (SharedHidden ?? DHidden), DModel, Kind, Bias, Dropout)
        : null;

    /// <summary>Fine-grained expert segmentation (DeepSeekMoE §3.1): m·N experts of d_ff/m, top-k·m
    /// (top-k routers only), same total and active parameters.</summary>
    public MoeLayerOptions FineGrained(int m)
    {
        var shape = ExpertShape.Segmented(m);
        return this with
        {
            DHidden = shape.DHidden,
            Experts = Experts * m,
            Router = Router.Kind == RouterKind.TopK ? Router with { K = Router.K * m } : Router,
        };
    }

    public override int ModelWidth => DModel;

    public override IFeedForwardSlot CreateSlot(Device? device = null) => new MoeLayer(this, device);

    /// <summary>Marked <see cref="Causal"/>, with the router's causal rule (<see cref="RouterOptions.ForCausalModel"/>).
    /// A capacity factor is kept, so <see cref="Validate"/> reports it.</summary>
    public override MoeLayerOptions ForCausalModel() => this with { Causal = true, Router = Router.ForCausalModel() };

    public override void Validate()
    {
        ExpertShape.Validate();
        if (Experts <= 0) throw new ArgumentException($"MoeLayerOptions.Experts = {Experts}: expected ≥ 1.");
        if (SharedExperts < 0) throw new ArgumentException($"MoeLayerOptions.SharedExperts = {SharedExperts}: expected ≥ 0.");
        if (SharedHidden is <= 0) throw new ArgumentException($"MoeLayerOptions.SharedHidden = {SharedHidden}: expected > 0.");
        if (CapacityFactor is double cf && !(cf > 0)) throw new ArgumentException($"MoeLayerOptions.CapacityFactor = {cf}: expected > 0 or null (dropless).");
        if (Router.Kind == RouterKind.TopK && (Router.K < 1 || Router.K > Experts))
            throw new ArgumentException($"MoeLayerOptions.Router.K = {Router.K}: expected 1..{Experts}.");
        if (Causal && !Router.IsCausal)
            throw new ArgumentException($"MoeLayerOptions: the layer is causal, but the {Router.Kind} router in {Router.PercentileMode} mode " +
                "takes one threshold over every token of the batch, so a token's experts would depend on later tokens. " +
                $"Use PercentileMode.{nameof(PercentileMode.BatchPerPosition)} (MoeLayerOptions.ForCausalModel() switches to it).");
        if (Causal && CapacityFactor is double factor)
            throw new ArgumentException($"MoeLayerOptions: the layer is causal, but capacity factor {factor} drops assignments by their rank " +
                "in the whole batch, so later tokens could displace earlier ones. Causal layers must be dropless (CapacityFactor = null).");
    }
}
