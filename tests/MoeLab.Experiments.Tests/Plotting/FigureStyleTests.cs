using System.Text.Json;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Results;

namespace MoeLab.Experiments.Tests.Plotting;

public class FigureStyleTests
{
    static JsonElement Figure(Plotly.NET.GenericChart chart) => JsonDocument.Parse(ChartPage.FigureJson(chart)).RootElement.Clone();

    [Fact]
    public void Series_styles_never_repeat_within_a_figure_and_switch_to_dashes_past_the_palette()
    {
        var styles = Enumerable.Range(0, FigureStyle.DistinctSeries).Select(FigureStyle.Series).ToList();
        Assert.Equal(styles.Count, styles.Distinct().Count());
        Assert.Equal(FigureStyle.Series(0).Color, FigureStyle.Series(FigureStyle.Palette.Count).Color);
        Assert.NotEqual(FigureStyle.Series(0).Dash, FigureStyle.Series(FigureStyle.Palette.Count).Dash);
        Assert.Throws<ArgumentException>(() => FigureStyle.Series(FigureStyle.DistinctSeries));
    }

    [Fact]
    public void Fifteen_arms_get_fifteen_distinct_styles_in_lines_bars_and_point_ranges()
    {
        var x = new[] { 1.0, 2.0, 3.0 };
        var bands = Enumerable.Range(0, 15).Select(i => new BandSeries($"arm {i}", x, new[] { 1.0 + i, 2.0 + i, 3.0 + i }, new[] { 0.1, 0.1, 0.1 })).ToList();
        var bars = Enumerable.Range(0, 15).Select(i => new BarSeries($"arm {i}", new[] { "a" }, new[] { 1.0 + i }, new[] { 0.1 })).ToList();
        foreach (var (name, chart) in new[]
                 {
                     ("lines", Charts.LineWithBand(bands, "Loss", "step", "loss", spread: "mean ± 1 sd, n = 3 seeds")),
                     ("bars", Charts.Bars(bars, "Accuracy", "arm", "accuracy (%)")),
                     ("points", Charts.PointRange(bars, "Accuracy", "arm", "accuracy (%)")),
                 })
        {
            var fig = Figure(chart);
            Assert.Equal(15, FigureChecks.LegendTraces(fig).Count());
            Assert.Empty(FigureChecks.DistinctStyles(name, fig));
            Assert.Empty(FigureChecks.Labels(name, fig));
        }
        // The check can fail: two traces drawn alike are reported.
        var same = Charts.WithLayout(Charts.FromTraces(new[]
        {
            new Dictionary<string, object> { ["type"] = "scatter", ["name"] = "a", ["line"] = new Dictionary<string, object> { ["color"] = "#0072B2" } },
            new Dictionary<string, object> { ["type"] = "scatter", ["name"] = "b", ["line"] = new Dictionary<string, object> { ["color"] = "#0072B2" } },
        }), new Dictionary<string, object> { ["showlegend"] = true });
        Assert.Single(FigureChecks.DistinctStyles("same", Figure(same)));
    }

    [Fact]
    public void Long_titles_wrap_then_shorten_and_fit_the_width()
    {
        string title = "expert-count study (fig. 2 setting): generalisation error G_t (mean ± 1 sd over 2 repetitions) with a very long tail that cannot fit";
        var (text, lines) = FigureStyle.FitTitle(title, 480);
        Assert.Equal(2, lines);
        var parts = text.Split("<br>");
        Assert.All(parts, p => Assert.True(FigureStyle.TextWidth(p, FigureStyle.TitleFontSize) <= 480, $"'{p}' is wider than 480 px"));
        Assert.EndsWith("…", parts[^1]);
        Assert.Equal(("Loss", 1), FigureStyle.FitTitle("Loss", 480));
        // In a figure: the layout's title is the fitted one, and the top margin holds its two lines.
        var fig = Figure(Charts.Bars(new[] { new BarSeries("a", new[] { "x" }, new[] { 1.0 }) }, title, "x", "y", size: FigureSize.SingleColumn));
        var layout = fig.GetProperty("layout");
        Assert.Contains("<br>", layout.GetProperty("title").GetProperty("text").GetString());
        Assert.True(layout.GetProperty("margin").GetProperty("t").GetInt32() >= 2 * FigureStyle.TitleFontSize);
        Assert.Equal(FigureStyle.Width(FigureSize.SingleColumn), layout.GetProperty("width").GetInt32());
    }

    [Fact]
    public void Value_axis_zooms_with_a_note_only_when_values_lie_far_from_zero()
    {
        var close = Figure(Charts.PointRange(new[] { new BarSeries("acc", new[] { "a", "b" }, new[] { 82.1, 83.0 }, new[] { 0.3, 0.4 }) }, "t", "arm", "accuracy (%)"));
        var layout = close.GetProperty("layout");
        var range = layout.GetProperty("yaxis").GetProperty("range").EnumerateArray().Select(v => v.GetDouble()).ToList();
        Assert.True(range[0] > 75 && range[1] < 90, $"range {range[0]}..{range[1]}");
        Assert.Equal(FigureStyle.AxisNote, layout.GetProperty("annotations")[0].GetProperty("text").GetString());

        var far = Figure(Charts.PointRange(new[] { new BarSeries("loss", new[] { "a", "b" }, new[] { 0.1, 1.0 }, new[] { 0.05, 0.1 }) }, "t", "arm", "loss"));
        Assert.False(far.GetProperty("layout").TryGetProperty("annotations", out _));
        Assert.Equal("tozero", far.GetProperty("layout").GetProperty("yaxis").GetProperty("rangemode").GetString());
    }

    [Fact]
    public void Integer_axes_never_get_fractional_ticks()
    {
        var fig = Figure(Charts.LineWithBand(new[] { new BandSeries("a", new[] { 1.0, 2.0, 3.0, 4.0, 5.0 }, new[] { 1.0, 2, 3, 4, 5 }) }, "t", "step", "loss", integerX: true));
        Assert.True(fig.GetProperty("layout").GetProperty("xaxis").GetProperty("dtick").GetDouble() >= 1);
        Assert.Equal(5, FigureStyle.NiceStep(3.2));
        Assert.Equal(200, FigureStyle.NiceStep(130));
    }
}

public class RoundingTests
{
    [Theory]
    [InlineData(0.21834, 0.06312, "0.218 ± 0.063")]
    [InlineData(1110.4, 23.4, "1110 ± 23")]
    [InlineData(82.46, 0.5, "82.46 ± 0.50")]
    [InlineData(1234.6, 156, "1230 ± 160")]
    [InlineData(0.0088, 0.0137, "0.009 ± 0.014")]
    [InlineData(-2.345, 0.011, "-2.345 ± 0.011")]
    public void Spread_to_two_significant_digits_and_mean_to_the_same_place(double mean, double sd, string expected) =>
        Assert.Equal(expected, Rounding.MeanSd(mean, sd));

    [Fact]
    public void Without_a_spread_four_significant_digits_and_missing_is_a_dash()
    {
        Assert.Equal("0.5000 ± – (1)", Rounding.MeanSd(0.5, null, 1));
        Assert.Equal("–", Rounding.MeanSd(double.NaN, 0.1));
        Assert.Equal("1.235e+7", Rounding.Value(12_345_678));
        Assert.Equal("95 %", Rounding.Percent(0.95));
        Assert.Equal("94.7 %", Rounding.Percent(0.947));
    }
}
