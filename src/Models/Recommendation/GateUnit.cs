using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Recommendation;

/// <summary>Gate unit: one softmax gate over K experts per behaviour, g_t = softmax(W_g [b_t ; x] + c).
/// input [..., inputSize] → [..., K].</summary>
public sealed class GateUnit : nn.Module<Tensor, Tensor>
{
    private readonly Linear projection;

    public int Experts { get; }

    public GateUnit(int inputSize, int experts, Device? device = null) : base("gate_unit")
    {
        if (inputSize < 1 || experts < 1) throw new ArgumentException($"GateUnit: input size ({inputSize}) and experts ({experts}) must be ≥ 1.");
        Experts = experts;
        projection = nn.Linear(inputSize, experts, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => projection.forward(input).softmax(-1); // [..., K]

    /// <summary>Attention-weighted expert activation: w = Σ_t a_t · g_t, where a [B, T] are the
    /// activation unit's weights (Σ_t a_t = 1 on rows with a behaviour) and g [B, T, K] the per-behaviour
    /// gates; a row without any behaviour (Σ_t a_t = 0) gets the uniform vector 1/K. The result sums to
    /// 1 on every row. → [B, K].</summary>
    public static Tensor AttentionWeighted(Tensor attention, Tensor gates)
    {
        long k = gates.shape[^1];
        var w = (attention.unsqueeze(-1) * gates).sum(1);                       // [B, K]
        var missing = (1 - attention.sum(1, keepdim: true)).clamp_min(0);      // [B, 1]
        return w + missing / k;                                                 // [B, K]
    }
}
