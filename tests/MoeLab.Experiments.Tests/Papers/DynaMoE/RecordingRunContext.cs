using Microsoft.Data.Analysis;
using MoeLab.Experiments.Runtime;
using MoeLab.Models.Runtime;
using Plotly.NET;
using TorchSharp;

namespace MoeLab.Experiments.Tests.Papers.DynaMoE;

/// <summary>Minimal in-memory RunContext test double (the runtime's own InMemoryRunContext is
/// built on another branch): records summaries, tables, figures and log lines.</summary>
internal sealed class RecordingRunContext : RunContext
{
    public RecordingRunContext(long seed = 1, string preset = "smoke")
    {
        Seed = seed; Preset = preset;
        TorchDevice.Seed(seed);
    }
    public override string ExperimentName => "test";
    public override string Preset { get; }
    public override long Seed { get; }
    public override torch.Device Device => torch.CPU;
    public override CancellationToken Cancellation => CancellationToken.None;
    public override string? RunDirectory => null;
    public override ICheckpointStore Checkpoints => throw new NotSupportedException("no checkpoints in this test double");

    public List<(long Step, string Arm, Dictionary<string, double> Values)> Metrics { get; } = new();
    public Dictionary<string, (Dictionary<string, double> Values, Dictionary<string, string> Labels)> Summary { get; } = new();
    public Dictionary<string, DataFrame> Tables { get; } = new();
    public Dictionary<string, GenericChart> Figures { get; } = new();
    public List<string> Lines { get; } = new();

    public override void LogMetrics(long step, IReadOnlyDictionary<string, double> values, string arm = "main") =>
        Metrics.Add((step, arm, values.ToDictionary()));
    public override void LogSummary(string arm, IReadOnlyDictionary<string, double> values, IReadOnlyDictionary<string, string>? labels = null) =>
        Summary[arm] = (values.ToDictionary(), labels?.ToDictionary() ?? new());
    public override void SaveTable(string name, DataFrame table) => Tables[name] = table;
    public override void SaveFigure(string name, GenericChart chart) => Figures[name] = chart;
    public override void ReportProgress(string phase, long step, long total, double? loss = null) { }
    public override void Log(string message) => Lines.Add(message);
}
