using System.Net;
using Plotly.NET;

namespace MoeLab.Experiments.Plotting;

/// <summary>Renders Plotly.NET charts as self-contained offline HTML (plotly.js embedded, no CDN).
/// The chart's figure JSON (data + layout) is written into the page and drawn with
/// <c>Plotly.newPlot</c>, so the page needs nothing from the network.</summary>
public static class ChartPage
{
    /// <summary>The chart's figure as JSON: <c>{"data": [...], "layout": {...}}</c>.</summary>
    public static string FigureJson(GenericChart chart) => GenericChart.toFigureJson(chart);

    /// <summary>A div plus a script that draws the chart; assumes plotly.js is already on the page.</summary>
    public static string Fragment(GenericChart chart, string? elementId = null)
    {
        string id = elementId ?? "chart-" + Guid.NewGuid().ToString("N")[..12];
        return $"<div id=\"{id}\" class=\"moelab-chart\"></div>\n" +
               "<script type=\"text/javascript\">(function(){var fig=" + FigureJson(chart) +
               $";Plotly.newPlot('{id}',fig.data,fig.layout,{{responsive:true,displaylogo:false}});}})();</script>";
    }

    /// <summary>A complete, self-contained HTML page holding one chart.</summary>
    public static string Html(GenericChart chart, string title = "MoeLab figure") =>
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>" + WebUtility.HtmlEncode(title) + "</title>\n" +
        PlotlyAssets.ScriptTag + "\n</head><body>\n" + Fragment(chart, "figure") + "\n</body></html>\n";

    /// <summary>Writes <see cref="Html"/> to <paramref name="path"/> atomically (temp file + rename).</summary>
    public static void Save(GenericChart chart, string path, string? title = null)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(tmp, Html(chart, title ?? Path.GetFileNameWithoutExtension(full)));
        File.Move(tmp, full, overwrite: true);
    }
}
