using Microsoft.Data.Analysis;
using MoeLab.Models.Runtime;
using Plotly.NET;
using TorchSharp;

namespace MoeLab.Experiments.Runtime;

/// <summary>A run context that keeps everything in memory: for tests and notebooks. Same
/// behaviour as the file-backed recorder (NaN/Inf metrics stop the run, summary rows replace
/// earlier ones of the same arm) but nothing touches the disk except temporary checkpoint files.
/// <para>The constructor seeds torch with <paramref name="seed"/> (as the runtime does before
/// <see cref="IExperiment.Run"/>) unless <paramref name="seedTorch"/> is false.</para></summary>
public sealed class InMemoryRunContext : RunContext
{
    private readonly List<MetricRow> _metrics = new();
    private readonly Dictionary<string, SummaryRow> _summary = new();
    private readonly List<string> _summaryOrder = new();
    private readonly Dictionary<string, DataFrame> _tables = new();
    private readonly Dictionary<string, GenericChart> _figures = new();
    private readonly List<string> _log = new();
    private readonly IProgressSink _progress;

    public InMemoryRunContext(string experimentName = "test", string preset = "smoke", long seed = 0,
        torch.Device? device = null, CancellationToken cancellation = default,
        InMemoryCheckpointStore? checkpoints = null, IProgressSink? progress = null, bool seedTorch = true)
    {
        ExperimentName = experimentName;
        Preset = preset;
        Seed = seed;
        Device = device ?? torch.CPU;
        Cancellation = cancellation;
        CheckpointStore = checkpoints ?? new InMemoryCheckpointStore();
        _progress = progress ?? NullProgressSink.Instance;
        if (seedTorch) TorchDevice.Seed(seed);
    }

    public override string ExperimentName { get; }
    public override string Preset { get; }
    public override long Seed { get; }
    public override torch.Device Device { get; }
    public override CancellationToken Cancellation { get; }
    public override string? RunDirectory => null;
    public override ICheckpointStore Checkpoints => CheckpointStore;
    public InMemoryCheckpointStore CheckpointStore { get; }

    /// <summary>The step-indexed history, in logging order (long format, as metrics.csv).</summary>
    public IReadOnlyList<MetricRow> Metrics => _metrics;

    /// <summary>Final metrics per arm, in first-logged order (as summary.csv).</summary>
    public IReadOnlyList<SummaryRow> Summary => _summaryOrder.Select(a => _summary[a]).ToList();

    /// <summary>Summary rows keyed by arm.</summary>
    public IReadOnlyDictionary<string, SummaryRow> SummaryByArm => _summary;

    public IReadOnlyDictionary<string, DataFrame> Tables => _tables;
    public IReadOnlyDictionary<string, GenericChart> Figures => _figures;
    public IReadOnlyList<string> LogLines => _log;

    /// <summary>Values of one metric of one arm as (step, value), in logging order.</summary>
    public IReadOnlyList<(long Step, double Value)> Series(string metric, string arm = "main") =>
        _metrics.Where(r => r.Metric == metric && r.Arm == arm).Select(r => (r.Step, r.Value)).ToList();

    /// <summary>The summary value of one arm's metric; throws naming what exists when absent.</summary>
    public double SummaryValue(string metric, string arm = "main")
    {
        if (!_summary.TryGetValue(arm, out var row))
            throw new KeyNotFoundException($"No summary for arm '{arm}' (arms: {string.Join(", ", _summaryOrder)}).");
        return row.Values.TryGetValue(metric, out var v) ? v
            : throw new KeyNotFoundException($"Arm '{arm}' has no summary metric '{metric}' (has: {string.Join(", ", row.Values.Keys)}).");
    }

    /// <summary>The history as a DataFrame with columns step, arm, metric, value.</summary>
    public DataFrame MetricsFrame() => new(
        new PrimitiveDataFrameColumn<long>("step", _metrics.Select(r => r.Step)),
        new StringDataFrameColumn("arm", _metrics.Select(r => r.Arm)),
        new StringDataFrameColumn("metric", _metrics.Select(r => r.Metric)),
        new PrimitiveDataFrameColumn<double>("value", _metrics.Select(r => r.Value)));

    public override void LogMetrics(long step, IReadOnlyDictionary<string, double> values, string arm = "main")
    {
        foreach (var (k, v) in values) _metrics.Add(new MetricRow(step, arm, k, v));
        NonFiniteMetricException.ThrowIfAny(step, values, arm);
    }

    public override void LogSummary(string arm, IReadOnlyDictionary<string, double> values,
        IReadOnlyDictionary<string, string>? labels = null)
    {
        if (!_summary.ContainsKey(arm)) _summaryOrder.Add(arm);
        _summary[arm] = new SummaryRow(arm, new Dictionary<string, double>(values),
            new Dictionary<string, string>(labels ?? new Dictionary<string, string>()));
    }

    public override void SaveTable(string name, DataFrame table) => _tables[name] = table;
    public override void SaveFigure(string name, GenericChart chart) => _figures[name] = chart;
    public override void ReportProgress(string phase, long step, long total, double? loss = null) =>
        _progress.Report(phase, step, total, loss);

    public override void Log(string message)
    {
        _log.Add(message);
        _progress.Log(message);
    }
}
