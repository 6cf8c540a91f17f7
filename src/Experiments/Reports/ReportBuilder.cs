using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Reproductions;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Reports;

/// <summary>What <see cref="ReportBuilder.Build"/> wrote. <see cref="Runs"/> counts the runs read
/// (skipped ones are in <see cref="Skipped"/>); aggregates use the <see cref="CompletedRuns"/> only.</summary>
public sealed record ReportInfo(string Path, int Runs, int CompletedRuns, int AggregatedRows, int Charts, int RunFigures, int Configs, long Bytes)
{
    /// <summary>The runs found, in one line (<see cref="ResultSet.DescribeRuns"/>).</summary>
    public string RunsLine { get; init; } = "";

    /// <summary>Runs read but not aggregated (failed, failed before start, interrupted, running).</summary>
    public IReadOnlyList<RunRecord> NotAggregated { get; init; } = Array.Empty<RunRecord>();

    /// <summary>Runs left out because a file of theirs could not be read, with the reasons.</summary>
    public IReadOnlyList<SkippedRun> Skipped { get; init; } = Array.Empty<SkippedRun>();

    /// <summary>Figures and tables of read runs that could not be shown ("&lt;file&gt;: &lt;problem&gt;").</summary>
    public IReadOnlyList<string> UnreadableFiles { get; init; } = Array.Empty<string>();

    /// <summary>True when nothing was skipped: every run and every run file found is in the report.</summary>
    public bool Complete => Skipped.Count == 0 && UnreadableFiles.Count == 0;
}

/// <summary>Builds one self-contained HTML report of an experiment's runs (plotly.js embedded once):
/// the runs table, the summary aggregated over seeds (mean ± std, n), line charts of every logged
/// metric with mean ± std bands over seeds, bar charts of the final metrics, the figures the runs
/// saved, and each distinct resolved config with the runs that used it. Written atomically.
/// Runs that could not be read (<see cref="ResultSet.Skipped"/>) and runs that did not complete are
/// listed with their reasons and errors at the top; neither is aggregated.</summary>
public static class ReportBuilder
{
    /// <summary>At most this many run figures are embedded (the report says how many were left out).</summary>
    public const int MaxRunFigures = 60;
    public const int MaxRunTables = 40;
    public const int MaxTableRows = 30;

    /// <summary>Builds the report of results/&lt;experimentName&gt;/ under <paramref name="resultsRoot"/>
    /// (default <see cref="RunLayout.DefaultResultsRoot"/>) into <paramref name="outPath"/> (default
    /// results/&lt;experiment&gt;/report.html).</summary>
    /// <exception cref="DirectoryNotFoundException">no results folder for the experiment.</exception>
    /// <exception cref="ReportWriteException">the report file cannot be written.</exception>
    public static ReportInfo Build(string experimentName, string? resultsRoot = null, string? outPath = null)
    {
        string root = Path.GetFullPath(resultsRoot ?? RunLayout.DefaultResultsRoot());
        var set = ResultSet.LoadExperiment(experimentName, root);
        string output = Path.GetFullPath(outPath ?? Path.Combine(root, experimentName, "report.html"));
        return BuildFrom(set, experimentName, output, Path.Combine(root, experimentName));
    }

