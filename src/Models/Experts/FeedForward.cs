using MoeLab.Models.Accounting;
using MoeLab.Models.Layers;
using MoeLab.Models.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Experts;

/// <summary>A dense feed-forward network: the dense baseline of every paper, and the always-on
/// shared expert(s) of DeepSeekMoE / Chain-of-Experts / Seg-MoE. Weights are stored input-major
/// ([d_in, d_ff], [d_ff, d_out]) exactly like one slice of <see cref="ExpertBank"/>, so one expert
/// can be copied into a dense FFN (and back) for equivalence checks.</summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>, IFeedForwardSlot
{
    private readonly Parameter w_in;   // [d_in, d_ff] or [d_in, 2·d_ff] for SwiGLU (gate ‖ up)
    private readonly Parameter w_out;  // [d_ff, d_out]
    private readonly Parameter? b_in;  // [d_ff] or [2·d_ff]
    private readonly Parameter? b_out; // [d_out]

    public FeedForwardShape Shape { get; }

    public FeedForward(string name, FeedForwardShape shape, Device? device = null) : base(name)
    {
        shape.Validate();
        Shape = shape;
        w_in = new Parameter(ExpertInit.Uniform(new long[] { shape.DIn, shape.FirstProjectionWidth }, shape.DIn, device));
        w_out = new Parameter(ExpertInit.Uniform(new long[] { shape.DHidden, shape.DOut }, shape.DHidden, device));
        if (shape.Bias)
        {
            b_in = new Parameter(ExpertInit.Uniform(new long[] { shape.FirstProjectionWidth }, shape.DIn, device));
            b_out = new Parameter(ExpertInit.Uniform(new long[] { shape.DOut }, shape.DHidden, device));
        }
        RegisterComponents();
    }

    /// <summary>First projection weight [d_in, d_ff (·2 for SwiGLU)].</summary>
    public Tensor InputWeight => w_in;
    /// <summary>Second projection weight [d_ff, d_out].</summary>
    public Tensor OutputWeight => w_out;
    public Tensor? InputBias => b_in;
    public Tensor? OutputBias => b_out;

    /// <summary>x [..., d_in] → [..., d_out].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = b_in is null ? x.matmul(w_in) : x.matmul(w_in).add(b_in);  // [..., d_ff(·2)]
        var a = ExpertInit.Dropout(ExpertInit.Activate(h, Shape.Kind), Shape.Dropout, training); // [..., d_ff]
        var y = b_out is null ? a.matmul(w_out) : a.matmul(w_out).add(b_out); // [..., d_out]
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Input and output width (a slot needs d_in = d_out).</summary>
    public int ModelWidth => Shape.DIn == Shape.DOut ? Shape.DIn
        : throw new InvalidOperationException($"FeedForward {Shape} maps {Shape.DIn} → {Shape.DOut}: not a residual feed-forward slot.");

    public FeedForwardResidual Residual => FeedForwardResidual.Add;

    /// <summary>x [..., d] → FFN(x) with zero auxiliary losses and no routing.</summary>
    public FeedForwardSlotOutput ForwardSlot(Tensor x) => FeedForwardSlotOutput.Dense(forward(x));

    /// <summary>Every parameter active; 2 FLOPs per multiply–accumulate.</summary>
    public ModelCost SlotCost(double? activeExperts = null) => CostModel.FeedForward(Shape);

    nn.Module IFeedForwardSlot.Module => this;
}

/// <summary>Initialisation and activation shared by <see cref="FeedForward"/> and <see cref="ExpertBank"/>.</summary>
internal static class ExpertInit
{
    /// <summary>U(−1/√fan_in, 1/√fan_in): the default of torch.nn.Linear (kaiming_uniform with a = √5),
    /// used for each expert as if it were its own pair of Linear layers.</summary>
    public static Tensor Uniform(long[] shape, long fanIn, Device? device)
    {
        double bound = 1.0 / Math.Sqrt(fanIn);
        return torch.empty(shape, dtype: float32, device: device).uniform_(-bound, bound);
    }

    /// <summary>Inverted dropout of the hidden activations in training mode (torch's global generator);
    /// the identity in eval mode or when p = 0.</summary>
    public static Tensor Dropout(Tensor a, double p, bool training) =>
        p > 0 && training ? nn.functional.dropout(a, p, training: true) : a;

    /// <summary>GELU(h) for GELU experts; SiLU(gate) ⊙ up for SwiGLU where h = [gate ‖ up].</summary>
    public static Tensor Activate(Tensor h, ExpertKind kind)
    {
        CpuBackends.EnsureDefault(); // ATen's GELU, not oneDNN's (a static check after the first call; see CpuBackends)
        if (kind == ExpertKind.Gelu) return nn.functional.gelu(h);
        var parts = h.chunk(2, -1); // gate, up: [..., d_ff] each
        return nn.functional.silu(parts[0]).mul(parts[1]);
    }
}
