using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;

namespace MoeLab.Metrics.Fitting;

/// <summary>Settings of a robust least-squares fit.</summary>
public sealed record HuberFitOptions
{
    /// <summary>Huber threshold δ on the residuals: quadratic below, linear above. 1e-3 on log-loss
    /// residuals is the Chinchilla fits' choice (Hoffmann et al. 2022); the efficiency-leverage paper
    /// names Huber + BFGS but no δ.</summary>
    public double Delta { get; init; } = 1e-3;

    /// <summary>BFGS iterations per start.</summary>
    public int MaxIterations { get; init; } = 2000;

    /// <summary>Bootstrap resamples for the parameter uncertainty (0 = none).</summary>
    public int BootstrapSamples { get; init; } = 200;

    /// <summary>Seed of the bootstrap resampling.</summary>
    public int Seed { get; init; } = 0;
}

/// <summary>One minimisation: the best parameters found over all starts, the Huber objective there and
/// whether the best start's BFGS reported convergence.</summary>
public sealed record HuberFitResult(double[] Parameters, double Objective, bool Converged, int Starts);

/// <summary>Parameter uncertainty from a bootstrap over points: the fit is repeated on resamples of the
/// points (drawn with replacement, same count) and each parameter's spread over the refits is reported.</summary>
/// <param name="StandardErrors">standard deviation of each parameter over the refits.</param>
/// <param name="Lower">2.5 % percentile of each parameter.</param>
/// <param name="Upper">97.5 % percentile of each parameter.</param>
/// <param name="Samples">refits that succeeded (resamples with too few distinct points are skipped).</param>
public sealed record BootstrapSummary(double[] StandardErrors, double[] Lower, double[] Upper, int Samples, double[][] Draws);

/// <summary>Minimises Σ_i Huber_δ(r_i(θ)) with BFGS (MathNet.Numerics), from several starts. The
/// gradient is Σ_i Huber'_δ(r_i)·∂r_i/∂θ with the Jacobian by central differences, so any residual
/// function works.</summary>
public static class HuberBfgs
{
    /// <summary>Huber_δ(r) = r²/2 for |r| ≤ δ, δ·(|r| − δ/2) beyond.</summary>
    public static double Huber(double r, double delta) =>
        Math.Abs(r) <= delta ? 0.5 * r * r : delta * (Math.Abs(r) - 0.5 * delta);

    /// <summary>dHuber/dr.</summary>
    public static double HuberDerivative(double r, double delta) => Math.Abs(r) <= delta ? r : delta * Math.Sign(r);

    public static double Objective(double[] residuals, double delta) => residuals.Sum(r => Huber(r, delta));

    /// <summary>Fits θ from each start; returns the start with the lowest objective. A start whose BFGS
    /// stops with an error (line search, iteration limit) still offers the best point it evaluated.</summary>
    public static HuberFitResult Minimize(Func<double[], double[]> residuals, IReadOnlyList<double[]> starts, HuberFitOptions options)
    {
        if (starts.Count == 0) throw new ArgumentException("HuberBfgs.Minimize: no starting point.");
        if (!(options.Delta > 0)) throw new ArgumentException($"HuberFitOptions.Delta = {options.Delta}: expected > 0.");
        double[]? best = null;
        double bestValue = double.PositiveInfinity;
        bool bestConverged = false;
        foreach (var start in starts)
        {
            double[]? seen = null;
            double seenValue = double.PositiveInfinity;
            double Value(double[] theta)
            {
                double v = Objective(residuals(theta), options.Delta);
                if (!double.IsFinite(v)) v = double.MaxValue / 4;
                if (v < seenValue) { seenValue = v; seen = (double[])theta.Clone(); }
                return v;
            }
            Vector<double> Gradient(double[] theta)
            {
                var r0 = residuals(theta);
                var g = new double[theta.Length];
                var w = r0.Select(r => HuberDerivative(r, options.Delta)).ToArray();
                for (int j = 0; j < theta.Length; j++)
                {
                    double h = 1e-6 * Math.Max(1, Math.Abs(theta[j]));
                    var up = (double[])theta.Clone(); up[j] += h;
                    var dn = (double[])theta.Clone(); dn[j] -= h;
                    var ru = residuals(up);
                    var rd = residuals(dn);
                    double s = 0;
                    for (int i = 0; i < r0.Length; i++) s += w[i] * (ru[i] - rd[i]) / (2 * h);
                    g[j] = double.IsFinite(s) ? s : 0;
                }
                return Vector<double>.Build.DenseOfArray(g);
            }
            var objective = ObjectiveFunction.Gradient(
                v => Value(v.ToArray()),
                v => Gradient(v.ToArray()));
            bool converged = false;
            try
            {
                var minimizer = new BfgsMinimizer(1e-10, 1e-12, 1e-14, options.MaxIterations);
                var result = minimizer.FindMinimum(objective, Vector<double>.Build.DenseOfArray(start));
                converged = result.ReasonForExit is not (ExitCondition.ExceedIterations or ExitCondition.InvalidValues or ExitCondition.None);
                Value(result.MinimizingPoint.ToArray());
            }
            catch (OptimizationException)
            {
                // keep the best point evaluated (seen)
            }
            catch (ArgumentException)
            {
                // MathNet refuses a non-finite start or step; keep what was seen
            }
            if (seen is not null && seenValue < bestValue)
            {
                best = seen; bestValue = seenValue; bestConverged = converged;
            }
        }
        if (best is null) throw new InvalidOperationException("HuberBfgs.Minimize: no start produced a finite objective.");
        return new HuberFitResult(best, bestValue, bestConverged, starts.Count);
    }

    /// <summary>Bootstrap over <paramref name="points"/> points: <paramref name="refit"/> gets the
    /// resampled indices and returns the parameter vector (or null to skip the resample).</summary>
    public static BootstrapSummary Bootstrap(int points, Func<int[], double[]?> refit, int samples, int seed, int minimumDistinct = 2)
    {
        if (samples < 2) throw new ArgumentException($"Bootstrap: samples = {samples}, expected ≥ 2.");
        var random = new Random(seed);
        var draws = new List<double[]>();
        for (int b = 0; b < samples; b++)
        {
            var idx = Enumerable.Range(0, points).Select(_ => random.Next(points)).ToArray();
            if (idx.Distinct().Count() < minimumDistinct) continue;
            var p = refit(idx);
            if (p is not null && p.All(double.IsFinite)) draws.Add(p);
        }
        if (draws.Count < 2) throw new InvalidOperationException($"Bootstrap: only {draws.Count} of {samples} resamples could be fitted.");
        int k = draws[0].Length;
        var se = new double[k];
        var lo = new double[k];
        var hi = new double[k];
        for (int j = 0; j < k; j++)
        {
            var col = draws.Select(d => d[j]).OrderBy(v => v).ToArray();
            double mean = col.Average();
            se[j] = Math.Sqrt(col.Sum(v => (v - mean) * (v - mean)) / (col.Length - 1));
            lo[j] = Percentile(col, 0.025);
            hi[j] = Percentile(col, 0.975);
        }
        return new BootstrapSummary(se, lo, hi, draws.Count, draws.ToArray());
    }

    /// <summary>Linear-interpolated percentile of sorted values.</summary>
    public static double Percentile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int i = (int)Math.Floor(pos);
        if (i >= sorted.Length - 1) return sorted[^1];
        return sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]);
    }
}
