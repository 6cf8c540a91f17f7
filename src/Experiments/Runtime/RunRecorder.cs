using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Analysis;
using Plotly.NET;
using TorchSharp;

namespace MoeLab.Experiments.Runtime;

/// <summary>The file-backed <see cref="RunContext"/>: writes results/&lt;experiment&gt;/&lt;run-id&gt;/
/// as laid out in <see cref="RunLayout"/>. Every file is replaced atomically.
/// <para>One writer: the recorder holds the run directory's <see cref="DirectoryLock"/> from
/// <see cref="Create"/>/<see cref="Resume"/> until <see cref="Dispose"/>; a second process (or a
/// second recorder) on the same run gets <see cref="DirectoryInUseException"/>.</para>
/// <para>Crash consistency: metrics are kept in memory; metrics.csv (and log.txt) are rewritten at
/// most every <see cref="FlushInterval"/>, at the end, and <b>always before any checkpoint entry is
/// written</b>, so every checkpoint on disk is covered by the history on disk. After a kill -9 the
/// history may hold rows logged after the last checkpoint; on resume, when an arm logs a step again,
/// its old rows from that step on are dropped (they are recomputed identically).</para></summary>
public sealed class RunRecorder : RunContext, IDisposable
{
    private const string SummaryStateEntry = "runtime-summary";

    private readonly List<MetricRow> _metrics;
    private readonly List<MetricRow> _system;
    private readonly Dictionary<string, SummaryRow> _summary = new();
    private readonly List<string> _summaryOrder = new();
    private readonly StringBuilder _log = new();
    private readonly HashSet<string> _armsSeenSinceResume = new();
    private readonly bool _resumed;
    private readonly IProgressSink _progress;
    private readonly FileCheckpointStore _checkpoints;
    private readonly DirectoryLock _lock;
    private TensorBoardEventWriter? _tensorBoard;
    private DateTime _lastFlush = DateTime.UtcNow;
    private bool _dirty = true;
    private bool _wroteCheckpoint;

    private RunRecorder(string runDirectory, RunManifest manifest, torch.Device device, CancellationToken cancellation,
        IProgressSink progress, bool resumed, DirectoryLock runLock)
    {
        _lock = runLock;
        RunDirectory = runDirectory;
        Manifest = manifest;
        Device = device;
        Cancellation = cancellation;
        _progress = progress;
        _resumed = resumed;
        _checkpoints = new FileCheckpointStore(Path.Combine(runDirectory, RunLayout.Checkpoint), beforeSave: () =>
        {
            Flush(force: true);
            _wroteCheckpoint = true;
        });
        _metrics = resumed ? CsvText.ReadMetrics(Path.Combine(runDirectory, RunLayout.Metrics)) : new List<MetricRow>();
        string systemPath = Path.Combine(runDirectory, RunLayout.System);
        _system = resumed && File.Exists(systemPath) ? CsvText.ReadMetrics(systemPath) : new List<MetricRow>();
        string logPath = Path.Combine(runDirectory, RunLayout.Log);
        if (resumed && File.Exists(logPath)) _log.Append(File.ReadAllText(logPath));
        if (resumed && _checkpoints.LoadJson<List<SummaryState>>(SummaryStateEntry) is { } saved)
            foreach (var s in saved)
            {
                _summaryOrder.Add(s.Arm);
                _summary[s.Arm] = new SummaryRow(s.Arm, s.Values, s.Labels);
            }
    }

    /// <summary>Creates a fresh run directory (it must not hold a manifest yet), takes its lock and
    /// writes the manifest with status running.</summary>
    /// <param name="heldLock">The run directory's lock when the caller already holds it (it decided
    /// what to do with the run under that lock); the recorder takes it over and releases it on
    /// <see cref="Dispose"/>. Null: the recorder takes the lock itself.</param>
    /// <exception cref="DirectoryInUseException">another process is writing that directory.</exception>
    public static RunRecorder Create(string runDirectory, RunManifest manifest, torch.Device device,
        CancellationToken cancellation, IProgressSink? progress = null, DirectoryLock? heldLock = null)
    {
        var runLock = TakeOver(heldLock, runDirectory) ?? DirectoryLock.Acquire(runDirectory, "run");
        try
        {
            if (File.Exists(Path.Combine(runDirectory, RunLayout.Manifest)))
                throw new RunExistsException(runDirectory);
            var r = new RunRecorder(runDirectory, manifest with { Status = RunLayout.Status.Running }, device, cancellation,
                progress ?? NullProgressSink.Instance, resumed: false, runLock);
            r.Manifest.Write(runDirectory);
            r.Flush(force: true);
            return r;
        }
        catch
        {
            runLock.Dispose();
            throw;
        }
    }

