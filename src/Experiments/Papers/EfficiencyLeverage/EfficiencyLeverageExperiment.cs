using System.Diagnostics;
using MoeLab.Experiments.Data;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;
using MoeLab.Metrics.ScalingLaws;
using MoeLab.Models.Layers;
using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using MoeLab.Models.Runtime;
using MoeLab.Models.Transformer;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.EfficiencyLeverage;

/// <summary>One trained arm of the grid.</summary>
public sealed record ElArmPlan(string Name, string Family, MoeArmSpec? Moe, int Budget, int Width, int Steps, int SeedIndex, bool Tuning, double Lr);

/// <summary>Efficiency leverage (arXiv 2507.17702) measured on tiny decoder LMs: dense and MoE families over
/// a grid of compute budgets (width × tokens), granularity and activation ratio; learning rate tuned per
/// family at one budget (<see cref="ElGridConfig.TuneBudget"/>); every run's validation loss and training compute (3 × non-embedding
/// forward FLOPs per token × tokens, counted from the model's shape) logged as a summary row; then, when
/// this run holds the whole grid, the fits (<see cref="EfficiencyLeverageAnalysis"/>) as tables.
/// <para>Measured wall time of the cpu preset: see the paper folder's README.</para></summary>
public sealed class EfficiencyLeverageExperiment : Experiment<EfficiencyLeverageConfig>
{
    public override string Name => "efficiency-leverage";

    public override string Description =>
        "Efficiency leverage (arXiv 2507.17702): tiny dense vs MoE decoder LMs over compute × granularity × activation ratio; dense L(C) fit, measured EL, unified-law fit.";

    /// <summary>Seconds: 2 budgets (d 16, 24; 6 and 8 steps of 4 sequences of 16 tokens), one MoE arm,
    /// one seed, one learning rate (so the tuning arms are the first budget's grid arms).</summary>
    public static EfficiencyLeverageConfig Smoke { get; } = new()
    {
        Data = new ElDataConfig { Documents = 40, SequenceLength = 16, ValidationWindows = 16, Vocabulary = 512 },
        Model = new ElModelConfig { Layers = 1, HeadDim = 8 },
        Grid = new ElGridConfig { Widths = [16, 24], Steps = [6, 8], MoeArms = ["G2-E4"], SeedsPerPoint = 1, LrGrid = [1e-2], TuneBudget = 0 },
        Train = new ElTrainConfig { BatchSize = 4, LogEvery = 4 },
    };

    /// <summary>5 budgets (d 32/48/64/96/128 with 100/200/400/700/1000 steps of 16×64 tokens: 0.1M–1.0M tokens,
    /// ≈ 5e10–3.5e12 training FLOPs, 1.8 decades), dense + 7 MoE arms (A ∈ {1/2, 1/4, 1/8} at G 2; G ∈ {1, 2, 4,
    /// 8, 16} at A 1/4), 2 seeds, learning rate from {5e-3, 1e-2, 2e-2, 4e-2} per family tuned at the middle
    /// budget: 80 grid runs + 6 more tuning runs. Wall time measured: see the paper folder's README (run it as
    /// two shards side by side, one LibTorch thread each).</summary>
    public static EfficiencyLeverageConfig Cpu { get; } = new();

    /// <summary>Larger models for a GPU: 4 budgets up to d 512, 6 layers, 1024 tokens per sequence, G up to 16,
    /// A down to 1/32, three seeds. Still orders of magnitude below the paper's 3e18+ FLOPs.</summary>
    public static EfficiencyLeverageConfig Paper { get; } = new()
    {
        Data = new ElDataConfig { Documents = 1_000_000, SequenceLength = 1024, ValidationWindows = 1024, Vocabulary = 32_768 },
        Model = new ElModelConfig { Layers = 6, HeadDim = 64 },
        Grid = new ElGridConfig
        {
            Widths = [128, 256, 384, 512], Steps = [2000, 4000, 6000, 8000],
            MoeArms = ["G4-E8", "G4-E16", "G4-E32", "G4-E64", "G4-E128", "G2-E8", "G8-E32", "G16-E64"],
            SeedsPerPoint = 3, LrGrid = [3e-4, 1e-3, 3e-3], TuneBudget = 1,
        },
        Train = new ElTrainConfig { BatchSize = 64, LogEvery = 100 },
    };

