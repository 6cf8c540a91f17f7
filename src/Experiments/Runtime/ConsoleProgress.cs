using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace MoeLab.Experiments.Runtime;

/// <summary>Progress on the console: a Spectre.Console progress bar (step, loss, ETA) on an
/// interactive terminal; plain periodic lines when output is redirected (CI logs).</summary>
public static class ConsoleProgress
{
    /// <summary>True when a live progress bar can be drawn.</summary>
    public static bool Interactive =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive &&
        Environment.GetEnvironmentVariable("MOELAB_PLAIN_PROGRESS") is null;

    /// <summary>Runs <paramref name="body"/> with a progress sink labelled <paramref name="label"/>.</summary>
    public static T Run<T>(string label, Func<IProgressSink, T> body)
    {
        if (!Interactive) return body(new PlainProgressSink(Console.Out, label));
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx => result = body(new SpectreProgressSink(ctx, label)));
        return result;
    }

    private sealed class SpectreProgressSink(ProgressContext ctx, string label) : IProgressSink
    {
        private readonly Dictionary<string, ProgressTask> _tasks = new();

        public void Report(string phase, long step, long total, double? loss)
        {
            if (!_tasks.TryGetValue(phase, out var task))
                _tasks[phase] = task = ctx.AddTask(Markup.Escape($"{label} {phase}"), maxValue: Math.Max(1, total));
            task.MaxValue = Math.Max(1, total);
            task.Value = Math.Min(step, total);
            string lossText = loss is { } l ? " loss " + l.ToString("G4", CultureInfo.InvariantCulture) : "";
            task.Description = Markup.Escape($"{label} {phase} {step}/{total}{lossText}");
        }

        public void Log(string message) => AnsiConsole.MarkupLine("[grey]" + Markup.Escape($"{label}: {message}") + "[/]");
    }
}

/// <summary>Plain progress lines, at most one per <see cref="Interval"/> per phase, plus the
/// first and the last step: <c>[label] train 120/300 (40%) loss 0.0123 elapsed 2s eta 3s</c>.</summary>
public sealed class PlainProgressSink(TextWriter output, string label) : IProgressSink
{
    private readonly Dictionary<string, (Stopwatch Clock, TimeSpan LastPrint, long StartStep)> _phases = new();

    /// <summary>Seconds between lines: $MOELAB_PROGRESS_SECONDS, default 10.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(
        double.TryParse(Environment.GetEnvironmentVariable("MOELAB_PROGRESS_SECONDS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? s : 10);

    public void Report(string phase, long step, long total, double? loss)
    {
        bool first = !_phases.TryGetValue(phase, out var p);
        if (first) p = (Stopwatch.StartNew(), TimeSpan.Zero, step - 1);
        var now = p.Clock.Elapsed;
        if (!first && step < total && now - p.LastPrint < Interval) return;
        _phases[phase] = (p.Clock, now, p.StartStep);
        double done = step - p.StartStep;
        string eta = !first && done > 0 && step < total ? " eta " + Format(TimeSpan.FromSeconds(now.TotalSeconds / done * (total - step))) : "";
        string lossText = loss is { } l ? " loss " + l.ToString("G4", CultureInfo.InvariantCulture) : "";
        double pct = total > 0 ? 100.0 * step / total : 0;
        output.WriteLine($"[{label}] {phase} {step}/{total} ({pct.ToString("F0", CultureInfo.InvariantCulture)}%){lossText} elapsed {Format(now)}{eta}");
    }

    public void Log(string message) => output.WriteLine($"[{label}] {message}");

    private static string Format(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:D2}s" : $"{t.TotalSeconds:F0}s";
}
