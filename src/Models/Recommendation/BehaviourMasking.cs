using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Recommendation;

/// <summary>Random masking of behaviour sequences, to simulate users with short histories: each valid
/// behaviour is dropped independently with probability ρ, but a row that had at least one behaviour
/// always keeps at least one (the valid position with the largest uniform draw), so masking never
/// turns a user into one without history.</summary>
public static class BehaviourMasking
{
    /// <summary>mask [B, T] bool → a sub-mask [B, T] bool. Draws from <paramref name="generator"/> only.</summary>
    public static Tensor Random(Tensor mask, double ratio, Generator generator)
    {
        if (ratio is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "mask ratio must be in [0, 1).");
        using var scope = NewDisposeScope();
        var u = rand(mask.shape, generator: generator, device: mask.device);           // [B, T] (generator's device)
        var keep = mask.logical_and(u.ge(ratio));                                       // [B, T]
        var valid = u.masked_fill(mask.logical_not(), -1);                              // [B, T]
        var best = valid.argmax(1, keepdim: true);                                      // [B, 1]
        var fallback = zeros_like(mask).scatter(1, best, ones_like(best, dtype: ScalarType.Bool)).logical_and(mask); // [B, T]
        var empty = keep.any(1, keepdim: true).logical_not();                           // [B, 1]
        return where(empty, fallback, keep).MoveToOuterDisposeScope();
    }
}
