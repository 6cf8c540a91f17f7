using System.Text;

namespace MoeLab.Experiments.Reproductions;

/// <summary>Renders a claims table (<see cref="PaperClaim"/>s) as HTML (report, notebooks) or markdown
/// (READMEs, notes). Both have the same columns: claim, the paper's number (headed as the paper's),
/// our measure, our number (mean ± spread, n), verdict, note.</summary>
public static class ClaimsTable
{
    public static readonly IReadOnlyList<string> Header = new[] { "claim", "paper's number", "our measure", "our number", "verdict", "note" };

    /// <summary>An HTML table (class "claims"; verdict cells classed verdict-reproduced, -partly,
    /// -not-reproduced, -not-tested) with its own small style block, so it reads the same in a notebook.</summary>
    public static string Html(IEnumerable<PaperClaim> claims, string? caption = null)
    {
        var sb = new StringBuilder();
        sb.Append("<style>table.claims{border-collapse:collapse;font-size:.9em;margin:1em 0}table.claims th,table.claims td{border:1px solid #ddd;padding:.35em .6em;text-align:left;vertical-align:top}" +
                  "table.claims th{background:#f4f4f4}td.verdict-reproduced{color:#1a7f37;font-weight:bold}td.verdict-partly{color:#9a6700;font-weight:bold}" +
                  "td.verdict-not-reproduced{color:#cf222e;font-weight:bold}td.verdict-not-tested{color:#666}</style>\n");
        sb.Append("<table class=\"claims\">\n");
        if (caption is not null) sb.Append("<caption style=\"text-align:left;color:#555\">").Append(Enc(caption)).Append("</caption>\n");
        sb.Append("<thead><tr>");
        foreach (var h in Header) sb.Append("<th>").Append(Enc(h)).Append("</th>");
        sb.Append("</tr></thead>\n<tbody>\n");
        foreach (var c in claims)
        {
            sb.Append("<tr><td>").Append(Enc(c.Claim)).Append("</td><td>paper: ").Append(Enc(c.PaperNumber)).Append("</td><td>")
              .Append(Enc(c.OurMeasure)).Append("</td><td>").Append(Enc(c.OurNumber)).Append("</td><td class=\"verdict-")
              .Append(c.VerdictText.Replace(' ', '-')).Append("\">").Append(Enc(c.VerdictText)).Append("</td><td>").Append(Enc(c.Note)).Append("</td></tr>\n");
        }
        return sb.Append("</tbody></table>\n").ToString();
    }

    /// <summary>A GitHub-flavoured markdown table ("|" in cells escaped).</summary>
    public static string Markdown(IEnumerable<PaperClaim> claims)
    {
        var sb = new StringBuilder();
        sb.Append("| ").Append(string.Join(" | ", Header)).Append(" |\n|").Append(string.Concat(Header.Select(_ => "---|"))).Append('\n');
        foreach (var c in claims)
            sb.Append("| ").Append(string.Join(" | ", new[] { c.Claim, "paper: " + c.PaperNumber, c.OurMeasure, c.OurNumber, c.VerdictText, c.Note }.Select(Cell))).Append(" |\n");
        return sb.ToString();
    }

    static string Cell(string s) => s.Replace("|", "\\|").ReplaceLineEndings(" ");

    static string Enc(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}
