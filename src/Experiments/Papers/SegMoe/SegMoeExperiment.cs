using System.Diagnostics;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Data.TimeSeries;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;
using MoeLab.Metrics.Ranking;
using MoeLab.Models.Networks;
using MoeLab.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.SegMoe;

/// <summary>Seg-MoE (Ortigossa &amp; Segal 2026, arXiv 2601.21641): segment-wise routing in a patch-based
/// forecasting Transformer, against token-wise MoE, a dense FFN and the shared-expert controls, all in
/// the same backbone with the same look-back. One run = one data source, every arm, one seed; use
/// <c>--seeds 3</c>. Per arm: training on the shared <see cref="Trainer"/> (Huber + α·balance, AdamW,
/// warm-up + cosine, early stopping on validation MSE with the best weights restored), then test MSE/MAE
/// per horizon (autoregressive in steps of f), routing diagnostics and timings.
/// <para>cpu preset: measured wall time in the folder README (2 cores, one thread per run).</para></summary>
public sealed class SegMoeExperiment : Experiment<SegMoeConfig>
{
    public override string Name => "seg-moe";

    public override string Description =>
        "Seg-MoE (arXiv 2601.21641): segment-wise vs token-wise MoE vs dense in a patch-based forecasting Transformer, with shared-expert controls.";

    /// <summary>The cpu preset's model: scaled down from the official small config so that 3 data sources ×
    /// 3 seeds × 6 arms train in about half an hour on 2 cores: L 96 (12 patches of 8), d 32, d_ff 64,
    /// 2 heads / 1 key-value head, 3 layers with ω [2,3,3] (the official [3,5,5,5] would leave one or two
    /// segments of 12 tokens), N 4 top-1, f 32.</summary>
    public static SegMoeModelConfig CpuModel => new()
    {
        LookBack = 96, PatchLength = 8, ForecastStep = 32, DModel = 32, DHidden = 64, Heads = 2, KeyValueHeads = 1,
        Omegas = [2, 3, 3], Experts = 4, TopK = 1,
    };

    public override IReadOnlyDictionary<string, SegMoeConfig> TypedPresets { get; } = new Dictionary<string, SegMoeConfig>
    {
        // Seconds: tests, CI, `moelab lab`.
        ["smoke"] = new()
        {
            Data = new() { Source = "regimes", Length = 2_000, Channels = 2, TrainStride = 8, EvalStride = 64 },
            Model = new()
            {
                LookBack = 32, PatchLength = 4, ForecastStep = 8, DModel = 16, DHidden = 16, Heads = 2, KeyValueHeads = 1,
                Omegas = [2, 3], Experts = 4, TopK = 1,
            },
            Train = new() { Epochs = 2, MaxSteps = 12, BatchSize = 16, Patience = 2, EvalEvery = 6, LogEvery = 3, CheckpointEvery = 6, EvalBatchSize = 32 },
            Horizons = [16, 24],
        },
        // Minutes per data source on 2 cores (see CpuModel).
        ["cpu"] = new()
        {
            Data = new() { Source = "regimes", Length = 12_000, Channels = 3, TrainStride = 4, EvalStride = 24 },
            Model = CpuModel,
            Train = new() { Epochs = 8, MaxSteps = 500, BatchSize = 32, Lr = 1e-3, MinLr = 1e-5, Patience = 3, EvalEvery = 100, LogEvery = 25, CheckpointEvery = 100, EvalBatchSize = 128 },
            Horizons = [96, 192, 336, 720],
        },
        // The official small config (L 512, d 128, d_ff 256, ω [3,5,5,5]) with the paper's optimiser; for a GPU.
        ["paper"] = new()
        {
            Data = new() { Source = "regimes", Length = 50_000, Channels = 7, TrainStride = 1, EvalStride = 1 },
            Model = new(),
            Train = new() { Epochs = 100, BatchSize = 128, Patience = 5, EvalBatchSize = 256, CheckpointEvery = 1000, LogEvery = 50 },
            Horizons = [96, 192, 336, 720],
        },
    };

