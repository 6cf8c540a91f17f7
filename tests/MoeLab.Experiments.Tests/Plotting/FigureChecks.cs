using System.Text.Json;

namespace MoeLab.Experiments.Tests.Plotting;

/// <summary>Checks of a figure's JSON against the house style, shared by the style tests and the
/// reproductions' figure tests. Each returns problems (empty = fine), so a failure names them all.</summary>
internal static class FigureChecks
{
    static string Text(JsonElement e, params string[] path)
    {
        foreach (var p in path)
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(p, out var next)) return "";
            e = next;
        }
        return e.ValueKind == JsonValueKind.String ? e.GetString() ?? "" : e.ValueKind == JsonValueKind.Undefined ? "" : e.ToString();
    }

    /// <summary>Traces shown in the legend (not band edges, not heatmaps).</summary>
    public static IEnumerable<JsonElement> LegendTraces(JsonElement figure) =>
        figure.GetProperty("data").EnumerateArray().Where(t => Text(t, "type") != "heatmap"
            && !(t.TryGetProperty("showlegend", out var s) && s.ValueKind == JsonValueKind.False));

    /// <summary>Title, axis titles, legend names (legend shown), and for heatmaps a colour-bar title.</summary>
    public static List<string> Labels(string name, JsonElement figure)
    {
        var problems = new List<string>();
        var layout = figure.GetProperty("layout");
        if (Text(layout, "title", "text").Trim().Length == 0) problems.Add($"{name}: no title");
        if (Text(layout, "xaxis", "title", "text").Trim().Length == 0) problems.Add($"{name}: no x-axis title");
        if (Text(layout, "yaxis", "title", "text").Trim().Length == 0) problems.Add($"{name}: no y-axis title");
        var data = figure.GetProperty("data").EnumerateArray().ToList();
        if (data.Count == 0) problems.Add($"{name}: no traces");
        foreach (var heat in data.Where(t => Text(t, "type") == "heatmap"))
            if (Text(heat, "colorbar", "title", "text").Trim().Length == 0) problems.Add($"{name}: heatmap without a colour-bar title");
        var legend = LegendTraces(figure).ToList();
        if (legend.Count > 0)
        {
            if (!(layout.TryGetProperty("showlegend", out var show) && show.ValueKind == JsonValueKind.True)) problems.Add($"{name}: legend hidden");
            foreach (var t in legend)
                if (Text(t, "name").Trim().Length == 0) problems.Add($"{name}: a {Text(t, "type")} trace has no legend name");
        }
        return problems;
    }

    /// <summary>True when the figure shows a spread: an error_y array, or a filled band.</summary>
    public static bool HasSpread(JsonElement figure) =>
        figure.GetProperty("data").EnumerateArray().Any(t =>
            (t.TryGetProperty("error_y", out var e) && e.TryGetProperty("array", out var a) && a.GetArrayLength() > 0)
            || Text(t, "fill") == "tonexty");

    /// <summary>The colour rule: no two legend traces share colour + dash + symbol + fill pattern.</summary>
    public static List<string> DistinctStyles(string name, JsonElement figure)
    {
        var seen = new Dictionary<string, string>();
        var problems = new List<string>();
        foreach (var t in LegendTraces(figure))
        {
            string color = Text(t, "marker", "color") is { Length: > 0 } mc ? mc : Text(t, "line", "color");
            string key = string.Join("|", color, Text(t, "line", "dash"), Text(t, "marker", "symbol"), Text(t, "marker", "pattern", "shape"));
            if (color.Length == 0) problems.Add($"{name}: trace '{Text(t, "name")}' has no explicit colour");
            if (seen.TryGetValue(key, out var other)) problems.Add($"{name}: '{Text(t, "name")}' and '{other}' are drawn alike ({key})");
            else seen[key] = Text(t, "name");
        }
        return problems;
    }

    /// <summary>Builds every declared figure of <paramref name="reproduction"/> from <paramref name="runs"/> and
    /// checks each against the house style (<see cref="Labels"/>, <see cref="DistinctStyles"/>); a figure that
    /// failed to build or built nothing is a problem too. Returns the built figures' JSON for a test's own
    /// further checks (error bars, legend wording), and appends every problem to <paramref name="problems"/>.</summary>
    public static List<(MoeLab.Experiments.Reproductions.PaperFigure Figure, JsonElement Json)> Reproduction(
        MoeLab.Experiments.Reproductions.IPaperReproduction reproduction, MoeLab.Experiments.Results.ResultSet runs, List<string> problems)
    {
        var built = new List<(MoeLab.Experiments.Reproductions.PaperFigure, JsonElement)>();
        foreach (var (figure, chart, problem) in MoeLab.Experiments.Reproductions.PaperReproductions.BuildFigures(reproduction, runs))
        {
            if (problem is not null) { problems.Add(problem); continue; }
            if (chart is null) { problems.Add($"{figure.Name}: no chart"); continue; }
            var json = JsonDocument.Parse(MoeLab.Experiments.Plotting.ChartPage.FigureJson(chart)).RootElement.Clone();
            problems.AddRange(Labels(figure.Name, json));
            problems.AddRange(DistinctStyles(figure.Name, json));
            built.Add((figure, json));
        }
        return built;
    }
}
