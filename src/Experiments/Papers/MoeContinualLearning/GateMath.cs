using MathNet.Numerics.LinearAlgebra;

namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>The linear gate of the paper and its losses. Gate outputs h_m = Σ_{i∈[s]} θ_mᵀ X_{t,i}
/// = θ_mᵀ x̄ with x̄ = Σ_i X_{t,i}; noisy outputs h̃_m = h_m + r_m; probabilities π = softmax(h̃)
/// (the official code's softmax of the noisy outputs).
///
/// Both losses are weighted sums of this round's probabilities, L(θ) = Σ_m a_m π_m(θ):
/// locality L^loc = Σ_m π_m ‖w_t^{(m)} − w_{t−1}^{(m)}‖ (only m_t moved: a = ‖Δw‖·e_{m_t});
/// load balancing (official code) a = (αM/τ)·e_{m_t}; load balancing (paper loss, current-round
/// part) a_m = αM f_m/τ. The gradient is ∂L/∂θ_k = π_k (a_k − Σ_m a_m π_m) x̄.</summary>
public static class GateMath
{
    /// <summary>x̄ = Σ_i X_{:,i} [d].</summary>
    public static double[] ColumnSum(Matrix<double> features)
    {
        var sum = new double[features.RowCount];
        for (int i = 0; i < features.ColumnCount; i++)
            for (int j = 0; j < features.RowCount; j++) sum[j] += features[j, i];
        return sum;
    }

    /// <summary>h_m = θ_mᵀ x̄ (+ noise_m when given) [M].</summary>
    public static double[] Outputs(double[][] gate, double[] columnSum, double[]? noise = null)
    {
        var h = new double[gate.Length];
        for (int m = 0; m < gate.Length; m++)
        {
            double v = 0;
            for (int j = 0; j < columnSum.Length; j++) v += gate[m][j] * columnSum[j];
            h[m] = v + (noise?[m] ?? 0.0);
        }
        return h;
    }

    /// <summary>Numerically stable softmax [M].</summary>
    public static double[] Softmax(double[] h)
    {
        double max = h.Max();
        var e = h.Select(v => Math.Exp(v - max)).ToArray();
        double z = e.Sum();
        return e.Select(v => v / z).ToArray();
    }

    /// <summary>First index of the maximum.</summary>
    public static int ArgMax(double[] v)
    {
        int best = 0;
        for (int m = 1; m < v.Length; m++) if (v[m] > v[best]) best = m;
        return best;
    }

    /// <summary>L(θ) = Σ_m a_m π_m(θ) with π = softmax(θ x̄ + noise).</summary>
    public static double WeightedProbabilityLoss(double[][] gate, double[] columnSum, double[] noise, double[] weights)
    {
        var pi = Softmax(Outputs(gate, columnSum, noise));
        double loss = 0;
        for (int m = 0; m < pi.Length; m++) loss += weights[m] * pi[m];
        return loss;
    }

    /// <summary>∂L/∂θ_k = π_k (a_k − Σ_m a_m π_m) x̄, for L = Σ_m a_m π_m [M][d].</summary>
    public static double[][] WeightedProbabilityGradient(double[] probabilities, double[] columnSum, double[] weights)
    {
        double mean = 0;
        for (int m = 0; m < probabilities.Length; m++) mean += weights[m] * probabilities[m];
        var grad = new double[probabilities.Length][];
        for (int k = 0; k < probabilities.Length; k++)
        {
            double c = probabilities[k] * (weights[k] - mean);
            grad[k] = columnSum.Select(x => c * x).ToArray();
        }
        return grad;
    }

    /// <summary>Locality weights: a = ‖Δw^{(m_t)}‖·e_{m_t}.</summary>
    public static double[] LocalityWeights(int experts, int chosen, double expertChangeNorm)
    {
        var a = new double[experts];
        a[chosen] = expertChangeNorm;
        return a;
    }

    /// <summary>Load-balancing weights after τ rounds (this one included).</summary>
    /// <param name="routedCounts">rounds routed to each expert so far, this round included.</param>
    public static double[] LoadBalancingWeights(AuxiliaryGradientForm form, double alpha, int chosen,
        IReadOnlyList<long> routedCounts, long rounds)
    {
        int m = routedCounts.Count;
        var a = new double[m];
        if (form == AuxiliaryGradientForm.OfficialCode) a[chosen] = alpha * m / rounds;
        else
            for (int k = 0; k < m; k++) a[k] = alpha * m * ((double)routedCounts[k] / rounds) / rounds;
        return a;
    }
}

/// <summary>Min-norm least-squares update of one linear expert (the limit of gradient descent
/// from the current model): w ← w + (Xᵀ)⁺ (y − Xᵀw), which equals w + X (XᵀX)⁻¹ (y − Xᵀw) when X
/// has full column rank. Computed through the SVD of X with singular values below
/// max(d, s)·ε·σ_max treated as zero, like a pseudo-inverse: the figs 4–5 generator (s = 8 columns
/// whose rows all lie in the span of the first r = 6 rows) gives rank-deficient X, which the
/// official code also handles with a pseudo-inverse.</summary>
public static class MinNormUpdate
{
    /// <summary>Updates <paramref name="w"/> in place; returns ‖Δw‖.</summary>
    public static double Apply(double[] w, Matrix<double> features, Vector<double> labels)
    {
        int d = features.RowCount, s = features.ColumnCount;
        if (w.Length != d) throw new ArgumentException($"expert has {w.Length} coordinates, features have {d} rows");
        if (labels.Count != s) throw new ArgumentException($"{labels.Count} labels for {s} samples");
        var residual = labels - features.TransposeThisAndMultiply(Vector<double>.Build.DenseOfArray(w)); // [s]
        var svd = features.Svd(computeVectors: true);  // X = U Σ Vᵀ, U [d, d], Σ [min(d,s)], Vᵀ [s, s]
        var sigma = svd.S;
        double tolerance = Math.Max(d, s) * 2.220446049250313e-16 * sigma[0];
        var u = svd.U; var vt = svd.VT;
        var step = new double[d];                        // Δw = Σ_i u_i (v_iᵀ residual)/σ_i   [d]
        for (int i = 0; i < sigma.Count; i++)
        {
            if (sigma[i] <= tolerance) break;
            double coeff = 0;
            for (int k = 0; k < s; k++) coeff += vt[i, k] * residual[k];
            coeff /= sigma[i];
            for (int j = 0; j < d; j++) step[j] += u[j, i] * coeff;
        }
        double sq = 0;
        for (int j = 0; j < d; j++) { w[j] += step[j]; sq += step[j] * step[j]; }
        return Math.Sqrt(sq);
    }
}
