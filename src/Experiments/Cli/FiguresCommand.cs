using System.CommandLine;
using System.Diagnostics;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Reproductions;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab figures &lt;experiment or dir&gt; [--format png,svg,pdf]`: the camera-ready set. First, when the
/// folder holds runs of an experiment with a reproduction (<see cref="IPaperReproduction"/>), the paper's
/// figures are built from its runs into &lt;folder&gt;/figures/&lt;name&gt;.json; then every saved figure
/// (figures/*.json at any depth) is exported beside it: PNG at 2× scale, SVG, and PDF (Chromium's
/// print-to-PDF of the SVG), in one headless Chromium session for PNG/SVG plus one short one per PDF.</summary>
public static class FiguresCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "An experiment name (results/<name>) or a run, sweep or experiment folder (searched for figures/*.json at any depth)." };
        var format = new Option<string>("--format") { Description = "Image formats, comma-separated: png, svg, pdf.", DefaultValueFactory = _ => "png,svg,pdf" };
        var width = new Option<int?>("--width") { Description = "Image width in CSS pixels (default: the figure's own, else 900)." };
        var height = new Option<int?>("--height") { Description = "Image height in CSS pixels (default: the figure's own, else 560)." };
        var scale = new Option<double>("--scale") { Description = "PNG pixel density (2 = twice the CSS size).", DefaultValueFactory = _ => 2.0 };
        var results = new Option<string?>("--results") { Description = "Results root for an experiment name (default: $MOELAB_RESULTS, else <repo>/results)." };
        var cmd = new Command("figures", "Camera-ready figures: the paper's figures from the runs, then every saved figure as PNG (2×), SVG and PDF, through headless Chromium.");
        cmd.Options.Add(results);
        cmd.Arguments.Add(dir);
        cmd.Options.Add(format);
        cmd.Options.Add(width);
        cmd.Options.Add(height);
        cmd.Options.Add(scale);
        cmd.SetAction(p => Run(p.GetValue(dir)!, p.GetValue(format)!, p.GetValue(width), p.GetValue(height), p.GetValue(scale), Console.Out, Console.Error, p.GetValue(results)));
        return cmd;
    }

    /// <summary>Builds the paper's figures of the experiment whose runs are under <paramref name="dir"/> into
    /// &lt;dir&gt;/figures/&lt;name&gt;.json (one experiment with a reproduction; otherwise nothing). Returns lines to print.</summary>
    public static IReadOnlyList<string> WritePaperFigures(string dir)
    {
        var lines = new List<string>();
        if (!Directory.Exists(dir)) return lines;
        var set = ResultSet.Load(dir);
        var experiments = set.Records.Select(r => r.Experiment).Distinct().ToList();
        if (experiments.Count != 1 || PaperReproductions.For(experiments[0]) is not { } reproduction) return lines;
        var main = PaperReproductions.MainConfigRuns(set);
        if (main is null) return lines;
        string figures = Path.Combine(Path.GetFullPath(dir), RunLayout.Figures);
        Directory.CreateDirectory(figures);
        int written = 0;
        foreach (var (figure, chart, problem) in PaperReproductions.BuildFigures(reproduction, main))
        {
            if (problem is not null) { lines.Add($"  paper figure not drawn: {problem}"); continue; }
            if (chart is null) { lines.Add($"  paper figure {figure.Name}: no data in these runs"); continue; }
            AtomicFile.WriteAllText(Path.Combine(figures, figure.Name + ".json"), ChartPage.FigureJson(chart));
            written++;
        }
        lines.Insert(0, $"Paper's figures ({reproduction.Paper}): {written} written to {Path.GetRelativePath(Path.GetFullPath(dir), figures)}/ from {PaperReproductions.DescribeMainConfig(main)}.");
        return lines;
    }

    public static int Run(string dir, string format, int? width, int? height, double scale, TextWriter output, TextWriter error, string? resultsRoot = null)
    {
        try
        {
            if (!Directory.Exists(dir) && !dir.Contains('/') && Directory.Exists(Path.Combine(resultsRoot ?? RunLayout.DefaultResultsRoot(), dir)))
                dir = Path.Combine(resultsRoot ?? RunLayout.DefaultResultsRoot(), dir);
            foreach (var line in WritePaperFigures(dir)) output.WriteLine(line);
            if (scale <= 0 || scale > 8) throw new ArgumentException($"--scale: {scale} is out of range (0, 8]");
            if (width is <= 0 || height is <= 0) throw new ArgumentException("--width/--height must be positive");
            var formats = FigureExport.ParseFormats(format);
            var pages = FigureExport.FindFigurePages(dir);
            if (pages.Count == 0)
            {
                output.WriteLine($"No figures found under {Path.GetFullPath(dir)} (looked for figures/*.json).");
                return 0;
            }
            var clock = Stopwatch.StartNew();
            var result = ChromiumExporter.Export(FigureExport.Jobs(pages, formats, width, height, scale));
            foreach (var f in result.Written) output.WriteLine($"  {Path.GetRelativePath(Path.GetFullPath(dir), f)}  ({new FileInfo(f).Length / 1024.0:F1} KiB)");
            output.WriteLine($"Exported {result.Figures} image(s) from {pages.Count} figure(s) in {clock.Elapsed.TotalSeconds:F1} s " +
                             $"(Chromium {result.BrowserTime.TotalSeconds:F1} s), {result.Bytes / 1024.0:F0} KiB.");
            return 0;
        }
        catch (Exception e) when (e is ChromiumNotFoundException or ArgumentException or DirectoryNotFoundException or FileNotFoundException
                                       or FormatException or InvalidOperationException or TimeoutException)
        {
            error.WriteLine("moelab figures: " + e.Message);
            return e is ChromiumNotFoundException ? 3 : 1;
        }
    }
}
