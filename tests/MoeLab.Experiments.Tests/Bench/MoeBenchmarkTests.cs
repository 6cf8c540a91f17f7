using MoeLab.Experiments.Bench;
using TorchSharp;

namespace MoeLab.Experiments.Tests.Bench;

/// <summary>Behaviour of the benchmark (not its speed): it runs a tiny case end to end and reports
/// consistent figures. Timings themselves are printed by `moelab bench`, never asserted.</summary>
public class MoeBenchmarkTests
{
    [Fact]
    public void TinyCaseReportsTimesCostsAndRatio()
    {
        var c = new MoeBenchCase("tiny", Tokens: 64, DModel: 16, DHidden: 32, Experts: 4, TopK: 2);
        var r = MoeBenchmark.Run(c, warmup: 1, repetitions: 3, torch.CPU);

        Assert.Equal(3, r.MoeTimesMs.Count);
        Assert.Equal(3, r.DenseTimesMs.Count);
        Assert.All(r.MoeTimesMs.Concat(r.DenseTimesMs), t => Assert.True(t > 0 && double.IsFinite(t)));
        Assert.Equal(MoeBenchmark.Median(r.MoeTimesMs), r.MoeMedianMs);
        Assert.Equal(r.MoeMedianMs / r.DenseMedianMs, r.Ratio, 12);
        // The dense baseline has k·d_ff hidden units: the same expert parameters a token uses.
        Assert.Equal(2 * 32, c.DenseShape.DHidden);
        Assert.True(r.MoeCost.TotalParameters > r.DenseCost.TotalParameters);
        Assert.True(r.MoeGflops > 0 && r.DenseGflops > 0);
    }

    [Fact]
    public void MedianOfEvenAndOddCounts()
    {
        Assert.Equal(2.0, MoeBenchmark.Median(new[] { 3.0, 1.0, 2.0 }));
        Assert.Equal(2.5, MoeBenchmark.Median(new[] { 4.0, 1.0, 2.0, 3.0 }));
        Assert.Throws<ArgumentException>(() => MoeBenchmark.Run(MoeBenchCase.Standard[0], 0, 0, torch.CPU));
    }
}
