using MoeLab.Models.Schedules;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;
using MoeLab.Models.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>Everything measured for one arm of one run.</summary>
public sealed record DynaMoeArmResult(
    DynaMoeArm Arm,
    ArmEvaluation Validation,
    ArmEvaluation Test,
    long TotalParameters,
    double ActiveParameters,
    GradientStatistics GradientAtInit,
    GradientStatistics GradientAfterTraining,
    long Steps,
    double TrainSeconds,
    double WallSeconds);

/// <summary>Checkpoint of a DynaMoE run: the arms completed so far, in run order, with everything
/// measured (summary values, histograms, schedule rows and selection inputs derive from it).</summary>
public sealed record DynaMoeArmsCheckpoint(List<DynaMoeArmResult> Completed);

/// <summary>The per-arm protocol shared by the image and LM experiments, and the logging of its
/// results (summary rows, histogram and schedule tables, a figure).</summary>
public static class DynaMoeRunner
{
    /// <summary>The per-arm protocol: gradient-norm statistics at initialisation (training mode, the same
    /// minibatches for every arm and for the measurement after training, from the stream
    /// "gradient-variance"), training on the shared <see cref="Trainer"/> (AdamW at a constant learning
    /// rate, the paper's optimiser), gradient statistics after training, then validation and test
    /// evaluation and the parameter counts. The arm's checkpoint entries start with
    /// "arm-&lt;name&gt;-": the trainer's state every <c>train.checkpointEvery</c> steps, and the statistics at
    /// initialisation with torch's generator state after them, so an interrupted arm resumes mid-way
    /// and ends with the same bytes as an uninterrupted one.</summary>
    public static DynaMoeArmResult TrainAndMeasure(nn.Module<Tensor, NetworkOutput> network, long expertParameters,
        DynaMoeArm arm, DeviceSplit train, DeviceSplit validation, DeviceSplit test, DynaMoeTrainConfig config,
        RunContext context, string metric, int evalBatch, long excludedFromActive)
    {
        var wall = Stopwatch.StartNew();
        string prefix = ArmCheckpointPrefix(arm), gradientEntry = prefix + "gradient-at-init", rngEntry = prefix + "rng-after-gradient-at-init.bin";
        GradientStatistics gradInit;
        if (context.Checkpoints.LoadJson<GradientStatistics>(gradientEntry) is { } stored && context.Checkpoints.Exists(rngEntry))
        {
            gradInit = stored;
            TorchRandomState.Restore(context.Checkpoints.PathOf(rngEntry));
        }
        else
        {
            gradInit = DynaMoeTrainer.GradientVariance(network, train, config.BatchSize, config.GradientVarianceBatches, context.CreateRandom("gradient-variance"));
            context.Checkpoints.SaveFile(rngEntry, TorchRandomState.Save);
            context.Checkpoints.SaveJson(gradientEntry, gradInit);
        }

        var task = new DynaMoeTask(network, train, validation, config, context, metric, evalBatch);
        var optimizer = Optimizers.AdamW(network.parameters(), config.LearningRate, config.WeightDecay);
        var clock = Stopwatch.StartNew();
        var outcome = Trainer.Run(context, network, optimizer, task, new TrainerOptions
        {
            Steps = task.Steps,
            Schedule = LrSchedule.Create(ScheduleKind.Constant, config.LearningRate, task.Steps),
            LogEvery = config.LogEvery,
            EvalEvery = config.EvalEvery > 0 ? config.EvalEvery : (int)Math.Max(1, Math.Min(int.MaxValue, task.Steps)),
            CheckpointEvery = config.CheckpointEvery,
            Arm = arm.Name,
            CheckpointPrefix = prefix,
        });
        double trainSeconds = clock.Elapsed.TotalSeconds;

        var gradFinal = DynaMoeTrainer.GradientVariance(network, train, config.BatchSize, config.GradientVarianceBatches, context.CreateRandom("gradient-variance"));
        var val = DynaMoeTrainer.Evaluate(network, validation, evalBatch);
        var tst = DynaMoeTrainer.Evaluate(network, test, evalBatch);
        var (total, active) = DynaMoeTrainer.Parameters(network, arm.ExpertsPerLayer, tst.MeanExpertsPerToken, expertParameters, excludedFromActive);
        return new DynaMoeArmResult(arm, val, tst, total, active, gradInit, gradFinal, outcome.Steps, trainSeconds, wall.Elapsed.TotalSeconds);
    }

    /// <summary>Prefix of an arm's own checkpoint entries (trainer state, gradient statistics at initialisation).</summary>
    public static string ArmCheckpointPrefix(DynaMoeArm arm) => $"arm-{arm.Name}-";

    /// <summary>Name of the checkpoint entry holding the completed arms (<see cref="DynaMoeArmsCheckpoint"/>).</summary>
    public const string CheckpointEntry = "dynamoe-arms";

