using System.Globalization;
using System.Text;
using Plotly.NET;

namespace MoeLab.Experiments.Plotting;

/// <summary>The two figure sizes of the house style (CSS pixels; PNGs are exported at 2×).</summary>
public enum FigureSize
{
    /// <summary>520 × 380: one column of a two-column paper (≈ 3.3 in wide).</summary>
    SingleColumn,

    /// <summary>1000 × 560: the full text width (≈ 6.5 in).</summary>
    FullPage,
}

/// <summary>How one series is drawn: colour, line dash, marker symbol and (bars) fill pattern.</summary>
public readonly record struct SeriesStyle(string Color, string Dash, string Symbol, string Pattern);

/// <summary>The lab's house style for figures, in one place (<see cref="Charts"/> applies it):
/// <list type="bullet">
/// <item>white background, light grid, axis lines, outside ticks;</item>
/// <item>fonts sized for print: at either <see cref="FigureSize"/> scaled to its printed width (3.3 in
/// single column, 6.5 in full page) the body text is ≈ 7 pt and tick labels ≈ 6.4 pt;</item>
/// <item>a colour-blind-safe palette (Okabe &amp; Ito, 2008) that never repeats a style within a
/// figure: series i gets colour i mod 8, and past the palette's length the next dash style, marker
/// symbol and bar fill pattern (<see cref="Series"/>), so 48 series stay distinct;</item>
/// <item>titles that fit: wrapped onto a second line at the figure's width, then shortened with "…"
/// (<see cref="FitTitle"/>), with the top margin grown to hold them;</item>
/// <item>a legend even for one series (it names the arm); its title says what bands and error bars
/// are (± 1 sd, 95 % CI, n);</item>
/// <item>a linear value axis is zoomed to the data when all values lie well above 0, with a visible
/// note (<see cref="AxisNote"/>); otherwise it starts at 0 (<see cref="FitValueAxis"/>).</item>
/// </list></summary>
public static class FigureStyle
{
    /// <summary>Okabe–Ito palette, the order chosen so the first colours differ most (yellow last: weak on white).</summary>
    public static readonly IReadOnlyList<string> Palette = new[]
    {
        "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442",
    };

    /// <summary>Line dashes, one per pass through the palette.</summary>
    public static readonly IReadOnlyList<string> Dashes = new[] { "solid", "dash", "dot", "dashdot", "longdash", "longdashdot" };

    /// <summary>Marker symbols, one per pass through the palette.</summary>
    public static readonly IReadOnlyList<string> Symbols = new[] { "circle", "square", "diamond", "triangle-up", "x", "cross" };

    /// <summary>Bar fill patterns, one per pass through the palette ("" = solid fill).</summary>
    public static readonly IReadOnlyList<string> Patterns = new[] { "", "/", "x", ".", "\\", "+" };

    public const string FontFamily = "Arial, Helvetica, sans-serif";
    public const int FontSize = 16, TickFontSize = 14, TitleFontSize = 18;

    /// <summary>The note drawn on a value axis that does not start at 0.</summary>
    public const string AxisNote = "note: y-axis does not start at 0";

    /// <summary>Most series a figure can hold before a style would repeat.</summary>
    public static int DistinctSeries => Palette.Count * Dashes.Count;

    public static int Width(FigureSize size) => size == FigureSize.SingleColumn ? 520 : 1000;
    public static int Height(FigureSize size) => size == FigureSize.SingleColumn ? 380 : 560;

