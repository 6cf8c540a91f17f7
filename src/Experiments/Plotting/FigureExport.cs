using System.Text.Json;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Plotting;

/// <summary>Exports the saved figures of runs (every saved figure, figures/*.json, at any depth below a folder) to
/// PNG/SVG beside them, all in one Chromium session. Each figure is re-rendered from its stored
/// figure JSON (figures/&lt;name&gt;.json, else the JSON embedded in the page).</summary>
public static class FigureExport
{
    /// <summary>Saved figures in folders named "figures" below (or at) <paramref name="path"/>, sorted:
    /// each figure's JSON (figures/&lt;name&gt;.json), or its page for runs written before figures were
    /// saved as JSON (figures/&lt;name&gt;.html without a JSON twin).</summary>
    public static IReadOnlyList<string> FindFigurePages(string path)
    {
        string full = Path.GetFullPath(path);
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"folder not found: {full}");
        var pages = Directory.EnumerateDirectories(full, RunLayout.Figures, SearchOption.AllDirectories)
            .Prepend(full).Where(d => Path.GetFileName(d) == RunLayout.Figures).Distinct()
            .SelectMany(FiguresIn).ToList();
        pages.Sort(StringComparer.Ordinal);
        return pages;
    }

    /// <summary>The saved figures of one figures/ folder (see <see cref="FindFigurePages"/>), sorted.</summary>
    public static IReadOnlyList<string> FiguresIn(string figuresDirectory)
    {
        if (!Directory.Exists(figuresDirectory)) return Array.Empty<string>();
        var json = Directory.GetFiles(figuresDirectory, "*.json");
        var pages = Directory.GetFiles(figuresDirectory, "*.html").Where(h => !File.Exists(Path.ChangeExtension(h, ".json")));
        return json.Concat(pages).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Parses "png,svg" into formats; throws naming the bad value.</summary>
    public static IReadOnlyList<ImageFormat> ParseFormats(string formats)
    {
        var list = new List<ImageFormat>();
        foreach (var f in formats.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            list.Add(f.ToLowerInvariant() switch
            {
                "png" => ImageFormat.Png,
                "svg" => ImageFormat.Svg,
                "pdf" => ImageFormat.Pdf,
                _ => throw new ArgumentException($"--format: unknown image format '{f}' (allowed: png, svg, pdf)"),
            });
        if (list.Count == 0) throw new ArgumentException("--format: give at least one of png, svg, pdf");
        return list.Distinct().ToList();
    }

    /// <summary>Builds the export jobs for <paramref name="pages"/>: size from the figure's layout
    /// (width/height) unless given, PNG at <paramref name="scale"/>× pixels.</summary>
    public static IReadOnlyList<ImageJob> Jobs(IEnumerable<string> pages, IReadOnlyList<ImageFormat> formats, int? width = null, int? height = null, double scale = 2)
    {
        var jobs = new List<ImageJob>();
        foreach (var page in pages)
        {
            string json = ChartPage.LoadFigureJson(page);
            var (w, h) = LayoutSize(json, page);
            foreach (var format in formats)
                jobs.Add(new ImageJob(json, Path.ChangeExtension(page, format switch { ImageFormat.Png => ".png", ImageFormat.Pdf => ".pdf", _ => ".svg" }), format,
                    width ?? w ?? Charts.DefaultWidth, height ?? h ?? Charts.DefaultHeight, scale));
        }
        return jobs;
    }

    static (int?, int?) LayoutSize(string json, string source)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("layout", out var layout) || layout.ValueKind != JsonValueKind.Object) return (null, null);
            int? Get(string name) => layout.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i > 0 ? i : null;
            return (Get("width"), Get("height"));
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: the stored figure is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>Exports every chart page under <paramref name="path"/> in one browser run.</summary>
    public static ExportResult ExportAll(string path, IReadOnlyList<ImageFormat> formats, int? width = null, int? height = null, double scale = 2)
    {
        var pages = FindFigurePages(path);
        return ChromiumExporter.Export(Jobs(pages, formats, width, height, scale));
    }
}
