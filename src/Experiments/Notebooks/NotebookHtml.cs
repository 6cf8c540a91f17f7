using MoeLab.Experiments.Runtime;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using MoeLab.Experiments.Plotting;

namespace MoeLab.Experiments.Notebooks;

/// <summary>A standalone HTML page of an executed notebook for sharing: markdown cells rendered,
/// code cells with their execution counts, outputs (HTML, images, text, errors). plotly.js sits
/// once in the page head when any output holds a chart; nothing is loaded from the network.</summary>
public static class NotebookHtml
{
    const string Style = """
        body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
        .cell{margin:1em 0}.prompt{color:#888;font-family:monospace;font-size:0.85em}
        pre{background:#f6f8fa;padding:0.6em 0.8em;overflow-x:auto;border-radius:4px;font-size:0.88em}
        pre.code{border-left:3px solid #4a7bd0}pre.stderr{background:#fff4e5}pre.error{background:#fde8e8;color:#8a1f1f}
        .output{margin:0.4em 0 0.4em 1.5em}table{border-collapse:collapse;font-size:0.88em}
        th,td{border:1px solid #ddd;padding:2px 8px;text-align:right}caption{text-align:left;color:#555;font-size:0.9em}
        code{background:#f0f0f0;padding:0 3px;border-radius:3px}blockquote{color:#555;border-left:3px solid #ccc;margin-left:0;padding-left:1em}
        """;

