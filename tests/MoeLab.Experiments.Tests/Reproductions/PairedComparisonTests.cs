using MoeLab.Experiments.Reproductions;

namespace MoeLab.Experiments.Tests.Reproductions;

/// <summary>The lab's one verdict rule for paired-by-seed claims, on hand-computed cases.</summary>
public class PairedComparisonTests
{
    [Fact]
    public void Pairs_only_seeds_both_arms_have_in_seed_order()
    {
        var a = new Dictionary<long, double> { [2] = 5.0, [0] = 1.0, [1] = 3.0 };
        var b = new Dictionary<long, double> { [1] = 1.0, [2] = 1.0, [7] = 9.0 };
        Assert.Equal(new[] { 2.0, 4.0 }, PairedComparison.PairedDifferences(a, b));
    }

    [Theory]
    // diffs {0.3, 0.5, 0.4}: mean 0.4, sd 0.1, se 0.0577 → 0.4 > 0.115 → reproduced
    [InlineData(new[] { 0.3, 0.5, 0.4 }, true, Verdict.Reproduced)]
    // diffs {0.1, -0.05, 0.1}: mean 0.05, sd 0.0866, se 0.05 → 0.05 < 0.1 → partly (favours A, within noise)
    [InlineData(new[] { 0.1, -0.05, 0.1 }, true, Verdict.Partly)]
    // lower is better and the mean is +0.05: does not favour A
    [InlineData(new[] { 0.1, -0.05, 0.1 }, false, Verdict.NotReproduced)]
    [InlineData(new[] { 0.2 }, true, Verdict.Partly)]       // one seed: never more than partly
    [InlineData(new[] { -0.2 }, true, Verdict.NotReproduced)]
    [InlineData(new double[0], true, Verdict.NotTested)]
    public void Judge_uses_two_standard_errors_of_the_paired_differences(double[] diffs, bool higherIsBetter, Verdict expected) =>
        Assert.Equal(expected, PairedComparison.Judge(diffs, higherIsBetter));
}
