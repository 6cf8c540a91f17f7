using MoeLab.Experiments.Runtime;
using System.Net;
using System.Text;
using MoeLab.Experiments.Results;
using Plotly.NET;

namespace MoeLab.Experiments.Plotting;

/// <summary>Renders Plotly.NET charts as self-contained offline HTML (plotly.js embedded, no CDN).
/// The chart's figure JSON (data + layout) is written into the page and drawn with
/// <c>Plotly.newPlot</c>, so the page needs nothing from the network.</summary>
public static class ChartPage
{
    const string FigureStart = "var fig=";
    const string FigureEnd = ";Plotly.newPlot(";

    /// <summary>The chart's figure as JSON: <c>{"data": [...], "layout": {...}}</c>.</summary>
    public static string FigureJson(GenericChart chart) => GenericChart.toFigureJson(chart);

    /// <summary>JSON made safe inside a &lt;script&gt; element ("&lt;/" cannot close the script).</summary>
    public static string EscapeForScript(string json) => json.Replace("</", "<\\/", StringComparison.Ordinal);

    /// <summary>A div plus a script that draws the chart; assumes plotly.js is already on the page.</summary>
    public static string Fragment(GenericChart chart, string? elementId = null) => FragmentFromJson(FigureJson(chart), elementId);

    /// <summary>Same as <see cref="Fragment(GenericChart, string?)"/> from figure JSON. With
    /// <paramref name="fitWidth"/> the figure's fixed width is dropped so it fills its container.</summary>
    public static string FragmentFromJson(string figureJson, string? elementId = null, bool fitWidth = false)
    {
        string id = elementId ?? "chart-" + Guid.NewGuid().ToString("N")[..12];
        return $"<div id=\"{id}\" class=\"moelab-chart\"></div>\n" +
               "<script type=\"text/javascript\">(function(){" + FigureStart + EscapeForScript(figureJson) +
               (fitWidth ? ";fig.layout=fig.layout||{};delete fig.layout.width;fig.layout.autosize=true" : "") +
               FigureEnd + $"'{id}',fig.data,fig.layout,{{responsive:true,displaylogo:false}});}})();</script>";
    }

    /// <summary>A complete, self-contained HTML page holding one chart.</summary>
    public static string Html(GenericChart chart, string title = "MoeLab figure") =>
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>" + WebUtility.HtmlEncode(title) + "</title>\n" +
        PlotlyAssets.ScriptTag + "\n</head><body>\n" + Fragment(chart, "figure") + "\n</body></html>\n";

    /// <summary>One self-contained page with several charts, each under its heading (plotly.js embedded once).</summary>
    public static string MultiHtml(IEnumerable<(string Heading, GenericChart Chart)> charts, string title = "MoeLab figures")
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>").Append(WebUtility.HtmlEncode(title))
          .Append("</title>\n").Append(PlotlyAssets.ScriptTag).Append("\n</head><body>\n<h1>").Append(WebUtility.HtmlEncode(title)).Append("</h1>\n");
        int i = 0;
        foreach (var (heading, chart) in charts)
            sb.Append("<h2>").Append(WebUtility.HtmlEncode(heading)).Append("</h2>\n").Append(Fragment(chart, $"figure-{i++}")).Append('\n');
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    /// <summary>Writes <see cref="Html"/> to <paramref name="path"/> atomically (temp file + rename), and the
    /// figure JSON next to it (<c>&lt;name&gt;.json</c>) so `moelab figures` and reports can re-render it.</summary>
    public static void Save(GenericChart chart, string path, string? title = null)
    {
        string full = Path.GetFullPath(path);
        AtomicFile.WriteAllText(full, Html(chart, title ?? Path.GetFileNameWithoutExtension(full)));
        AtomicFile.WriteAllText(Path.ChangeExtension(full, ".json"), FigureJson(chart));
    }

    /// <summary>The figure JSON of a saved chart: from &lt;name&gt;.json when present, else extracted from
    /// a page written by <see cref="Html"/>. Throws naming the file when neither works.</summary>
    public static string LoadFigureJson(string htmlOrJsonPath)
    {
        string json = Path.ChangeExtension(htmlOrJsonPath, ".json");
        if (File.Exists(json)) return File.ReadAllText(json);
        if (!File.Exists(htmlOrJsonPath)) throw new FileNotFoundException($"figure not found: {htmlOrJsonPath}", htmlOrJsonPath);
        return ExtractFigureJson(File.ReadAllText(htmlOrJsonPath))
               ?? throw new FormatException($"{htmlOrJsonPath}: no MoeLab figure found (expected a page written by ChartPage, or a {Path.GetFileName(json)} beside it)");
    }

    /// <summary>The figure JSON embedded in a page written by <see cref="Html"/> (the last one on the page), or null.</summary>
    public static string? ExtractFigureJson(string html)
    {
        int start = html.LastIndexOf(FigureStart, StringComparison.Ordinal);
        if (start < 0) return null;
        start += FigureStart.Length;
        int end = html.IndexOf(FigureEnd, start, StringComparison.Ordinal);
        int fit = html.IndexOf(";fig.layout=fig.layout||{}", start, StringComparison.Ordinal);
        if (fit >= 0 && (end < 0 || fit < end)) end = fit;
        return end < 0 ? null : html[start..end]; // "<\/" stays: it is a valid JSON escape of "</"
    }
}