    public static string Render(Notebook notebook, string title)
    {
        string bundle = PlotlyAssets.ScriptTag;
        bool anyChart = notebook.Cells.SelectMany(c => c.Outputs)
            .Any(o => o.Data.TryGetValue("text/html", out var h) && h.Contains(NotebookFormatters.ChartMarker, StringComparison.Ordinal));
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>").Append(WebUtility.HtmlEncode(title)).Append("</title>\n<style>")
          .Append(Style).Append("</style>\n");
        if (anyChart) sb.Append(bundle).Append('\n');
        sb.Append("</head><body>\n");
        foreach (var cell in notebook.Cells)
        {
            sb.Append("<div class=\"cell ").Append(cell.CellType).Append("\">\n");
            switch (cell.CellType)
            {
                case NotebookCell.Markdown:
                    sb.Append(Markdown.ToHtml(cell.Source));
                    break;
                case NotebookCell.Raw:
                    sb.Append("<pre>").Append(WebUtility.HtmlEncode(cell.Source)).Append("</pre>\n");
                    break;
                default:
                    sb.Append("<div class=\"prompt\">In [").Append(cell.ExecutionCount?.ToString() ?? " ").Append("]:</div>\n")
                      .Append("<pre class=\"code\"><code>").Append(WebUtility.HtmlEncode(cell.Source)).Append("</code></pre>\n");
                    foreach (var output in cell.Outputs) AppendOutput(sb, output, bundle);
                    break;
            }
            sb.Append("</div>\n");
        }
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    static void AppendOutput(StringBuilder sb, NotebookOutput output, string bundle)
    {
        sb.Append("<div class=\"output\">");
        switch (output.OutputType)
        {
            case NotebookOutput.Stream:
                sb.Append("<pre class=\"").Append(output.Name == "stderr" ? "stderr" : "stdout").Append("\">")
                  .Append(WebUtility.HtmlEncode(output.Text ?? "")).Append("</pre>");
                break;
            case NotebookOutput.Error:
                sb.Append("<pre class=\"error\">").Append(WebUtility.HtmlEncode($"{output.EName}: {output.EValue}"));
                foreach (var line in output.Traceback.Skip(1)) sb.Append('\n').Append(WebUtility.HtmlEncode(StripAnsi(line)));
                sb.Append("</pre>");
                break;
            default:
                if (output.Data.TryGetValue("text/html", out var html))
                    sb.Append(html.Replace(bundle + "\n", "").Replace(bundle, ""));
                else if (output.Data.TryGetValue("image/svg+xml", out var svg)) sb.Append(svg);
                else if (output.Data.TryGetValue("image/png", out var png))
                    sb.Append("<img src=\"data:image/png;base64,").Append(png.Replace("\n", "")).Append("\"/>");
                else if (output.Data.TryGetValue("text/markdown", out var md)) sb.Append(Markdown.ToHtml(md));
                else if (output.Data.TryGetValue("text/plain", out var text))
                    sb.Append("<pre>").Append(WebUtility.HtmlEncode(text)).Append("</pre>");
                break;
        }
        sb.Append("</div>\n");
    }

    static string StripAnsi(string s) => Regex.Replace(s, @"\x1b\[[0-9;]*m", "");

    /// <summary>Writes <see cref="Render"/> atomically.</summary>
    public static void Save(Notebook notebook, string path) =>
        AtomicFile.WriteAllText(path, Render(notebook, Path.GetFileNameWithoutExtension(path)));
}

/// <summary>A small Markdown → HTML converter for notebook text: ATX headings, paragraphs,
/// bullet and numbered lists, fenced code, block quotes, pipe tables, horizontal rules, and inline
/// code, bold, italics, links and images. Raw HTML is escaped; math is left as typed.</summary>
public static class Markdown
{
    public static string ToHtml(string markdown)
    {
        var lines = markdown.Replace("\r\n", "\n").Split('\n');
        var sb = new StringBuilder();
        var paragraph = new List<string>();
        void FlushParagraph()
        {
            if (paragraph.Count == 0) return;
            sb.Append("<p>").Append(Inline(string.Join("\n", paragraph))).Append("</p>\n");
            paragraph.Clear();
        }
        int i = 0;
        while (i < lines.Length)
        {
            string line = lines[i];
            string t = line.Trim();
            if (t.Length == 0) { FlushParagraph(); i++; continue; }
            if (t.StartsWith("```", StringComparison.Ordinal))
            {
                FlushParagraph();
                var code = new List<string>();
                for (i++; i < lines.Length && !lines[i].Trim().StartsWith("```", StringComparison.Ordinal); i++) code.Add(lines[i]);
                i++;
                sb.Append("<pre><code>").Append(WebUtility.HtmlEncode(string.Join("\n", code))).Append("</code></pre>\n");
                continue;
            }
            var heading = Regex.Match(t, @"^(#{1,6})\s+(.*?)\s*#*$");
            if (heading.Success)
            {
                FlushParagraph();
                int level = heading.Groups[1].Length;
                sb.Append($"<h{level}>").Append(Inline(heading.Groups[2].Value)).Append($"</h{level}>\n");
                i++;
                continue;
            }
            if (Regex.IsMatch(t, @"^([-*_])(\s*\1){2,}$"))
            {
                FlushParagraph();
                sb.Append("<hr/>\n");
                i++;
                continue;
            }
            if (t.StartsWith('>'))
            {
                FlushParagraph();
                var quote = new List<string>();
                for (; i < lines.Length && lines[i].TrimStart().StartsWith('>'); i++) quote.Add(lines[i].TrimStart()[1..].TrimStart());
                sb.Append("<blockquote>").Append(ToHtml(string.Join("\n", quote))).Append("</blockquote>\n");
                continue;
            }
            if (t.StartsWith('|') && i + 1 < lines.Length && Regex.IsMatch(lines[i + 1].Trim(), @"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$"))
            {
                FlushParagraph();
                sb.Append("<table>\n<thead><tr>");
                foreach (var h in SplitRow(t)) sb.Append("<th>").Append(Inline(h)).Append("</th>");
                sb.Append("</tr></thead>\n<tbody>\n");
                for (i += 2; i < lines.Length && lines[i].Trim().StartsWith('|'); i++)
                {
                    sb.Append("<tr>");
                    foreach (var c in SplitRow(lines[i].Trim())) sb.Append("<td>").Append(Inline(c)).Append("</td>");
                    sb.Append("</tr>\n");
                }
                sb.Append("</tbody></table>\n");
                continue;
            }
            var bullet = Regex.Match(line, @"^\s*([-*+]|\d+[.)])\s+");
            if (bullet.Success)
            {
                FlushParagraph();
                bool ordered = char.IsDigit(bullet.Groups[1].Value[0]);
                sb.Append(ordered ? "<ol>\n" : "<ul>\n");
                var item = new StringBuilder();
                for (; i < lines.Length; i++)
                {
                    var m = Regex.Match(lines[i], @"^\s*([-*+]|\d+[.)])\s+(.*)$");
                    if (m.Success)
                    {
                        if (item.Length > 0) sb.Append("<li>").Append(Inline(item.ToString())).Append("</li>\n");
                        item.Clear().Append(m.Groups[2].Value);
                    }
                    else if (lines[i].Trim().Length > 0 && char.IsWhiteSpace(lines[i][0]))
                    {
                        item.Append('\n').Append(lines[i].Trim());
                    }
                    else break;
                }
                if (item.Length > 0) sb.Append("<li>").Append(Inline(item.ToString())).Append("</li>\n");
                sb.Append(ordered ? "</ol>\n" : "</ul>\n");
                continue;
            }
            paragraph.Add(t);
            i++;
        }
        FlushParagraph();
        return sb.ToString();
    }

    static IEnumerable<string> SplitRow(string row) => row.Trim().Trim('|').Split('|').Select(c => c.Trim());

    /// <summary>Inline markup on HTML-escaped text; code spans are protected from the other rules.</summary>
    static string Inline(string text)
    {
        var codes = new List<string>();
        string s = Regex.Replace(text, @"`([^`]+)`", m =>
        {
            codes.Add("<code>" + WebUtility.HtmlEncode(m.Groups[1].Value) + "</code>");
            return "\u0000" + (codes.Count - 1) + "\u0000";
        });
        s = WebUtility.HtmlEncode(s);
        s = Regex.Replace(s, @"!\[([^\]]*)\]\(([^)\s]+)\)", "<img alt=\"$1\" src=\"$2\"/>");
        s = Regex.Replace(s, @"\[([^\]]+)\]\(([^)\s]+)\)", "<a href=\"$2\">$1</a>");
        s = Regex.Replace(s, @"\*\*(.+?)\*\*", "<strong>$1</strong>");
        s = Regex.Replace(s, @"__(.+?)__", "<strong>$1</strong>");
        s = Regex.Replace(s, @"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", "<em>$1</em>");
        s = Regex.Replace(s, @"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])", "<em>$1</em>");
        s = Regex.Replace(s, "\u0000(\\d+)\u0000", m => codes[int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)]);
        return s;
    }
}