    /// <summary>Reopens an existing run to continue it: history, summary and checkpoints are kept;
    /// the manifest goes back to running with the time of this resume appended.</summary>
    /// <param name="heldLock">As for <see cref="Create"/>.</param>
    /// <exception cref="DirectoryInUseException">the run is live in another process.</exception>
    public static RunRecorder Resume(string runDirectory, torch.Device device, CancellationToken cancellation,
        IProgressSink? progress = null, DirectoryLock? heldLock = null)
    {
        var runLock = TakeOver(heldLock, runDirectory) ?? DirectoryLock.Acquire(runDirectory, "run");
        try
        {
            var m = RunManifest.Read(runDirectory);
            var manifest = m with
            {
                Status = RunLayout.Status.Running,
                Error = null,
                EndedAt = null,
                FailedBeforeStart = false,
                Device = device.ToString(),
                ResumedAt = m.ResumedAt.Append(DateTimeOffset.UtcNow).ToList(),
            };
            var r = new RunRecorder(runDirectory, manifest, device, cancellation, progress ?? NullProgressSink.Instance, resumed: true, runLock);
            r.Manifest.Write(runDirectory);
            r.Log($"resumed (resume #{manifest.ResumedAt.Count}) with {r._metrics.Count} metric rows kept");
            var now = Models.Runtime.DeterministicNumerics.Current;
            if (m.Numerics is { } before && (before.Pinned != now.Pinned || before.MklCbwr != now.MklCbwr || before.AtenCpuCapability != now.AtenCpuCapability))
                r.Log($"warning: this run started with numerics {before} and resumes with {now}; the resumed part may differ in the last bits from an uninterrupted run");
            return r;
        }
        catch
        {
            runLock.Dispose();
            throw;
        }
    }

    private static DirectoryLock? TakeOver(DirectoryLock? heldLock, string runDirectory)
    {
        if (heldLock is null) return null;
        if (!heldLock.Holding)
            throw new InvalidOperationException($"The lock handed over for '{runDirectory}' was already released.");
        if (heldLock.Directory != Path.GetFullPath(runDirectory))
            throw new InvalidOperationException($"The lock handed over is for '{heldLock.Directory}', not for the run directory '{Path.GetFullPath(runDirectory)}'.");
        return heldLock;
    }

    public RunManifest Manifest { get; private set; }

    /// <summary>How often metrics.csv and log.txt are rewritten while running.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(2);

    public override string ExperimentName => Manifest.Experiment;
    public override string Preset => Manifest.Preset;
    public override long Seed => Manifest.Seed;
    public override torch.Device Device { get; }
    public override CancellationToken Cancellation { get; }
    public override string RunDirectory { get; }
    public override ICheckpointStore Checkpoints => _checkpoints;

    public IReadOnlyList<MetricRow> Metrics => _metrics;
    public IReadOnlyList<SummaryRow> Summary => _summaryOrder.Select(a => _summary[a]).ToList();

    public override void LogMetrics(long step, IReadOnlyDictionary<string, double> values, string arm = "main")
    {
        if (_resumed && _armsSeenSinceResume.Add(arm))
            _metrics.RemoveAll(r => r.Arm == arm && r.Step >= step);
        foreach (var (k, v) in values) _metrics.Add(new MetricRow(step, arm, k, v));
        (_tensorBoard ??= new TensorBoardEventWriter(Path.Combine(RunDirectory, RunLayout.TensorBoard)))
            .AddScalars(step, values.Select(kv => KeyValuePair.Create(TensorBoardTag(arm, kv.Key), kv.Value)));
        _dirty = true;
        Flush(force: false);
        NonFiniteMetricException.ThrowIfAny(step, values, arm);
    }

    public override void LogSystemMetrics(long step, IReadOnlyDictionary<string, double> values, string arm = "main")
    {
        foreach (var (k, v) in values) _system.Add(new MetricRow(step, arm, k, v));
        _dirty = true;
        Flush(force: false);
    }

    public override void LogSummary(string arm, IReadOnlyDictionary<string, double> values,
        IReadOnlyDictionary<string, string>? labels = null)
    {
        if (!_summary.ContainsKey(arm)) _summaryOrder.Add(arm);
        var row = new SummaryRow(arm, new Dictionary<string, double>(values),
            new Dictionary<string, string>(labels ?? new Dictionary<string, string>()));
        _summary[arm] = row;
        AtomicFile.WriteAllText(Path.Combine(RunDirectory, RunLayout.Summary), CsvText.Summary(Summary));
        _checkpoints.SaveJson(SummaryStateEntry, Summary.Select(s => new SummaryState(s.Arm,
            new Dictionary<string, double>(s.Values), new Dictionary<string, string>(s.Labels))).ToList());
    }

