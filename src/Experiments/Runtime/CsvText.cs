using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;

namespace MoeLab.Experiments.Runtime;

/// <summary>CSV text in the run layout's format (invariant culture, RFC 4180 quoting, "R"
/// round-trip doubles, empty cell = missing).</summary>
public static class CsvText
{
    public static string Number(double v) => double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);

    public static string Cell(string? s)
    {
        if (string.IsNullOrEmpty(s)) return "";
        bool quote = s.IndexOfAny([',', '"', '\n', '\r']) >= 0 || s != s.Trim();
        return quote ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
    }

    /// <summary>metrics.csv: <c>step,arm,metric,value</c>.</summary>
    public static string Metrics(IEnumerable<MetricRow> rows)
    {
        var sb = new StringBuilder("step,arm,metric,value\n");
        foreach (var r in rows)
            sb.Append(r.Step.ToString(CultureInfo.InvariantCulture)).Append(',').Append(Cell(r.Arm)).Append(',')
              .Append(Cell(r.Metric)).Append(',').Append(Number(r.Value)).Append('\n');
        return sb.ToString();
    }

    /// <summary>summary.csv: <c>arm</c>, label columns, metric columns; one row per arm.</summary>
    public static string Summary(IEnumerable<SummaryRow> rows)
    {
        var list = rows.ToList();
        var labelCols = list.SelectMany(r => r.Labels.Keys).Distinct().ToList();
        var metricCols = list.SelectMany(r => r.Values.Keys).Distinct().Where(m => !labelCols.Contains(m)).ToList();
        var sb = new StringBuilder();
        sb.AppendJoin(',', new[] { "arm" }.Concat(labelCols).Concat(metricCols).Select(Cell)).Append('\n');
        foreach (var r in list)
        {
            var cells = new List<string> { Cell(r.Arm) };
            cells.AddRange(labelCols.Select(c => Cell(r.Labels.GetValueOrDefault(c))));
            cells.AddRange(metricCols.Select(c => r.Values.TryGetValue(c, out var v) ? Number(v) : ""));
            sb.AppendJoin(',', cells).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Any DataFrame as CSV (invariant culture).</summary>
    public static string Table(DataFrame table)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', table.Columns.Select(c => Cell(c.Name))).Append('\n');
        for (long i = 0; i < table.Rows.Count; i++)
        {
            var cells = new List<string>(table.Columns.Count);
            foreach (var col in table.Columns)
            {
                object? v = col[i];
                cells.Add(v switch
                {
                    null => "",
                    double d => Number(d),
                    float f => Number(f),
                    IFormattable fm => Cell(fm.ToString(null, CultureInfo.InvariantCulture)),
                    _ => Cell(v.ToString()),
                });
            }
            sb.AppendJoin(',', cells).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Reads metrics.csv back (used on --resume).</summary>
    public static List<MetricRow> ReadMetrics(string path)
    {
        var rows = new List<MetricRow>();
        if (!File.Exists(path)) return rows;
        var lines = Csv.Parse(File.ReadAllText(path), path);
        for (int r = 1; r < lines.Count; r++)
        {
            var c = lines[r];
            if (c.Count != 4) throw new FormatException($"{path}: expected 4 cells (step,arm,metric,value) in row {r + 1}, found {c.Count}.");
            rows.Add(new MetricRow(long.Parse(c[0].Text, CultureInfo.InvariantCulture), c[1].Text, c[2].Text,
                double.Parse(c[3].Text, NumberStyles.Float, CultureInfo.InvariantCulture)));
        }
        return rows;
    }
}

/// <summary>One row of metrics.csv.</summary>
public sealed record MetricRow(long Step, string Arm, string Metric, double Value);

/// <summary>One row of summary.csv.</summary>
public sealed record SummaryRow(string Arm, IReadOnlyDictionary<string, double> Values, IReadOnlyDictionary<string, string> Labels);
