using System.Globalization;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Results;

/// <summary>A set of runs loaded into DataFrames (see <see cref="RunLayout"/> for the files).
/// <list type="bullet">
/// <item><see cref="Runs"/>: one row per run (run columns + flattened config columns "config.a.b").</item>
/// <item><see cref="Summaries"/>: one row per run × arm of summary.csv: run columns, config columns,
/// <c>arm</c>, label columns (strings), metric columns (doubles).</item>
/// <item><see cref="History"/>: the long rows of metrics.csv (<c>step, arm, metric, value</c>) with the
/// run and config columns in front.</item>
/// </list>
/// Runs are found by their manifest.json at any depth below each path given (an experiment folder,
/// a sweep folder, a results root, or run folders themselves).
/// <para>A damaged run does not stop the loading and never disappears silently: a run whose
/// manifest.json, summary.csv or metrics.csv cannot be read (invalid JSON, a CSV cut mid-row or
/// inside its header, a wrong field count, a non-numeric step, an unreadable file) is left out of
/// every table as a whole (so summaries and histories always cover the same runs) and listed in
/// <see cref="Skipped"/> with the file, line and problem. The runtime ends every CSV line with a
/// newline, so a summary.csv or metrics.csv whose last line has none was cut short and is refused.</para></summary>
public sealed class ResultSet
{
    /// <summary>Run columns present in every table, in this order.</summary>
    public static readonly IReadOnlyList<string> RunColumnNames = new[] { "run_id", "experiment", "preset", "seed", "status" };

    public const string ConfigPrefix = "config.";

    readonly Lazy<DataFrame> runs, summaries, history;
    readonly Lazy<(List<string> Labels, List<string> Metrics)> summaryColumns;
    readonly IReadOnlyList<LoadedRun> loaded;

    /// <summary>The runs that were read completely, in folder order. They make up every table.</summary>
    public IReadOnlyList<RunRecord> Records { get; }

    /// <summary>Runs found but left out of every table because a file of theirs could not be read,
    /// each with the file, line and problem (see <see cref="SkippedRun"/>); in folder order.</summary>
    public IReadOnlyList<SkippedRun> Skipped { get; }

    /// <summary>Config columns ("config.*") of the tables, sorted.</summary>
    public IReadOnlyList<string> ConfigColumns { get; }

    public IReadOnlyList<string> LabelColumns => summaryColumns.Value.Labels;
    public IReadOnlyList<string> MetricColumns => summaryColumns.Value.Metrics;

    public DataFrame Runs => runs.Value;
    public DataFrame Summaries => summaries.Value;
    public DataFrame History => history.Value;

    ResultSet(IReadOnlyList<LoadedRun> loadedRuns, IReadOnlyList<SkippedRun> skipped)
    {
        loaded = loadedRuns;
        var records = loadedRuns.Select(r => r.Record).ToList();
        Records = records;
        Skipped = skipped;
        ConfigColumns = records.SelectMany(r => r.Config.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal)
            .Select(k => ConfigPrefix + k).ToList();
        summaryColumns = new(ClassifySummaryColumns);
        runs = new(BuildRuns);
        summaries = new(BuildSummaries);
        history = new(BuildHistory);
    }

    // ------------------------------------------------------------ loading

    /// <summary>Loads every run found under the given paths (duplicates removed). Runs with an
    /// unreadable file are not loaded but listed in <see cref="Skipped"/>.</summary>
    public static ResultSet Load(params string[] paths) => Load((IEnumerable<string>)paths);

