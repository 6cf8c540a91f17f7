using MoeLab.Metrics.Fitting;
using MoeLab.Metrics.ScalingLaws;

namespace MoeLab.Metrics.Tests.Fitting;

/// <summary>Synthetic points with known parameters and seeded noise: these tests validate the fitter
/// only (no measured data are involved).</summary>
public class ScalingLawFitterTests
{
    private static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    [Fact]
    public void HuberIsQuadraticThenLinear()
    {
        Assert.Equal(0.5 * 0.0004, HuberBfgs.Huber(0.02, 0.1), 15);
        Assert.Equal(0.1 * (2 - 0.05), HuberBfgs.Huber(-2, 0.1), 15);
        Assert.Equal(-0.1, HuberBfgs.HuberDerivative(-2, 0.1));
    }

    [Fact]
    public void RecoversALossLawFromNoisyPoints()
    {
        var rng = new Random(7);
        double alpha = 35, beta = 0.07;
        var c = new List<double>();
        var l = new List<double>();
        foreach (double logC in new[] { 11.0, 11.5, 12, 12.5, 13, 13.5 })
            for (int s = 0; s < 2; s++)
            {
                double cc = Math.Pow(10, logC);
                c.Add(cc);
                l.Add(alpha * Math.Pow(cc, -beta) * Math.Exp(0.005 * Normal(rng)));
            }
        var fit = ScalingLawFitter.FitLossLaw(c, l, new HuberFitOptions { BootstrapSamples = 100, Seed = 1 });
        Assert.InRange(fit.Beta, beta - 0.006, beta + 0.006);
        Assert.InRange(fit.Alpha / alpha, 0.8, 1.25);
        Assert.NotNull(fit.Uncertainty);
        Assert.InRange(fit.BetaError, 1e-5, 0.01);
        // the truth lies within the bootstrap interval (wide enough, not absurdly wide)
        Assert.InRange(beta, fit.Uncertainty!.Lower[1] - 0.002, fit.Uncertainty.Upper[1] + 0.002);
    }

    [Fact]
    public void HuberLossShrugsOffAnOutlier()
    {
        double alpha = 10, beta = 0.05;
        var c = Enumerable.Range(0, 8).Select(i => Math.Pow(10, 11 + 0.4 * i)).ToList();
        var l = c.Select(x => alpha * Math.Pow(x, -beta)).ToList();
        l[3] *= 1.5; // a diverged run
        var fit = ScalingLawFitter.FitLossLaw(c, l, new HuberFitOptions { BootstrapSamples = 0 });
        Assert.InRange(fit.Beta, beta - 0.002, beta + 0.002);
    }

    [Fact]
    public void RecoversTheUnifiedLawFromNoisyPoints()
    {
        var truth = new EfficiencyLeverageLaw(1.1, -0.09, 0.02, -0.12, 0.02, double.PositiveInfinity);
        var rng = new Random(3);
        var pts = new List<LeveragePoint>();
        foreach (double a in new[] { 0.03, 0.125, 0.5 })
            foreach (double g in new[] { 2.0, 4, 16, 32 })
                foreach (double c in new[] { 1e18, 1e20, 1e22 })
                    pts.Add(new LeveragePoint(a, g, c, truth.Leverage(a, g, c) * Math.Exp(0.01 * Normal(rng))));
        var fit = ScalingLawFitter.FitLeverageLaw(pts, fixedCoefficients: new Dictionary<string, double> { ["A_max"] = double.PositiveInfinity },
            options: new HuberFitOptions { Delta = 0.05, BootstrapSamples = 3, Seed = 2 });
        Assert.InRange(fit.Law.A, 1.0, 1.2);
        Assert.InRange(fit.Law.D, -0.1, -0.08);
        Assert.InRange(fit.Law.Gamma, 0.017, 0.023);
        Assert.InRange(fit.Law.Beta, -0.14, -0.10);
        Assert.InRange(fit.Law.AStart, 0.015, 0.026);
        Assert.InRange(fit.Law.OptimalGranularity(), 6, 12);
        Assert.Equal(double.PositiveInfinity, fit.Law.AMax);
        Assert.True(double.IsNaN(fit.Error("A_max")));
        Assert.True(fit.Error("gamma") > 0);
    }

    [Fact]
    public void FitterRefusesBadInput()
    {
        Assert.Throws<ArgumentException>(() => ScalingLawFitter.FitLossLaw([1e12, 1e12], [3.0, 3.1]));
        Assert.Throws<ArgumentException>(() => ScalingLawFitter.FitLossLaw([1e12, -1], [3.0, 3.1]));
        Assert.Contains("unknown coefficient", Assert.Throws<ArgumentException>(() =>
            ScalingLawFitter.FitLeverageLaw([new LeveragePoint(0.1, 2, 1e12, 1)], fixedCoefficients: new Dictionary<string, double> { ["zeta"] = 1 })).Message);
    }
}
