using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Routing;

/// <summary>Where the percentile threshold of <see cref="PercentileRouter"/> is taken.</summary>
public enum PercentileMode
{
    /// <summary>τ-quantile of each token's own N gate values (as third-party readings describe
    /// DynaMoE). With distinct gate values a token keeps exactly N − ⌈τ·(N−1)⌉ experts (e.g. τ = 0.75:
    /// 1 of 4, 2 of 5 to 8, 3 of 9), the same number every time: effectively a fixed k.</summary>
    PerToken,

    /// <summary>τ-percentile of all units' gate values in the batch: one threshold, so the number
    /// of experts per token genuinely varies. NOT causal: in a sequence model the threshold at
    /// position t also uses tokens after t, so a causal layer refuses it (use <see cref="BatchPerPosition"/>).</summary>
    Batch,

    /// <summary>The causal variant of <see cref="Batch"/>: one threshold per position t, the τ-quantile
    /// of the B·N gate values of the batch's tokens at position t. A token's experts then depend on
    /// the other sequences' tokens at its own position but on no later position. Chosen over a
    /// threshold from all past tokens because every position gets a population of the same size
    /// (B·N values, so the expert count does not drift along the sequence, whereas a prefix threshold
    /// at t = 0 would be the per-token rule), it costs what the batch-wide rule costs (one sort of
    /// [T, B·N]) instead of a quantile per prefix, and within a position the count still varies from
    /// token to token. With B = 1 it is the per-token rule; without a sequence layout
    /// (<see cref="Router.forward"/>) the input is one sequence.</summary>
    BatchPerPosition,
}

/// <summary>Percentile routing of DynaMoE (arXiv 2603.01697, as third-party readings of it describe it):
/// g = softmax((z + ε)/T) with ε ~ N(0, σ²) in training (T = 0.5, σ = 0.1 by those readings);
/// a unit keeps the experts whose gate value is at or above θ, the τ-quantile of its own gate values
/// (<see cref="PercentileMode.PerToken"/>) or of the whole batch's (<see cref="PercentileMode.Batch"/>);
/// always at least the best expert; weights are renormalised over the selection,
/// w_i = g_i / Σ_{j∈S} g_j (= softmax of z/T restricted to S). The quantile is the
/// linearly-interpolated one (numpy's and torch.quantile's default): position τ·(n−1) in the ascending
/// order. Per token (n = N, distinct values) the kept count is therefore N − ⌈τ·(N−1)⌉: when τ·(N−1)
/// is a whole number θ is itself one of the gate values and is kept ("at or above"); gate values tied
/// with θ are all kept. (⌈(1−τ)·N⌉ is only an approximation of this count: it is one too many at
/// e.g. N = 8, τ = 0.2.)</summary>
public sealed class PercentileRouter : Router
{
    /// <summary>False for <see cref="PercentileMode.Batch"/> (its threshold uses every position).</summary>
    public override bool IsCausal => Mode != PercentileMode.Batch;

    public double Tau { get; }
    public double Temperature { get; }
    public double NoiseStd { get; }
    public PercentileMode Mode { get; }
    public bool Renormalize { get; }

    /// <param name="tau">percentile in [0, 1) (unknown in the paper; a config field).</param>
    /// <param name="temperature">softmax temperature T (0.5 per the readings).</param>
    /// <param name="noiseStd">training noise std on the logits (0.1 per the readings).</param>
    /// <param name="renormalize">renormalise weights over the selection (true per the readings).</param>
    public PercentileRouter(int inputDim, int experts, double tau, PercentileMode mode = PercentileMode.PerToken,
        double temperature = 0.5, double noiseStd = 0.1, bool renormalize = true, Device? device = null)
        : base(nameof(PercentileRouter), inputDim, experts, device)
    {
        if (!(tau >= 0 && tau < 1)) throw new ArgumentException($"PercentileRouter: tau = {tau} must be in [0, 1).");
        if (!(temperature > 0)) throw new ArgumentException($"PercentileRouter: temperature = {temperature} must be > 0.");
        if (noiseStd < 0) throw new ArgumentException($"PercentileRouter: noiseStd = {noiseStd} must be ≥ 0.");
        Tau = tau;
        Temperature = temperature;
        NoiseStd = noiseStd;
        Mode = mode;
        Renormalize = renormalize;
    }

    /// <summary>Without a sequence layout: all units form one sequence.</summary>
    public override RoutingResult Select(Tensor logits) => Select(logits, Math.Max(1, logits.shape[0]));

    public override RoutingResult Select(Tensor logits, long tokensPerSequence)
    {
        using var scope = NewDisposeScope();
        var z = AddTrainingNoise(logits, NoiseStd).div(Temperature);         // [units, N]  (z + ε)/T
        var gates = z.softmax(-1);                                           // [units, N]  g
        var (sorted, order) = gates.sort(-1, descending: true, stable: true);  // [units, N]
        Tensor count;                                                        // [units]
        using (torch.no_grad())
        {
            var threshold = Mode switch
            {
                PercentileMode.PerToken => Quantile(gates, Tau).unsqueeze(1),                  // [units, 1]
                PercentileMode.Batch => Quantile(gates.reshape(1, -1), Tau),                  // [1]
                _ => PerPositionThreshold(gates, tokensPerSequence),                          // [units, 1]
            };
            count = gates.ge(threshold).sum(-1).clamp_min(1);               // [units] g ≥ θ, ≥ 1 expert
        }
        long slots = count.numel() == 0 ? 1 : count.max().item<long>();
        var (indices, values, valid) = TakeSortedPrefix(sorted, order, count, slots);
        var chosen = values.mul(valid);                                      // [units, kmax]
        var weights = Renormalize ? chosen.div(chosen.sum(-1, keepdim: true)) : chosen;
        var r = RoutingResult.Create(z, gates, indices, weights, valid, Experts);
        return TopKRouter.Detach(r, scope);
    }

    /// <summary>θ_t = τ-quantile of the gates of all sequences' units at position t, for each unit
    /// (gates [B·T, N], sequence by sequence) → [B·T, 1].</summary>
    private Tensor PerPositionThreshold(Tensor gates, long tokensPerSequence)
    {
        long units = gates.shape[0], t = tokensPerSequence, n = gates.shape[1];
        if (units == 0) return gates.new_zeros(0, 1);
        if (t <= 0 || units % t != 0)
            throw new ArgumentException($"PercentileRouter: {units} units do not split into sequences of {t}.");
        long b = units / t;
        var byPosition = gates.reshape(b, t, n).transpose(0, 1).reshape(t, b * n); // [T, B·N]
        var theta = Quantile(byPosition, Tau);                                      // [T]
        return theta.repeat(b).unsqueeze(1);                                        // [B·T, 1] unit b·T + t → θ_t
    }

    /// <summary>Row-wise linearly interpolated τ-quantile of x [rows, n] → [rows].</summary>
    public static Tensor Quantile(Tensor x, double tau)
    {
        using var scope = NewDisposeScope();
        var ascending = x.sort(-1).Values;                 // [rows, n]
        long n = x.shape[1];
        double position = tau * (n - 1);
        long lower = (long)Math.Floor(position);
        long upper = Math.Min(lower + 1, n - 1);
        double fraction = position - lower;
        var lo = ascending.select(1, lower);               // [rows]
        var hi = ascending.select(1, upper);               // [rows]
        return lo.add(hi.sub(lo).mul(fraction)).MoveToOuterDisposeScope();
    }
}
