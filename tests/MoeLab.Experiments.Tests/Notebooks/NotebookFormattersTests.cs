using Plotly.NET.CSharp;
using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Data.Analysis;
using Microsoft.DotNet.Interactive.Formatting;
using MoeLab.Experiments.Notebooks;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Tests.Plotting;

namespace MoeLab.Experiments.Tests.Notebooks;

/// <summary>The MIME bundles every notebook host shows (runner, MoeLab kernel, .NET Interactive),
/// the plotly.js 3 figure form, and the FSharp.Core binding that lets MoeLab load in the .NET
/// Interactive kernel.</summary>
[Collection("notebooks")]
public class NotebookFormattersTests
{
    static Plotly.NET.GenericChart Line(string name) =>
        Plotly.NET.CSharp.Chart.Line<double, double, string>(x: new[] { 1.0, 2.0, 3.0 }, y: new[] { 3.0, 1.0, 2.0 }, Name: name);

    [Fact]
    public void BundleKeepsOrderReplacesInPlaceAndWritesJsonTypesAsJsonValues()
    {
        var bundle = new MimeBundle()
            .Set(MimeTypes.PlotlyJson, """{"data":[],"layout":{}}""")
            .Set(MimeTypes.Html, "<b>x</b>")
            .Set(MimeTypes.PlainText, "x");
        bundle.Set(MimeTypes.Html, "<i>y</i>");
        Assert.Equal(new[] { MimeTypes.PlotlyJson, MimeTypes.Html, MimeTypes.PlainText }, bundle.MimeTypeList);
        var data = bundle.ToJupyterData();
        Assert.IsType<JsonObject>(data[MimeTypes.PlotlyJson]);
        Assert.Equal("<i>y</i>", data[MimeTypes.Html]!.GetValue<string>());
        var back = MimeBundle.FromJupyterData(JsonNode.Parse("""{"text/html": ["<i>", "y</i>"], "application/vnd.plotly.v1+json": {"data": []}}""")!.AsObject());
        Assert.Equal("<i>y</i>", back[MimeTypes.Html]);
        Assert.Equal("""{"data":[]}""", back[MimeTypes.PlotlyJson]);
        Assert.Throws<KeyNotFoundException>(() => back[MimeTypes.Png]);
    }

    [Fact]
    public void DeprecatedTitleFormsAreRewrittenForPlotlyJs3()
    {
        const string old = """
            {"data":[{"type":"heatmap","z":[[1]],"colorbar":{"title":"rounds","titleside":"right","titlefont":{"size":10}}}],
             "layout":{"title":"Loss","titlefont":{"size":20},"xaxis":{"title":"step"},"yaxis":{"title":{"text":"MSE"}}}}
            """;
        Assert.Equal(6, PlotlyFigure.DeprecatedAttributes(old).Count);
        string fixedJson = PlotlyFigure.ForPlotlyJs3(old);
        Assert.Empty(PlotlyFigure.DeprecatedAttributes(fixedJson));
        var fig = JsonNode.Parse(fixedJson)!;
        Assert.Equal("Loss", (string)fig["layout"]!["title"]!["text"]!);
        Assert.Equal(20, (int)fig["layout"]!["title"]!["font"]!["size"]!);
        Assert.Equal("step", (string)fig["layout"]!["xaxis"]!["title"]!["text"]!);
        Assert.Equal("MSE", (string)fig["layout"]!["yaxis"]!["title"]!["text"]!);
        Assert.Equal("right", (string)fig["data"]![0]!["colorbar"]!["title"]!["side"]!);
        Assert.Equal(fixedJson, PlotlyFigure.ForPlotlyJs3(fixedJson)); // idempotent
        Assert.Throws<FormatException>(() => PlotlyFigure.ForPlotlyJs3("{\"layout\":{}}"));
        Assert.Throws<FormatException>(() => PlotlyFigure.ForPlotlyJs3("not json"));
    }

    [Fact]
    public void MoeLabChartsNeedNoRewritingButComeOutInPlotlyJs3Form()
    {
        var charts = new[]
        {
            Line("a"),
            Charts.Heatmap(new[] { new[] { 1.0, 2.0 }, new[] { 3.0, 4.0 } }, new[] { "r0", "r1" }, new[] { "c0", "c1" }, "heat", "x", "y", "rounds routed"),
            Charts.Bars(new[] { new BarSeries("s", new[] { "e0", "e1" }, new[] { 1.0, 2.0 }) }, "bars", "expert", "tokens"),
        };
        foreach (var chart in charts)
        {
            string figure = NotebookFormatters.Format(chart)[MimeTypes.PlotlyJson];
            Assert.Empty(PlotlyFigure.DeprecatedAttributes(figure));
            Assert.IsType<JsonArray>(JsonNode.Parse(figure)!["data"]);
        }
    }

