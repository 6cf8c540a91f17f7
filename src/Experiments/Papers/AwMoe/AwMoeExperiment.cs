using System.Diagnostics;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Data.Ctr;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;
using MoeLab.Models.Recommendation;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.AwMoe;

/// <summary>AW-MoE (arXiv 2306.05011), a labelled reconstruction: six CTR rankers with the same features
/// and parameter budget (within 5 %) trained on the same data with the same optimiser, steps and
/// learning rate, evaluated on a time split by AUC, GAUC and NDCG@k over all users and over long-tail
/// users (short true history), plus expert–persona NMI and gate similarity under truncation.
/// One run = one seed (data, order, initialisation, masks all from it), all arms.
/// <para>cpu preset: 5,000 users, ≈ 50k impressions, histories cut to the 20 most recent, one epoch per arm (≈ 270 steps of 128); wall time
/// on the shared 2-core machine is in src/Experiments/Papers/AwMoe/README.md.</para></summary>
public sealed class AwMoeExperiment : Experiment<AwMoeConfig>
{
    public override string Name => "aw-moe";

    public override string Description =>
        "AW-MoE (arXiv 2306.05011) reconstruction: attention-weighted MoE ranker with a contrastive gate loss vs DNN, DIN and MoE baselines on synthetic persona CTR data.";

    public static AwMoeConfig Smoke { get; } = new()
    {
        Data = new()
        {
            Synthetic = new() { Users = 600, Items = 200, Categories = 8, Brands = 10, Personas = 4, MeanImpressionsPerUser = 6 },
            MaxSequence = 20,
        },
        Model = new() { EmbeddingDim = 4, AttentionHidden = 8, Experts = 4, ExpertHidden = 8 },
        Train = new() { Epochs = 1, BatchSize = 64, WarmupSteps = 5, LogEvery = 5, EvalEvery = 20, CheckpointEvery = 10 },
        Eval = new() { BatchSize = 512, TruncationLengths = [1, 2], GateSimilarityMinHistory = 5 },
    };

    public override IReadOnlyDictionary<string, AwMoeConfig> TypedPresets { get; } = new Dictionary<string, AwMoeConfig>
    {
        // Seconds: tests, CI, `moelab lab`, the notebook's smoke run.
        ["smoke"] = Smoke,
        // Minutes on the shared 2-core machine (see the README for the measured time).
        ["cpu"] = new()
        {
            Data = new() { Synthetic = new() { Users = 5_000, Items = 1_000 }, MaxSequence = 20 },
            Model = new() { AttentionHidden = 16 },
            Train = new() { Epochs = 1, BatchSize = 128, EvalEvery = 100, CheckpointEvery = 100 },
            Eval = new() { TruncationLengths = [1, 2, 5, 10], GateSimilarityMinHistory = 15 },
        },
        // Larger world and three epochs, for a GPU or a long CPU run (not run here).
        ["paper"] = new()
        {
            Data = new() { Synthetic = new() { Users = 200_000, Items = 20_000, Categories = 50, Brands = 200, Personas = 8 } },
            Model = new() { EmbeddingDim = 16, AttentionHidden = 64, ExpertHidden = 64 },
            Train = new() { Epochs = 3, BatchSize = 1024, WarmupSteps = 200, EvalEvery = 1000, CheckpointEvery = 1000, LogEvery = 50 },
        },
    };

    public override IReadOnlyList<string> Validate(AwMoeConfig c)
    {
        var problems = new List<string>();
        if (c.Arms.Length == 0) problems.Add("'arms' is empty; allowed: any of " + string.Join(", ", Enum.GetNames<AwMoeArm>()) + ".");
        if (c.Arms.Distinct().Count() != c.Arms.Length) problems.Add($"'arms' lists an arm twice: [{string.Join(", ", c.Arms)}].");
        if (c.Data.Source == CtrDataSource.AmazonFiles && string.IsNullOrWhiteSpace(c.Data.AmazonDirectory))
            problems.Add("'data.source' = AmazonFiles needs 'data.amazonDirectory' = a folder with items.tsv and interactions.tsv.");
        if (c.Data.Synthetic.ValidationUntil <= c.Data.Synthetic.TrainUntil)
            problems.Add($"'data.synthetic.validationUntil' = {c.Data.Synthetic.ValidationUntil} must be > 'data.synthetic.trainUntil' = {c.Data.Synthetic.TrainUntil}.");
        if (c.Eval.TruncationLengths.Length == 0 || c.Eval.TruncationLengths.Any(m => m < 1 || m >= c.Eval.GateSimilarityMinHistory))
            problems.Add($"'eval.truncationLengths' = [{string.Join(", ", c.Eval.TruncationLengths)}]: each must be ≥ 1 and < 'eval.gateSimilarityMinHistory' = {c.Eval.GateSimilarityMinHistory}.");
        if (c.Eval.GateSimilarityMinHistory > c.Data.MaxSequence)
            problems.Add($"'eval.gateSimilarityMinHistory' = {c.Eval.GateSimilarityMinHistory} must be ≤ 'data.maxSequence' = {c.Data.MaxSequence}.");
        return problems;
    }