    public override IReadOnlyDictionary<string, EfficiencyLeverageConfig> TypedPresets { get; } =
        new Dictionary<string, EfficiencyLeverageConfig> { ["smoke"] = Smoke, ["cpu"] = Cpu, ["paper"] = Paper };

    public override IReadOnlyList<string> Validate(EfficiencyLeverageConfig c)
    {
        var problems = new List<string>();
        var g = c.Grid;
        if (g.Widths.Length < 2) problems.Add($"'grid.widths' has {g.Widths.Length} entries: a loss–compute law needs at least 2 budgets.");
        if (g.Widths.Length != g.Steps.Length)
            problems.Add($"'grid.widths' has {g.Widths.Length} entries and 'grid.steps' {g.Steps.Length}: one step count per width expected.");
        foreach (int s in g.Steps) if (s < 1) problems.Add($"'grid.steps' contains {s}: expected ≥ 1.");
        foreach (int w in g.Widths)
            if (w < 1 || w % c.Model.HeadDim != 0)
                problems.Add($"'grid.widths' contains {w}: expected a positive multiple of 'model.headDim' = {c.Model.HeadDim}.");
        if (g.LrGrid.Length == 0 || g.LrGrid.Any(lr => !(lr > 0 && lr < 10)))
            problems.Add($"'grid.lrGrid' = [{string.Join(", ", g.LrGrid)}]: expected at least one rate in (0, 10).");
        if (g.TuneBudget >= g.Widths.Length)
            problems.Add($"'grid.tuneBudget' = {g.TuneBudget}: expected a budget index 0..{g.Widths.Length - 1} ('grid.widths' has {g.Widths.Length} entries).");
        if (g.Shard >= g.Shards) problems.Add($"'grid.shard' = {g.Shard}: expected 0..'grid.shards' − 1 = {g.Shards - 1}.");
        if (g.MoeArms.Length == 0) problems.Add("'grid.moeArms' is empty: at least one MoE arm expected.");
        foreach (string text in g.MoeArms)
        {
            MoeArmSpec arm;
            try { arm = MoeArmSpec.Parse(text); }
            catch (FormatException e) { problems.Add(e.Message); continue; }
            if (arm.Granularity < 1 || c.Model.FeedForwardRatio * arm.Granularity % 2 != 0)
                problems.Add($"'grid.moeArms' entry '{text}': G = {arm.Granularity} must be ≥ 1 with r·G even (E_a = r·G/2, r = 'model.feedForwardRatio' = {c.Model.FeedForwardRatio}).");
            else if (arm.Active(c.Model.FeedForwardRatio) > arm.Experts)
                problems.Add($"'grid.moeArms' entry '{text}': E = {arm.Experts} routed experts but E_a = {arm.Active(c.Model.FeedForwardRatio)} active; expected E ≥ E_a.");
            foreach (int w in g.Widths)
                if (2 * w % arm.Granularity != 0)
                    problems.Add($"'grid.moeArms' entry '{text}': expert width 2d/G is not an integer at d = {w}.");
        }
        if (g.MoeArms.Distinct().Count() != g.MoeArms.Length) problems.Add("'grid.moeArms' lists an arm twice.");
        return problems;
    }

