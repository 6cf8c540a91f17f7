using System.Text;
using MoeLab.Experiments.Reproductions;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Reports;

/// <summary>The summary of an experiment for a write-up: one row per arm (and per varying config
/// value), its runs (n), label columns that have one value per row, and for each chosen metric
/// (<see cref="PaperReproductions.SummaryColumns"/>) mean ± sample sd over completed runs, rounded by
/// <see cref="Rounding"/>. Rendered as markdown, CSV or LaTeX (booktabs).</summary>
public sealed class SummaryTable
{
    /// <summary>One metric cell: rounded mean and sd ("–" when missing) and n.</summary>
    public readonly record struct Cell(string Mean, string Sd, long N);

    public IReadOnlyList<string> Keys { get; }
    public IReadOnlyList<string> Metrics { get; }
    public IReadOnlyList<(IReadOnlyList<string> Keys, long Runs, IReadOnlyList<Cell> Cells)> Rows { get; }

    SummaryTable(IReadOnlyList<string> keys, IReadOnlyList<string> metrics, IReadOnlyList<(IReadOnlyList<string>, long, IReadOnlyList<Cell>)> rows)
    {
        Keys = keys; Metrics = metrics; Rows = rows;
    }

    /// <summary>The table of <paramref name="experiment"/>'s completed runs in <paramref name="runs"/>.
    /// Throws <see cref="ArgumentException"/> when no run completed.</summary>
    public static SummaryTable Build(ResultSet runs, string experiment)
    {
        if (!runs.Records.Any(r => r.IsCompleted) || runs.MetricColumns.Count == 0)
            throw new ArgumentException($"{experiment}: no completed run with summary metrics");
        var keys = runs.DefaultGroupKeys().ToList();
        var metrics = PaperReproductions.SummaryColumns(experiment, runs);
        if (metrics.Count == 0) metrics = runs.MetricColumns;
        // Label columns with exactly one value per group (e.g. a study name) join the keys.
        var completed = FrameColumns.Filter(runs.Summaries, r => (string?)runs.Summaries.Columns["status"][r] == RunLayout.Status.Completed);
        var keyCols = keys.Select(k => FrameColumns.Get(completed, k)).ToList();
        foreach (var label in runs.LabelColumns)
        {
            var col = FrameColumns.Get(completed, label);
            var seen = new Dictionary<string, string>();
            bool single = true;
            for (long r = 0; r < completed.Rows.Count && single; r++)
            {
                string group = string.Join("\u001f", keyCols.Select(k => FrameColumns.Format(k[r])));
                string v = FrameColumns.Format(col[r]);
                if (seen.TryGetValue(group, out var prior) && prior != v) single = false;
                seen[group] = v;
            }
            if (single && seen.Values.Distinct().Count() > 1 && seen.Values.All(v => v.Length <= 40)) keys.Add(label);
        }
        var agg = runs.Aggregate(keys, metrics);
        var rows = new List<(IReadOnlyList<string>, long, IReadOnlyList<Cell>)>();
        for (long r = 0; r < agg.Rows.Count; r++)
        {
            var k = keys.Select(c => FrameColumns.Format(agg.Columns[c][r])).ToList();
            long n = (long)(FrameColumns.AsDouble(agg.Columns[SeedAggregation.Rows][r]) ?? 0);
            var cells = metrics.Select(m =>
            {
                double? mean = FrameColumns.AsDouble(agg.Columns[m + SeedAggregation.Mean][r]);
                double? sd = FrameColumns.AsDouble(agg.Columns[m + SeedAggregation.Std][r]);
                long count = (long)(FrameColumns.AsDouble(agg.Columns[m + SeedAggregation.Count][r]) ?? 0);
                var (ms, ss) = mean is double v ? Rounding.MeanSpread(v, sd) : (HumanNumber.Missing, HumanNumber.Missing);
                return new Cell(ms, ss, count);
            }).ToList();
            rows.Add((k, n, cells));
        }
        return new SummaryTable(keys.Select(ShortName).ToList(), metrics, rows);
    }

    static string ShortName(string column) => column.StartsWith(ResultSet.ConfigPrefix, StringComparison.Ordinal) ? column[ResultSet.ConfigPrefix.Length..] : column;

