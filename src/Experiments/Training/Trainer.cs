using System.Diagnostics;
using MoeLab.Experiments.Runtime;
using MoeLab.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Training;

/// <summary>How <see cref="Trainer"/> runs one arm.</summary>
public sealed record TrainerOptions
{
    /// <summary>Optimiser steps in total (a resumed run continues to this count).</summary>
    public required long Steps { get; init; }

    /// <summary>Learning rate per step (a pure function of the step, so resume needs no scheduler state).</summary>
    public required LrSchedule Schedule { get; init; }

    /// <summary>Log train_loss, lr, grad_norm every N steps (and throughput, memory to system.csv).</summary>
    public int LogEvery { get; init; } = 10;

    /// <summary>Evaluate every N steps and after the last step.</summary>
    public int EvalEvery { get; init; } = 100;

    /// <summary>Checkpoint (model, optimiser, step, early stopping) every N steps; 0 = only on
    /// cancellation and at the end.</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Micro-batches per optimiser step; their losses are averaged (each is divided by N before
    /// its backward pass).</summary>
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>Global gradient-norm clipping; 0 = none (the norm is still logged).</summary>
    public double ClipNorm { get; init; }

    /// <summary>Stop when this validation metric has not improved for <see cref="EarlyStopPatience"/>
    /// evaluations; 0 = never.</summary>
    public int EarlyStopPatience { get; init; }

    public string EarlyStopMetric { get; init; } = "val_loss";
    public MetricMode EarlyStopMode { get; init; } = MetricMode.Min;

    /// <summary>The arm's name in metrics.csv.</summary>
    public string Arm { get; init; } = "main";

    /// <summary>Prefix of this arm's checkpoint entries ("" for a run with one arm; e.g. "dense-" when
    /// several arms share a run, so each resumes on its own).</summary>
    public string CheckpointPrefix { get; init; } = "";
}

/// <summary>How an arm's training ended.</summary>
/// <param name="Steps">Optimiser steps done (fewer than asked when early stopping fired).</param>
/// <param name="LastTrainLoss">Mean training loss of the last step (NaN when none ran in this process).</param>
/// <param name="Early">The early-stopping state (best value and step), or null when it was off.</param>
/// <param name="ResumedCompleted">True when the arm had already finished before this process: the
/// model holds its final weights from the checkpoint and nothing was trained or logged.</param>
public sealed record TrainerOutcome(long Steps, bool StoppedEarly, double LastTrainLoss, EarlyStopping? Early, bool ResumedCompleted);

/// <summary>The one training loop of the lab: steps with gradient accumulation, clipping, a learning-rate
/// schedule, evaluation every N steps, early stopping, a stop on a non-finite loss (through
/// <see cref="RunContext.LogMetrics"/>), checkpoints every N steps, on cancellation (Ctrl+C, SIGTERM)
/// and at the end, and exact resume. Nothing paper-specific: the model, optimiser and
/// <see cref="ITrainingTask"/> come from the experiment. Several arms in one run call it once each with
/// their own <see cref="TrainerOptions.Arm"/> and <see cref="TrainerOptions.CheckpointPrefix"/>; an arm
/// that had finished is restored and skipped on resume.
/// <para>A checkpoint holds the model, the optimiser state, the step, the early-stopping state and torch's
/// global CPU generator (<see cref="TorchRandomState"/>: router noise, dropout), so a run that draws
/// from torch's generator during training also resumes bit-identically; the data position is a
/// function of the step (<see cref="ITrainingTask"/>).</para>
/// <para>Logged per arm: metrics.csv rows <c>train_loss, lr, grad_norm</c> every LogEvery steps and the
/// task's validation metrics every EvalEvery steps (reproducible bytes); system.csv rows
/// <c>items_per_second, peak_rss_mib</c> every LogEvery steps (wall-clock figures, never compared).</para></summary>
public static class Trainer
{
    /// <param name="Generation">Which generation of the binary entries belongs to this state (entries named
    /// <c>&lt;prefix&gt;g&lt;n&gt;-model.bin</c> etc.); null in checkpoints written before generations existed, whose
    /// entries are <c>&lt;prefix&gt;model.bin</c> etc.</param>
    private sealed record State(long Step, EarlyStopping.StateRecord? Early, bool Completed = false, bool StoppedEarly = false, long? Generation = null);

    /// <summary>Names of the binary entries of one checkpoint generation (null = the pre-generation names).</summary>
    private static (string Model, string Optimizer, string Rng) Entries(string prefix, long? generation)
    {
        string g = generation is { } n ? $"{prefix}g{n.ToString(System.Globalization.CultureInfo.InvariantCulture)}-" : prefix;
        return (g + "model.bin", g + "optimizer.bin", g + "rng.bin");
    }

