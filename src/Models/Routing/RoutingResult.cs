using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Routing;

/// <summary>What a router decided for a batch of routing units (tokens, or segments for Seg-MoE).
/// Every router returns this one type. Choices use a padded layout: each unit has
/// <c>kmax</c> slots (kmax = k for top-k, the batch's largest selection for top-p / percentile);
/// <see cref="Valid"/> marks the slots actually chosen, and invalid slots carry weight 0 and
/// expert index 0.</summary>
/// <param name="Logits">[units, experts] fp32 scores fed to the softmax (after training noise and
/// temperature, so <c>Probabilities = softmax(Logits)</c>).</param>
/// <param name="Probabilities">[units, experts] router probabilities (P in the load-balancing loss).</param>
/// <param name="ExpertIndices">[units, kmax] int64 chosen experts, best first.</param>
/// <param name="Weights">[units, kmax] fp32 combine weights g; 0 on invalid slots.</param>
/// <param name="Valid">[units, kmax] bool, true where a slot holds a chosen expert.</param>
/// <param name="Dropped">[units, kmax] bool, true where a chosen slot was dropped by a capacity
/// limit (all false as returned by a router; dispatch with a capacity factor fills it).</param>
/// <param name="Experts">number of experts N.</param>
public sealed record RoutingResult(
    Tensor Logits,
    Tensor Probabilities,
    Tensor ExpertIndices,
    Tensor Weights,
    Tensor Valid,
    Tensor Dropped,
    int Experts)
{
    /// <summary>Number of routing units (rows).</summary>
    public long Units => ExpertIndices.shape[0];

    /// <summary>Slots per unit in the padded layout.</summary>
    public long MaxSlots => ExpertIndices.shape[1];

    /// <summary>[units, kmax] bool: chosen and not dropped, i.e. the slots that are computed.</summary>
    public Tensor Kept => Valid.logical_and(Dropped.logical_not());

    /// <summary>[units] int64: experts each unit was routed to (before capacity dropping).</summary>
    public Tensor ExpertsPerUnit => Valid.sum(1);

    /// <summary>Builds a record from chosen indices/weights/validity with no slot dropped.</summary>
    public static RoutingResult Create(Tensor logits, Tensor probabilities, Tensor indices, Tensor weights, Tensor valid, int experts)
        => new(logits, probabilities, indices, weights, valid, torch.zeros_like(valid), experts);

    /// <summary>Repeats each unit's routing <paramref name="times"/> times along the unit axis
    /// (segment → its tokens), then keeps the first <paramref name="keepPerGroup"/> of every group of
    /// <paramref name="groupSize"/> rows (crops right padding). Used by Seg-MoE, where all tokens of a
    /// segment share the segment's experts and weights.</summary>
    public RoutingResult ExpandUnits(int times, long groups, long groupSize, long keepPerGroup)
    {
        Tensor Expand(Tensor t)
        {
            var r = t.repeat_interleave(times, 0);                      // [units·ω, ...]
            if (keepPerGroup == groupSize) return r;
            var s = r.shape.ToArray();
            var grouped = r.reshape(new[] { groups, groupSize }.Concat(s.Skip(1)).ToArray()); // [B, T_pad, ...]
            return grouped.narrow(1, 0, keepPerGroup).reshape(new[] { groups * keepPerGroup }.Concat(s.Skip(1)).ToArray());
        }
        return new RoutingResult(Expand(Logits), Expand(Probabilities), Expand(ExpertIndices), Expand(Weights),
            Expand(Valid), Expand(Dropped), Experts);
    }
}
