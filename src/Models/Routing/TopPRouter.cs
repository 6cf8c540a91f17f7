using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Routing;

/// <summary>Top-p (dynamic) routing of Huang et al., "Harder Tasks Need More Experts: Dynamic
/// Routing in MoE Models" (ACL 2024): P = softmax(W_r x); sort P descending;
/// keep the smallest prefix whose cumulative mass exceeds p, i.e. experts (1..m) with
/// m = min{ j : Σ_{i≤j} P_(i) &gt; p }; output Σ_{selected} P_i·E_i(x) with the RAW P_i (not
/// renormalised). Every unit gets at least one expert; if rounding keeps the total mass ≤ p,
/// all N are used.</summary>
public sealed class TopPRouter : Router
{
    public double P { get; }

    /// <param name="p">mass threshold in (0, 1); the official default is 0.4.</param>
    public TopPRouter(int inputDim, int experts, double p = 0.4, Device? device = null)
        : base(nameof(TopPRouter), inputDim, experts, device)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentException($"TopPRouter: p = {p} must be in (0, 1).");
        P = p;
    }

    public override RoutingResult Select(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var probs = logits.softmax(-1);                                    // [units, N]
        var (sorted, order) = probs.sort(-1, descending: true, stable: true); // [units, N] each
        Tensor count;                                                      // [units] experts selected
        using (torch.no_grad())
        {
            var cumulative = sorted.cumsum(-1);                            // [units, N]
            // m = 1 + #{j : cumulative_j ≤ p}  (cumulative is non-decreasing)
            count = cumulative.le(P).sum(-1).add(1).clamp_max(Experts);    // [units]
        }
        long slots = count.numel() == 0 ? 1 : count.max().item<long>();   // kmax of this batch (one sync)
        var (indices, values, valid) = TakeSortedPrefix(sorted, order, count, slots);
        var weights = values.mul(valid);                                   // raw P_i, 0 on invalid slots
        var r = RoutingResult.Create(logits, probs, indices, weights, valid, Experts);
        return TopKRouter.Detach(r, scope);
    }
}