    public static TrainerOutcome Run(RunContext ctx, nn.Module model, optim.Optimizer optimizer, ITrainingTask task, TrainerOptions o)
    {
        if (o.Steps < 0) throw new ArgumentOutOfRangeException(nameof(o), o.Steps, "TrainerOptions.Steps must be ≥ 0.");
        if (o.LogEvery < 1 || o.EvalEvery < 1 || o.GradientAccumulation < 1 || o.CheckpointEvery < 0)
            throw new ArgumentException("TrainerOptions: LogEvery, EvalEvery and GradientAccumulation must be ≥ 1, CheckpointEvery ≥ 0.", nameof(o));
        var early = o.EarlyStopPatience > 0 ? new EarlyStopping(o.EarlyStopMode, o.EarlyStopPatience) : null;
        var parameters = model.parameters().ToList();
        string stateEntry = o.CheckpointPrefix + "state";
        // A checkpoint is several entries (model, optimiser, generator, state). They are never overwritten in
        // place: each save writes a new generation of binary entries, then the state entry (one atomic rename)
        // that names that generation, and only then deletes the previous generation. A kill at any instant
        // leaves the last complete checkpoint intact (a torn save only leaves an unreferenced generation,
        // which the next save overwrites). Overwriting in place lost this: a SIGKILL between the model and the
        // state writes resumed step-N state with step-(N+k) weights.
        long? generation = null;

        string who = o.Arm == "main" ? "" : o.Arm + ": "; // log prefix for runs with several arms
        long start = 0;
        if (ctx.Checkpoints.Exists(stateEntry))
        {
            var state = ctx.Checkpoints.LoadJson<State>(stateEntry)!;
            generation = state.Generation;
            var (modelEntry, optimizerEntry, rngEntry) = Entries(o.CheckpointPrefix, generation);
            model.load(ctx.Checkpoints.PathOf(modelEntry));
            Optimizers.LoadState(optimizer, ctx.Checkpoints.PathOf(optimizerEntry));
            if (ctx.Checkpoints.Exists(rngEntry)) TorchRandomState.Restore(ctx.Checkpoints.PathOf(rngEntry));
            if (early is not null && state.Early is not null) early.Restore(state.Early);
            if (state.Completed)
            {
                ctx.Log($"{who}finished before this resume ({state.Step} steps); restored its final weights");
                return new TrainerOutcome(state.Step, state.StoppedEarly, double.NaN, early, ResumedCompleted: true);
            }
            start = state.Step;
            ctx.Log($"{who}resuming from checkpoint at step {start}");
        }

        void Save(long completedSteps, bool completed = false, bool stoppedEarly = false)
        {
            long next = (generation ?? 0) + 1;
            var (modelEntry, optimizerEntry, rngEntry) = Entries(o.CheckpointPrefix, next);
            ctx.Checkpoints.SaveFile(modelEntry, p => model.save(p));
            ctx.Checkpoints.SaveFile(optimizerEntry, p => Optimizers.SaveState(optimizer, p));
            ctx.Checkpoints.SaveFile(rngEntry, TorchRandomState.Save);
            // The state entry goes last: its atomic rename is the instant the new checkpoint replaces the old.
            ctx.Checkpoints.SaveJson(stateEntry, new State(completedSteps, early?.State, completed, stoppedEarly, next));
            var (oldModel, oldOptimizer, oldRng) = Entries(o.CheckpointPrefix, generation);
            if (generation is { } g)
                ctx.Checkpoints.DeleteWithPrefix(o.CheckpointPrefix + "g" + g.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-");
            else
                foreach (string old in new[] { oldModel, oldOptimizer, oldRng })
                    ctx.Checkpoints.DeleteWithPrefix(old); // a pre-generation checkpoint's entries (exact names)
            generation = next;
        }

        var probe = TrainingStepProbe.Current;
        if (probe is not null) probe.Arm ??= o.Arm;
        model.train();
        double lastLoss = double.NaN;
        bool stop = false;
        long step = start, itemsSinceLog = 0;
        var window = Stopwatch.StartNew();
        // No garbage collection while a step is inside LibTorch; collections happen between steps (see GcQuietRegion).
        using var quiet = GcQuietRegion.Enter();
        for (; step < o.Steps; step++)
        {
            GcQuietRegion.SafePoint();
            if (ctx.Cancellation.IsCancellationRequested)
            {
                Save(step);
                ctx.Log($"{who}interrupted: checkpoint saved at step {step}");
                ctx.Cancellation.ThrowIfCancellationRequested();
            }
            using (NewDisposeScope())
            {
                long stepStarted = Stopwatch.GetTimestamp(), t0 = stepStarted;
                double dataMs = 0, forwardMs = 0, backwardMs = 0, optimizerMs;
                bool split = false;
                double lr = o.Schedule.Apply(optimizer, step);
                t0 = Stopwatch.GetTimestamp();
                optimizer.zero_grad();
                double zeroMs = TrainingStepProbe.Ms(t0);
                double lossSum = 0;
                for (int micro = 0; micro < o.GradientAccumulation; micro++)
                {
                    // Under a benchmark probe, data and forward are timed apart when the task can split them.
                    t0 = Stopwatch.GetTimestamp();
                    var batch = probe is null ? null : task.Batch(step, micro);
                    split |= batch is not null;
                    dataMs += TrainingStepProbe.Ms(t0);
                    t0 = Stopwatch.GetTimestamp();
                    var loss = batch is null ? task.Loss(step, micro) : task.Loss(batch); // []
                    forwardMs += TrainingStepProbe.Ms(t0);
                    t0 = Stopwatch.GetTimestamp();
                    (o.GradientAccumulation == 1 ? loss : loss / o.GradientAccumulation).backward();
                    lossSum += loss.item<float>();
                    backwardMs += TrainingStepProbe.Ms(t0);
                }
                t0 = Stopwatch.GetTimestamp();
                double gradNorm = Gradients.ClipNorm(parameters, o.ClipNorm);
                optimizer.step();
                optimizerMs = TrainingStepProbe.Ms(t0) + zeroMs;
                lastLoss = task.AfterOptimizerStep(step, lossSum / o.GradientAccumulation);
                if (probe is not null)
                {
                    if (!split) { forwardMs += dataMs; dataMs = double.NaN; }
                    if (probe.Record(new TrainingStepTiming(step, dataMs, forwardMs, backwardMs, optimizerMs, TrainingStepProbe.Ms(stepStarted),
                            task.ItemsPerMicroBatch * o.GradientAccumulation)))
                        throw new TrainingBenchmarkComplete();
                    continue;
                }
                itemsSinceLog += task.ItemsPerMicroBatch * o.GradientAccumulation;
                if ((step + 1) % o.LogEvery == 0 || !double.IsFinite(lastLoss))
                {
                    var row = new Dictionary<string, double> { ["train_loss"] = lastLoss, ["lr"] = lr, ["grad_norm"] = gradNorm };
                    if (task.LastStepMetrics is { } extra)
                        foreach (var (name, value) in extra) row[name] = value;
                    ctx.LogMetrics(step + 1, row, o.Arm);
                    using var process = Process.GetCurrentProcess();
                    ctx.LogSystemMetrics(step + 1, new Dictionary<string, double>
                    {
                        ["items_per_second"] = itemsSinceLog / Math.Max(window.Elapsed.TotalSeconds, 1e-9),
                        ["peak_rss_mib"] = process.PeakWorkingSet64 / (1024.0 * 1024.0),
                    }, o.Arm);
                    itemsSinceLog = 0;
                    window.Restart();
                }
            }

            if ((step + 1) % o.EvalEvery == 0 || step + 1 == o.Steps)
            {
                var metrics = Evaluate(model, task);
                ctx.LogMetrics(step + 1, metrics, o.Arm);
                if (early is not null)
                {
                    if (!metrics.TryGetValue(o.EarlyStopMetric, out double value))
                        throw new InvalidOperationException($"Early stopping watches '{o.EarlyStopMetric}', which the task's Evaluate() did not return (it returned: {string.Join(", ", metrics.Keys)}).");
                    early.Update(step + 1, value);
                    stop = early.ShouldStop;
                }
            }
            if (o.CheckpointEvery > 0 && (step + 1) % o.CheckpointEvery == 0) Save(step + 1);
            ctx.ReportProgress(o.Arm == "main" ? "train" : o.Arm, step + 1, o.Steps, lastLoss);
            if (stop)
            {
                ctx.Log($"{who}early stopping at step {step + 1}: best {o.EarlyStopMetric} {early!.Best:G6} at step {early.BestStep}");
                step++;
                break;
            }
        }
        Save(step, completed: true, stoppedEarly: stop);
        return new TrainerOutcome(step, stop, lastLoss, early, ResumedCompleted: false);
    }

    /// <summary>The task's validation metrics in eval mode without gradients; back to training mode after.</summary>
    public static IReadOnlyDictionary<string, double> Evaluate(nn.Module model, ITrainingTask task)
    {
        model.eval();
        try
        {
            // Held off here too when called outside Run (after training); inside Run this joins the loop's region.
            using var quiet = GcQuietRegion.Enter();
            using (no_grad())
                return task.Evaluate();
        }
        finally
        {
            model.train();
        }
    }
}