    public override IReadOnlyList<string> Validate(SegMoeConfig c)
    {
        var p = new List<string>();
        var m = c.Model;
        if (m.LookBack % m.PatchLength != 0) p.Add($"'model.lookBack' = {m.LookBack} must be a multiple of 'model.patchLength' = {m.PatchLength}.");
        if (m.ForecastStep > m.LookBack) p.Add($"'model.forecastStep' = {m.ForecastStep} must be ≤ 'model.lookBack' = {m.LookBack}.");
        if (m.Omegas.Length is 0 or > 64 || m.Omegas.Any(o => o < 1)) p.Add($"'model.omegas' = [{string.Join(",", m.Omegas)}]: expected 1 to 64 values ≥ 1 (one per layer).");
        if (m.TopK > m.Experts) p.Add($"'model.topK' = {m.TopK} must be ≤ 'model.experts' = {m.Experts}.");
        if (m.DModel % m.Heads != 0 || m.Heads % m.KeyValueHeads != 0) p.Add($"'model.heads' = {m.Heads} must divide 'model.dModel' = {m.DModel}, and 'model.keyValueHeads' = {m.KeyValueHeads} must divide the heads.");
        if (m.DModel % 4 != 0) p.Add($"'model.dModel' = {m.DModel} must be divisible by 4 (the head narrows to d/4).");
        if (c.Arms.Length == 0) p.Add("'arms' is empty.");
        if (c.Horizons.Length == 0 || c.Horizons.Any(h => h < 1)) p.Add($"'horizons' = [{string.Join(",", c.Horizons)}]: expected positive values.");
        if (c.Data.Source.StartsWith("regimes") && c.Data.MinDuration > c.Data.MeanDuration)
            p.Add($"'data.minDuration' = {c.Data.MinDuration} must be ≤ 'data.meanDuration' = {c.Data.MeanDuration}.");
        return p;
    }

    /// <summary>The series of <paramref name="d"/> with its split (7:1:2 for generated and weather data,
    /// the standard 12/4/4-month split for ETT).</summary>
    public static PreparedSeries LoadData(SegMoeDataConfig d, int lookBack, int patchLength)
    {
        switch (d.Source)
        {
            case "regimes":
            case "regimes-iid":
            {
                var settings = new RegimeSwitchingSettings(d.Length, d.Channels, d.Regimes, d.MeanDuration, d.MinDuration,
                    IidBlock: d.Source == "regimes-iid" ? patchLength : 0);
                var data = RegimeSwitchingSeries.Generate(settings, new Random(d.GeneratorSeed));
                return PreparedSeries.Create(data, SplitBorders.Ratio(data.Length, lookBack));
            }
            case "weather":
                return ForecastCsv.LoadShippedWeather(lookBack);
            default:
                return ForecastCsv.LoadEtt(d.Source, d.Path, lookBack);
        }
    }

    public override void Run(SegMoeConfig c, RunContext ctx)
    {
        var device = ctx.Device;
        var prepared = LoadData(c.Data, c.Model.LookBack, c.Model.PatchLength);
        using var windows = new SegMoeWindows(prepared, c.Model.LookBack, c.Model.ForecastStep, device);
        var horizons = c.Horizons.Where(h => windows.TestStarts(h, c.Data.EvalStride).Length > 0).ToArray();
        foreach (var h in c.Horizons.Except(horizons))
            ctx.Log($"horizon {h} skipped: the test part of {prepared.Data.Name} ({prepared.Borders.TestEnd - prepared.Borders.TestStart} rows incl. look-back) is too short");
        if (horizons.Length == 0) throw new InvalidOperationException($"No horizon of [{string.Join(",", c.Horizons)}] fits the test part of {prepared.Data.Name}.");
        var official = new PatchForecaster(SegMoeArms.OfficialSmall());
        long officialParams = official.ParameterCount();
        official.Dispose();
        ctx.Log($"data {prepared.Data.Name}: {prepared.Data.Length} steps × {prepared.Data.ChannelCount} channels; split {prepared.Borders}; horizons [{string.Join(",", horizons)}]");
        ctx.Log($"official small config (4 layers, d 128, d_ff 256, N 4, top-1, ω [3,5,5,5], L 512, p 8): {officialParams:N0} parameters");

        var results = new List<SegMoeArmResult>();
        if (ctx.Checkpoints.LoadJson<SegMoeArmsCheckpoint>(CheckpointEntry) is { } saved)
        {
            foreach (var r in saved.Completed ?? [])
            {
                if (results.Count >= c.Arms.Length || r.Arm != c.Arms[results.Count])
                    throw new InvalidOperationException($"Checkpoint entry '{CheckpointEntry}' holds arm '{r.Arm}', which does not match this config's arms [{string.Join(",", c.Arms)}].");
                results.Add(r);
                LogArm(r, ctx);
            }
            ctx.Log($"resuming: {results.Count} of {c.Arms.Length} arms restored");
        }
        for (int a = results.Count; a < c.Arms.Length; a++)
        {
            ctx.Cancellation.ThrowIfCancellationRequested();
            string arm = c.Arms[a];
            ctx.Log($"arm {a + 1}/{c.Arms.Length}: {arm}");
            var r = TrainArm(arm, c, ctx, windows, horizons, officialParams);
            results.Add(r);
            LogArm(r, ctx);
            ctx.Checkpoints.SaveJson(CheckpointEntry, new SegMoeArmsCheckpoint(results.ToList()));
            ctx.Checkpoints.DeleteWithPrefix(Prefix(arm));
        }
        ctx.Cancellation.ThrowIfCancellationRequested();
        SaveTables(results, ctx, prepared.Data.Name);
    }

