namespace MoeLab.Metrics.ContinualLearning;

/// <summary>Closed forms of the expected generalisation error and forgetting of a <b>single</b>
/// linear expert trained by min-norm updates on a random task sequence (each round a task drawn
/// uniformly from a pool of N ground truths, starting from w_0 = 0, no label noise), when every
/// round's features X_t ∈ R^{d×s} are i.i.d. standard Gaussian (s &lt; d). Source: derived from
/// Lin et al. 2023 (Theory on forgetting and generalisation of continual learning); the MoE paper
/// (arXiv 2406.16437) uses the same model error and r = 1 − s/d. Errors are squared norms, as in
/// <see cref="ContinualLearningErrors"/>.
///
/// <para>Not valid for the MoE paper's signal-column data model (rank-deficient X that nearly
/// solves each task): only for rotation-invariant Gaussian features.</para></summary>
public static class SingleExpertTheory
{
    /// <summary>r = 1 − s/d: the expected fraction of a fixed vector kept by the projection onto
    /// the null space of X_tᵀ.</summary>
    public static double Retention(int dimension, int samples)
    {
        if (dimension < 1) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "d must be ≥ 1");
        if (samples < 1 || samples >= dimension)
            throw new ArgumentOutOfRangeException(nameof(samples), samples, $"need 1 ≤ s < d = {dimension}");
        return 1.0 - (double)samples / dimension;
    }

    /// <summary>W̄ = (1/N) Σ_n ‖w_n‖².</summary>
    public static double MeanSquaredNorm(IReadOnlyList<double[]> pool)
    {
        if (pool.Count == 0) throw new ArgumentException("empty task pool", nameof(pool));
        return pool.Average(w => w.Sum(x => x * x));
    }

    /// <summary>Δ = (1/N²) Σ_{n≠n'} ‖w_n − w_{n'}‖² (the mean over independent pairs).</summary>
    public static double MeanPairwiseSquaredDistance(IReadOnlyList<double[]> pool)
    {
        if (pool.Count == 0) throw new ArgumentException("empty task pool", nameof(pool));
        double sum = 0;
        for (int a = 0; a < pool.Count; a++)
            for (int b = 0; b < pool.Count; b++)
                if (a != b) sum += ContinualLearningErrors.TaskLoss(pool[a], pool[b]);
        return sum / ((double)pool.Count * pool.Count);
    }

    /// <summary>E[G_T] = r^T W̄ + ((T−1)/T)(1 − r^T) Δ.</summary>
    public static double ExpectedGeneralisation(int rounds, double retention, double meanSquaredNorm, double meanPairwiseDistance)
    {
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), rounds, "T must be ≥ 1");
        double rT = Math.Pow(retention, rounds);
        return rT * meanSquaredNorm + (rounds - 1.0) / rounds * (1.0 - rT) * meanPairwiseDistance;
    }

    /// <summary>E[F_T] = (1/(T−1)) Σ_{i=1}^{T−1} [(r^T − r^i) W̄ + ((1−r)(1 − r^{T−i}) + r^i − r^T) Δ]; 0 for T = 1.</summary>
    public static double ExpectedForgetting(int rounds, double retention, double meanSquaredNorm, double meanPairwiseDistance)
    {
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), rounds, "T must be ≥ 1");
        if (rounds == 1) return 0.0;
        double r = retention, rT = Math.Pow(r, rounds), sum = 0;
        for (int i = 1; i < rounds; i++)
        {
            double ri = Math.Pow(r, i);
            sum += (rT - ri) * meanSquaredNorm + ((1 - r) * (1 - Math.Pow(r, rounds - i)) + ri - rT) * meanPairwiseDistance;
        }
        return sum / (rounds - 1);
    }
}
