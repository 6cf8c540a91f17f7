using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Recommendation;

/// <summary>InfoNCE with in-batch negatives on two views of each row (e.g. gate vectors of two random
/// maskings of a user's behaviour sequence): s_ij = cos(z1_i, z2_j) / τ, and the loss is the mean over
/// rows and over both directions of −log softmax_j(s_ij) at j = i, i.e.
/// L = ½ [CE(S, diag) + CE(Sᵀ, diag)].</summary>
public static class ContrastiveLoss
{
    public static Tensor InfoNce(Tensor view1, Tensor view2, double temperature)
    {
        if (temperature <= 0) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be > 0.");
        if (!view1.shape.SequenceEqual(view2.shape) || view1.dim() != 2)
            throw new ArgumentException($"InfoNce: both views must be [batch, dim] of the same shape (got [{string.Join(", ", view1.shape)}] and [{string.Join(", ", view2.shape)}]).");
        using var scope = NewDisposeScope();
        var z1 = nn.functional.normalize(view1, p: 2, dim: 1);           // [B, K]
        var z2 = nn.functional.normalize(view2, p: 2, dim: 1);           // [B, K]
        var logits = z1.matmul(z2.t()) / temperature;                    // [B, B]
        var targets = arange(view1.shape[0], dtype: int64, device: view1.device); // [B]
        var loss = (nn.functional.cross_entropy(logits, targets) + nn.functional.cross_entropy(logits.t(), targets)) / 2;
        return loss.MoveToOuterDisposeScope();
    }
}