    public const string CheckpointEntry = "segmoe-arms";
    private static string Prefix(string arm) => $"arm-{arm}-";

    private static SegMoeArmResult TrainArm(string arm, SegMoeConfig c, RunContext ctx, SegMoeWindows windows, int[] horizons, long officialParams)
    {
        var wall = Stopwatch.StartNew();
        TorchDevice.Seed(ctx.DeriveSeed("init"));                     // the same initialisation stream for every arm
        var options = SegMoeArms.Network(arm, c.Model);
        using var model = new PatchForecaster(options, windows.Device);
        long total = model.ParameterCount();
        long active = total - SegMoeArms.InactiveParameters(options);
        ctx.Log($"  {arm}: {total:N0} parameters ({active:N0} active per token)");
        var task = new SegMoeTask(model, windows, c, ctx, Prefix(arm));
        var optimizer = Optimizers.AdamW(model.parameters(), c.Train.Lr, c.Train.WeightDecay, beta1: 0.9, beta2: 0.95, eps: 1e-10);
        long steps = task.Steps;
        var clock = Stopwatch.StartNew();
        var outcome = Trainer.Run(ctx, model, optimizer, task, new TrainerOptions
        {
            Steps = steps,
            Schedule = LrSchedule.Create(ScheduleKind.WarmupCosine, c.Train.Lr, steps, (long)Math.Round(c.Train.WarmupFraction * steps), minLr: c.Train.MinLr),
            LogEvery = c.Train.LogEvery,
            EvalEvery = c.Train.EvalEvery > 0 ? c.Train.EvalEvery : task.BatchesPerEpoch,
            CheckpointEvery = c.Train.CheckpointEvery,
            ClipNorm = c.Train.ClipNorm,
            EarlyStopPatience = c.Train.Patience,
            EarlyStopMetric = "val_mse",
            Arm = arm,
            CheckpointPrefix = Prefix(arm),
        });
        double trainSeconds = clock.Elapsed.TotalSeconds;
        task.RestoreBest();
        var evaluation = SegMoeEvaluation.Run(model, windows, c, horizons, arm);
        double epochs = (double)outcome.Steps / task.BatchesPerEpoch;
        return new SegMoeArmResult(arm, evaluation.Errors, evaluation.Routing, evaluation.ForecastExample, evaluation.RoutingExample,
            task.BestValidation, total, active, officialParams, outcome.Steps, epochs,
            outcome.ResumedCompleted || epochs <= 0 ? double.NaN : trainSeconds / epochs, trainSeconds, wall.Elapsed.TotalSeconds);
    }