    public static ResultSet Load(IEnumerable<string> paths)
    {
        var dirs = new SortedSet<string>(StringComparer.Ordinal);
        var unlistable = new SortedDictionary<string, SkippedRun>(StringComparer.Ordinal);
        foreach (var p in paths)
        {
            if (!Directory.Exists(p)) throw new DirectoryNotFoundException($"results folder not found: {Path.GetFullPath(p)}");
            foreach (var d in FindRunDirectories(p, unlistable)) dirs.Add(d);
        }
        var loadedRuns = new List<LoadedRun>();
        var skipped = new List<SkippedRun>(unlistable.Values);
        foreach (var dir in dirs)
        {
            var run = LoadRun(dir, out var skip);
            if (run is not null) loadedRuns.Add(run);
            else skipped.Add(skip!);
        }
        skipped.Sort((a, b) => string.CompareOrdinal(a.Directory, b.Directory));
        return new ResultSet(loadedRuns, skipped);
    }

    /// <summary>Loads results/&lt;experiment&gt;/ under <paramref name="resultsRoot"/> (default: <see cref="RunLayout.DefaultResultsRoot"/>).</summary>
    public static ResultSet LoadExperiment(string experiment, string? resultsRoot = null)
    {
        string root = resultsRoot ?? RunLayout.DefaultResultsRoot();
        string dir = Path.Combine(root, experiment);
        if (!Directory.Exists(dir))
        {
            string known = Directory.Exists(root) ? string.Join(", ", Directory.GetDirectories(root).Select(Path.GetFileName).Order()) : "(results folder missing)";
            throw new DirectoryNotFoundException($"no results for experiment '{experiment}' in {Path.GetFullPath(root)} (found: {(known.Length == 0 ? "nothing" : known)})");
        }
        return Load(dir);
    }

    /// <summary>Folders under <paramref name="path"/> (itself included) that hold a manifest.json.
    /// A run folder's own subfolders are not searched.</summary>
    public static IReadOnlyList<string> FindRunDirectories(string path) => FindRunDirectories(path, null);