    /// <summary>Runs every arm through <paramref name="trainArm"/> with per-arm checkpointing, then
    /// <see cref="Report"/>s. After each completed arm its summary row is logged and the list of
    /// completed arms (everything the run-level tables, figure and schedule selection need) is saved
    /// as the JSON checkpoint entry <see cref="CheckpointEntry"/>. On a resumed run the stored arms are
    /// re-logged and skipped; the arm that was interrupted continues from its last checkpoint
    /// (<see cref="TrainAndMeasure"/>). Each arm's randomness depends only on the run seed (the arm callbacks
    /// reseed torch from the run's "init" stream; data order and gradient minibatches come from named streams), so skipping earlier arms changes nothing.
    /// Cancellation: the trainer throws <see cref="OperationCanceledException"/> inside an arm; a
    /// request that arrives while an arm is being evaluated is honoured right after its checkpoint.</summary>
    public static IReadOnlyList<DynaMoeArmResult> RunArms(IReadOnlyList<DynaMoeArm> arms, RunContext context, string metric,
        Func<DynaMoeArm, DynaMoeArmResult> trainArm)
    {
        var results = new List<DynaMoeArmResult>();
        if (context.Checkpoints.LoadJson<DynaMoeArmsCheckpoint>(CheckpointEntry) is { } saved)
        {
            var stored = saved.Completed ?? [];
            if (stored.Count > arms.Count)
                throw new InvalidOperationException($"Checkpoint entry '{CheckpointEntry}' holds {stored.Count} completed arms, " +
                    $"but this config has only {arms.Count}; it belongs to a different config.");
            for (int a = 0; a < stored.Count; a++)
            {
                if (stored[a].Arm.Name != arms[a].Name || !stored[a].Arm.ExpertsPerLayer.SequenceEqual(arms[a].ExpertsPerLayer))
                    throw new InvalidOperationException($"Checkpoint entry '{CheckpointEntry}': completed arm {a + 1} is " +
                        $"'{stored[a].Arm.Name}' but this config's arm {a + 1} is '{arms[a].Name}'; it belongs to a different config.");
                results.Add(stored[a]);
                LogArm(stored[a], context, metric);
            }
            context.Log($"resuming: {stored.Count} of {arms.Count} arms restored from the checkpoint" +
                        (stored.Count < arms.Count ? $", continuing with {arms[stored.Count].Name}" : ""));
        }
        for (int a = results.Count; a < arms.Count; a++)
        {
            var arm = arms[a];
            context.Cancellation.ThrowIfCancellationRequested();
            context.Log($"arm {a + 1}/{arms.Count}: {arm.Name} (N_l = [{string.Join(", ", arm.ExpertsPerLayer)}])");
            var result = trainArm(arm);
            results.Add(result);
            LogArm(result, context, metric);
            context.Checkpoints.SaveJson(CheckpointEntry, new DynaMoeArmsCheckpoint(results.ToList()));
            context.Checkpoints.DeleteWithPrefix(ArmCheckpointPrefix(arm)); // its results are in the entry above; weights are not kept
        }
        context.Cancellation.ThrowIfCancellationRequested();
        Report(results, context, metric);
        return results;
    }

    /// <summary>The reported metric of an evaluation: perplexity = exp(mean loss), or accuracy.</summary>
    public static double Score(ArmEvaluation e, string metric) => metric == "perplexity" ? Math.Exp(e.Loss) : e.Accuracy;

    /// <summary>Logs the summary row of one completed arm (and a log line).</summary>
    public static void LogArm(DynaMoeArmResult r, RunContext context, string metric)
    {
        double Score(ArmEvaluation e) => DynaMoeRunner.Score(e, metric);
        var values = new Dictionary<string, double>
        {
            [$"val_{metric}"] = Score(r.Validation),
            [$"test_{metric}"] = Score(r.Test),
            ["val_loss"] = r.Validation.Loss,
            ["test_loss"] = r.Test.Loss,
            ["test_accuracy"] = r.Test.Accuracy,
            ["total_params"] = r.TotalParameters,
            ["active_params"] = r.ActiveParameters,
            ["total_experts"] = r.Arm.ExpertsPerLayer.Sum(),
            ["experts_per_token_mean"] = r.Test.MeanExpertsPerToken.Count == 0 ? double.NaN : r.Test.MeanExpertsPerToken.Average(),
            ["experts_per_token_std"] = r.Test.StdExpertsPerToken.Count == 0 ? double.NaN : r.Test.StdExpertsPerToken.Average(),
            ["grad_norm_init"] = r.GradientAtInit.MeanNorm,
            ["grad_var_init"] = r.GradientAtInit.Variance,
            ["grad_relvar_init"] = r.GradientAtInit.RelativeVariance,
            ["grad_norm_final"] = r.GradientAfterTraining.MeanNorm,
            ["grad_var_final"] = r.GradientAfterTraining.Variance,
            ["grad_relvar_final"] = r.GradientAfterTraining.RelativeVariance,
            ["steps"] = r.Steps,
            ["train_seconds"] = r.TrainSeconds,
            ["wall_seconds"] = r.WallSeconds,
        };
        context.LogSummary(r.Arm.Name, values, Labels(r));
        context.Log($"{r.Arm.Name}: val {metric} {Score(r.Validation):F4}, test {metric} {Score(r.Test):F4}, " +
                    $"params {r.TotalParameters} total / {r.ActiveParameters:F0} active, experts/token per layer " +
                    $"[{string.Join(", ", r.Test.MeanExpertsPerToken.Select(m => m.ToString("F2", CultureInfo.InvariantCulture)))}], " +
                    $"grad var {r.GradientAtInit.Variance:G3} → {r.GradientAfterTraining.Variance:G3}, {r.WallSeconds:F1} s");
    }