    private static void LogArm(SegMoeArmResult r, RunContext ctx)
    {
        var v = new Dictionary<string, double>();
        foreach (var e in r.Errors)
        {
            v[$"test_mse_{e.Horizon}"] = e.Mse;
            v[$"test_mae_{e.Horizon}"] = e.Mae;
        }
        v["test_mse_avg"] = r.Errors.Average(e => e.Mse);
        v["test_mae_avg"] = r.Errors.Average(e => e.Mae);
        v["val_mse"] = r.BestValidationMse;
        v["total_params"] = r.TotalParameters;
        v["active_params"] = r.ActiveParameters;
        v["official_small_params"] = r.OfficialSmallParameters;
        v["steps"] = r.Steps;
        v["epochs"] = r.Epochs;
        v["epoch_seconds"] = r.EpochSeconds;
        v["train_seconds"] = r.TrainSeconds;
        if (r.Routing.Count > 0)
        {
            v["regime_nmi"] = r.Routing.Average(x => x.RegimeNmi);
            v["adjacent_agreement"] = r.Routing.Average(x => x.AdjacentAgreement);
            v["load_cv"] = r.Routing.Average(x => x.LoadCv);
            v["dead_experts"] = r.Routing.Sum(x => x.DeadExperts);
        }
        ctx.LogSummary(r.Arm, v.Where(kv => !double.IsNaN(kv.Value)).ToDictionary(kv => kv.Key, kv => kv.Value));
        ctx.Log($"  {r.Arm}: test MSE avg {v["test_mse_avg"]:F4}, MAE avg {v["test_mae_avg"]:F4}, val MSE {r.BestValidationMse:F4}, " +
                $"{r.Steps} steps in {r.TrainSeconds:F0} s" + (r.Routing.Count > 0 ? $", regime NMI {v["regime_nmi"]:F3}" : ""));
    }

    private static void SaveTables(IReadOnlyList<SegMoeArmResult> results, RunContext ctx, string dataName)
    {
        var errors = results.SelectMany(r => r.Errors.Select(e => (r.Arm, e))).ToList();
        ctx.SaveTable("errors", new DataFrame(
            new StringDataFrameColumn("arm", errors.Select(x => x.Arm)),
            new PrimitiveDataFrameColumn<int>("horizon", errors.Select(x => x.e.Horizon)),
            new PrimitiveDataFrameColumn<double>("mse", errors.Select(x => x.e.Mse)),
            new PrimitiveDataFrameColumn<double>("mae", errors.Select(x => x.e.Mae)),
            new PrimitiveDataFrameColumn<int>("windows", errors.Select(x => x.e.Windows))));
        var routing = results.SelectMany(r => r.Routing.Select(x => (r.Arm, x))).ToList();
        ctx.SaveTable("routing", new DataFrame(
            new StringDataFrameColumn("arm", routing.Select(x => x.Arm)),
            new PrimitiveDataFrameColumn<int>("layer", routing.Select(x => x.x.Layer)),
            new PrimitiveDataFrameColumn<int>("omega", routing.Select(x => x.x.Omega)),
            new PrimitiveDataFrameColumn<double>("regime_nmi", routing.Select(x => x.x.RegimeNmi)),
            new PrimitiveDataFrameColumn<double>("adjacent_agreement", routing.Select(x => x.x.AdjacentAgreement)),
            new PrimitiveDataFrameColumn<double>("load_cv", routing.Select(x => x.x.LoadCv)),
            new PrimitiveDataFrameColumn<int>("dead_experts", routing.Select(x => x.x.DeadExperts))));
        var fc = results.SelectMany(r => r.ForecastExample.Select(p => (r.Arm, p))).ToList();
        ctx.SaveTable("forecast_example", new DataFrame(
            new StringDataFrameColumn("arm", fc.Select(x => x.Arm)),
            new StringDataFrameColumn("series", fc.Select(x => x.p.Series)),
            new PrimitiveDataFrameColumn<int>("t", fc.Select(x => x.p.T)),
            new PrimitiveDataFrameColumn<double>("value", fc.Select(x => x.p.Value))));
        var re = results.SelectMany(r => r.RoutingExample.Select(p => (r.Arm, p))).ToList();
        ctx.SaveTable("routing_example", new DataFrame(
            new StringDataFrameColumn("arm", re.Select(x => x.Arm)),
            new PrimitiveDataFrameColumn<int>("layer", re.Select(x => x.p.Layer)),
            new PrimitiveDataFrameColumn<int>("token", re.Select(x => x.p.Token)),
            new PrimitiveDataFrameColumn<int>("expert", re.Select(x => x.p.Expert)),
            new PrimitiveDataFrameColumn<int>("regime", re.Select(x => x.p.Regime))));
        ctx.Log($"done: {results.Count} arms on {dataName}");
    }
}

/// <summary>Test error of one horizon (standardised units, all channels and points).</summary>
public sealed record HorizonError(int Horizon, double Mse, double Mae, int Windows);

/// <summary>Routing diagnostics of one MoE layer on the test windows. RegimeNmi: normalised mutual information
/// between each token's (top-1) expert and the true regime of its patch (NaN without ground truth);
/// AdjacentAgreement: share of neighbouring tokens routed to the same expert (1 within a segment by
/// construction); LoadCv: coefficient of variation of the tokens per expert; DeadExperts: experts with no token.</summary>
public sealed record LayerRouting(int Layer, int Omega, double RegimeNmi, double AdjacentAgreement, double LoadCv, int DeadExperts);