    /// <summary>Builds a report from an already loaded result set.</summary>
    public static ReportInfo BuildFrom(ResultSet set, string title, string outPath, string? source = null)
    {
        var html = new StringBuilder();
        int charts = 0, runFigures = 0;
        int completed = set.Records.Count(r => r.IsCompleted);
        var notAggregated = set.NotAggregated;
        var unreadable = new List<string>();

        html.Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>MoeLab report: ").Append(Enc(title)).Append("</title>\n")
            .Append("<style>").Append(Css).Append("</style>\n").Append(PlotlyAssets.ScriptTag).Append("\n</head><body>\n");
        html.Append("<h1>MoeLab report: ").Append(Enc(title)).Append("</h1>\n<p class=\"meta\">Generated ")
            .Append(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture));
        string reportDir = Path.GetDirectoryName(Path.GetFullPath(outPath)) ?? ".";
        string Rel(string path) => Path.GetRelativePath(reportDir, Path.GetFullPath(path)).Replace('\\', '/');
        if (source is not null)
        {
            string rel = Rel(source);
            html.Append(rel == "." ? " from the runs in this page's folder" : " from <code>" + Enc(rel) + "</code>").Append(" (paths are relative to this page)");
        }
        html.Append(". <span id=\"run-count\">").Append(Enc(set.DescribeRuns())).Append("</span>. Aggregates (mean ± std over seeds) use the ")
            .Append(completed).Append(" completed run(s) only");
        if (notAggregated.Count > 0 || set.Skipped.Count > 0)
            html.Append("; failed, interrupted, running and skipped runs are left out (listed below)");
        html.Append(".</p>\n");
        var reproduction = PaperReproductions.For(title) ?? set.Records.Select(r => PaperReproductions.For(r.Experiment)).FirstOrDefault(r => r is not null);
        html.Append("<nav>");
        if (reproduction is not null) html.Append("<a href=\"#claims\">Claims</a> · <a href=\"#paper-figures\">Paper's figures</a> · ");
        if (set.Skipped.Count > 0) html.Append("<a href=\"#skipped\">Skipped runs</a> · ");
        if (notAggregated.Count > 0) html.Append("<a href=\"#not-aggregated\">Runs not aggregated</a> · ");
        html.Append("<a href=\"#runs\">Runs</a> · <a href=\"#summary\">Summary</a> · <a href=\"#curves\">Curves</a> · <a href=\"#figures\">Run figures</a> · <a href=\"#tables\">Run tables</a> · <a href=\"#configs\">Configs</a></nav>\n");

        // The paper's claims and figures first, from the runs of one config.
        if (reproduction is not null) charts += PaperSection(html, reproduction, set, unreadable);

        // Runs that could not be read: in no table, aggregate or chart.
        if (set.Skipped.Count > 0)
        {
            html.Append("<h2 id=\"skipped\">Skipped runs</h2>\n<p class=\"error\">").Append(set.Skipped.Count)
                .Append(" run(s) could not be read and are in no table, aggregate or chart below:</p>\n");
            html.Append(Table(new[] { "run", "status", "file", "line", "problem" },
                set.Skipped.Select(k => new[]
                {
                    source is null ? k.Directory : Path.GetRelativePath(source, k.Directory).Replace('\\', '/'),
                    k.Record?.StatusText ?? "?", k.File ?? "", k.Line?.ToString(CultureInfo.InvariantCulture) ?? "", k.Problem,
                })));
        }

        // Runs read but not aggregated, with their errors.
        if (notAggregated.Count > 0)
        {
            html.Append("<h2 id=\"not-aggregated\">Runs not aggregated</h2>\n<p class=\"meta\">").Append(notAggregated.Count)
                .Append(" run(s) did not complete; they are in the runs table but not in the summary or the curves.</p>\n");
            html.Append(Table(new[] { "run", "status", "seed", "error" },
                notAggregated.Select(r => new[]
                {
                    RelativeRunName(r, source), r.StatusText, r.Seed?.ToString(CultureInfo.InvariantCulture) ?? "", r.Error ?? "",
                })));
        }

        // Runs table.
        html.Append("<h2 id=\"runs\">Runs</h2>\n");
        html.Append(Table(new[] { "run", "status", "seed", "preset", "device", "commit", "started", "ended", "config", "error" },
            set.Records.Select(r => new[]
            {
                RelativeRunName(r, source), r.Status, r.Seed?.ToString(CultureInfo.InvariantCulture) ?? "", r.Preset ?? "", r.Device ?? "",
                r.GitCommit is { Length: > 10 } c ? c[..10] : r.GitCommit ?? "", r.StartedAt ?? "", r.EndedAt ?? "", r.ConfigHash ?? "", r.Error ?? "",
            }), statusColumn: 1));