    /// <summary>"mean ± sd", plus " (n = k)" when a metric's n differs from the row's runs.</summary>
    static string Text(Cell c, long runs, string pm = " ± ") =>
        c.Mean == HumanNumber.Missing ? HumanNumber.Missing
        : (c.Sd == HumanNumber.Missing ? c.Mean : c.Mean + pm + c.Sd) + (c.N != runs ? $" (n = {c.N})" : "");

    /// <summary>GitHub-flavoured markdown, with a note line saying what the cells are.</summary>
    public string Markdown()
    {
        var header = Keys.Append("n").Concat(Metrics).ToList();
        var sb = new StringBuilder();
        sb.Append("| ").Append(string.Join(" | ", header.Select(Md))).Append(" |\n|")
          .Append(string.Concat(header.Select((_, i) => i < Keys.Count ? "---|" : "---:|"))).Append('\n');
        foreach (var (keys, runs, cells) in Rows)
            sb.Append("| ").Append(string.Join(" | ", keys.Select(Md).Append(runs.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .Concat(cells.Select(c => Md(Text(c, runs)))))).Append(" |\n");
        sb.Append('\n').Append(Note).Append('\n');
        return sb.ToString();
    }

    /// <summary>CSV: the key columns, n, then &lt;metric&gt;_mean, &lt;metric&gt;_sd, &lt;metric&gt;_n (rounded strings).</summary>
    public string Csv()
    {
        var header = Keys.Append("n").Concat(Metrics.SelectMany(m => new[] { m + "_mean", m + "_sd", m + "_n" }));
        var sb = new StringBuilder(string.Join(",", header.Select(CsvCell))).Append('\n');
        foreach (var (keys, runs, cells) in Rows)
            sb.Append(string.Join(",", keys.Select(CsvCell).Append(runs.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .Concat(cells.SelectMany(c => new[] { c.Mean == HumanNumber.Missing ? "" : c.Mean, c.Sd == HumanNumber.Missing ? "" : c.Sd,
                    c.N.ToString(System.Globalization.CultureInfo.InvariantCulture) })))).Append('\n');
        return sb.ToString();
    }

    /// <summary>A LaTeX tabular with booktabs rules (\toprule, \midrule, \bottomrule; needs \usepackage{booktabs}),
    /// cells "$m \pm s$", special characters escaped, and a comment line saying what the cells are.</summary>
    public string Latex()
    {
        var sb = new StringBuilder();
        sb.Append("% ").Append(Note).Append('\n');
        sb.Append("\\begin{tabular}{").Append(new string('l', Keys.Count)).Append('r').Append(new string('r', Metrics.Count)).Append("}\n\\toprule\n");
        sb.Append(string.Join(" & ", Keys.Append("$n$").Concat(Metrics).Select((h, i) => h == "$n$" ? h : Tex(h)))).Append(" \\\\\n\\midrule\n");
        foreach (var (keys, runs, cells) in Rows)
            sb.Append(string.Join(" & ", keys.Select(Tex).Append(runs.ToString(System.Globalization.CultureInfo.InvariantCulture)).Concat(cells.Select(c =>
                c.Mean == HumanNumber.Missing ? "--"
                : "$" + c.Mean + (c.Sd == HumanNumber.Missing ? "" : " \\pm " + c.Sd) + "$" + (c.N != runs ? $" ($n = {c.N}$)" : ""))))).Append(" \\\\\n");
        sb.Append("\\bottomrule\n\\end{tabular}\n");
        return sb.ToString();
    }

    /// <summary>What the cells are and how they are rounded.</summary>
    public const string Note = "Cells: mean ± sample sd over completed runs (n = runs per row); sd rounded to 2 significant digits, mean to the same decimal place.";

    static string Md(string s) => s.Replace("|", "\\|");

    static string CsvCell(string s) => s.IndexOfAny(new[] { ',', '"', '\n' }) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    /// <summary>Escapes LaTeX's special characters in text.</summary>
    public static string Tex(string s)
    {
        var sb = new StringBuilder();
        foreach (char c in s)
            sb.Append(c switch
            {
                '\\' => "\\textbackslash{}", '&' => "\\&", '%' => "\\%", '$' => "\\$", '#' => "\\#", '_' => "\\_", '{' => "\\{", '}' => "\\}",
                '~' => "\\textasciitilde{}", '^' => "\\textasciicircum{}", '–' => "--", '±' => "$\\pm$", 'Γ' => "$\\Gamma$", 'σ' => "$\\sigma$",
                _ => c.ToString(),
            });
        return sb.ToString();
    }
}