/// <summary>One point of the example forecast (series: history, truth, forecast; t relative to the forecast origin).</summary>
public sealed record ForecastPoint(string Series, int T, double Value);

/// <summary>One token of the routing example: its expert in a layer and the true regime of its patch (−1 = unknown).</summary>
public sealed record RoutingPoint(int Layer, int Token, int Expert, int Regime);

/// <summary>Everything measured for one arm.</summary>
public sealed record SegMoeArmResult(string Arm, List<HorizonError> Errors, List<LayerRouting> Routing, List<ForecastPoint> ForecastExample,
    List<RoutingPoint> RoutingExample, double BestValidationMse, long TotalParameters, long ActiveParameters, long OfficialSmallParameters,
    long Steps, double Epochs, double EpochSeconds, double TrainSeconds, double WallSeconds);

/// <summary>Checkpoint entry: the arms completed so far.</summary>
public sealed record SegMoeArmsCheckpoint(List<SegMoeArmResult> Completed);

/// <summary>The training task: window batches in a per-epoch order drawn from the run's seed; loss =
/// Huber(δ) over all L shifted outputs + α · the one balance loss over all layers' routing units.
/// Validation: MSE of the next f points (the forecast step) on validation windows; the best weights
/// are kept as a checkpoint entry (with their score), so selection on validation survives a resume.</summary>
internal sealed class SegMoeTask : ITrainingTask
{
    private readonly PatchForecaster model;
    private readonly SegMoeWindows windows;
    private readonly SegMoeConfig c;
    private readonly RunContext ctx;
    private readonly string prefix;
    private readonly long[] trainStarts;
    private readonly long[] validationStarts;
    private int cachedEpoch = -1;
    private long[] order = [];
    private Dictionary<string, double>? last;

    public SegMoeTask(PatchForecaster model, SegMoeWindows windows, SegMoeConfig c, RunContext ctx, string prefix)
    {
        this.model = model;
        this.windows = windows;
        this.c = c;
        this.ctx = ctx;
        this.prefix = prefix;
        trainStarts = windows.TrainStarts(c.Data.TrainStride);
        validationStarts = windows.ValidationStarts(c.Data.EvalStride);
        if (trainStarts.Length < c.Train.BatchSize)
            throw new InvalidOperationException($"Only {trainStarts.Length} training windows for batch size {c.Train.BatchSize}: lower 'train.batchSize' or 'data.trainStride'.");
        if (validationStarts.Length == 0)
            throw new InvalidOperationException("No validation window fits: shorten 'model.lookBack' or use a longer series.");
        BestValidation = ctx.Checkpoints.LoadJson<BestScore>(prefix + "best")?.Value ?? double.PositiveInfinity;
    }

    private sealed record BestScore(double Value, long Evaluations);

    public int BatchesPerEpoch => trainStarts.Length / c.Train.BatchSize;

    public long Steps
    {
        get
        {
            long s = (long)BatchesPerEpoch * c.Train.Epochs;
            return c.Train.MaxSteps > 0 ? Math.Min(s, c.Train.MaxSteps) : s;
        }
    }

    public double BestValidation { get; private set; }

    public long ItemsPerMicroBatch => c.Train.BatchSize;

    public IReadOnlyDictionary<string, double>? LastStepMetrics => last;

    public Tensor Loss(long step, int microBatch)
    {
        int epoch = (int)(step / BatchesPerEpoch);
        if (epoch != cachedEpoch)
        {
            order = Permutation(trainStarts, ctx.CreateRandom($"data-order-epoch-{epoch}"));
            cachedEpoch = epoch;
        }
        int b = (int)(step % BatchesPerEpoch);
        var starts = new ArraySegment<long>(order, b * c.Train.BatchSize, c.Train.BatchSize);
        var x = windows.History(starts);                                 // [B, C, L]
        var y = windows.ShiftedTarget(starts);                           // [B, C, L]
        var output = model.forward(x);
        var task = Huber(output.Prediction, y, c.Train.HuberDelta);      // []
        var balance = output.BalanceLoss(x.device);                     // []
        last = new Dictionary<string, double> { ["train_huber"] = task.item<float>(), ["train_balance"] = balance.item<float>() };
        return task.add(balance.mul(c.Train.BalanceWeight));
    }