    /// <summary>As <see cref="FindRunDirectories(string)"/>; a folder that cannot be listed goes to
    /// <paramref name="unlistable"/> when given (else the error is thrown).</summary>
    static List<string> FindRunDirectories(string path, IDictionary<string, SkippedRun>? unlistable)
    {
        var found = new List<string>();
        var stack = new Stack<string>();
        stack.Push(Path.GetFullPath(path));
        while (stack.Count > 0)
        {
            string dir = stack.Pop();
            if (File.Exists(Path.Combine(dir, RunLayout.Manifest))) { found.Add(dir); continue; }
            string[] subs;
            try { subs = Directory.GetDirectories(dir); }
            catch (Exception e) when (unlistable is not null && e is IOException or UnauthorizedAccessException)
            {
                unlistable[dir] = new SkippedRun(dir, null, null, "folder cannot be listed, runs below it were not searched: " + ReadProblem(e));
                continue;
            }
            foreach (var sub in subs) stack.Push(sub);
        }
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    /// <summary>One run read completely: its manifest, summary.csv (null when absent) and metrics.csv
    /// rows (empty when absent).</summary>
    sealed record LoadedRun(RunRecord Record, SummaryFile? Summary, IReadOnlyList<HistoryRow> History);

    readonly record struct HistoryRow(long Step, string? Arm, string Metric, double? Value);

    /// <summary>Reads a run's manifest, summary.csv and metrics.csv; null (and <paramref name="skipped"/>
    /// set) when one of them cannot be read.</summary>
    static LoadedRun? LoadRun(string dir, out SkippedRun? skipped)
    {
        skipped = null;
        RunRecord record;
        try { record = RunRecord.Load(dir); }
        catch (DataFileException e) { skipped = new SkippedRun(dir, RunLayout.Manifest, e.Line, e.Problem); return null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            skipped = new SkippedRun(dir, RunLayout.Manifest, null, "cannot be read: " + ReadProblem(e));
            return null;
        }
        try
        {
            return new LoadedRun(record, ReadSummary(record), ReadHistory(record));
        }
        catch (DataFileException e)
        {
            skipped = new SkippedRun(dir, Path.GetRelativePath(dir, e.File), e.Line, e.Problem) { Record = record };
            return null;
        }
    }

    static string ReadProblem(Exception e) => e is UnauthorizedAccessException ? "permission denied" : e.Message.ReplaceLineEndings(" ");

    /// <summary>The text of a run file; read errors become <see cref="DataFileException"/>s.</summary>
    static string ReadRunFile(string path)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFileException(path, null, "cannot be read: " + ReadProblem(e), e);
        }
    }

    const string CutShort = "the file was cut short";

    /// <summary>Parses a run's CSV file: rows with the line each starts on. Refuses an empty file, a
    /// file that ends inside its header, and (unless a row has the wrong field count first) a last
    /// line without its newline.</summary>
    static (List<List<Csv.Field>> Rows, List<int> Lines) ParseRunCsv(string path, string expectedHeader)
    {
        string text = ReadRunFile(path);
        var lines = new List<int>();
        var rows = Csv.Parse(text, path, lines);
        if (rows.Count == 0) throw new DataFileException(path, null, $"empty file (expected the header {expectedHeader}): {CutShort}");
        bool cut = !text.EndsWith('\n');
        if (cut && rows.Count == 1)
            throw new DataFileException(path, lines[0], $"the file ends inside its header row (no newline after '{Ellipsis(string.Join(",", rows[0].Select(f => f.Text)))}'): {CutShort}");
        int width = rows[0].Count;
        for (int r = 1; r < rows.Count; r++)
            if (rows[r].Count != width)
                throw new DataFileException(path, lines[r], $"row has {rows[r].Count} field(s), the header has {width}" +
                                                            (cut && r == rows.Count - 1 ? $" (last row, no newline after it: {CutShort} mid-row)" : ""));
        if (cut) throw new DataFileException(path, lines[^1], $"the last row has no newline after it: {CutShort} mid-row");
        return (rows, lines);
    }

    static string Ellipsis(string s) => s.Length <= 60 ? s : s[..57] + "...";

    static SummaryFile? ReadSummary(RunRecord run)
    {
        string path = run.SummaryPath;
        if (!File.Exists(path)) return null;
        var (rows, lines) = ParseRunCsv(path, "arm,...");
        var header = rows[0].Select(f => f.Text).ToList();
        if (header[0] != "arm")
            throw new DataFileException(path, lines[0], $"first column must be 'arm' (header: {Ellipsis(string.Join(",", header))})");
        var dupe = header.GroupBy(h => h).FirstOrDefault(g => g.Count() > 1);
        if (dupe is not null) throw new DataFileException(path, lines[0], $"duplicate column '{dupe.Key}' in the header");
        return new SummaryFile(run, header, rows.Skip(1).ToList());
    }

    static IReadOnlyList<HistoryRow> ReadHistory(RunRecord run)
    {
        string path = run.MetricsPath;
        if (!File.Exists(path)) return Array.Empty<HistoryRow>();
        var (rows, lines) = ParseRunCsv(path, "step,arm,metric,value");
        var header = rows[0].Select(f => f.Text).ToList();
        int iStep = header.IndexOf("step"), iArm = header.IndexOf("arm"), iMetric = header.IndexOf("metric"), iValue = header.IndexOf("value");
        if (iStep < 0 || iArm < 0 || iMetric < 0 || iValue < 0)
            throw new DataFileException(path, lines[0], $"expected the header step,arm,metric,value (got {Ellipsis(string.Join(",", header))})");
        var result = new List<HistoryRow>(rows.Count - 1);
        for (int r = 1; r < rows.Count; r++)
        {
            var row = rows[r];
            if (!long.TryParse(row[iStep].Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long step))
                throw new DataFileException(path, lines[r], $"step '{Ellipsis(row[iStep].Text)}' is not an integer");
            double? value = null;
            if (row[iValue].Text.Length > 0)
            {
                if (!double.TryParse(row[iValue].Text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    throw new DataFileException(path, lines[r], $"value '{Ellipsis(row[iValue].Text)}' is not a number");
                value = v;
            }
            result.Add(new HistoryRow(step, row[iArm].IsMissing ? null : row[iArm].Text, row[iMetric].Text, value));
        }
        return result;
    }

    // ------------------------------------------------------------ tables

    List<DataFrameColumn> RunAndConfigColumns(IReadOnlyList<RunRecord> rowRuns)
    {
        var cols = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("run_id", rowRuns.Select(r => r.RunId)),
            new StringDataFrameColumn("experiment", rowRuns.Select(r => r.Experiment)),
            new StringDataFrameColumn("preset", rowRuns.Select(r => r.Preset)),
            new Int64DataFrameColumn("seed", rowRuns.Select(r => r.Seed)),
            new StringDataFrameColumn("status", rowRuns.Select(r => r.Status)),
        };
        foreach (var name in ConfigColumns)
        {
            string key = name[ConfigPrefix.Length..];
            var values = rowRuns.Select(r => r.Config.TryGetValue(key, out var v) ? v : null).ToList();
            Type t = UnifyType(values);
            cols.Add(FrameColumns.Create(name, t, values.Select(v => t == typeof(string) && v is not null and not string ? FrameColumns.Format(v is double d ? d.ToString("R", CultureInfo.InvariantCulture) : v) : v)));
        }
        return cols;
    }

    /// <summary>Common type of config values across runs: long, double (mixed numbers), bool, else string.</summary>
    static Type UnifyType(IEnumerable<object?> values)
    {
        var present = values.Where(v => v is not null).ToList();
        if (present.Count == 0) return typeof(string);
        if (present.All(v => v is long)) return typeof(long);
        if (present.All(v => v is long or double)) return typeof(double);
        if (present.All(v => v is bool)) return typeof(bool);
        return typeof(string);
    }

    DataFrame BuildRuns()
    {
        var cols = RunAndConfigColumns(Records);
        cols.Add(new StringDataFrameColumn("device", Records.Select(r => r.Device)));
        cols.Add(new StringDataFrameColumn("git_commit", Records.Select(r => r.GitCommit)));
        cols.Add(new StringDataFrameColumn("config_hash", Records.Select(r => r.ConfigHash)));
        cols.Add(new StringDataFrameColumn("started_at", Records.Select(r => r.StartedAt)));
        cols.Add(new StringDataFrameColumn("ended_at", Records.Select(r => r.EndedAt)));
        cols.Add(new StringDataFrameColumn("error", Records.Select(r => r.Error)));
        cols.Add(new BooleanDataFrameColumn("failed_before_start", Records.Select(r => (bool?)r.FailedBeforeStart)));
        cols.Add(new StringDataFrameColumn("run_dir", Records.Select(r => r.Directory)));
        return new DataFrame(cols);
    }

    sealed record SummaryFile(RunRecord Run, List<string> Header, List<List<Csv.Field>> Rows);

    List<SummaryFile> ReadSummaryFiles() => loaded.Where(r => r.Summary is not null).Select(r => r.Summary!).ToList();

    /// <summary>A summary column is a metric when every present value in every run parses as a
    /// number (invariant culture); otherwise it is a label.</summary>
    (List<string>, List<string>) ClassifySummaryColumns()
    {
        var order = new List<string>();
        var isMetric = new Dictionary<string, bool>();
        foreach (var f in ReadSummaryFiles())
            for (int c = 1; c < f.Header.Count; c++)
            {
                string name = f.Header[c];
                if (!isMetric.ContainsKey(name)) { order.Add(name); isMetric[name] = true; }
                foreach (var row in f.Rows)
                {
                    var cell = row[c];
                    if (cell.Text.Length == 0) continue; // missing (quoting does not matter for numbers)
                    if (!double.TryParse(cell.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out _)) isMetric[name] = false;
                }
            }
        var reserved = new HashSet<string>(RunColumnNames.Concat(ConfigColumns).Append("arm"));
        foreach (var name in order)
            if (reserved.Contains(name))
                throw new FormatException($"summary.csv column '{name}' clashes with a run/config column of the results table; rename it in the experiment");
        return (order.Where(n => !isMetric[n]).ToList(), order.Where(n => isMetric[n]).ToList());
    }

    DataFrame BuildSummaries()
    {
        var files = ReadSummaryFiles();
        var rowRuns = new List<RunRecord>();
        var arms = new List<string?>();
        var labels = LabelColumns.ToDictionary(n => n, _ => new List<string?>());
        var metrics = MetricColumns.ToDictionary(n => n, _ => new List<double?>());
        foreach (var f in files)
        {
            var index = f.Header.Select((h, i) => (h, i)).ToDictionary(p => p.h, p => p.i);
            int line = 1;
            foreach (var row in f.Rows)
            {
                line++;
                rowRuns.Add(f.Run);
                arms.Add(row[0].IsMissing ? null : row[0].Text);
                foreach (var (name, list) in labels)
                    list.Add(index.TryGetValue(name, out int i) && !row[i].IsMissing ? row[i].Text : null);
                foreach (var (name, list) in metrics)
                {
                    if (!index.TryGetValue(name, out int i) || row[i].Text.Length == 0) { list.Add(null); continue; }
                    list.Add(double.Parse(row[i].Text, NumberStyles.Float, CultureInfo.InvariantCulture));
                }
            }
        }
        var cols = RunAndConfigColumns(rowRuns);
        cols.Add(new StringDataFrameColumn("arm", arms));
        foreach (var (name, list) in labels) cols.Add(new StringDataFrameColumn(name, list));
        foreach (var (name, list) in metrics) cols.Add(new DoubleDataFrameColumn(name, list));
        return new DataFrame(cols);
    }

    DataFrame BuildHistory()
    {
        var rowRuns = new List<RunRecord>();
        var steps = new List<long?>();
        var arms = new List<string?>();
        var names = new List<string?>();
        var values = new List<double?>();
        foreach (var run in loaded)
            foreach (var row in run.History)
            {
                rowRuns.Add(run.Record);
                steps.Add(row.Step);
                arms.Add(row.Arm);
                names.Add(row.Metric);
                values.Add(row.Value);
            }
        var cols = RunAndConfigColumns(rowRuns);
        cols.Add(new Int64DataFrameColumn("step", steps));
        cols.Add(new StringDataFrameColumn("arm", arms));
        cols.Add(new StringDataFrameColumn("metric", names));
        cols.Add(new DoubleDataFrameColumn("value", values));
        return new DataFrame(cols);
    }

    // ------------------------------------------------------------ aggregation

    /// <summary>What was found, in one line: "12 run(s): 7 completed, 3 failed before start
    /// (&lt;first error line&gt;), 2 failed, 1 interrupted; 1 skipped (unreadable files)". Every run
    /// folder is counted once: skipped runs by <see cref="Skipped"/>, the others by status.</summary>
    public string DescribeRuns()
    {
        int total = Records.Count + Skipped.Count;
        var parts = new List<string>();
        int completed = Records.Count(r => r.IsCompleted);
        if (completed > 0 || total == 0) parts.Add($"{completed} completed");
        var beforeStart = Records.Where(r => r.StatusText == "failed before start").ToList();
        if (beforeStart.Count > 0)
        {
            var errors = beforeStart.Select(r => r.ErrorFirstLine ?? "no error recorded").Distinct().ToList();
            string first = errors[0].Length <= 160 ? errors[0] : errors[0][..157] + "...";
            parts.Add($"{beforeStart.Count} failed before start ({first}{(errors.Count > 1 ? $"; {errors.Count - 1} other error(s)" : "")})");
        }
        var order = new[] { RunLayout.Status.Failed, RunLayout.Status.Interrupted, RunLayout.Status.Running };
        foreach (var g in Records.Where(r => !r.IsCompleted && r.StatusText != "failed before start").GroupBy(r => r.Status)
                     .OrderBy(g => Array.IndexOf(order, g.Key) is int i && i >= 0 ? i : order.Length).ThenBy(g => g.Key, StringComparer.Ordinal))
            parts.Add($"{g.Count()} {g.Key}");
        string line = $"{total} run(s): {string.Join(", ", parts)}";
        if (Skipped.Count > 0) line += $"; {Skipped.Count} skipped (unreadable files)";
        return line;
    }

    /// <summary>Runs that are read but not aggregated (status other than completed: failed, failed
    /// before start, interrupted, running), in folder order.</summary>
    public IReadOnlyList<RunRecord> NotAggregated => Records.Where(r => !r.IsCompleted).ToList();

    /// <summary>Default grouping keys over seeds: experiment and preset when they vary, arm, and every
    /// config column whose value varies across runs (a key whose last segment is "seed" excluded).</summary>
    public IReadOnlyList<string> DefaultGroupKeys()
    {
        var keys = new List<string>();
        var table = Runs;
        bool Varies(string col)
        {
            var c = FrameColumns.Get(table, col);
            var seen = new HashSet<string>();
            for (long r = 0; r < c.Length; r++) seen.Add(c[r] is null ? "\0" : c[r] is double d ? d.ToString("R", CultureInfo.InvariantCulture) : FrameColumns.Format(c[r]));
            return seen.Count > 1;
        }
        if (Varies("experiment")) keys.Add("experiment");
        if (Varies("preset")) keys.Add("preset");
        keys.Add("arm");
        keys.AddRange(ConfigColumns.Where(c => !c.Split('.')[^1].Equals("seed", StringComparison.OrdinalIgnoreCase) && Varies(c)));
        return keys;
    }

    /// <summary>Aggregates <see cref="Summaries"/> over seeds (see <see cref="SeedAggregation"/>). By default
    /// only completed runs count, keys are <see cref="DefaultGroupKeys"/> and metrics are all metric columns.</summary>
    public DataFrame Aggregate(IReadOnlyList<string>? groupBy = null, IReadOnlyList<string>? metrics = null, bool includeIncomplete = false)
    {
        var frame = includeIncomplete ? Summaries : CompletedOnly(Summaries);
        return SeedAggregation.Aggregate(frame, groupBy ?? DefaultGroupKeys(), metrics ?? MetricColumns);
    }

    /// <summary>Aggregates <see cref="History"/> over seeds: one row per group × metric × step with
    /// value.mean, value.std, value.ci95, value.n.</summary>
    public DataFrame AggregateHistory(IReadOnlyList<string>? groupBy = null, bool includeIncomplete = false)
    {
        var frame = includeIncomplete ? History : CompletedOnly(History);
        var keys = (groupBy ?? DefaultGroupKeys()).Concat(new[] { "metric", "step" }).Distinct().ToList();
        return SeedAggregation.Aggregate(frame, keys, new[] { "value" });
    }

    // ------------------------------------------------------------ export

    /// <summary>Writes runs, summaries, history and the seed aggregate (default keys, completed runs)
    /// into <paramref name="directory"/> as &lt;name&gt;.csv (+ .schema.json) and/or &lt;name&gt;.parquet.
    /// Returns the files written.</summary>
    public IReadOnlyList<string> Export(string directory, bool csv = true, bool parquet = true)
    {
        var written = new List<string>();
        var tables = new (string Name, DataFrame Frame)[]
        {
            ("runs", Runs), ("summaries", Summaries), ("history", History), ("aggregate", Aggregate()),
        };
        foreach (var (name, frame) in tables)
        {
            if (csv) { string p = Path.Combine(directory, name + ".csv"); FrameIO.SaveCsv(frame, p); written.Add(p); }
            if (parquet) { string p = Path.Combine(directory, name + ".parquet"); FrameIO.SaveParquet(frame, p); written.Add(p); }
        }
        return written;
    }

    static DataFrame CompletedOnly(DataFrame frame)
    {
        var status = FrameColumns.Get(frame, "status");
        return FrameColumns.Filter(frame, r => (string?)status[r] == RunLayout.Status.Completed);
    }
}
