using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;
using TorchSharp;

namespace MoeLab.Experiments.Bench;

/// <summary>Timed optimiser steps of one experiment (see <see cref="TrainingBenchmark"/>).</summary>
/// <param name="Completed">false when the experiment's first arm ended before all timed steps were taken.</param>
public sealed record TrainingBenchResult(string Experiment, string Preset, string? Arm, int Warmup,
    IReadOnlyList<TrainingStepTiming> Steps, double PeakResidentMiB, bool Completed)
{
    public double Median(Func<TrainingStepTiming, double> figure)
    {
        var values = Steps.Select(figure).Where(double.IsFinite).ToList();
        return values.Count == 0 ? double.NaN : MoeBenchmark.Median(values);
    }

    /// <summary>Items (tokens or examples) per second from the median step time.</summary>
    public double ItemsPerSecond => Steps.Count == 0 ? double.NaN : Steps[0].Items / (Median(s => s.TotalMs) / 1e3);

    /// <summary>True when the task loads its data apart from the forward pass.</summary>
    public bool DataSplit => Steps.Any(s => double.IsFinite(s.DataMs));
}

/// <summary>`moelab bench --train`: runs an experiment's own code (its data, model, optimiser and
/// <see cref="ITrainingTask"/>, through <see cref="Trainer"/>) in memory, with a
/// <see cref="TrainingStepProbe"/> active: the first arm's first <c>warmup</c> steps are untimed, the next
/// <c>steps</c> are timed phase by phase, then the run is stopped. Works for every experiment that trains
/// through <see cref="Trainer"/>; data loading is timed apart when the task implements
/// <see cref="ITrainingTask.Batch"/>. Setting up the data and model (before the first step) is not timed.</summary>
public static class TrainingBenchmark
{
    public static TrainingBenchResult Run(string experimentName, string preset, IReadOnlyList<string> sets, int warmup, int steps,
        long seed, torch.Device device)
    {
        var experiment = ExperimentRegistry.Get(experimentName);
        var resolved = ConfigBinder.Resolve(experiment, preset, null, sets);
        var ctx = new InMemoryRunContext(experiment.Name, resolved.Preset, seed, device);
        var probe = new TrainingStepProbe(warmup, steps);
        bool completed = false;
        using (probe.Activate())
        {
            try { experiment.Run(resolved.Config, ctx); }
            catch (TrainingBenchmarkComplete) { completed = true; }
        }
        if (probe.Timings.Count == 0 && probe.Arm is null)
            throw new ConfigException($"moelab bench --train: experiment '{experiment.Name}' did not train through the shared Trainer, so there is nothing to time.");
        double peak = double.IsFinite(probe.PeakResidentMiB) ? probe.PeakResidentMiB : ProcessMemory.PeakResidentMiB();
        return new TrainingBenchResult(experiment.Name, resolved.Preset, probe.Arm, warmup, probe.Timings.ToList(), peak, completed);
    }
}