    /// <summary>Every arm of the grid in training order: tuning arms (each learning rate, per family, budget
    /// <see cref="ElGridConfig.TuneBudget"/>, first seed), then per budget and seed the dense arm and each MoE arm (learning rate filled in later).</summary>
    public static IReadOnlyList<ElArmPlan> Plan(EfficiencyLeverageConfig c)
    {
        var arms = new List<ElArmPlan>();
        var moe = c.Grid.MoeArms.Select(MoeArmSpec.Parse).ToList();
        int t = c.Grid.TuneBudget;
        foreach (double lr in c.Grid.LrGrid)
        {
            arms.Add(new ElArmPlan($"tune-dense-lr{lr:G3}", "dense", null, t, c.Grid.Widths[t], c.Grid.Steps[t], 0, true, lr));
            arms.Add(new ElArmPlan($"tune-moe-lr{lr:G3}", "moe", moe[0], t, c.Grid.Widths[t], c.Grid.Steps[t], 0, true, lr));
        }
        for (int b = 0; b < c.Grid.Widths.Length; b++)
            for (int s = 0; s < c.Grid.SeedsPerPoint; s++)
            {
                arms.Add(new ElArmPlan($"dense-d{c.Grid.Widths[b]}-s{s}", "dense", null, b, c.Grid.Widths[b], c.Grid.Steps[b], s, false, double.NaN));
                foreach (var m in moe)
                    arms.Add(new ElArmPlan($"{m.Name}-d{c.Grid.Widths[b]}-s{s}", "moe", m, b, c.Grid.Widths[b], c.Grid.Steps[b], s, false, double.NaN));
            }
        return arms;
    }

    /// <summary>Whether this run trains arm <paramref name="arm"/> at position <paramref name="index"/> of
    /// <see cref="Plan"/>: every shard runs the tuning arms (it needs the tuned rates), grid arms go round-robin
    /// to shards by position, so the shards of a sweep together cover the grid once.</summary>
    public static bool InShard(EfficiencyLeverageConfig c, ElArmPlan arm, int index) =>
        arm.Tuning || index % c.Grid.Shards == c.Grid.Shard;

    /// <summary>The decoder of an arm.</summary>
    public static DecoderLanguageModelOptions ModelOptions(EfficiencyLeverageConfig c, ElArmPlan arm, int vocabulary)
    {
        int d = arm.Width, r = c.Model.FeedForwardRatio;
        FeedForwardSlotOptions slot = arm.Moe is MoeArmSpec m
            ? new MoeLayerOptions
            {
                DModel = d, DHidden = m.ExpertHidden(d), Experts = m.Experts,
                Router = new RouterOptions { Kind = RouterKind.TopK, K = m.Active(r) },
            }
            : new DenseFeedForwardOptions { DModel = d, DHidden = r * d };
        return new DecoderLanguageModelOptions
        {
            Vocabulary = vocabulary, DModel = d, Layers = c.Model.Layers, Heads = d / c.Model.HeadDim,
            MaxSequenceLength = c.Data.SequenceLength, FeedForward = slot,
        };
    }

    /// <summary>The same model as a <see cref="TransformerDescription"/> for the FLOP count.</summary>
    public static TransformerDescription Describe(EfficiencyLeverageConfig c, ElArmPlan arm, int vocabulary)
    {
        int d = arm.Width, r = c.Model.FeedForwardRatio;
        return new TransformerDescription
        {
            DModel = d, Layers = c.Model.Layers, Heads = d / c.Model.HeadDim, SequenceLength = c.Data.SequenceLength, Vocabulary = vocabulary,
            FeedForward = arm.Moe is MoeArmSpec m
                ? FeedForwardDescription.Moe(m.Experts, m.Active(r), m.ExpertHidden(d))
                : FeedForwardDescription.Dense(r * d),
        };
    }