    public static string ArmName(AwMoeArm arm) => arm switch
    {
        AwMoeArm.Dnn => "dnn",
        AwMoeArm.Din => "din",
        AwMoeArm.MoeFeatureGate => "moe-feature-gate",
        AwMoeArm.MoeMeanPoolGate => "moe-meanpool-gate",
        AwMoeArm.AwMoeNoContrastive => "aw-moe-no-cl",
        AwMoeArm.AwMoe => "aw-moe",
        _ => throw new ArgumentOutOfRangeException(nameof(arm)),
    };

    public static CtrArchitecture ArchitectureOf(AwMoeArm arm) => arm switch
    {
        AwMoeArm.Dnn => CtrArchitecture.DnnMeanPooling,
        AwMoeArm.Din => CtrArchitecture.Din,
        AwMoeArm.MoeFeatureGate => CtrArchitecture.MoeFeatureGate,
        AwMoeArm.MoeMeanPoolGate => CtrArchitecture.MoeMeanPoolGate,
        _ => CtrArchitecture.AttentionWeightedMoe,
    };

    public static CtrData LoadData(AwMoeDataConfig d, RunContext ctx) => d.Source switch
    {
        CtrDataSource.Synthetic => SyntheticCtrGenerator.Generate(d.Synthetic, ctx.CreateRandom("data")),
        _ => AmazonCtrLoader.Load(d.AmazonDirectory),
    };

    /// <summary>Options of every arm: the MoE arms share K and the expert width; DNN and DIN get the
    /// single-MLP width whose parameter count is closest to AW-MoE's.</summary>
    public static IReadOnlyDictionary<AwMoeArm, CtrRankerOptions> ArmOptions(AwMoeConfig c, CtrData data)
    {
        var aw = new CtrRankerOptions
        {
            UserFields = data.UserFieldCardinalities,
            ItemFields = data.ItemFieldCardinalities,
            EmbeddingDim = c.Model.EmbeddingDim,
            AttentionHidden = c.Model.AttentionHidden,
            Experts = c.Model.Experts,
            Hidden = c.Model.ExpertHidden,
            Architecture = CtrArchitecture.AttentionWeightedMoe,
        };
        long target = CtrRanker.Count(aw);
        var result = new Dictionary<AwMoeArm, CtrRankerOptions>();
        foreach (var arm in Enum.GetValues<AwMoeArm>())
        {
            var o = aw with { Architecture = ArchitectureOf(arm) };
            if (arm is AwMoeArm.Dnn or AwMoeArm.Din) o = o with { Hidden = CtrRanker.MatchHidden(o, target) };
            result[arm] = o;
        }
        return result;
    }

