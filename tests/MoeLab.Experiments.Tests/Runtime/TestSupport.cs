using MoeLab.Experiments.Examples;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

/// <summary>A fresh temporary folder, deleted afterwards.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "moelab-test-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Cancels a token when the run reports a given training step (simulates Ctrl+C at step k); with
/// <paramref name="phase"/>, only when that phase (an arm's name) reports it.</summary>
internal sealed class CancelAtStep(CancellationTokenSource cts, long step, string? phase = null) : IProgressSink
{
    public void Report(string reported, long s, long total, double? loss)
    {
        if (s == step && (phase is null || reported == phase)) cts.Cancel();
    }

    public void Log(string message) { }
}

internal static class Toy
{
    public static readonly ToyRegressionExperiment Experiment = new();

    public static ResolvedConfig Smoke(params string[] sets) => ConfigBinder.Resolve(Experiment, "smoke", null, sets);

    public static ToyRegressionConfig Config(params string[] sets) => (ToyRegressionConfig)Smoke(sets).Config;
}
