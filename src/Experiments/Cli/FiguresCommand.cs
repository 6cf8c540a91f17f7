using System.CommandLine;
using System.Diagnostics;
using MoeLab.Experiments.Plotting;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab figures &lt;dir&gt; [--format png,svg]`: exports every saved figure (figures/*.json
/// at any depth below a run, sweep or experiment folder) to PNG/SVG beside it, in one headless
/// Chromium session.</summary>
public static class FiguresCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "A run, sweep or experiment folder (searched for figures/*.json at any depth)." };
        var format = new Option<string>("--format") { Description = "Image formats, comma-separated: png, svg.", DefaultValueFactory = _ => "png,svg" };
        var width = new Option<int?>("--width") { Description = "Image width in CSS pixels (default: the figure's own, else 900)." };
        var height = new Option<int?>("--height") { Description = "Image height in CSS pixels (default: the figure's own, else 560)." };
        var scale = new Option<double>("--scale") { Description = "PNG pixel density (2 = twice the CSS size).", DefaultValueFactory = _ => 2.0 };
        var cmd = new Command("figures", "Export saved figures to PNG/SVG through headless Chromium.");
        cmd.Arguments.Add(dir);
        cmd.Options.Add(format);
        cmd.Options.Add(width);
        cmd.Options.Add(height);
        cmd.Options.Add(scale);
        cmd.SetAction(p => Run(p.GetValue(dir)!, p.GetValue(format)!, p.GetValue(width), p.GetValue(height), p.GetValue(scale), Console.Out, Console.Error));
        return cmd;
    }

    public static int Run(string dir, string format, int? width, int? height, double scale, TextWriter output, TextWriter error)
    {
        try
        {
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