    public override void Run(AwMoeConfig c, RunContext ctx)
    {
        if (c.Train.TorchThreads > 0) TorchSharp.torch.set_num_threads(c.Train.TorchThreads);
        var watch = Stopwatch.StartNew();
        var data = LoadData(c.Data, ctx);
        var train = data.IndicesOf(CtrSplit.Train);
        var valid = data.IndicesOf(CtrSplit.Validation);
        var test = data.IndicesOf(CtrSplit.Test);
        if (train.Length < c.Train.BatchSize || valid.Length == 0 || test.Length == 0)
            throw new InvalidOperationException($"aw-moe: the split has {train.Length} train / {valid.Length} validation / {test.Length} test impressions; need ≥ train.batchSize = {c.Train.BatchSize} train and some of each.");
        ctx.Log($"data ({c.Data.Source}): {data.Users} users, {data.Items} items, {data.Impressions} impressions " +
                $"({train.Length} train / {valid.Length} validation / {test.Length} test) in {watch.Elapsed.TotalSeconds:F2} s");
        ctx.SaveTable("data", DataTable(data, c));

        var builder = new CtrBatchBuilder(data, c.Data.MaxSequence, ctx.Device);
        var options = ArmOptions(c, data);
        long target = CtrRanker.Count(options[AwMoeArm.AwMoe]);
        long steps = Math.Max(1, (long)Math.Round(c.Train.Epochs * train.Length / c.Train.BatchSize));
        var parameterRows = new List<(string Arm, long Parameters, int Hidden)>();
        var similarityRows = new List<(string Arm, int Keep, double Cosine, int Count)>();

        foreach (var arm in c.Arms)
        {
            string name = ArmName(arm);
            var armWatch = Stopwatch.StartNew();
            var model = new CtrRanker(options[arm], ctx.Device);
            model.Initialize(ctx.CreateGenerator("init"));
            long parameters = model.ParameterCount;
            double ratio = parameters / (double)target;
            if (Math.Abs(ratio - 1) > 0.05)
                throw new InvalidOperationException($"aw-moe: arm {name} has {parameters} parameters, {ratio:P1} of AW-MoE's {target}; the comparison needs them within 5 %.");
            ctx.Log($"{name}: {parameters} parameters ({ratio:P1} of AW-MoE's), hidden {options[arm].Hidden}");
            parameterRows.Add((name, parameters, options[arm].Hidden));

            var optimizer = Optimizers.AdamW(model.parameters(), c.Train.Lr, c.Train.WeightDecay);
            var task = new AwMoeTask(c, ctx, model, builder, train, valid, data, arm == AwMoeArm.AwMoe);
            var outcome = Trainer.Run(ctx, model, optimizer, task, new TrainerOptions
            {
                Steps = steps,
                Schedule = LrSchedule.Create(ScheduleKind.WarmupCosine, c.Train.Lr, steps, Math.Min(c.Train.WarmupSteps, steps), minLr: c.Train.Lr * 0.05),
                LogEvery = c.Train.LogEvery,
                EvalEvery = c.Train.EvalEvery,
                CheckpointEvery = c.Train.CheckpointEvery,
                ClipNorm = c.Train.ClipNorm,
                Arm = name,
                CheckpointPrefix = name + "-",
            });

            var summary = new Dictionary<string, double> { ["parameters"] = parameters, ["parameter_ratio"] = ratio, ["steps"] = outcome.Steps };
            model.eval();
            var validScores = AwMoeEvaluation.Score(model, builder, valid, c.Eval.BatchSize);
            var testScores = AwMoeEvaluation.Score(model, builder, test, c.Eval.BatchSize);
            foreach (var (k, v) in AwMoeEvaluation.RankingMetrics("val", data, valid, validScores.Logits, c)) summary[k] = v;
            foreach (var (k, v) in AwMoeEvaluation.RankingMetrics("test", data, test, testScores.Logits, c)) summary[k] = v;
            if (model.IsMixture)
            {
                if (data.Persona is not null) summary["test_nmi_expert_persona"] = AwMoeEvaluation.ExpertPersonaNmi(data, test, testScores.Gates!, model.Options.Experts);
                foreach (var (keep, cosine, count) in AwMoeEvaluation.GateSimilarity(model, builder, data, test, c))
                {
                    similarityRows.Add((name, keep, cosine, count));
                    if (count > 0) summary[$"test_gate_cosine_keep{keep}"] = cosine;
                }
            }
            ctx.LogSummary(name, summary, new Dictionary<string, string>
            {
                ["architecture"] = options[arm].Architecture.ToString(),
                ["contrastive"] = arm == AwMoeArm.AwMoe ? $"{c.Contrastive.Views} rho={c.Contrastive.MaskRatio} tau={c.Contrastive.Temperature} lambda={c.Contrastive.Weight}" : "none",
            });
            ctx.Log($"{name}: {(outcome.ResumedCompleted ? "restored" : $"{outcome.Steps} steps")} in {armWatch.Elapsed.TotalSeconds:F1} s; " +
                    $"val AUC {summary["val_auc"]:F4}, test AUC {summary["test_auc"]:F4}, test GAUC {summary["test_gauc"]:F4}, long-tail test AUC {summary["test_auc_longtail"]:F4}");
            model.Dispose();
            optimizer.Dispose();
        }

        ctx.SaveTable("parameters", new DataFrame(
            new StringDataFrameColumn("arm", parameterRows.Select(r => r.Arm)),
            new PrimitiveDataFrameColumn<long>("parameters", parameterRows.Select(r => r.Parameters)),
            new PrimitiveDataFrameColumn<int>("hidden", parameterRows.Select(r => r.Hidden))));
        ctx.SaveTable("gate_similarity", new DataFrame(
            new StringDataFrameColumn("arm", similarityRows.Select(r => r.Arm)),
            new PrimitiveDataFrameColumn<int>("keep_recent", similarityRows.Select(r => r.Keep)),
            new PrimitiveDataFrameColumn<double>("mean_cosine_to_full", similarityRows.Select(r => r.Cosine)),
            new PrimitiveDataFrameColumn<int>("impressions", similarityRows.Select(r => r.Count))));
        ctx.Log($"done in {watch.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>Facts about the data set of this run (sizes, click rate, history-length tail).</summary>
    public static DataFrame DataTable(CtrData data, AwMoeConfig c)
    {
        var lengths = data.Behaviours.Select(b => b.Length).ToArray();
        var rows = new List<(string Key, double Value)>
        {
            ("users", data.Users),
            ("items", data.Items),
            ("impressions", data.Impressions),
            ("click_rate", data.Label.Count(l => l) / (double)data.Impressions),
            ("share_users_history_le_5", lengths.Count(l => l <= 5) / (double)lengths.Length),
            ("share_users_history_ge_50", lengths.Count(l => l >= 50) / (double)lengths.Length),
            ("share_impressions_longtail", data.ImpressionHistory.Count(h => h <= c.Data.LongTailMaxHistory) / (double)data.Impressions),
        };
        return new DataFrame(new StringDataFrameColumn("fact", rows.Select(r => r.Key)), new PrimitiveDataFrameColumn<double>("value", rows.Select(r => r.Value)));
    }
}

/// <summary>Loss and validation of one arm for the shared trainer. Batch b of step s is a slice of the
/// permutation of epoch s / batchesPerEpoch drawn from the run's seed; the contrastive masks of step s
/// come from a generator of stream "mask-step-s": resume needs no data or RNG state.</summary>
internal sealed class AwMoeTask(AwMoeConfig c, RunContext ctx, CtrRanker model, CtrBatchBuilder builder, int[] train, int[] valid, CtrData data, bool contrastive)
    : ITrainingTask
{
    private readonly int batchesPerEpoch = train.Length / c.Train.BatchSize;
    private int cachedEpoch = -1;
    private int[] order = Array.Empty<int>();

    public long ItemsPerMicroBatch => c.Train.BatchSize;

    public Tensor Loss(long step, int microBatch)
    {
        int epoch = (int)(step / batchesPerEpoch);
        if (epoch != cachedEpoch)
        {
            var rng = ctx.CreateRandom($"data-order-epoch-{epoch}");
            order = (int[])train.Clone();
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = rng.Next(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
            cachedEpoch = epoch;
        }
        int offset = (int)(step % batchesPerEpoch) * c.Train.BatchSize;
        var (inputs, labels) = builder.Build(order.AsSpan(offset, c.Train.BatchSize));
        var (x, e, b) = model.Embed(inputs);
        var output = model.Forward(x, e, b, inputs.HistoryMask);
        var loss = nn.functional.binary_cross_entropy_with_logits(output.Logits, labels); // []
        if (contrastive && c.Contrastive.Weight > 0)
        {
            using var g = ctx.CreateGenerator($"mask-step-{step}");
            var view1 = model.GateVector(x, e, b, BehaviourMasking.Random(inputs.HistoryMask, c.Contrastive.MaskRatio, g))!; // [B, K]
            var view2 = c.Contrastive.Views == ContrastiveViews.TwoMasks
                ? model.GateVector(x, e, b, BehaviourMasking.Random(inputs.HistoryMask, c.Contrastive.MaskRatio, g))!
                : output.Gate!;
            loss = loss + c.Contrastive.Weight * ContrastiveLoss.InfoNce(view1, view2, c.Contrastive.Temperature);
        }
        return loss;
    }

    public IReadOnlyDictionary<string, double> Evaluate()
    {
        var scores = AwMoeEvaluation.Score(model, builder, valid, c.Eval.BatchSize);
        return new Dictionary<string, double>
        {
            ["val_auc"] = MoeLab.Metrics.Ranking.RankingMetrics.Auc(scores.Logits, valid.Select(i => data.Label[i]).ToArray()),
            ["val_logloss"] = AwMoeEvaluation.LogLoss(scores.Logits, valid.Select(i => data.Label[i]).ToArray()),
        };
    }
}
