using MoeLab.Experiments.Plotting;
using Plotly.NET;

namespace MoeLab.Experiments.Tests;

public class ChartPageTests
{
    [Fact]
    public void PageEmbedsTheDataAndNoCdn()
    {
        var chart = Plotly.NET.CSharp.Chart.Line<double, double, string>(
            x: new[] { 1.0, 2.0, 3.0 }, y: new[] { 0.125, 0.25, 0.375 }, Name: "probe-series", UseDefaults: false);
        string html = ChartPage.Html(chart, "t");
        Assert.Contains("probe-series", html, StringComparison.Ordinal);
        Assert.Contains("0.375", html, StringComparison.Ordinal);
        // plotly.js itself mentions cdn.plot.ly (a topojson default); what matters is that no
        // script is loaded from elsewhere.
        Assert.DoesNotContain("<script src", html, StringComparison.Ordinal);
        Assert.DoesNotContain("src=\"http", html, StringComparison.Ordinal);
        Assert.Contains(PlotlyAssets.Version, html, StringComparison.Ordinal);
    }
}
