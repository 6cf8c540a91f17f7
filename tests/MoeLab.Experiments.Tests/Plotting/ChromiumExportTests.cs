using System.Diagnostics;
using System.Xml;
using MoeLab.Experiments.Plotting;
using Xunit.Abstractions;

namespace MoeLab.Experiments.Tests.Plotting;

/// <summary>Exports real figures through headless Chromium. CI installs Chromium, so this runs
/// there; on a machine without it the test is reported as skipped with the reason.</summary>
public class ChromiumExportTests(ITestOutputHelper output)
{
    /// <summary>PDF: Chromium prints the figure's SVG on a page of the figure's size (one short browser run per PDF).</summary>
    [ChromiumFact]
    [Trait("Category", "Slow")]
    public void ExportsPdfThroughPrintToPdf()
    {
        string dir = Path.Combine(Path.GetTempPath(), "moelab-export-test-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var band = Charts.LineWithBand(new[] { new BandSeries("moe", new[] { 1.0, 2.0, 3.0 }, new[] { 1.0, 0.6, 0.4 }, new[] { 0.1, 0.1, 0.05 }) }, "Loss band", "step", "loss");
            var job = new ImageJob(ChartPage.FigureJson(band), Path.Combine(dir, "band.pdf"), ImageFormat.Pdf, 520, 380);
            var result = ChromiumExporter.Export(new[] { job });
            var bytes = File.ReadAllBytes(job.OutputPath);
            Assert.Equal("%PDF-", System.Text.Encoding.ASCII.GetString(bytes, 0, 5));
            Assert.True(bytes.Length > 2_000, $"PDF of {bytes.Length} bytes (blank?)");
            Assert.Equal(new[] { Path.GetFullPath(job.OutputPath) }, result.Written);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [ChromiumFact]
    public void ExportsValidPngAndSvgInOneBrowserRun()
    {
        string dir = Path.Combine(Path.GetTempPath(), "moelab-export-test-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var band = Charts.LineWithBand(new[] { new BandSeries("moe", new[] { 1.0, 2.0, 3.0 }, new[] { 1.0, 0.6, 0.4 }, new[] { 0.1, 0.1, 0.05 }) }, "Loss band", "step", "loss");
            var heat = Charts.Heatmap(new[] { new[] { 0.1, 0.9 }, new[] { 0.7, 0.3 } }, new[] { "e0", "e1" }, new[] { "A", "B" }, "Routing", "expert", "task");
            var jobs = new[]
            {
                new ImageJob(ChartPage.FigureJson(band), Path.Combine(dir, "band.png"), ImageFormat.Png, 600, 400, 1),
                new ImageJob(ChartPage.FigureJson(band), Path.Combine(dir, "band.svg"), ImageFormat.Svg, 600, 400),
                new ImageJob(ChartPage.FigureJson(heat), Path.Combine(dir, "heat.png"), ImageFormat.Png, 500, 300, 2),
            };
            var clock = Stopwatch.StartNew();
            var result = ChromiumExporter.Export(jobs);
            output.WriteLine($"exported {result.Figures} figures in {clock.Elapsed.TotalSeconds:F1} s (browser {result.BrowserTime.TotalSeconds:F1} s), {result.Bytes} bytes");

            Assert.Equal((600, 400), ChromiumExporter.PngSize(File.ReadAllBytes(jobs[0].OutputPath)));
            Assert.Equal((1000, 600), ChromiumExporter.PngSize(File.ReadAllBytes(jobs[2].OutputPath)));
            var svg = new XmlDocument();
            svg.Load(jobs[1].OutputPath);
            Assert.Equal("svg", svg.DocumentElement!.LocalName);
            Assert.Contains("Loss band", svg.OuterXml); // the title is drawn as text
            Assert.True(new FileInfo(jobs[0].OutputPath).Length > 5_000, "PNG suspiciously small (blank?)");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void MissingChromiumSaysHowToInstallIt()
    {
        var e = Assert.Throws<ChromiumNotFoundException>(() =>
            ChromiumExporter.Export(new[] { new ImageJob("{}", "/tmp/x.png", ImageFormat.Png) }, chromiumPath: "/nonexistent/chromium"));
        Assert.Contains("apt-get install -y chromium", e.Message);
    }

    [Fact]
    public void ValidationRejectsNonImages()
    {
        Assert.Null(ChromiumExporter.PngSize(new byte[40]));
        Assert.False(ChromiumExporter.IsSvg("<html/>"u8.ToArray(), out _));
        Assert.False(ChromiumExporter.IsSvg("<svg"u8.ToArray(), out _));
        Assert.True(ChromiumExporter.IsSvg("<svg xmlns=\"http://www.w3.org/2000/svg\"/>"u8.ToArray(), out _));
        Assert.Throws<InvalidOperationException>(() => ChromiumExporter.Validate(new byte[40], new ImageJob("{}", "x.png", ImageFormat.Png)));
    }
}
