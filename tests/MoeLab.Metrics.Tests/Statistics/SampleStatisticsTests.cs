using MoeLab.Metrics.Statistics;

namespace MoeLab.Metrics.Tests.Statistics;

public class SampleStatisticsTests
{
    [Fact]
    public void HandComputedSample()
    {
        double[] x = { 2, 4, 4, 4, 5, 5, 7, 9 };           // mean 5, Σ(x−5)² = 32
        Assert.Equal(5.0, SampleStatistics.Mean(x), 12);
        Assert.Equal(Math.Sqrt(32.0 / 7), SampleStatistics.Std(x), 12);
        Assert.Equal(4.5, SampleStatistics.Median(x), 12);
        Assert.Equal(4.0, SampleStatistics.Median(new double[] { 9, 4, 1 }), 12);
    }

    [Fact]
    public void DegenerateSamples()
    {
        Assert.True(double.IsNaN(SampleStatistics.Mean(Array.Empty<double>())));
        Assert.True(double.IsNaN(SampleStatistics.Median(Array.Empty<double>())));
        Assert.True(double.IsNaN(SampleStatistics.Std(new[] { 3.0 }))); // one value has no spread
        Assert.True(double.IsNaN(SampleStatistics.Std(Array.Empty<double>())));
    }
}
