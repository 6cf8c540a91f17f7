using TorchSharp;
using MoeLab.Models.Internal;
using static TorchSharp.torch;

namespace MoeLab.Models.Routing;

/// <summary>Softmax top-k routing (Shazeer et al. 2017; Switch k = 1; GShard k = 2):
/// P = softmax(z [+ ε in training]), chosen set = TopK(P); combine weights g_i = P_i (raw, as in
/// Chain-of-Experts with <c>norm_topk_prob = false</c>) or g_i = P_i / Σ_{j∈TopK} P_j (renormalised,
/// as in Mixtral / Seg-MoE).</summary>
public sealed class TopKRouter : Router
{
    public int K { get; }
    public bool Renormalize { get; }
    public double NoiseStd { get; }

    /// <param name="k">experts per unit (1 ≤ k ≤ N).</param>
    /// <param name="renormalize">renormalise the chosen probabilities to sum to 1.</param>
    /// <param name="noiseStd">std of Gaussian noise added to the logits in training (0 = none).</param>
    public TopKRouter(int inputDim, int experts, int k, bool renormalize = false, double noiseStd = 0, Device? device = null)
        : base(nameof(TopKRouter), inputDim, experts, device)
    {
        if (k < 1 || k > experts) throw new ArgumentException($"TopKRouter: k = {k} must be in [1, {experts}].");
        if (noiseStd < 0) throw new ArgumentException($"TopKRouter: noiseStd = {noiseStd} must be ≥ 0.");
        K = k;
        Renormalize = renormalize;
        NoiseStd = noiseStd;
    }

    public override RoutingResult Select(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var z = AddTrainingNoise(logits, NoiseStd);          // [units, N]
        var probs = z.softmax(-1);                            // [units, N]
        // Wide routers on the CPU: the same choice made in C#, the values gathered (bit for bit topk's; topk on ties).
        Tensor values, indices;                               // [units, K] each, best first
        if (TopKSelection.Applies(probs, K)) values = probs.gather(1, indices = TopKSelection.Indices(probs, K));
        else (values, indices) = probs.topk(K, dim: -1);
        var weights = Renormalize ? values.div(values.sum(-1, keepdim: true)) : values; // [units, K]
        var valid = torch.ones(indices.shape, dtype: ScalarType.Bool, device: logits.device); // [units, K]
        var r = RoutingResult.Create(z, probs, indices, weights, valid, Experts);
        return Detach(r, scope);
    }

    internal static RoutingResult Detach(RoutingResult r, DisposeScope scope)
    {
        // Keep the record's tensors alive past the local scope.
        scope.Keep(r.Logits, r.Probabilities, r.ExpertIndices, r.Weights, r.Valid, r.Dropped);
        return r;
    }
}