    /// <summary>Run-level results after all arms (whose rows <see cref="LogArm"/> logged): the histogram
    /// and schedule tables and a test-metric bar chart. The schedule is chosen across seeds, not per
    /// run (<see cref="DynaMoeReport.SelectSchedule"/>: best mean validation metric over seeds).
    /// <paramref name="metric"/> is "accuracy" (higher is better) or "perplexity" (lower is better).</summary>
    public static void Report(IReadOnlyList<DynaMoeArmResult> results, RunContext context, string metric)
    {
        bool perplexity = metric == "perplexity";
        double Score(ArmEvaluation e) => DynaMoeRunner.Score(e, metric);

        context.SaveTable("experts_per_token", HistogramTable(results));
        context.SaveTable("schedule", ScheduleTable(results));
        double scale = metric == "accuracy" ? 100 : 1;
        var chart = Charts.PointRange([new BarSeries($"test {metric}", results.Select(r => r.Arm.Name).ToList(),
                results.Select(r => Score(r.Test) * scale).ToList())],
            $"DynaMoE: test {metric} by arm (seed {context.Seed})", "arm",
            metric == "accuracy" ? "test accuracy (%)" : "test perplexity (log scale)", yType: metric == "perplexity" ? "log" : "-",
            legendTitle: "one seed: no spread");
        context.SaveFigure($"test_{metric}_by_arm", chart);
    }

    public static Dictionary<string, string> Labels(DynaMoeArmResult r) => new()
    {
        ["kind"] = r.Arm.Kind.ToString(),
        ["routing"] = r.Arm.RoutingFamily,
        ["schedule"] = r.Arm.Schedule,
        ["budget"] = r.Arm.BudgetMode,
        ["experts_per_layer"] = string.Join(" ", r.Arm.ExpertsPerLayer),
    };

    /// <summary>Long table: arm, layer, experts (j), share of test tokens that used j experts.</summary>
    public static DataFrame HistogramTable(IReadOnlyList<DynaMoeArmResult> results)
    {
        var arm = new StringDataFrameColumn("arm");
        var layer = new Int32DataFrameColumn("layer");
        var experts = new Int32DataFrameColumn("experts");
        var share = new DoubleDataFrameColumn("share");
        foreach (var r in results)
            for (int l = 0; l < r.Test.ExpertsPerTokenHistogram.Count; l++)
                for (int j = 0; j < r.Test.ExpertsPerTokenHistogram[l].Length; j++)
                {
                    arm.Append(r.Arm.Name); layer.Append(l); experts.Append(j); share.Append(r.Test.ExpertsPerTokenHistogram[l][j]);
                }
        return new DataFrame(arm, layer, experts, share);
    }

    /// <summary>Per arm and layer: N_l, mean and std of experts per test token.</summary>
    public static DataFrame ScheduleTable(IReadOnlyList<DynaMoeArmResult> results)
    {
        var arm = new StringDataFrameColumn("arm");
        var layer = new Int32DataFrameColumn("layer");
        var capacity = new Int32DataFrameColumn("experts_in_layer");
        var mean = new DoubleDataFrameColumn("experts_per_token_mean");
        var std = new DoubleDataFrameColumn("experts_per_token_std");
        foreach (var r in results)
            for (int l = 0; l < r.Arm.ExpertsPerLayer.Length; l++)
            {
                arm.Append(r.Arm.Name); layer.Append(l); capacity.Append(r.Arm.ExpertsPerLayer[l]);
                mean.Append(r.Test.MeanExpertsPerToken[l]); std.Append(r.Test.StdExpertsPerToken[l]);
            }
        return new DataFrame(arm, layer, capacity, mean, std);
    }
}