    [Fact]
    public void ChartBundleHasPlotlyJsonHtmlAndTextAndPngExactlyWhenChromiumIsThere()
    {
        var bundle = NotebookFormatters.ChartBundle(Line("series-x"), withImage: false);
        Assert.Equal(new[] { MimeTypes.PlotlyJson, MimeTypes.Html, MimeTypes.PlainText }, bundle.MimeTypeList);
        Assert.Contains("series-x", bundle[MimeTypes.PlotlyJson]);
        Assert.Contains(NotebookFormatters.ChartMarker, bundle[MimeTypes.Html]);
        Assert.Equal("Plotly chart: 1 trace(s) (scatter)", bundle[MimeTypes.PlainText]);
    }

    [ChromiumFact]
    public void ChartPngIsAValidImageOfTheFigureSize()
    {
        var bundle = NotebookFormatters.ChartBundle(Line("png").WithSize(400, 300), withImage: true);
        byte[] png = Convert.FromBase64String(bundle[MimeTypes.Png]);
        var (w, h) = ChromiumExporter.PngSize(png)!.Value;
        double scale = NotebookFormatters.ChartImageSize.Scale;
        Assert.Equal(((int)Math.Round(400 * scale), (int)Math.Round(300 * scale)), (w, h));
        Assert.Equal(new[] { MimeTypes.PlotlyJson, MimeTypes.Html, MimeTypes.Png, MimeTypes.PlainText }, bundle.MimeTypeList);
    }

    [Fact]
    public void DataFrameHtmlScrollsAndCapsRows()
    {
        var df = new DataFrame(Enumerable.Range(0, 18).Select(j =>
            (DataFrameColumn)new DoubleDataFrameColumn($"metric_{j}", Enumerable.Range(0, 60).Select(i => i * 0.5 + j))));
        var bundle = NotebookFormatters.Format(df);
        Assert.Equal(new[] { MimeTypes.Html, MimeTypes.PlainText }, bundle.MimeTypeList);
        string html = bundle[MimeTypes.Html];
        Assert.Matches("^<div class=\"moelab-dataframe-scroll\" style=\"max-height:[^\"]+;max-width:100%;overflow:auto\">", html);
        Assert.EndsWith("</table>\n</div>", html);
        Assert.Equal(NotebookFormatters.MaxRows, Regex.Matches(html, @"<tr><th>\d+</th>").Count);
        Assert.Contains("60 rows × 18 columns (first 25 shown)", html);
        Assert.Contains("DataFrame: 60 rows × 18 columns (first 25 shown)", bundle[MimeTypes.PlainText]);
    }

    [Fact]
    public void RegisteredFormattersServeTheSameBundleToANotebookKernel()
    {
        NotebookFormatters.Register();
        var chart = Line("via-formatter");
        // What a .NET Interactive kernel does for a displayed value: each preferred MIME type in turn.
        string figure = chart.ToDisplayString(MimeTypes.PlotlyJson);
        string html = chart.ToDisplayString(MimeTypes.Html);
        Assert.Contains("via-formatter", figure);
        Assert.IsType<JsonArray>(JsonNode.Parse(figure)!["data"]);
        Assert.Contains(NotebookFormatters.ChartMarker, html);
        Assert.Contains("Plotly chart: 1 trace(s)", chart.ToDisplayString(MimeTypes.PlainText));
        var df = new DataFrame(new DoubleDataFrameColumn("loss", new[] { 1.5 }));
        Assert.Contains("moelab-dataframe-scroll", df.ToDisplayString(MimeTypes.Html));
    }

    [Fact]
    public void FSharpCoreRequestsResolveToTheLoadedCopyOfTheSameMajorVersion()
    {
        var loaded = typeof(Microsoft.FSharp.Core.FSharpOption<int>).Assembly;
        var v = loaded.GetName().Version!;
        // The .NET Interactive kernel holds FSharp.Core 10.0.0.0 while Plotly.NET asks for 10.1.0.0.
        var newerMinor = new AssemblyName($"FSharp.Core, Version={v.Major}.{v.Minor + 1}.0.0, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a");
        Assert.Same(loaded, FSharpCoreBinding.Resolve(AssemblyLoadContext.Default, newerMinor));
        Assert.Null(FSharpCoreBinding.Resolve(AssemblyLoadContext.Default, new AssemblyName("Giraffe.ViewEngine, Version=1.0.0.0")));
        var otherMajor = new AssemblyName($"FSharp.Core, Version={v.Major + 1}.0.0.0, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a");
        Assert.NotSame(loaded, FSharpCoreBinding.Resolve(AssemblyLoadContext.Default, otherMajor));
    }

    [Fact]
    public void PublishMovesFSharpCoreWhereScriptHostsDoNotProbe()
    {
        string dir = Path.Combine(Path.GetTempPath(), "moelab-publish-move-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "FSharp.Core.dll"), "stand-in");
            NotebookPublisher.MoveFSharpCore(dir, TextWriter.Null);
            Assert.False(File.Exists(Path.Combine(dir, "FSharp.Core.dll")));
            Assert.Equal("stand-in", File.ReadAllText(Path.Combine(dir, FSharpCoreBinding.SubFolder, "FSharp.Core.dll")));
            NotebookPublisher.MoveFSharpCore(dir, TextWriter.Null); // nothing to move: no error
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
