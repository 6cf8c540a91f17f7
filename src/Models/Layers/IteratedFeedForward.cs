using MoeLab.Models.Accounting;
using MoeLab.Models.Experts;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Layers;

/// <summary>Configuration of an iterated dense feed-forward slot: one FFN applied C times with a
/// residual path, u_t = u_{t−1} + FFN(u_{t−1}), output u_C — Chain-of-Experts' recurrence without a
/// router (the "iterating a dense layer" control of arXiv 2506.18945). C = 1 is a dense FFN on the
/// same residual path as the CoE/MoE arms. Defaults: d 128, d_ff 512, SwiGLU, C = 2.</summary>
public sealed record IteratedFeedForwardOptions : FeedForwardSlotOptions
{
    /// <summary>Model width d.</summary>
    public int DModel { get; init; } = 128;

    /// <summary>Hidden width d_ff (for SwiGLU the width of each of the gate and up projections).</summary>
    public int DHidden { get; init; } = 512;

    /// <summary>GELU FFN or SwiGLU (CoE's experts are SwiGLU).</summary>
    public ExpertKind Kind { get; init; } = ExpertKind.SwiGlu;

    /// <summary>Biases on both projections (none, as CoE's experts).</summary>
    public bool Bias { get; init; } = false;

    /// <summary>Iterations C (≥ 1).</summary>
    public int Iterations { get; init; } = 2;

    /// <summary>As a block's slot: false makes the block's output u_C (CoE's default path, no outer
    /// residual); true adds the block input back, h + u_C.</summary>
    public bool OuterResidual { get; init; } = false;

    /// <summary>Shape of the one FFN.</summary>
    public FeedForwardShape Shape => new(DModel, DHidden, DModel, Kind, Bias);

    public override int ModelWidth => DModel;

    public override IFeedForwardSlot CreateSlot(Device? device = null) => new IteratedFeedForward(this, device);

    /// <summary>Token-wise: already causal.</summary>
    public override IteratedFeedForwardOptions ForCausalModel() => this;

    public override void Validate()
    {
        Shape.Validate();
        if (Iterations < 1) throw new ArgumentException($"IteratedFeedForwardOptions.Iterations = {Iterations}: expected ≥ 1.");
    }
}

/// <summary>One dense FFN applied C times on a residual path: u_0 = x, u_t = u_{t−1} + FFN(u_{t−1}),
/// y = u_C. Input [..., d]. No routing, zero auxiliary losses.</summary>
public sealed class IteratedFeedForward : nn.Module<Tensor, Tensor>, IFeedForwardSlot
{
    private readonly FeedForward ffn;

    public IteratedFeedForwardOptions Options { get; }

    /// <summary>The FFN applied at every iteration.</summary>
    public FeedForward FeedForward => ffn;

    public IteratedFeedForward(IteratedFeedForwardOptions options, Device? device = null) : base(nameof(IteratedFeedForward))
    {
        options.Validate();
        Options = options;
        ffn = new FeedForward("ffn", options.Shape, device);
        RegisterComponents();
    }

    /// <summary>x [..., d] → u_C [..., d].</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.shape[^1] != Options.DModel)
            throw new ArgumentException($"IteratedFeedForward: expected input [..., {Options.DModel}], got [{string.Join(", ", x.shape)}].");
        var u = x;                                                            // [..., d] u_0
        for (int t = 0; t < Options.Iterations; t++) u = u.add(ffn.forward(u)); // u_t = u_{t−1} + FFN(u_{t−1})
        return u;
    }

    public int ModelWidth => Options.DModel;

    public FeedForwardResidual Residual => Options.OuterResidual ? FeedForwardResidual.Add : FeedForwardResidual.Replace;

    public FeedForwardSlotOutput ForwardSlot(Tensor x) => FeedForwardSlotOutput.Dense(forward(x));

    /// <summary>Parameters once, FLOPs C times (the same weights are applied at every iteration);
    /// ActiveParameters counts parameters applied per token (= FLOPs/2), as <see cref="ChainOfExpertsLayer.Cost"/>.</summary>
    public ModelCost SlotCost(double? activeExperts = null)
    {
        var once = CostModel.FeedForward(Options.Shape);
        double flops = once.ForwardFlopsPerToken * Options.Iterations;
        return new ModelCost(once.TotalParameters, flops / 2, flops);
    }

    nn.Module IFeedForwardSlot.Module => this;
}