    /// <summary>Mean Huber loss with threshold δ (PyTorch's HuberLoss).</summary>
    public static Tensor Huber(Tensor prediction, Tensor target, double delta)
    {
        var a = prediction.sub(target).abs();
        var quadratic = a.square().mul(0.5);
        var linear = a.sub(0.5 * delta).mul(delta);
        return torch.where(a.lt(delta), quadratic, linear).mean();
    }

    public IReadOnlyDictionary<string, double> Evaluate()
    {
        int f = c.Model.ForecastStep, L = c.Model.LookBack;
        double sum = 0;
        long count = 0;
        for (int i = 0; i < validationStarts.Length; i += c.Train.EvalBatchSize)
        {
            using var scope = NewDisposeScope();
            var starts = new ArraySegment<long>(validationStarts, i, Math.Min(c.Train.EvalBatchSize, validationStarts.Length - i));
            var prediction = model.forward(windows.History(starts)).Prediction.narrow(2, L - f, f); // [B, C, f]
            var truth = windows.Future(starts, f);                                                    // [B, C, f]
            sum += prediction.sub(truth).square().sum().item<float>();
            count += prediction.numel();
        }
        double mse = sum / count;
        if (mse < BestValidation)
        {
            BestValidation = mse;
            ctx.Checkpoints.SaveFile(prefix + "best.bin", p => model.save(p));
            ctx.Checkpoints.SaveJson(prefix + "best", new BestScore(mse, 0));
        }
        return new Dictionary<string, double> { ["val_mse"] = mse };
    }

    /// <summary>Loads the best-validation weights (no-op when none were saved).</summary>
    public void RestoreBest()
    {
        if (ctx.Checkpoints.Exists(prefix + "best.bin")) model.load(ctx.Checkpoints.PathOf(prefix + "best.bin"));
    }

    private static long[] Permutation(long[] items, Random rng)
    {
        var p = items.ToArray();
        for (int i = p.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }
}

/// <summary>Test evaluation of a trained arm: errors per horizon, routing diagnostics, examples.</summary>
public static class SegMoeEvaluation
{
    public sealed record Result(List<HorizonError> Errors, List<LayerRouting> Routing, List<ForecastPoint> ForecastExample, List<RoutingPoint> RoutingExample);

    public static Result Run(PatchForecaster model, SegMoeWindows windows, SegMoeConfig c, int[] horizons, string arm)
    {
        model.eval();
        var errors = new List<HorizonError>();
        int batch = c.Train.EvalBatchSize, f = c.Model.ForecastStep;
        foreach (int h in horizons)
        {
            var starts = windows.TestStarts(h, c.Data.EvalStride);
            double se = 0, ae = 0;
            long n = 0;
            for (int i = 0; i < starts.Length; i += batch)
            {
                using var scope = NewDisposeScope();
                var s = new ArraySegment<long>(starts, i, Math.Min(batch, starts.Length - i));
                var forecast = model.Forecast(windows.History(s), h, f);   // [B, C, H]
                var diff = forecast.sub(windows.Future(s, h));             // [B, C, H]
                se += diff.square().sum().item<float>();
                ae += diff.abs().sum().item<float>();
                n += diff.numel();
            }
            errors.Add(new HorizonError(h, se / n, ae / n, starts.Length));
        }
        var example = ForecastExample(model, windows, horizons.Length > 1 ? horizons[1] : horizons[0], f, arm);
        var (routing, routingExample) = Routing(model, windows, c);
        return new Result(errors, routing, example, routingExample);
    }

    private static List<ForecastPoint> ForecastExample(PatchForecaster model, SegMoeWindows windows, int horizon, int f, string arm)
    {
        var starts = windows.TestStarts(horizon, 1);
        if (starts.Length == 0) return [];
        var s = new[] { starts[starts.Length / 2] };
        using var scope = NewDisposeScope();
        int channel = windows.Channels - 1;                               // ETT's target OT is the last column
        var history = windows.History(s);
        var points = new List<ForecastPoint>();
        var forecast = model.Forecast(history, horizon, f).select(1, channel).select(0, 0).cpu().data<float>().ToArray();
        points.AddRange(forecast.Select((v, t) => new ForecastPoint("forecast", t, v)));
        {
            var hist = history.select(1, channel).select(0, 0).cpu().data<float>().ToArray();
            var truth = windows.Future(s, horizon).select(1, channel).select(0, 0).cpu().data<float>().ToArray();
            points.AddRange(hist.Select((v, t) => new ForecastPoint("history", t - hist.Length, v)));
            points.AddRange(truth.Select((v, t) => new ForecastPoint("truth", t, v)));
        }
        return points;
    }

