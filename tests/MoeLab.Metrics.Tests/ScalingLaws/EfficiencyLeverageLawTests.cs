using MoeLab.Metrics.ScalingLaws;
using Xunit.Abstractions;

namespace MoeLab.Metrics.Tests.ScalingLaws;

/// <summary>The unified law with the paper's Table 2 coefficients against the consequences the paper
/// states in words (its numbers, not ours): optimal granularity between 8 and 12, EL over 7 at the
/// Ling-mini-beta point (A ≈ 3.1 %, G = 12, C = 1e22), EL below 1 at very small compute.</summary>
public class EfficiencyLeverageLawTests(ITestOutputHelper output)
{
    private static readonly EfficiencyLeverageLaw Law = EfficiencyLeverageLaw.PaperTable2;

    [Fact]
    public void DefaultBasesAreLog10ComputeAndLog2Granularity()
    {
        Assert.Equal(LogBase.Ten, Law.ComputeLog);
        Assert.Equal(LogBase.Two, Law.GranularityLog);
    }

    [Fact]
    public void OptimalGranularityLiesBetween8And12()
    {
        double g = Law.OptimalGranularity();
        Assert.InRange(g, 8, 12);
        Assert.Equal(Math.Pow(2, 0.117 / (2 * 0.0167)), g, 12); // 2^(−β/2γ), by hand
        // It really is the maximum of EL over G at fixed A and C.
        double atStar = Law.Leverage(0.05, g, 1e21);
        foreach (double other in new[] { g * 0.8, g * 1.25, 2, 4, 32 })
            Assert.True(Law.Leverage(0.05, other, 1e21) < atStar, $"EL at G = {other} not below EL at G* = {g}");
    }

    [Fact]
    public void LingMiniBetaPointHasLeverageAbove7()
    {
        // 12 of 384 routed experts: A = 3.125 % under the routed-only convention (the paper's "≈ 3.1 %").
        double a = MoeRatios.ActivationRatio(384, 12, 1, ActivationRatioConvention.RoutedOnly);
        Assert.Equal(0.03125, a, 12);
        double el = Law.Leverage(a, 12, 1e22);
        Assert.True(el > 7, $"EL = {el}");
        Assert.True(el < 8, $"EL = {el}");
        // Hand computation: Â = 1/(1/(A + 1/(1/A_start − 1/A_max)) + 1/A_max); exponent a + d·22 + γ·log2(12)² + β·log2(12).
        double offset = 1 / (1 / 1.63e-2 - 1 / 5.28e16);
        double aHat = 1 / (1 / (a + offset) + 1 / 5.28e16);
        double lg = Math.Log2(12);
        double exponent = 1.23 - 7.61e-2 * 22 + 1.67e-2 * lg * lg - 1.17e-1 * lg;
        Assert.Equal(Math.Pow(aHat, exponent), el, 10);
    }

    [Fact]
    public void LeverageIsBelowOneAtVerySmallCompute()
    {
        foreach (double g in new[] { 2.0, 8, 12 })
        {
            Assert.True(Law.Leverage(0.03125, g, 1e12) < 1);
            double breakEven = Law.BreakEvenCompute(g);
            Assert.InRange(breakEven, 1e12, 1e17);
            Assert.Equal(1.0, Law.Leverage(0.1, g, breakEven), 9);
            Assert.True(Law.Leverage(0.1, g, breakEven * 10) > 1);
        }
    }

    [Fact]
    public void LeverageRisesWithComputeAndFallsWithActivation()
    {
        Assert.True(Law.Leverage(0.05, 8, 1e22) > Law.Leverage(0.05, 8, 1e20));
        Assert.True(Law.Leverage(0.03, 8, 1e22) > Law.Leverage(0.1, 8, 1e22));
    }

