using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Random;
using MoeLab.Metrics.ContinualLearning;

namespace MoeLab.Metrics.Tests.ContinualLearning;

/// <summary>The single-expert closed forms against a Monte Carlo simulation of exactly the data
/// model they assume: i.i.d. N(0,1) features X_t ∈ R^{d×s}, one expert starting at 0, a task drawn
/// uniformly from the pool every round, no label noise, min-norm update.</summary>
public class SingleExpertTheoryTests
{
    private const int D = 10, S = 6, N = 7, T = 20, Runs = 20000;

    private static double[][] Pool(Random rng)
    {
        // Any fixed pool works for the formula; this one has clusters like the paper's fig 2.
        var pool = new double[N][];
        for (int n = 0; n < N; n++)
        {
            pool[n] = new double[D];
            for (int j = 0; j < 6; j++) pool[n][j] = n < 3 ? Normal.Sample(rng, 0, 0.4) : pool[n - 3][j] + Normal.Sample(rng, 0, 0.05);
        }
        return pool;
    }

    private static void MinNormUpdate(double[] w, Matrix<double> x, Vector<double> y)
    {
        var wv = Vector<double>.Build.DenseOfArray(w);
        var residual = y - x.TransposeThisAndMultiply(wv);                      // [s]
        var step = x * x.TransposeThisAndMultiply(x).Cholesky().Solve(residual); // [d]
        for (int j = 0; j < w.Length; j++) w[j] += step[j];
    }

    [Fact]
    public void ClosedFormsMatchMonteCarloOnGaussianFeatures()
    {
        var rng = new MersenneTwister(12345, threadSafe: false);
        double[][] pool = Pool(rng);
        double r = SingleExpertTheory.Retention(D, S);
        double wBar = SingleExpertTheory.MeanSquaredNorm(pool);
        double delta = SingleExpertTheory.MeanPairwiseSquaredDistance(pool);

        var sumG = new double[T + 1]; var sumG2 = new double[T + 1];
        var sumF = new double[T + 1]; var sumF2 = new double[T + 1];
        var truthVecs = pool.Select(p => Vector<double>.Build.DenseOfArray(p)).ToArray();
        for (int run = 0; run < Runs; run++)
        {
            var w = new double[D];
            var tracker = new ContinualLearningErrorTracker(1, pool);
            for (int t = 1; t <= T; t++)
            {
                int task = rng.Next(N);
                var x = Matrix<double>.Build.Random(D, S, new Normal(0, 1, rng)); // [d, s]
                var y = x.TransposeThisAndMultiply(truthVecs[task]);              // [s]
                MinNormUpdate(w, x, y);
                tracker.Record(0, task, w);
                var (f, g) = tracker.Evaluate(new[] { w });
                sumG[t] += g; sumG2[t] += g * g; sumF[t] += f; sumF2[t] += f * f;
            }
        }

        foreach (int t in new[] { 1, 2, 3, 5, 10, 20 })
        {
            double meanG = sumG[t] / Runs, seG = Math.Sqrt((sumG2[t] / Runs - meanG * meanG) / Runs);
            double meanF = sumF[t] / Runs, seF = Math.Sqrt(Math.Max(0, sumF2[t] / Runs - meanF * meanF) / Runs);
            double expectedG = SingleExpertTheory.ExpectedGeneralisation(t, r, wBar, delta);
            double expectedF = SingleExpertTheory.ExpectedForgetting(t, r, wBar, delta);
            // 4 standard errors plus a floor for the exact zero at t = 1.
            Assert.True(Math.Abs(meanG - expectedG) <= 4 * seG + 1e-12,
                $"G_{t}: Monte Carlo {meanG:G6} ± {seG:G3}, closed form {expectedG:G6}");
            Assert.True(Math.Abs(meanF - expectedF) <= 4 * seF + 1e-12,
                $"F_{t}: Monte Carlo {meanF:G6} ± {seF:G3}, closed form {expectedF:G6}");
        }
        // Tightness: the check can fail: at T = 20 the standard errors are below 1 % of the values.
        Assert.True(Math.Sqrt((sumG2[T] / Runs - Math.Pow(sumG[T] / Runs, 2)) / Runs) < 0.01 * sumG[T] / Runs);
    }

    [Fact]
    public void ClosedFormsHaveTheirLimits()
    {
        // T = 1: G = r W̄ (one projection of w_n), F = 0; r → 0 (s → d): G → ((T−1)/T) Δ.
        Assert.Equal(0.4 * 2.0, SingleExpertTheory.ExpectedGeneralisation(1, 0.4, 2.0, 3.0), 12);
        Assert.Equal(0.0, SingleExpertTheory.ExpectedForgetting(1, 0.4, 2.0, 3.0));
        Assert.Equal(0.75 * 3.0, SingleExpertTheory.ExpectedGeneralisation(4, 0.0, 2.0, 3.0), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => SingleExpertTheory.Retention(6, 6));
    }
}