    private static (List<LayerRouting>, List<RoutingPoint>) Routing(PatchForecaster model, SegMoeWindows windows, SegMoeConfig c)
    {
        var layers = new List<LayerRouting>();
        var example = new List<RoutingPoint>();
        var starts = windows.TestStarts(0, c.Data.EvalStride);
        if (starts.Length == 0) return (layers, example);
        int p = c.Model.PatchLength, tokens = c.Model.LookBack / p, channels = windows.Channels;
        var regimes = windows.Prepared.Data.Regimes;
        int[] TokenRegimes(long s)
        {
            var r = new int[tokens];
            for (int t = 0; t < tokens; t++)
            {
                if (regimes is null) { r[t] = -1; continue; }
                r[t] = Enumerable.Range((int)s + t * p, p).GroupBy(i => regimes[i]).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
            }
            return r;
        }
        int nLayers = model.Options.FeedForwards.Count;
        var experts = new List<int>[nLayers];
        var regimeLabels = new List<int>();
        int routedLayers = -1;
        using (torch.no_grad())
        {
            for (int i = 0; i < starts.Length; i += c.Train.EvalBatchSize)
            {
                using var scope = NewDisposeScope();
                var s = new ArraySegment<long>(starts, i, Math.Min(c.Train.EvalBatchSize, starts.Length - i));
                var output = model.forward(windows.History(s));
                routedLayers = 0;
                for (int l = 0; l < nLayers; l++)
                {
                    var passes = output.Slots[l].RoutedPasses;
                    if (passes.Count == 0) continue;
                    routedLayers++;
                    experts[l] ??= [];
                    var idx = passes[0].Routing.ExpertIndices.select(1, 0).cpu().to(int64).data<long>().ToArray(); // [B·C·T]
                    experts[l].AddRange(idx.Select(v => (int)v));
                }
                foreach (long st in s)
                {
                    var r = TokenRegimes(st);
                    for (int ch = 0; ch < channels; ch++) regimeLabels.AddRange(r);
                }
            }
        }
        if (routedLayers <= 0) return (layers, example);
        int nExperts = c.Model.Experts;
        for (int l = 0; l < nLayers; l++)
        {
            if (experts[l] is null) continue;
            var e = experts[l];
            double nmi = regimes is null ? double.NaN : ClusterAgreement.NormalizedMutualInformation(e, regimeLabels);
            long same = 0, pairs = 0;
            for (int seq = 0; seq < e.Count / tokens; seq++)
                for (int t = 1; t < tokens; t++)
                {
                    pairs++;
                    if (e[seq * tokens + t] == e[seq * tokens + t - 1]) same++;
                }
            var counts = new double[nExperts];
            foreach (var x in e) counts[x]++;
            double mean = counts.Average(), sd = Math.Sqrt(counts.Select(v => (v - mean) * (v - mean)).Sum() / counts.Length);
            int omega = model.Options.FeedForwards[l] is MoeLab.Models.Layers.SegmentMoeOptions so ? so.EffectiveRouterOmega : 1;
            layers.Add(new LayerRouting(l, omega, nmi, pairs == 0 ? double.NaN : (double)same / pairs, mean > 0 ? sd / mean : double.NaN, counts.Count(v => v == 0)));
            // the example: channel 0 of up to 6 back-to-back test windows from the middle of the test part
            // (windows whose starts differ by multiples of L), so the figure shows one stretch of time
            int first = starts.Length / 2, taken = 0;
            for (int w = first; w < starts.Length && taken < 6; w++)
            {
                long offset = starts[w] - starts[first];
                if (offset % c.Model.LookBack != 0) continue;
                if (offset != (long)taken * c.Model.LookBack) break;
                int seq = w * channels;                                    // channel 0 of window w
                for (int t = 0; t < tokens; t++)
                    example.Add(new RoutingPoint(l, taken * tokens + t, e[seq * tokens + t], regimeLabels[seq * tokens + t]));
                taken++;
            }
        }
        return (layers, example);
    }
}