    [Fact]
    public void SaturatedActivationIsAboutAPlusAStartAndBoundedByAMax()
    {
        var law = Law with { AMax = 0.5 };
        Assert.True(law.SaturatedActivation(1.0) < 0.5);
        Assert.Equal(0.1 + 1.63e-2, Law.SaturatedActivation(0.1), 6);
        Assert.Throws<ArgumentOutOfRangeException>(() => Law.SaturatedActivation(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Law.SaturatedActivation(1.5));
    }

    /// <summary>What every other reading of "log" gives with the same coefficients, computed here: only
    /// (log10 C, log2 G) puts G* in 8–12 and EL at the Ling-mini-beta point just above 7.</summary>
    [Fact]
    public void OnlyLog10ComputeWithLog2GranularityReproducesBothClaims()
    {
        var matches = new List<(LogBase C, LogBase G)>();
        output.WriteLine("| log C | log G | G* | EL(3.125 %, 12, 1e22) |");
        foreach (LogBase c in Enum.GetValues<LogBase>())
            foreach (LogBase g in Enum.GetValues<LogBase>())
            {
                var law = Law.WithBases(c, g);
                double star = law.OptimalGranularity();
                double el = law.Leverage(0.03125, 12, 1e22);
                output.WriteLine($"| {c.Symbol()} | {g.Symbol()} | {star:G4} | {el:G4} |");
                if (star is >= 8 and <= 12 && el is > 7 and < 10) matches.Add((c, g));
            }
        Assert.Equal([(LogBase.Ten, LogBase.Two)], matches);
    }

    [Fact]
    public void ActivationRatioConventions()
    {
        Assert.Equal(13.0 / 385, MoeRatios.ActivationRatio(384, 12, 1, ActivationRatioConvention.SharedInBoth), 12);
        Assert.Equal(12.0 / 384, MoeRatios.ActivationRatio(384, 12, 1, ActivationRatioConvention.RoutedOnly), 12);
        Assert.Equal(13.0 / 384, MoeRatios.ActivationRatio(384, 12, 1, ActivationRatioConvention.SharedInNumerator), 12);
        // Without shared experts all three agree.
        foreach (var conv in Enum.GetValues<ActivationRatioConvention>())
            Assert.Equal(0.25, MoeRatios.ActivationRatio(16, 4, 0, conv), 12);
        Assert.Equal(1.0 / 13, MoeRatios.SharedRatio(12, 1), 12);
        Assert.Equal(2 * 2048 / 384.0, MoeRatios.Granularity(2048, 384), 12);
        Assert.Throws<ArgumentException>(() => MoeRatios.ActivationRatio(8, 9, 0, ActivationRatioConvention.RoutedOnly));
    }

    [Fact]
    public void ComputeOptimalAllocationsMultiplyBackToCompute()
    {
        foreach (double c in new[] { 1e18, 1e21 })
        {
            Assert.Equal(1.0, ComputeOptimalLaws.DenseModelFlops.At(c) * ComputeOptimalLaws.DenseTokens.At(c) / c, 2);
            Assert.Equal(1.0, ComputeOptimalLaws.MoeModelFlops.At(c) * ComputeOptimalLaws.MoeTokens.At(c) / c, 2);
        }
        Assert.Equal(1.1576 * Math.Pow(1e20, -0.1529), ComputeOptimalLaws.LearningRate.At(1e20), 15);
        Assert.Equal(0.0694 * Math.Pow(1e20, 0.3644), ComputeOptimalLaws.BatchTokens.At(1e20), 6);
    }

    [Fact]
    public void MeasuredLeverageInvertsTheDenseLaw()
    {
        var dense = LeverageFromLosses.LossLaw(alpha: 20, beta: 0.05);
        // A run at compute 1e12 reaching the loss the dense law reaches at 4e12 has EL 4.
        double loss = dense.At(4e12);
        Assert.Equal(4.0, LeverageFromLosses.Measured(dense, loss, 1e12), 9);
        Assert.Equal(1.0, LeverageFromLosses.BetweenLaws(dense, dense, 3e11), 9);
    }
}
