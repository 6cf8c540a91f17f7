using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Experts;

/// <summary>All routed experts of one MoE layer, their weights stacked along a leading expert axis
/// (<c>[experts, d_in, d_ff]</c>, <c>[experts, d_ff, d_out]</c>) so they can run batched
/// (<see cref="ForwardAll"/>) or as contiguous token blocks (<see cref="ForwardGrouped"/>).
/// Each expert is the FFN of <see cref="FeedForward"/> with the same <see cref="FeedForwardShape"/>.</summary>
public sealed class ExpertBank : nn.Module<Tensor, Tensor>
{
    private readonly Parameter w_in;   // [E, d_in, d_ff] (SwiGLU: [E, d_in, 2·d_ff], gate ‖ up)
    private readonly Parameter w_out;  // [E, d_ff, d_out]
    private readonly Parameter? b_in;  // [E, d_ff(·2)]
    private readonly Parameter? b_out; // [E, d_out]

    public FeedForwardShape Shape { get; }
    public int Experts { get; }

    public ExpertBank(string name, int experts, FeedForwardShape shape, Device? device = null) : base(name)
    {
        if (experts <= 0) throw new ArgumentException($"ExpertBank: experts must be positive, got {experts}.");
        shape.Validate();
        Shape = shape;
        Experts = experts;
        w_in = new Parameter(ExpertInit.Uniform(new long[] { experts, shape.DIn, shape.FirstProjectionWidth }, shape.DIn, device));
        w_out = new Parameter(ExpertInit.Uniform(new long[] { experts, shape.DHidden, shape.DOut }, shape.DHidden, device));
        if (shape.Bias)
        {
            b_in = new Parameter(ExpertInit.Uniform(new long[] { experts, shape.FirstProjectionWidth }, shape.DIn, device));
            b_out = new Parameter(ExpertInit.Uniform(new long[] { experts, shape.DOut }, shape.DHidden, device));
        }
        RegisterComponents();
    }

    public Tensor InputWeight => w_in;   // [E, d_in, d_ff(·2)]
    public Tensor OutputWeight => w_out; // [E, d_ff, d_out]
    public Tensor? InputBias => b_in;
    public Tensor? OutputBias => b_out;

    /// <summary>Every expert on every token: x [T, d_in] → [E, T, d_out]. Costs E× the routed compute;
    /// used by the reference dispatch and for tiny layers.</summary>
    public override Tensor forward(Tensor x) => ForwardAll(x);

    /// <inheritdoc cref="forward"/>
    public Tensor ForwardAll(Tensor x) => ForwardStacked(x.unsqueeze(0));

    /// <summary>Expert e on row block e of a stacked input: x [E, m, d_in] → [E, m, d_out] (one batched
    /// matmul per projection). A leading axis of 1 broadcasts the same rows to every expert.</summary>
    public Tensor ForwardStacked(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.matmul(w_in);                               // [E, m, d_ff(·2)]
        if (b_in is not null) h = h.add(b_in.unsqueeze(1));
        var a = ExpertInit.Dropout(ExpertInit.Activate(h, Shape.Kind), Shape.Dropout, training); // [E, m, d_ff]
        var y = a.matmul(w_out);                              // [E, m, d_out]
        if (b_out is not null) y = y.add(b_out.unsqueeze(1));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Runs expert e on the e-th contiguous block of <paramref name="sorted"/>:
    /// rows [start_e, start_e + counts[e]) go through expert e only (one matmul per projection per
    /// non-empty block). sorted [A, d_in] (rows ordered by expert) → [A, d_out].
    /// The stacked weights are unbound once per call, so the backward pass stacks the per-expert
    /// gradients once instead of materialising a full-size gradient per expert.</summary>
    public Tensor ForwardGrouped(Tensor sorted, IReadOnlyList<long> counts)
    {
        if (counts.Count != Experts)
            throw new ArgumentException($"ExpertBank.ForwardGrouped: {counts.Count} block sizes for {Experts} experts.");
        using var scope = NewDisposeScope();
        var wIn = w_in.unbind(0);    // E × [d_in, d_ff(·2)]
        var wOut = w_out.unbind(0);  // E × [d_ff, d_out]
        var bIn = b_in?.unbind(0);
        var bOut = b_out?.unbind(0);
        long total = counts.Sum();
        if (total != sorted.shape[0])
            throw new ArgumentException($"ExpertBank.ForwardGrouped: block sizes sum to {total}, input has {sorted.shape[0]} rows.");
        // One split node (its backward is a single cat), not a narrow per block (each narrow's
        // backward would materialise a zero tensor of the full input size).
        var blocks = sorted.split(counts.ToArray(), 0);                                  // E × [n_e, d_in]
        var outputs = new List<Tensor>(Experts);
        for (int e = 0; e < Experts; e++)
        {
            if (counts[e] == 0) continue;
            var block = blocks[e];                                                       // [n, d_in]
            var h = bIn is null ? block.matmul(wIn[e]) : torch.addmm(bIn[e], block, wIn[e], 1, 1); // [n, d_ff(·2)]
            var a = ExpertInit.Dropout(ExpertInit.Activate(h, Shape.Kind), Shape.Dropout, training); // [n, d_ff]
            var y = bOut is null ? a.matmul(wOut[e]) : torch.addmm(bOut[e], a, wOut[e], 1, 1);   // [n, d_out]
            outputs.Add(y);
        }
        var result = outputs.Count switch
        {
            0 => sorted.new_zeros(0, Shape.DOut),
            1 => outputs[0],
            _ => torch.cat(outputs, 0),                                                  // [A, d_out]
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Copies expert <paramref name="expert"/> into (or from) a dense FFN of the same shape.</summary>
    public void CopyExpertTo(int expert, FeedForward dense)
    {
        CheckSameShape(dense);
        using var _ = torch.no_grad();
        dense.InputWeight.copy_(w_in[expert]);
        dense.OutputWeight.copy_(w_out[expert]);
        if (b_in is not null) { dense.InputBias!.copy_(b_in[expert]); dense.OutputBias!.copy_(b_out![expert]); }
    }

    /// <inheritdoc cref="CopyExpertTo"/>
    public void CopyExpertFrom(int expert, FeedForward dense)
    {
        CheckSameShape(dense);
        using var _ = torch.no_grad();
        w_in[expert].copy_(dense.InputWeight);
        w_out[expert].copy_(dense.OutputWeight);
        if (b_in is not null) { b_in[expert].copy_(dense.InputBias!); b_out![expert].copy_(dense.OutputBias!); }
    }

    private void CheckSameShape(FeedForward dense)
    {
        if (dense.Shape != Shape)
            throw new ArgumentException($"Expert shape {Shape} differs from the dense FFN's {dense.Shape}.");
    }
}
