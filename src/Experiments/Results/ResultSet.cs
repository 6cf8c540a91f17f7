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
/// a sweep folder, a results root, or run folders themselves).</summary>
public sealed class ResultSet
{
    /// <summary>Run columns present in every table, in this order.</summary>
    public static readonly IReadOnlyList<string> RunColumnNames = new[] { "run_id", "experiment", "preset", "seed", "status" };

    public const string ConfigPrefix = "config.";

    readonly Lazy<DataFrame> runs, summaries, history;
    readonly Lazy<(List<string> Labels, List<string> Metrics)> summaryColumns;

    public IReadOnlyList<RunRecord> Records { get; }

    /// <summary>Config columns ("config.*") of the tables, sorted.</summary>
    public IReadOnlyList<string> ConfigColumns { get; }

    public IReadOnlyList<string> LabelColumns => summaryColumns.Value.Labels;
    public IReadOnlyList<string> MetricColumns => summaryColumns.Value.Metrics;

    public DataFrame Runs => runs.Value;
    public DataFrame Summaries => summaries.Value;
    public DataFrame History => history.Value;

    ResultSet(IReadOnlyList<RunRecord> records)
    {
        Records = records;
        ConfigColumns = records.SelectMany(r => r.Config.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal)
            .Select(k => ConfigPrefix + k).ToList();
        summaryColumns = new(ClassifySummaryColumns);
        runs = new(BuildRuns);
        summaries = new(BuildSummaries);
        history = new(BuildHistory);
    }

    // ------------------------------------------------------------ loading

    /// <summary>Loads every run found under the given paths (duplicates removed).</summary>
    public static ResultSet Load(params string[] paths) => Load((IEnumerable<string>)paths);

    public static ResultSet Load(IEnumerable<string> paths)
    {
        var dirs = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var p in paths)
        {
            if (!Directory.Exists(p)) throw new DirectoryNotFoundException($"results folder not found: {Path.GetFullPath(p)}");
            foreach (var d in FindRunDirectories(p)) dirs.Add(d);
        }
        return new ResultSet(dirs.Select(RunRecord.Load).ToList());
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
    public static IReadOnlyList<string> FindRunDirectories(string path)
    {
        var found = new List<string>();
        var stack = new Stack<string>();
        stack.Push(Path.GetFullPath(path));
        while (stack.Count > 0)
        {
            string dir = stack.Pop();
            if (File.Exists(Path.Combine(dir, RunLayout.Manifest))) { found.Add(dir); continue; }
            foreach (var sub in Directory.GetDirectories(dir)) stack.Push(sub);
        }
        found.Sort(StringComparer.Ordinal);
        return found;
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
        cols.Add(new StringDataFrameColumn("run_dir", Records.Select(r => r.Directory)));
        return new DataFrame(cols);
    }

    sealed record SummaryFile(RunRecord Run, List<string> Header, List<List<Csv.Field>> Rows);

    List<SummaryFile>? summaryFiles;

    List<SummaryFile> ReadSummaryFiles()
    {
        if (summaryFiles is not null) return summaryFiles;
        var files = new List<SummaryFile>();
        foreach (var run in Records)
        {
            if (!File.Exists(run.SummaryPath)) continue;
            var rows = Csv.Parse(File.ReadAllText(run.SummaryPath), run.SummaryPath);
            if (rows.Count == 0) continue;
            var header = rows[0].Select(f => f.Text).ToList();
            if (header.Count == 0 || header[0] != "arm")
                throw new FormatException($"{run.SummaryPath}: first column must be 'arm' (header: {string.Join(",", header)})");
            for (int i = 1; i < rows.Count; i++)
                if (rows[i].Count != header.Count)
                    throw new FormatException($"{run.SummaryPath}: row {i + 1} has {rows[i].Count} fields, header has {header.Count}");
            files.Add(new SummaryFile(run, header, rows.Skip(1).ToList()));
        }
        return summaryFiles = files;
    }

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
        foreach (var run in Records)
        {
            if (!File.Exists(run.MetricsPath)) continue;
            string path = run.MetricsPath;
            var rows = Csv.Parse(File.ReadAllText(path), path);
            if (rows.Count == 0) continue;
            var header = rows[0].Select(f => f.Text).ToList();
            int iStep = header.IndexOf("step"), iArm = header.IndexOf("arm"), iMetric = header.IndexOf("metric"), iValue = header.IndexOf("value");
            if (iStep < 0 || iArm < 0 || iMetric < 0 || iValue < 0)
                throw new FormatException($"{path}: expected header step,arm,metric,value (got {string.Join(",", header)})");
            for (int r = 1; r < rows.Count; r++)
            {
                var row = rows[r];
                if (row.Count != header.Count) throw new FormatException($"{path}: row {r + 1} has {row.Count} fields, header has {header.Count}");
                if (!long.TryParse(row[iStep].Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long step))
                    throw new FormatException($"{path}: row {r + 1}: step '{row[iStep].Text}' is not an integer");
                double? value = null;
                if (row[iValue].Text.Length > 0)
                {
                    if (!double.TryParse(row[iValue].Text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                        throw new FormatException($"{path}: row {r + 1}: value '{row[iValue].Text}' is not a number");
                    value = v;
                }
                rowRuns.Add(run);
                steps.Add(step);
                arms.Add(row[iArm].IsMissing ? null : row[iArm].Text);
                names.Add(row[iMetric].Text);
                values.Add(value);
            }
        }
        var cols = RunAndConfigColumns(rowRuns);
        cols.Add(new Int64DataFrameColumn("step", steps));
        cols.Add(new StringDataFrameColumn("arm", arms));
        cols.Add(new StringDataFrameColumn("metric", names));
        cols.Add(new DoubleDataFrameColumn("value", values));
        return new DataFrame(cols);
    }

    // ------------------------------------------------------------ aggregation

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