    public override void Run(EfficiencyLeverageConfig c, RunContext ctx)
    {
        string dir = DotNetDocsCorpus.FindXmlDirectory();
        var documents = DotNetDocsCorpus.ReadDocuments(dir, c.Data.MinDocumentCharacters);
        var corpus = BpeCorpus.Build(documents, c.Data.Documents, c.Data.SequenceLength, c.Data.ValidationFraction, c.Data.TestFraction, c.Data.CorpusSeed, c.Data.Vocabulary);
        var device = ctx.Device;
        var trainFlat = corpus.Windows(corpus.Train, out int trainCount);
        var validFlat = corpus.Windows(corpus.Validation, out int validCount);
        if (trainCount < c.Train.BatchSize || validCount < 1)
            throw new InvalidOperationException($"efficiency-leverage: {trainCount} training and {validCount} validation windows of {c.Data.SequenceLength + 1} tokens; " +
                $"need ≥ 'train.batchSize' = {c.Train.BatchSize} and ≥ 1. Raise 'data.documents' (now {c.Data.Documents}).");
        validCount = Math.Min(validCount, c.Data.ValidationWindows);
        using var train = torch.tensor(trainFlat.Select(i => (long)i).ToArray(), new long[] { trainCount, c.Data.SequenceLength + 1 }, device: device); // [n, s+1]
        using var valid = torch.tensor(validFlat[..(validCount * (c.Data.SequenceLength + 1))].Select(i => (long)i).ToArray(),
            new long[] { validCount, c.Data.SequenceLength + 1 }, device: device);                                                                // [m, s+1]
        long tokensPerStep = (long)c.Train.BatchSize * c.Data.SequenceLength;
        long maxTokens = c.Grid.Steps.Max() * tokensPerStep;
        ctx.Log($"corpus: {corpus.DocumentCount} documents from {dir}; train {corpus.Train.Length} tokens ({trainCount} windows), " +
                $"validation {validCount} windows; vocabulary {corpus.VocabularySize} " +
                $"(<unk> share: train {corpus.UnknownRate(corpus.Train):P1}, validation {corpus.UnknownRate(corpus.Validation):P1}); the largest budget reads {maxTokens} tokens " +
                $"({maxTokens / (double)(trainCount * (long)c.Data.SequenceLength):F2} epochs)");

        var plan = Plan(c);
        var lrs = new Dictionary<string, double>();
        var tuningLoss = new Dictionary<string, double>();
        var results = new List<ElArmResult>();
        var summaries = new Dictionary<string, Dictionary<string, double>>();
        var clock = Stopwatch.StartNew();
        int index = 0;
        foreach (var arm0 in plan)
        {
            int i = index++;
            if (!InShard(c, arm0, i)) continue;
            var arm = arm0;
            if (!arm.Tuning)
            {
                if (!lrs.TryGetValue(arm.Family, out double lr))
                {
                    var best = plan.Where(a => a.Tuning && a.Family == arm.Family).MinBy(a => tuningLoss[a.Name])!;
                    lr = lrs[arm.Family] = best.Lr;
                    ctx.Log($"{arm.Family}: learning rate {lr:G3} (validation loss at budget {c.Grid.TuneBudget}, d {c.Grid.Widths[c.Grid.TuneBudget]}: " +
                            string.Join(", ", plan.Where(a => a.Tuning && a.Family == arm.Family).Select(a => $"{a.Lr:G3} → {tuningLoss[a.Name]:F4}")) + ")");
                }
                arm = arm with { Lr = lr };
                // The tuning arm with this rate trained exactly this model (tuning budget, first seed): reuse it.
                if (arm.Budget == c.Grid.TuneBudget && arm.SeedIndex == 0 && (arm.Moe is null || arm.Moe == MoeArmSpec.Parse(c.Grid.MoeArms[0]))
                    && results.FirstOrDefault(r => r.Kind == "tune" && r.Family == arm.Family && r.Lr == lr) is ElArmResult same)
                {
                    var reused = same with { Name = arm.Name, Kind = "grid" };
                    results.Add(reused);
                    ctx.LogSummary(arm.Name, summaries[same.Name], Labels(arm, $"same model, data and rate as {same.Name}: not retrained"));
                    ctx.Log($"{arm.Name}: reused {same.Name} (val_loss {same.ValLoss:F4})");
                    continue;
                }
            }
            var (result, values) = TrainArm(c, ctx, arm, corpus.VocabularySize, train, valid, tokensPerStep);
            results.Add(result);
            summaries[arm.Name] = values;
            if (arm.Tuning) tuningLoss[arm.Name] = result.ValLoss;
        }
        ctx.Log($"grid trained in {clock.Elapsed.TotalSeconds:F0} s");

        if (c.Grid.Shards == 1)
        {
            var analysis = EfficiencyLeverageAnalysis.Analyze(results, ctx.Seed);
            EfficiencyLeverageAnalysis.Save(analysis, ctx);
            ctx.Log(analysis.Headline());
        }
        else ctx.Log($"shard {c.Grid.Shard} of {c.Grid.Shards}: fits need every shard's runs (EfficiencyLeverageAnalysis.Combine over all of their FromSummaries).");
    }

