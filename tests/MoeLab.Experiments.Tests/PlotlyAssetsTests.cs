using MoeLab.Experiments.Plotting;

namespace MoeLab.Experiments.Tests;

public class PlotlyAssetsTests
{
    [Fact]
    public void EmbeddedPlotlyJsIsTheFullBundle()
    {
        string js = PlotlyAssets.Script;
        Assert.True(js.Length > 1_000_000, $"plotly.js is only {js.Length} chars");
        Assert.Contains(PlotlyAssets.Version, js);
    }
}