    public override void SaveTable(string name, DataFrame table)
    {
        CheckpointNames.Validate(name);
        AtomicFile.WriteAllText(Path.Combine(RunDirectory, RunLayout.Tables, name + ".csv"), CsvText.Table(table));
    }

    public override void SaveFigure(string name, GenericChart chart)
    {
        CheckpointNames.Validate(name);
        // The figure as Plotly JSON (data + layout): kilobytes instead of a 3.6 MB page with plotly.js
        // inside. `moelab report` embeds it (plotly.js once per page); `moelab figures` renders PNG/SVG.
        AtomicFile.WriteAllText(Path.Combine(RunDirectory, RunLayout.Figures, name + ".json"), GenericChart.toFigureJson(chart));
    }

    public override void ReportProgress(string phase, long step, long total, double? loss = null) =>
        _progress.Report(phase, step, total, loss);

    public override void Log(string message)
    {
        LogToFile(message);
        _progress.Log(message);
    }

    /// <summary>A line for log.txt only (e.g. a stack trace the console need not show).</summary>
    public void LogToFile(string message)
    {
        _log.Append(DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture))
            .Append(' ').Append(message).Append('\n');
        _dirty = true;
        Flush(force: false);
    }

    /// <summary>Rewrites metrics.csv and log.txt when something changed since the last flush and the
    /// interval passed (<paramref name="force"/>: whatever the interval).</summary>
    public void Flush(bool force = true)
    {
        if (!_dirty || (!force && DateTime.UtcNow - _lastFlush < FlushInterval)) return;
        AtomicFile.WriteAllText(Path.Combine(RunDirectory, RunLayout.Metrics), CsvText.Metrics(_metrics));
        if (_system.Count > 0) AtomicFile.WriteAllText(Path.Combine(RunDirectory, RunLayout.System), CsvText.Metrics(_system));
        AtomicFile.WriteAllText(Path.Combine(RunDirectory, RunLayout.Log), _log.ToString());
        _tensorBoard?.Flush();
        _lastFlush = DateTime.UtcNow;
        _dirty = false;
    }

    /// <summary>Flushes everything and writes the final status (completed/failed/interrupted).
    /// A failed run that computed nothing (no metric, summary or checkpoint, and not a resumed run)
    /// is marked <see cref="RunManifest.FailedBeforeStart"/>.</summary>
    public void Finish(string status, string? error)
    {
        Log(error is null ? $"status: {status}" : $"status: {status}: {error}");
        Flush(force: true);
        bool beforeStart = status == RunLayout.Status.Failed && !_resumed && _metrics.Count == 0 && _summary.Count == 0 && !_wroteCheckpoint;
        Manifest = Manifest with { Status = status, Error = error, EndedAt = DateTimeOffset.UtcNow, FailedBeforeStart = beforeStart };
        Manifest.Write(RunDirectory);
    }

    /// <summary>Flushes what is pending and releases the run directory's lock.</summary>
    public void Dispose()
    {
        try { Flush(force: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        try { _tensorBoard?.Dispose(); }
        catch (IOException) { }
        _lock.Dispose();
    }

    /// <summary>The TensorBoard tag of a metric: its name for the arm "main", "&lt;arm&gt;/&lt;metric&gt;" otherwise
    /// (TensorBoard groups tags by the part before the first '/', so each arm's metrics sit together).</summary>
    public static string TensorBoardTag(string arm, string metric) => arm == "main" ? metric : $"{arm}/{metric}";

    /// <summary>The summary rows of a finished run directory (from its checkpoint/runtime-summary.json,
    /// which keeps label and metric columns apart); empty when it has none.</summary>
    public static IReadOnlyList<SummaryRow> ReadSummary(string runDirectory)
    {
        var store = new FileCheckpointStore(Path.Combine(runDirectory, RunLayout.Checkpoint));
        return store.LoadJson<List<SummaryState>>(SummaryStateEntry)?
                   .Select(s => new SummaryRow(s.Arm, s.Values, s.Labels)).ToList()
               ?? (IReadOnlyList<SummaryRow>)Array.Empty<SummaryRow>();
    }

    private sealed record SummaryState(string Arm, Dictionary<string, double> Values, Dictionary<string, string> Labels);
}

/// <summary>A fresh run was asked for in a directory that already holds one.</summary>
public sealed class RunExistsException(string runDirectory)
    : IOException($"Run directory '{runDirectory}' already holds a run; continue it with `moelab run --resume {runDirectory}`.")
{
    public string RunDirectory { get; } = runDirectory;
}
