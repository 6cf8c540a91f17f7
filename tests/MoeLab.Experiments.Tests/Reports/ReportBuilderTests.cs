using System.Xml;
using MoeLab.Experiments.Cli;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Reports;
using MoeLab.Experiments.Tests.Results;
using Xunit.Abstractions;

namespace MoeLab.Experiments.Tests.Reports;

public class ReportBuilderTests(ITestOutputHelper output)
{
    static int CountOf(string s, string sub)
    {
        int n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    static void SaveRunFigure(string experimentDir, string runRelative, string name, string seriesName)
    {
        var chart = Charts.Heatmap(new[] { new[] { 0.25, 0.75 }, new[] { 0.5, 0.5 } }, new[] { "expert 0", "expert 1" }, new[] { "task A", "task B" },
            seriesName, "expert", "task");
        ChartPage.Save(chart, Path.Combine(experimentDir, runRelative, "figures", name + ".html"));
    }

    [Fact]
    public void ReportHasRunsSummaryCurvesFiguresAndConfigs()
    {
        using var fake = new FakeRuns();
        string exp = fake.WriteToySweep();
        SaveRunFigure(exp, "sweep-1/e4-s1", "routing", "probe-figure-series");
        string outPath = Path.Combine(fake.Root, "out", "report.html");

        var info = ReportBuilder.Build("toy", fake.Root, outPath);
        string html = File.ReadAllText(outPath);

        Assert.Equal(7, info.Runs);
        Assert.Equal(6, info.CompletedRuns);
        Assert.Equal(4, info.AggregatedRows);
        Assert.Equal(1, info.RunFigures);
        Assert.Equal(2, info.Configs); // experts 4 and 8; runs differing only in seed share a config
        // Runs table: every run, its status and seed.
        foreach (var run in new[] { "sweep-1/e4-s1", "sweep-1/e8-s3", "broken" }) Assert.Contains($"<td>{run}</td>", html, StringComparison.Ordinal);
        Assert.Contains("class=\"status-failed\">failed</td>", html, StringComparison.Ordinal);
        // Summary: accuracy of (dense, experts 4) = 0.52 ± 0.01 over 3 seeds, rounded by the lab's rule (sd to 2 significant digits, mean to the same place).
        Assert.Contains("<td title=\"95% CI ± 0.025\">0.520 ± 0.010 (3)</td>", html, StringComparison.Ordinal); // t(.975,2)·0.01/√3 = 0.0248
        Assert.Contains(">0.720 ± 0.010 (3)</td>", html, StringComparison.Ordinal);
        Assert.Contains("<td>moe</td><td>8</td><td>3</td>", html, StringComparison.Ordinal);
        // Charts: 2 bar charts (accuracy, loss) + 1 curve (loss) + 1 run figure, plotly.js embedded once, no CDN.
        Assert.Equal(4, info.Charts + info.RunFigures);
        Assert.Equal(1, CountOf(html, PlotlyAssets.Script[..300]));
        Assert.Contains("probe-figure-series", html, StringComparison.Ordinal);
        Assert.Contains("id=\"curve-", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script src", html, StringComparison.Ordinal);
        // Configs: resolved JSON shown.
        Assert.Contains("&quot;experts&quot;: 8", html, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(outPath)!, "*.tmp-*"));
        output.WriteLine($"report {info.Bytes / 1024} KiB, {info.Charts} charts");
    }

    [Fact]
    public void ReportShowsTablesSavedByCompletedRuns()
    {
        using var fake = new FakeRuns();
        string exp = fake.WriteToySweep();
        string tables = Path.Combine(exp, "sweep-1", "e4-s1", "tables");
        Directory.CreateDirectory(tables);
        File.WriteAllText(Path.Combine(tables, "assignment.csv"), "expert,task_a,task_b\n0,17,3\n1,2,911\n");
        string outPath = Path.Combine(fake.Root, "out", "report.html");

        ReportBuilder.Build("toy", fake.Root, outPath);
        string html = File.ReadAllText(outPath);

        Assert.Contains("<h2 id=\"tables\">", html, StringComparison.Ordinal);
        Assert.Contains("<h3>assignment</h3>", html, StringComparison.Ordinal);
        Assert.Contains("<th>task_b</th>", html, StringComparison.Ordinal);
        Assert.Contains("<td>911</td>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportCommandNamesAMissingExperiment()
    {
        using var fake = new FakeRuns();
        fake.WriteToySweep();
        var err = new StringWriter();
        int rc = ReportCommand.Run("nope", fake.Root, null, TextWriter.Null, err);
        Assert.Equal(2, rc); // bad input: nothing written
        Assert.Contains("no results for experiment 'nope'", err.ToString());
        Assert.Contains("toy", err.ToString()); // lists what exists
    }

    [Fact]
    public void FiguresCommandRejectsUnknownFormats()
    {
        using var fake = new FakeRuns();
        string exp = fake.WriteToySweep();
        SaveRunFigure(exp, "sweep-1/e4-s1", "routing", "s1");
        var err = new StringWriter();
        Assert.Equal(1, FiguresCommand.Run(exp, "png,gif", null, null, 1, TextWriter.Null, err));
        Assert.Contains("'gif'", err.ToString());
    }

    [MoeLab.Experiments.Tests.Plotting.ChromiumFact]
    public void FiguresCommandExportsEverySavedFigure()
    {
        using var fake = new FakeRuns();
        string exp = fake.WriteToySweep();
        SaveRunFigure(exp, "sweep-1/e4-s1", "routing", "s1");
        SaveRunFigure(exp, "sweep-1/e8-s2", "routing", "s2");
        var err = new StringWriter();
        var badFormat = FiguresCommand.Run(exp, "png,gif", null, null, 1, TextWriter.Null, err);
        Assert.Equal(1, badFormat);
        Assert.Contains("'gif'", err.ToString());
        var log = new StringWriter();
        Assert.Equal(0, FiguresCommand.Run(exp, "png,svg", null, null, 1, log, err));
        output.WriteLine(log.ToString());
        foreach (var run in new[] { "sweep-1/e4-s1", "sweep-1/e8-s2" })
        {
            string basePath = Path.Combine(exp, run, "figures", "routing");
            Assert.Equal((Charts.DefaultWidth, Charts.DefaultHeight), ChromiumExporter.PngSize(File.ReadAllBytes(basePath + ".png")));
            var svg = new XmlDocument();
            svg.Load(basePath + ".svg");
            Assert.Equal("svg", svg.DocumentElement!.LocalName);
        }
    }
}
