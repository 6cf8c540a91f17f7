using System.Diagnostics;

namespace MoeLab.Experiments.Training;

/// <summary>Wall-clock split of one optimiser step (milliseconds). <paramref name="DataMs"/> is NaN when
/// the task does not load its batches apart from the forward pass (then the forward figure includes them).</summary>
public sealed record TrainingStepTiming(long Step, double DataMs, double ForwardMs, double BackwardMs, double OptimizerMs, double TotalMs, long Items);

/// <summary>Thrown by <see cref="Trainer.Run"/> when an active <see cref="TrainingStepProbe"/> has all the
/// steps it asked for: it ends the experiment early (a benchmark, not a run).</summary>
public sealed class TrainingBenchmarkComplete() : Exception("training benchmark: all timed steps done");

/// <summary>Turns <see cref="Trainer.Run"/> into a benchmark for the code running under <see cref="Activate"/>
/// (in this async flow only): every optimiser step is timed in phases — data (when the task implements
/// <see cref="ITrainingTask.Batch"/>), forward (the task's loss), backward, optimiser (gradient clipping,
/// the update and zeroing the gradients) — evaluation, logging and checkpoints are skipped, and after
/// <see cref="Warmup"/> + <see cref="Steps"/> steps the trainer throws <see cref="TrainingBenchmarkComplete"/>.
/// Only the first arm a run trains is measured.</summary>
public sealed class TrainingStepProbe
{
    private static readonly AsyncLocal<TrainingStepProbe?> current = new();

    public TrainingStepProbe(int warmup, int steps)
    {
        if (warmup < 0 || steps < 1) throw new ArgumentException($"TrainingStepProbe: warm-up {warmup} must be ≥ 0 and steps {steps} ≥ 1.");
        Warmup = warmup;
        Steps = steps;
    }

    public int Warmup { get; }
    public int Steps { get; }

    /// <summary>The timed steps (after warm-up).</summary>
    public List<TrainingStepTiming> Timings { get; } = new();

    /// <summary>Peak resident set (MiB) when the last timed step ended.</summary>
    public double PeakResidentMiB { get; internal set; } = double.NaN;

    /// <summary>The arm that was measured.</summary>
    public string? Arm { get; internal set; }

    private int _seen;

    internal static TrainingStepProbe? Current => current.Value;

    /// <summary>Makes the probe active for the calling flow until disposed.</summary>
    public IDisposable Activate()
    {
        var previous = current.Value;
        current.Value = this;
        return new Restore(previous);
    }

    /// <summary>Records one finished step; true when the benchmark has all its steps.</summary>
    internal bool Record(TrainingStepTiming timing)
    {
        if (_seen++ >= Warmup) Timings.Add(timing);
        if (Timings.Count < Steps) return false;
        PeakResidentMiB = ProcessMemory.PeakResidentMiB();
        return true;
    }

    internal static double Ms(long since) => Stopwatch.GetElapsedTime(since).TotalMilliseconds;

    private sealed class Restore(TrainingStepProbe? previous) : IDisposable
    {
        public void Dispose() => current.Value = previous;
    }
}
