namespace MoeLab.Experiments.Runtime;

/// <summary>Where progress of long work and log lines go: a progress bar on a terminal, periodic
/// plain lines when output is redirected, nothing in tests.</summary>
public interface IProgressSink
{
    void Report(string phase, long step, long total, double? loss);
    void Log(string message);
}

/// <summary>Discards progress and log lines.</summary>
public sealed class NullProgressSink : IProgressSink
{
    public static readonly NullProgressSink Instance = new();
    public void Report(string phase, long step, long total, double? loss) { }
    public void Log(string message) { }
}
