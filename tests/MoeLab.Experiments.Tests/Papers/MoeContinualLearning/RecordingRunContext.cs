using Microsoft.Data.Analysis;
using MoeLab.Experiments.Runtime;
using Plotly.NET;
using TorchSharp;

namespace MoeLab.Experiments.Tests.Papers.MoeContinualLearning;

/// <summary>Minimal in-memory RunContext for these tests (to be replaced by the runtime's
/// InMemoryRunContext once it exists). Records everything the experiment writes.</summary>
internal sealed class RecordingRunContext : RunContext
{
    public RecordingRunContext(long seed, string preset = "smoke") { Seed = seed; Preset = preset; }

    public override string ExperimentName => "moe-continual-learning";
    public override string Preset { get; }
    public override long Seed { get; }
    public override torch.Device Device => throw new NotSupportedException("this experiment does not use a torch device");
    public override CancellationToken Cancellation => CancellationToken.None;
    public override string? RunDirectory => null;

    public List<(long Step, string Arm, IReadOnlyDictionary<string, double> Values)> Metrics { get; } = new();
    public Dictionary<string, (IReadOnlyDictionary<string, double> Values, IReadOnlyDictionary<string, string>? Labels)> Summary { get; } = new();
    public Dictionary<string, DataFrame> Tables { get; } = new();
    public Dictionary<string, GenericChart> Figures { get; } = new();
    public List<string> Lines { get; } = new();

    public override void LogMetrics(long step, IReadOnlyDictionary<string, double> values, string arm = "main") =>
        Metrics.Add((step, arm, new Dictionary<string, double>(values)));
    public override void LogSummary(string arm, IReadOnlyDictionary<string, double> values, IReadOnlyDictionary<string, string>? labels = null) =>
        Summary[arm] = (new Dictionary<string, double>(values), labels);
    public override void SaveTable(string name, DataFrame table) => Tables[name] = table;
    public override void SaveFigure(string name, GenericChart chart) => Figures[name] = chart;
    public override void ReportProgress(string phase, long step, long total, double? loss = null) { }
    public override void Log(string message) => Lines.Add(message);
    public override ICheckpointStore Checkpoints => throw new NotSupportedException("no checkpoints in this test context");
}