        // Aggregated summary.
        html.Append("<h2 id=\"summary\">Summary over seeds</h2>\n");
        var keys = set.DefaultGroupKeys();
        DataFrame? agg = null;
        if (set.MetricColumns.Count == 0 || completed == 0)
            html.Append("<p>No summary metrics from completed runs.</p>\n");
        else
        {
            agg = set.Aggregate(keys);
            var columns = PaperReproductions.SummaryColumns(reproduction?.Experiments[0] ?? title, set);
            if (columns.Count == 0) columns = set.MetricColumns;
            html.Append("<p>Grouped by ").Append(Enc(string.Join(", ", keys))).Append("; each cell is mean ± sample sd (n), rounded by the lab's rule (sd to 2 significant digits, mean to the same place); ")
                .Append("the 95 % CI half-width (Student t) is in the tooltip. ").Append(columns.Count).Append(" of ").Append(set.MetricColumns.Count)
                .Append(" summary columns shown (bookkeeping such as steps and parameter counts is in each run's summary.csv).</p>\n");
            var header = keys.Concat(new[] { "runs" }).Concat(columns).ToList();
            var rows = new List<string[]>();
            for (long r = 0; r < agg.Rows.Count; r++)
            {
                var row = keys.Select(k => FrameColumns.Format(agg.Columns[k][r])).ToList();
                row.Add(FrameColumns.Format(agg.Columns[SeedAggregation.Rows][r]));
                foreach (var m in columns) row.Add(MeanStd(agg, m, r));
                rows.Add(row.ToArray());
            }
            html.Append("<div class=\"scroll\">").Append(Table(header, rows, tooltips: (r, c) => c < keys.Count + 1 ? null : CiTooltip(agg, columns[c - keys.Count - 1], r))).Append("</div>\n");
            foreach (var m in columns)
            {
                // A metric with the same mean in every group (e.g. a count of rounds) says nothing as a chart.
                var means = agg.Columns[m + ".mean"].Cast<object?>().Select(v => v is null ? double.NaN : Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture)).ToList();
                if (means.Count < 2 || means.All(v => v.Equals(means[0])) || means.All(double.IsNaN)) continue;
                var category = keys.Where(k => k != "arm").ToList();
                var chart = category.Count == 0
                    ? Charts.BarsFromAggregate(agg, m, new[] { "arm" }, title: m + " by arm")
                    : Charts.BarsFromAggregate(agg, m, category, new[] { "arm" }, title: m + " by " + string.Join(", ", category));
                html.Append(ChartPage.Fragment(chart, $"bar-{charts++}")).Append('\n');
            }
        }

        // Curves from histories.
        html.Append("<h2 id=\"curves\">Training curves (mean ± std over seeds)</h2>\n");
        var history = set.History;
        var completedHistory = FrameColumns.Filter(history, r => (string?)history.Columns["status"][r] == RunLayout.Status.Completed);
        var allMetrics = Distinct(completedHistory, "metric");
        // "<x>_std" beside "<x>_mean" is the band of <x>, not a curve of its own.
        var metrics = allMetrics.Where(m => !(m.EndsWith("_std", StringComparison.Ordinal) && allMetrics.Contains(m[..^4] + "_mean"))).ToList();
        if (metrics.Count == 0) html.Append("<p>No step-indexed metrics from completed runs.</p>\n");
        foreach (var metric in metrics)
        {
            var chart = Charts.HistoryBands(completedHistory, metric, keys, title: metric);
            html.Append(ChartPage.Fragment(chart, $"curve-{charts++}")).Append('\n');
        }

        // Figures the runs saved.
        html.Append("<h2 id=\"figures\">Figures saved by runs</h2>\n");
        var figureFiles = set.Records
            .Where(r => Directory.Exists(r.FiguresDirectory))
            .SelectMany(r => FigureExport.FiguresIn(r.FiguresDirectory).Select(f => (Run: r, File: f)))
            .ToList();
        if (figureFiles.Count == 0) html.Append("<p>No run saved a figure.</p>\n");
        foreach (var group in figureFiles.GroupBy(f => Path.GetFileNameWithoutExtension(f.File)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            html.Append("<h3>").Append(Enc(group.Key)).Append("</h3>\n<div class=\"grid\">\n");
            foreach (var (run, file) in group)
            {
                if (runFigures >= MaxRunFigures) break;
                string json;
                try { json = ChartPage.LoadFigureJson(file); }
                catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
                {
                    string problem = e is UnauthorizedAccessException ? $"{file}: permission denied" : e.Message.ReplaceLineEndings(" ");
                    unreadable.Add(problem);
                    html.Append("<p class=\"error\">").Append(Enc(problem)).Append("</p>\n");
                    continue;
                }
                html.Append("<div class=\"cell\"><div class=\"caption\">").Append(Enc(RelativeRunName(run, source))).Append(" · seed ")
                    .Append(run.Seed?.ToString(CultureInfo.InvariantCulture) ?? "?").Append("</div>\n")
                    .Append(ChartPage.FragmentFromJson(json, $"runfig-{runFigures++}", fitWidth: true)).Append("</div>\n");
            }
            html.Append("</div>\n");
        }
        if (figureFiles.Count > runFigures)
            html.Append("<p class=\"meta\">").Append(figureFiles.Count - runFigures).Append(" more run figure(s) not embedded (limit ")
                .Append(MaxRunFigures).Append("); they are in each run's figures/ folder.</p>\n");

        // Tables the runs saved: each table of the first completed run that has it (capped rows);
        // the other runs' copies are in their tables/ folders.
        html.Append("<h2 id=\"tables\">Tables saved by runs</h2>\n");
        var tableFiles = set.Records
            .Where(r => r.Status == RunLayout.Status.Completed && Directory.Exists(r.TablesDirectory))
            .SelectMany(r => Directory.GetFiles(r.TablesDirectory, "*.csv").Select(f => (Run: r, File: f)))
            .GroupBy(t => Path.GetFileNameWithoutExtension(t.File))
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
        if (tableFiles.Count == 0) html.Append("<p>No completed run saved a table.</p>\n");
        foreach (var group in tableFiles.Take(MaxRunTables))
        {
            var (run, file) = group.OrderBy(t => t.Run.Seed ?? long.MaxValue).First();
            html.Append("<h3>").Append(Enc(group.Key)).Append("</h3>\n<p class=\"meta\">").Append(Enc(RelativeRunName(run, source)))
                .Append(" · seed ").Append(run.Seed?.ToString(CultureInfo.InvariantCulture) ?? "?");
            if (group.Count() > 1) html.Append(" (").Append(group.Count() - 1).Append(" more run(s) have this table)");
            html.Append("</p>\n");
            try
            {
                var frame = FrameIO.LoadCsv(file);
                var header = frame.Columns.Select(c => c.Name).ToList();
                var rows = new List<string[]>();
                for (long r = 0; r < Math.Min(frame.Rows.Count, MaxTableRows); r++)
                    rows.Add(frame.Columns.Select(c => FrameColumns.Format(c[r])).ToArray());
                html.Append(Table(header, rows));
                if (frame.Rows.Count > MaxTableRows)
                    html.Append("<p class=\"meta\">").Append(frame.Rows.Count - MaxTableRows).Append(" more row(s) in ").Append(Enc(Rel(file))).Append("</p>\n");
            }
            catch (Exception e) when (e is FormatException or InvalidDataException or IOException or UnauthorizedAccessException)
            {
                string problem = e is UnauthorizedAccessException ? $"{file}: permission denied" : e.Message.ReplaceLineEndings(" ");
                unreadable.Add(problem);
                html.Append("<p class=\"error\">").Append(Enc(problem)).Append("</p>\n");
            }
        }
        if (tableFiles.Count > MaxRunTables)
            html.Append("<p class=\"meta\">").Append(tableFiles.Count - MaxRunTables).Append(" more table(s) not shown (limit ")
                .Append(MaxRunTables).Append(").</p>\n");

        // Configs.
        html.Append("<h2 id=\"configs\">Configs used</h2>\n");
        html.Append("<p class=\"meta\">Resolved configs; runs whose configs differ only in a \"seed\" field are listed together.</p>\n");
        var configs = set.Records.GroupBy(r => WithoutSeeds(r.ConfigJson)).ToList();
        foreach (var (cfg, i) in configs.Select((g, i) => (g, i)))
        {
            html.Append("<h3>Config ").Append(i + 1).Append("</h3>\n<p class=\"meta\">Runs (seed): ")
                .Append(Enc(string.Join(", ", cfg.Select(r => $"{RelativeRunName(r, source)} ({r.Seed?.ToString(CultureInfo.InvariantCulture) ?? "?"})"))))
                .Append("</p>\n<pre>").Append(Enc(cfg.First().ConfigJson ?? "(no config in manifest)")).Append("</pre>\n");
        }
        html.Append("</body></html>\n");

        string text = html.ToString();
        string fullOut = Path.GetFullPath(outPath);
        try { AtomicFile.WriteAllText(fullOut, text); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new ReportWriteException(fullOut, e); }
        return new ReportInfo(fullOut, set.Records.Count, completed, (int)(agg?.Rows.Count ?? 0), charts, runFigures, configs.Count, Encoding.UTF8.GetByteCount(text))
        {
            RunsLine = set.DescribeRuns(),
            NotAggregated = notAggregated,
            Skipped = set.Skipped,
            UnreadableFiles = unreadable,
        };
    }

    /// <summary>The claims table and the paper's figures of <paramref name="reproduction"/>, from the runs of
    /// one config (<see cref="PaperReproductions.MainConfigRuns"/>). Returns the number of charts.</summary>
    static int PaperSection(StringBuilder html, IPaperReproduction reproduction, ResultSet set, List<string> unreadable)
    {
        html.Append("<h2 id=\"claims\">Claims of the paper</h2>\n<p class=\"meta\">").Append(Enc(reproduction.Paper)).Append(". ");
        var main = PaperReproductions.MainConfigRuns(set);
        if (main is null)
        {
            html.Append("No completed run: nothing measured.</p>\n");
            return 0;
        }
        html.Append("Our numbers come from ").Append(Enc(PaperReproductions.DescribeMainConfig(main)))
            .Append("; \"paper:\" cells are the paper's, not ours.</p>\n");
        html.Append(ClaimsTable.Html(PaperReproductions.EvaluateClaims(reproduction, main)));
        html.Append("<h2 id=\"paper-figures\">The paper's figures, from our runs</h2>\n");
        int charts = 0;
        foreach (var (figure, chart, problem) in PaperReproductions.BuildFigures(reproduction, main))
        {
            if (problem is not null)
            {
                unreadable.Add(problem);
                html.Append("<p class=\"error\">").Append(Enc(problem)).Append("</p>\n");
                continue;
            }
            if (chart is null)
            {
                html.Append("<p class=\"meta\">").Append(Enc(figure.Name)).Append(": no data in these runs.</p>\n");
                continue;
            }
            html.Append("<figure id=\"paper-").Append(Enc(figure.Name)).Append("\">").Append(ChartPage.Fragment(chart, $"paper-{charts++}"))
                .Append("<figcaption><b>").Append(Enc(figure.Name)).Append(".</b> ").Append(Enc(figure.Caption)).Append("</figcaption></figure>\n");
        }
        return charts;
    }

    /// <summary>The config JSON with every property named "seed" removed (the grouping key of configs).</summary>
    static string WithoutSeeds(string? configJson)
    {
        if (configJson is null) return "";
        var node = System.Text.Json.Nodes.JsonNode.Parse(configJson);
        void Strip(System.Text.Json.Nodes.JsonNode? n)
        {
            if (n is System.Text.Json.Nodes.JsonObject o)
            {
                foreach (var key in o.Select(p => p.Key).Where(k => k.Equals("seed", StringComparison.OrdinalIgnoreCase)).ToList()) o.Remove(key);
                foreach (var p in o) Strip(p.Value);
            }
            else if (n is System.Text.Json.Nodes.JsonArray a) foreach (var item in a) Strip(item);
        }
        Strip(node);
        return node?.ToJsonString() ?? "";
    }

    static string RelativeRunName(RunRecord run, string? source) =>
        source is null ? run.RunId : Path.GetRelativePath(source, run.Directory).Replace('\\', '/');

    static List<string> Distinct(DataFrame frame, string column)
    {
        var col = frame.Columns[column];
        var seen = new List<string>();
        for (long r = 0; r < col.Length; r++)
            if (col[r] is string s && !seen.Contains(s)) seen.Add(s);
        return seen;
    }

    static string MeanStd(DataFrame agg, string metric, long row)
    {
        double? mean = FrameColumns.AsDouble(agg.Columns[metric + SeedAggregation.Mean][row]);
        double? std = FrameColumns.AsDouble(agg.Columns[metric + SeedAggregation.Std][row]);
        long n = (long)(agg.Columns[metric + SeedAggregation.Count][row] ?? 0L);
        if (mean is null) return HumanNumber.Missing;
        return Rounding.MeanSd(mean.Value, std, n); // one seed: no spread, "± –"
    }

    static string? CiTooltip(DataFrame agg, string metric, long row)
    {
        double? ci = FrameColumns.AsDouble(agg.Columns[metric + SeedAggregation.Ci95][row]);
        return ci is null ? null : "95% CI ± " + Rounding.Significant(ci.Value, Rounding.SpreadDigits);
    }


    /// <summary>Escapes the five HTML special characters only (keeps ±, –, × readable in the source).</summary>
    static string Enc(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;").Replace("'", "&#39;");

    static string Table(IEnumerable<string> header, IEnumerable<string[]> rows, int statusColumn = -1, Func<long, int, string?>? tooltips = null)
    {
        var sb = new StringBuilder("<table>\n<thead><tr>");
        foreach (var h in header) sb.Append("<th>").Append(Enc(h)).Append("</th>");
        sb.Append("</tr></thead>\n<tbody>\n");
        long r = 0;
        foreach (var row in rows)
        {
            sb.Append("<tr>");
            for (int c = 0; c < row.Length; c++)
            {
                string? tip = tooltips?.Invoke(r, c);
                sb.Append(c == statusColumn ? $"<td class=\"status-{Enc(row[c])}\"" : "<td");
                if (tip is not null) sb.Append(" title=\"").Append(Enc(tip)).Append('"');
                sb.Append('>').Append(Enc(row[c])).Append("</td>");
            }
            sb.Append("</tr>\n");
            r++;
        }
        return sb.Append("</tbody></table>\n").ToString();
    }

    const string Css =
        "body{font-family:Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}" +
        "h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}" +
        "table{border-collapse:collapse;font-size:.9em;margin:1em 0}th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left}" +
        "th{background:#f4f4f4}td.status-completed{color:#1a7f37}td.status-failed{color:#cf222e}td.status-interrupted{color:#9a6700}" +
        "pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}.meta{color:#666;font-size:.9em}.error{color:#cf222e}" +
        ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1em}.cell{min-width:0}.caption{font-size:.85em;color:#555}" +
        ".moelab-chart{width:100%}.scroll{overflow-x:auto;max-height:36em;overflow-y:auto;border:1px solid #eee;margin:1em 0}.scroll table{margin:0}" +
        ".scroll th{position:sticky;top:0}figure{margin:1.5em 0}figcaption{color:#555;font-size:.9em;margin-top:.3em}";
}