    private static (ElArmResult, Dictionary<string, double>) TrainArm(EfficiencyLeverageConfig c, RunContext ctx, ElArmPlan arm, int vocabulary, Tensor train, Tensor valid, long tokensPerStep)
    {
        var clock = Stopwatch.StartNew();
        TorchDevice.Seed(ctx.DeriveSeed($"init-seed{arm.SeedIndex}-d{arm.Width}")); // same stream for every family at a budget
        var options = ModelOptions(c, arm, vocabulary);
        using var model = new DecoderLanguageModel(options, ctx.Device);
        var description = Describe(c, arm, vocabulary);
        var flops = TransformerFlops.Forward(description);
        var cost = model.Cost(c.Data.SequenceLength);
        double decoderFlops = cost.NonEmbedding.ForwardFlopsPerToken;
        if (Math.Abs(decoderFlops - flops.NonEmbeddingForward) > 1e-9 * decoderFlops)
            throw new InvalidOperationException($"{arm.Name}: FLOP count from the description ({flops.NonEmbeddingForward:N0}) differs from the decoder's own ({decoderFlops:N0}).");
        var weights = new AuxiliaryLossWeights(LoadBalancing: c.Model.LoadBalancingWeight);
        var optimizer = Optimizers.AdamW(model.parameters(), arm.Lr, c.Train.WeightDecay);
        var task = new ElTask(c, ctx, model, train, valid, arm.SeedIndex, weights);
        int warmup = (int)Math.Round(c.Train.WarmupFraction * arm.Steps);
        var outcome = Trainer.Run(ctx, model, optimizer, task, new TrainerOptions
        {
            Steps = arm.Steps,
            Schedule = LrSchedule.Create(ScheduleKind.WarmupCosine, arm.Lr, arm.Steps, warmup, minLr: 0.1 * arm.Lr),
            LogEvery = Math.Min(c.Train.LogEvery, arm.Steps),
            EvalEvery = arm.Steps,
            ClipNorm = c.Train.ClipNorm,
            Arm = arm.Name,
            CheckpointPrefix = arm.Name + "-",
        });
        double loss = Trainer.Evaluate(model, task)["val_loss"];
        double tokens = outcome.Steps * (double)tokensPerStep;
        var m = arm.Moe;
        int active = m?.Active(c.Model.FeedForwardRatio) ?? 0;
        var values = new Dictionary<string, double>
        {
            ["val_loss"] = loss,
            ["compute"] = flops.TrainingCompute(tokens),
            ["forward_flops_per_token"] = flops.NonEmbeddingForward,
            ["ffn_flops_per_token"] = flops.DenseFeedForward + flops.RoutedExperts + flops.SharedExperts,
            ["router_flops_per_token"] = flops.Router,
            ["logit_flops_per_token"] = flops.Logits,
            ["tokens"] = tokens,
            ["width"] = arm.Width,
            ["budget"] = arm.Budget,
            ["seed_index"] = arm.SeedIndex,
            ["lr"] = arm.Lr,
            ["experts"] = m?.Experts ?? 0,
            ["active_experts"] = active,
            ["granularity"] = m?.Granularity ?? double.NaN,
            ["activation_ratio"] = m is null ? 1.0 : MoeRatios.ActivationRatio(m.Experts, active, 0, ActivationRatioConvention.RoutedOnly),
            ["total_params"] = cost.Total.TotalParameters,
            ["active_params_non_embedding"] = cost.NonEmbedding.ActiveParameters,
            ["seconds"] = clock.Elapsed.TotalSeconds,
        };
        ctx.LogSummary(arm.Name, values, Labels(arm, "trained"));
        ctx.Log($"{arm.Name}: val_loss {loss:F4}, C = {values["compute"]:E2} FLOPs, lr {arm.Lr:G3}, {clock.Elapsed.TotalSeconds:F1} s");
        return (new ElArmResult(arm.Name, arm.Family, arm.Tuning ? "tune" : "grid", m?.Name ?? "dense", arm.Budget, arm.Width, arm.SeedIndex, arm.Lr,
            loss, values["compute"], values["activation_ratio"], values["granularity"], m?.Experts ?? 0, active, clock.Elapsed.TotalSeconds), values);
    }

