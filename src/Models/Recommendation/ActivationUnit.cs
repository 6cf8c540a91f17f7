using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Recommendation;

/// <summary>DIN-style activation unit (Zhou et al. 2018): a small MLP scores each behaviour b_t
/// against the target item e from [b_t, e, b_t − e, b_t ⊙ e]. Our choice: the scores are turned into
/// weights by a softmax over the row's valid (unpadded) behaviours, so the weights of a row sum to 1
/// (0 for a row without any valid behaviour) and padded positions get exactly 0.</summary>
public sealed class ActivationUnit : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly Linear hidden, output;

    public ActivationUnit(int dim, int hiddenSize, Device? device = null) : base("activation_unit")
    {
        if (dim < 1 || hiddenSize < 1) throw new ArgumentException($"ActivationUnit: dim ({dim}) and hidden size ({hiddenSize}) must be ≥ 1.");
        hidden = nn.Linear(4 * dim, hiddenSize, device: device);
        output = nn.Linear(hiddenSize, 1, hasBias: false, device: device); // a bias would cancel in the softmax
        RegisterComponents();
    }

    /// <summary>behaviours [B, T, D], target [B, D], mask [B, T] (bool, true = a real behaviour) →
    /// weights [B, T]: a masked softmax of the scores.</summary>
    public override Tensor forward(Tensor behaviours, Tensor target, Tensor mask)
    {
        var e = target.unsqueeze(1).expand_as(behaviours);                               // [B, T, D]
        var features = cat([behaviours, e, behaviours - e, behaviours * e], -1);          // [B, T, 4D]
        var scores = output.forward(nn.functional.relu(hidden.forward(features))).squeeze(-1); // [B, T]
        return MaskedSoftmax(scores, mask);
    }

    /// <summary>Softmax over the positions where <paramref name="mask"/> is true; exactly 0 elsewhere
    /// and on rows without any true position (no NaN).</summary>
    public static Tensor MaskedSoftmax(Tensor scores, Tensor mask)
    {
        var filled = scores.masked_fill(mask.logical_not(), -1e9f); // [B, T]
        return filled.softmax(-1) * mask.to(scores.dtype);           // [B, T]
    }

    /// <summary>Σ_t weights_t · behaviours_t: [B, T] × [B, T, D] → [B, D].</summary>
    public static Tensor Pool(Tensor weights, Tensor behaviours) => (weights.unsqueeze(-1) * behaviours).sum(1);

    /// <summary>Mean of the valid behaviours (0 for a row without any): [B, T, D], [B, T] → [B, D].</summary>
    public static Tensor MeanPool(Tensor behaviours, Tensor mask)
    {
        var m = mask.to(behaviours.dtype);                             // [B, T]
        var counts = m.sum(1, keepdim: true).clamp_min(1);             // [B, 1]
        return Pool(m, behaviours) / counts;                           // [B, D]
    }
}