    /// <summary>Style of series <paramref name="index"/> (0-based) within one figure: unique for the
    /// first <see cref="DistinctSeries"/> series. Throws past that: split the figure.</summary>
    public static SeriesStyle Series(int index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index));
        if (index >= DistinctSeries)
            throw new ArgumentException($"a figure with more than {DistinctSeries} series cannot keep them distinct; split it into facets");
        int pass = index / Palette.Count;
        return new SeriesStyle(Palette[index % Palette.Count], Dashes[pass], Symbols[pass], Patterns[pass]);
    }

    /// <summary>"#RRGGBB" → "rgba(r,g,b,alpha)".</summary>
    public static string Rgba(string hex, double alpha)
    {
        int r = int.Parse(hex.AsSpan(1, 2), NumberStyles.HexNumber), g = int.Parse(hex.AsSpan(3, 2), NumberStyles.HexNumber), b = int.Parse(hex.AsSpan(5, 2), NumberStyles.HexNumber);
        return $"rgba({r},{g},{b},{alpha.ToString(CultureInfo.InvariantCulture)})";
    }

    /// <summary>Width of <paramref name="text"/> in pixels at <paramref name="fontSize"/>, estimated
    /// from Arial's average advance (0.55 em; wide letters and digits 0.6, narrow ones 0.3).</summary>
    public static double TextWidth(string text, int fontSize)
    {
        double em = 0;
        foreach (char c in text)
            em += c switch
            {
                'i' or 'l' or 'j' or 't' or 'f' or 'I' or '.' or ',' or ':' or ';' or '\'' or '|' or '!' or '(' or ')' or ' ' or '[' or ']' => 0.3,
                'm' or 'w' or 'M' or 'W' or '—' or '%' or '@' => 0.85,
                >= 'A' and <= 'Z' => 0.68,
                _ => 0.56,
            };
        return em * fontSize;
    }

    /// <summary>The title wrapped (at spaces, with "&lt;br&gt;") to fit <paramref name="availablePixels"/>,
    /// at most <paramref name="maxLines"/> lines; what still does not fit is cut and ends with "…".
    /// Returns the text and its number of lines.</summary>
    public static (string Text, int Lines) FitTitle(string title, double availablePixels, int fontSize = TitleFontSize, int maxLines = 2)
    {
        var words = title.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var lines = new List<string>();
        var current = new StringBuilder();
        int w = 0;
        for (; w < words.Length; w++)
        {
            string candidate = current.Length == 0 ? words[w] : current + " " + words[w];
            if (TextWidth(candidate, fontSize) <= availablePixels) { current.Clear().Append(candidate); continue; }
            if (current.Length == 0) { current.Append(words[w]); w++; } // one word longer than a line: cut below
            lines.Add(current.ToString());
            current.Clear();
            if (lines.Count == maxLines) break;
            w--; // this word starts the next line
        }
        bool cut = w < words.Length;
        if (!cut && current.Length > 0) lines.Add(current.ToString());
        if (lines.Count == 0) return ("", 1);
        if (cut || TextWidth(lines[^1], fontSize) > availablePixels)
        {
            string last = lines[^1];
            while (last.Length > 1 && TextWidth(last + "…", fontSize) > availablePixels) last = last[..^1];
            lines[^1] = last.TrimEnd() + "…";
        }
        return (string.Join("<br>", lines), lines.Count);
    }

    /// <summary>A vertical axis title fitted to <paramref name="lengthPixels"/> (the plot's height): wrapped onto
    /// a second line, then shortened with "…".</summary>
    public static string? FitAxisTitle(string? title, double lengthPixels) =>
        title is null || title.Contains("<br>", StringComparison.Ordinal) ? title : FitTitle(title, Math.Max(120, lengthPixels - 10), FontSize).Text;

    /// <summary>An axis in the house style.</summary>
    public static Dictionary<string, object> Axis(string? title, string type = "-", bool categorical = false)
    {
        var axis = new Dictionary<string, object>
        {
            ["title"] = new Dictionary<string, object> { ["text"] = title ?? "", ["font"] = new Dictionary<string, object> { ["size"] = FontSize } },
            ["tickfont"] = new Dictionary<string, object> { ["size"] = TickFontSize },
            ["showgrid"] = true, ["gridcolor"] = "#e6e6e6", ["zeroline"] = false,
            ["showline"] = true, ["linecolor"] = "#444", ["mirror"] = true, ["ticks"] = "outside", ["automargin"] = true,
        };
        if (categorical) axis["type"] = "category";
        else if (type != "-") axis["type"] = type;
        return axis;
    }

    /// <summary>The whole layout of the house style for one figure.</summary>
    public static Layout Layout(string title, string? xTitle, string? yTitle, int width, int height, string xType = "-", string yType = "-",
        bool categoricalX = false, string? legendTitle = null)
    {
        const int left = 80, right = 30;
        var (text, lines) = FitTitle(title, width * 0.96 - 16);
        int top = 24 + (int)Math.Ceiling(lines * TitleFontSize * 1.3);
        var layout = new Layout();
        layout.SetProperty("title", new Dictionary<string, object>
        {
            // Container coordinates: the title may use the figure's whole width. plotly.js anchors a
            // multi-line title's top by its first line only, so the block is moved down by the extra lines.
            ["text"] = text, ["x"] = 0.01, ["xanchor"] = "left", ["xref"] = "container", ["yref"] = "container",
            ["y"] = 1.0 - (10.0 + (lines - 1) * TitleFontSize * 1.3) / height, ["yanchor"] = "top",
            ["font"] = new Dictionary<string, object> { ["size"] = TitleFontSize },
        });
        layout.SetProperty("font", new Dictionary<string, object> { ["family"] = FontFamily, ["size"] = FontSize, ["color"] = "#222" });
        layout.SetProperty("paper_bgcolor", "white");
        layout.SetProperty("plot_bgcolor", "white");
        layout.SetProperty("xaxis", Axis(xTitle, xType, categoricalX));
        layout.SetProperty("yaxis", Axis(FitAxisTitle(yTitle, height - top - 70), yType));
        var legend = new Dictionary<string, object>
        {
            ["bgcolor"] = "rgba(255,255,255,0.9)", ["bordercolor"] = "#ccc", ["borderwidth"] = 1,
            ["font"] = new Dictionary<string, object> { ["size"] = TickFontSize }, ["tracegroupgap"] = 2,
        };
        if (legendTitle is not null) legend["title"] = new Dictionary<string, object> { ["text"] = legendTitle, ["font"] = new Dictionary<string, object> { ["size"] = TickFontSize } };
        layout.SetProperty("legend", legend);
        layout.SetProperty("margin", new Dictionary<string, object> { ["l"] = left, ["r"] = right, ["t"] = top, ["b"] = 70 });
        layout.SetProperty("width", width);
        layout.SetProperty("height", height);
        return layout;
    }

    /// <summary>Layout keys that show the legend, also for a single series (the legend names the arm).</summary>
    public static IReadOnlyDictionary<string, object> ShowLegend(int series) => new Dictionary<string, object> { ["showlegend"] = series >= 1 };

    /// <summary>An axis whose ticks are integers (steps, rounds): tick spacing 1, 2 or 5 × 10^k, never below 1.</summary>
    public static IReadOnlyDictionary<string, object> IntegerAxis(string axisName, IEnumerable<double> values, string? title)
    {
        var finite = values.Where(double.IsFinite).ToList();
        var axis = Axis(title);
        if (finite.Count > 0)
        {
            double span = finite.Max() - finite.Min();
            axis["dtick"] = NiceStep(Math.Max(1, span / 6));
            axis["tickformat"] = ",d";
        }
        return new Dictionary<string, object> { [axisName] = axis };
    }

    /// <summary>The smallest of 1, 2, 5 × 10^k at least <paramref name="rough"/>.</summary>
    public static double NiceStep(double rough)
    {
        double p = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        foreach (double m in new[] { 1.0, 2.0, 5.0, 10.0 })
            if (m * p >= rough) return m * p;
        return 10 * p;
    }

    /// <summary>Chooses the linear value (y) axis range for the differences compared: from 0 when the
    /// smallest value is below 35 % of the largest (or the data cross 0); else zoomed to the data with 8 %
    /// padding and <see cref="AxisNote"/> drawn at the top left of the plot, so no reader takes the
    /// axis to start at 0. <paramref name="values"/>: every plotted value, error-bar ends included.</summary>
    public static GenericChart FitValueAxis(GenericChart chart, IReadOnlyCollection<double> values, string? yTitle, int height = 560)
    {
        var finite = values.Where(double.IsFinite).ToList();
        if (finite.Count == 0) return chart;
        double lo = finite.Min(), hi = finite.Max();
        var axis = Axis(FitAxisTitle(yTitle, height - 24 - TitleFontSize * 2.6 - 70));
        var layout = new Layout();
        if (lo > 0 && lo >= 0.35 * hi)
        {
            double pad = hi > lo ? 0.08 * (hi - lo) : 0.05 * hi;
            axis["range"] = new[] { lo - pad, hi + pad };
            layout.SetProperty("annotations", new[]
            {
                new Dictionary<string, object>
                {
                    ["text"] = AxisNote, ["xref"] = "paper", ["yref"] = "paper", ["x"] = 0.005, ["y"] = 0.995, ["xanchor"] = "left", ["yanchor"] = "top",
                    ["showarrow"] = false, ["font"] = new Dictionary<string, object> { ["size"] = TickFontSize - 1, ["color"] = "#8a3b00" },
                    ["bgcolor"] = "rgba(255,255,255,0.85)",
                },
            });
        }
        else if (lo >= 0) axis["rangemode"] = "tozero";
        layout.SetProperty("yaxis", axis);
        return Chart.withLayout(layout).Invoke(chart);
    }
}