    private static Dictionary<string, string> Labels(ElArmPlan arm, string origin) => new()
    {
        ["family"] = arm.Family, ["kind"] = arm.Tuning ? "tune" : "grid", ["moe_arm"] = arm.Moe?.Name ?? "dense", ["origin"] = origin,
    };
}

/// <summary>Batches and validation loss of one arm: step t takes the t-th batch of a per-epoch permutation
/// drawn from the run's seed and the arm's seed index (the same order for every family), so resume needs
/// no data state. Loss = next-token cross-entropy + the weighted load-balancing loss.</summary>
internal sealed class ElTask(EfficiencyLeverageConfig c, RunContext ctx, DecoderLanguageModel model, Tensor train, Tensor valid,
    int seedIndex, AuxiliaryLossWeights weights) : ITrainingTask
{
    private readonly int _windows = (int)train.shape[0];
    private int _epoch = -1;
    private long[] _order = [];

    public long ItemsPerMicroBatch => (long)c.Train.BatchSize * c.Data.SequenceLength;

    public Tensor Loss(long step, int microBatch)
    {
        int perEpoch = _windows / c.Train.BatchSize;
        int epoch = (int)(step / perEpoch);
        if (epoch != _epoch)
        {
            var random = ctx.CreateRandom($"data-order-seed{seedIndex}-epoch-{epoch}");
            _order = Enumerable.Range(0, _windows).Select(i => (long)i).ToArray();
            random.Shuffle(_order);
            _epoch = epoch;
        }
        int offset = (int)(step % perEpoch) * c.Train.BatchSize;
        var idx = torch.tensor(_order[offset..(offset + c.Train.BatchSize)], device: train.device); // [B]
        var batch = train.index_select(0, idx);                                                     // [B, s+1]
        var output = model.forward(batch.narrow(1, 0, c.Data.SequenceLength));                      // logits [B, s, V]
        var loss = DecoderLanguageModel.NextTokenLoss(output.Logits, batch.narrow(1, 1, c.Data.SequenceLength));
        return loss.add(output.AuxiliaryLoss(weights));
    }

    public IReadOnlyDictionary<string, double> Evaluate()
    {
        int s = c.Data.SequenceLength;
        long n = valid.shape[0];
        const int batch = 32;
        var batches = Enumerable.Range(0, (int)((n + batch - 1) / batch)).Select(i => (start: (long)i * batch, len: Math.Min(batch, n - (long)i * batch)));
        return Evaluation.Run(model, batches, b =>
        {
            var x = valid.narrow(0, b.start, b.len);                                                  // [b, s+1]
            var logits = model.forward(x.narrow(1, 0, s)).Logits;                                     // [b, s, V]
            var sum = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), x.narrow(1, 1, s).reshape(-1),
                reduction: nn.Reduction.Sum);
            return (new Dictionary<string, Tensor> { ["val_loss"] = sum }, b.len * s);
        });
    }
}
