using System.Text.Json;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Tests.Results;

namespace MoeLab.Experiments.Tests.Plotting;

public class ChartsTests
{
    static JsonElement Figure(Plotly.NET.GenericChart chart) => JsonDocument.Parse(ChartPage.FigureJson(chart)).RootElement.Clone();

    [Fact]
    public void BandChartHasMeanLineAndFilledStdBand()
    {
        var chart = Charts.LineWithBand(new[]
        {
            new BandSeries("dense", new[] { 1.0, 2.0, 3.0 }, new[] { 1.0, 0.5, 0.25 }, new[] { 0.1, 0.2, 0.3 }),
            new BandSeries("moe", new[] { 1.0, 2.0, 3.0 }, new[] { 0.9, 0.4, 0.2 }),
        }, "Loss", "step", "loss");
        var fig = Figure(chart);
        var traces = fig.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(4, traces.Count); // dense: upper, lower (filled), mean; moe: mean only
        Assert.Equal(new[] { 1.1, 0.7, 0.55 }, traces[0].GetProperty("y").EnumerateArray().Select(v => Math.Round(v.GetDouble(), 12)));
        Assert.Equal("tonexty", traces[1].GetProperty("fill").GetString());
        Assert.Equal(new[] { 0.9, 0.3, -0.05 }, traces[1].GetProperty("y").EnumerateArray().Select(v => Math.Round(v.GetDouble(), 12)));
        Assert.Equal("dense", traces[2].GetProperty("name").GetString());
        Assert.Equal("Loss", fig.GetProperty("layout").GetProperty("title").GetProperty("text").GetString());
        Assert.Equal("step", fig.GetProperty("layout").GetProperty("xaxis").GetProperty("title").GetProperty("text").GetString());
        Assert.Equal("loss", fig.GetProperty("layout").GetProperty("yaxis").GetProperty("title").GetProperty("text").GetString());
    }

    [Fact]
    public void HistoryBandsAverageSeedsPerStep()
    {
        using var fake = new FakeRuns();
        var set = ResultSet.Load(fake.WriteToySweep());
        var chart = Charts.HistoryBands(set.History, "loss", new[] { "arm", "config.model.experts" });
        var traces = Figure(chart).GetProperty("data").EnumerateArray().ToList();
        var dense4 = traces.Single(t => t.TryGetProperty("name", out var n) && n.GetString() == "arm=dense, model.experts=4");
        // Includes the failed run? No history there; seeds 1..3: loss(step 1) = 2 + 0.1*seed → mean 2.2.
        Assert.Equal(2.2, dense4.GetProperty("y")[0].GetDouble(), 12);
        Assert.Equal(2 * 2 * 3, traces.Count); // 4 series × (upper, lower, mean)
    }

    [Fact]
    public void BarsCarryErrorBarsAndHeatmapKeepsLabels()
    {
        var bars = Charts.Bars(new[] { new BarSeries("acc", new[] { "dense", "moe" }, new[] { 0.5, 0.6 }, new[] { 0.01, 0.02 }) }, "Accuracy", "arm", "accuracy");
        var trace = Figure(bars).GetProperty("data")[0];
        Assert.Equal("bar", trace.GetProperty("type").GetString());
        Assert.Equal(0.02, trace.GetProperty("error_y").GetProperty("array")[1].GetDouble());

        var heat = Charts.Heatmap(new[] { new[] { 0.1, 0.9 }, new[] { 0.7, 0.3 } }, new[] { "expert 0", "expert 1" }, new[] { "task A", "task B" },
            "Routing", "expert", "task");
        var h = Figure(heat).GetProperty("data")[0];
        Assert.Equal("heatmap", h.GetProperty("type").GetString());
        Assert.Equal("task B", h.GetProperty("x")[1].GetString());
        Assert.Equal(0.7, h.GetProperty("z")[1][0].GetDouble());
        Assert.Throws<ArgumentException>(() => Charts.Heatmap(new[] { new[] { 0.1 } }, new[] { "a", "b" }, new[] { "x" }, "t", "r", "c"));

        var hist = Charts.CountHistogram(new[] { ("top-p", (IReadOnlyList<int>)new[] { 1, 1, 2, 4 }) }, "Experts per token");
        var ht = Figure(hist).GetProperty("data")[0];
        Assert.Equal(new[] { "1", "2", "3", "4" }, ht.GetProperty("x").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(new[] { 0.5, 0.25, 0.0, 0.25 }, ht.GetProperty("y").EnumerateArray().Select(v => v.GetDouble()));
    }

    [Fact]
    public void SavedPageIsOfflineAndItsFigureCanBeRecovered()
    {
        string dir = Path.Combine(Path.GetTempPath(), "moelab-chart-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var chart = Charts.Bars(new[] { new BarSeries("probe-series</script>", new[] { "a" }, new[] { 0.375 }) }, "t", "x", "y");
            string path = Path.Combine(dir, "figures", "probe.html");
            ChartPage.Save(chart, path);
            string html = File.ReadAllText(path);
            Assert.Contains("0.375", html, StringComparison.Ordinal);
            Assert.DoesNotContain("<script src", html, StringComparison.Ordinal);
            Assert.DoesNotContain("src=\"http", html, StringComparison.Ordinal);
            Assert.DoesNotContain("probe-series</script>", html, StringComparison.Ordinal); // escaped inside the script
            string fromHtml = ChartPage.ExtractFigureJson(html)!;
            Assert.Equal("probe-series</script>", JsonDocument.Parse(fromHtml).RootElement.GetProperty("data")[0].GetProperty("name").GetString());
            Assert.True(File.Exists(Path.Combine(dir, "figures", "probe.json")));
            File.Delete(Path.Combine(dir, "figures", "probe.json"));
            Assert.Equal(fromHtml, ChartPage.LoadFigureJson(path));

            string multi = ChartPage.MultiHtml(new[] { ("first", chart), ("second", chart) });
            Assert.Equal(1, CountOf(multi, PlotlyAssets.Script[..300])); // plotly.js embedded once
            Assert.Contains("id=\"figure-0\"", multi, StringComparison.Ordinal);
            Assert.Contains("id=\"figure-1\"", multi, StringComparison.Ordinal);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    static int CountOf(string s, string sub)
    {
        int n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}
