using System.Diagnostics;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Data;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;
using MoeLab.Metrics.Routing;
using MoeLab.Models.Accounting;
using MoeLab.Models.Losses;
using MoeLab.Models.Runtime;
using MoeLab.Models.Transformer;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.ChainOfExperts;

/// <summary>Chain-of-Experts (Wang et al. 2025, arXiv 2506.18945): a small decoder LM whose every layer
/// iterates C times over one expert bank with a router per iteration, against MoE(K), MoE(2K), MoE(3K),
/// deeper MoE, CoE with fewer experts, CoE with one shared router, CoE with the outer residual and an
/// iterated dense FFN. Held-out next-token loss, FLOPs, parameters, memory, wall-clock and the overlap
/// of the expert sets chosen at iterations 1 and 2. See the folder's README.md.</summary>
public sealed class ChainOfExpertsExperiment : Experiment<ChainOfExpertsConfig>
{
    public override string Name => "chain-of-experts";

    public override string Description =>
        "Chain-of-Experts: iterated experts with a router per iteration vs MoE(K/2K/3K), deeper MoE, shared router, outer residual, iterated dense; decoder LM on arithmetic word problems.";

    /// <summary>Seconds: d 32, 2 layers, 8 experts of 16, K = 2, 4 steps of 4 sequences of 32 tokens, every arm.</summary>
    public static ChainOfExpertsConfig Smoke { get; } = new()
    {
        Data = new CoeDataConfig { TrainProblems = 200, HeldOutProblems = 40, Documents = 60, SequenceLength = 32 },
        Model = new CoeModelConfig { DModel = 32, Layers = 2, Heads = 2, Experts = 8, FewerExperts = 6, ExpertHidden = 16, K = 2 },
        Train = new CoeTrainConfig { Steps = 4, BatchSize = 4, LogEvery = 2, EvalEvery = 2, EvalBatchSize = 8, CheckpointEvery = 2,
            Optimizer = new() { Lr = 3e-3, Beta2 = 0.95, WeightDecay = 0.01 } },
    };

    /// <summary>d 128, 2 layers (4 heads), 32 SwiGLU experts of 64 + 1 shared, K = 4, sequences of 128,
    /// 200 steps of 16 sequences (≈ 0.41M tokens), AdamW lr 1e-3 (ours: 3e-4 is tuned for 1,000 steps of 32k
    /// tokens; the same for every arm), 10 % warm-up then constant. Measured on the shared 2-core VM: see the
    /// folder README for wall time per arm.</summary>
    public static ChainOfExpertsConfig Cpu { get; } = new()
    {
        Train = new CoeTrainConfig { Steps = 200, BatchSize = 16, EvalEvery = 50, Optimizer = new() { Lr = 1e-3, Beta2 = 0.95, WeightDecay = 0.01 } },
    };

    /// <summary>The official setup: d 1024, 4 layers, 8 heads, 63 routed + 1 shared experts of 704, K = 8,
    /// N = 48 for the fewer-experts arm, 1,000 steps of 64 × 512 tokens, lr 3e-4 (a GPU job).</summary>
    public static ChainOfExpertsConfig Paper { get; } = new()
    {
        Data = new CoeDataConfig { TrainProblems = 400_000, SequenceLength = 512 },
        Model = new CoeModelConfig { DModel = 1024, Layers = 4, Heads = 8, Experts = 63, FewerExperts = 47, ExpertHidden = 704, K = 8 },
        Train = new CoeTrainConfig { Steps = 1000, BatchSize = 64, EvalEvery = 100, EvalBatchSize = 16, CheckpointEvery = 100 },
    };

    public override IReadOnlyDictionary<string, ChainOfExpertsConfig> TypedPresets { get; } =
        new Dictionary<string, ChainOfExpertsConfig> { ["smoke"] = Smoke, ["cpu"] = Cpu, ["paper"] = Paper };

    public override IReadOnlyList<string> Validate(ChainOfExpertsConfig c)
    {
        var problems = new List<string>();
        var m = c.Model;
        if (m.DModel % m.Heads != 0) problems.Add($"model.heads = {m.Heads}: must divide model.dModel = {m.DModel}.");
        if (m.K % 2 != 0) problems.Add($"model.k = {m.K}: must be even (the equal-compute CoE arm uses K/2 per iteration).");
        if (3 * m.K > m.Experts) problems.Add($"model.k = {m.K}: the MoE(3K) arm needs 3K ≤ model.experts = {m.Experts}.");
        if (m.FewerExperts < m.K / 2 || m.FewerExperts >= m.Experts)
            problems.Add($"model.fewerExperts = {m.FewerExperts}: expected K/2 = {m.K / 2} ≤ value < model.experts = {m.Experts}.");
        if (c.Arms.Length == 0) problems.Add("arms: empty; expected one or more of " + string.Join(", ", ChainOfExpertsArm.AllNames) + ".");
        foreach (string a in c.Arms)
            if (!ChainOfExpertsArm.AllNames.Contains(a))
                problems.Add($"arms: unknown arm '{a}'; expected one of {string.Join(", ", ChainOfExpertsArm.AllNames)}.");
        if (c.Arms.Distinct().Count() != c.Arms.Length) problems.Add("arms: an arm is listed twice.");
        return problems;
    }

    /// <summary>The corpus of a config (a pure function of the data config; the run seed does not enter).</summary>
    public static BpeCorpus BuildCorpus(CoeDataConfig d, RunContext? ctx = null)
    {
        if (d.Corpus == CoeCorpus.Arithmetic)
        {
            var (train, heldOut) = ArithmeticWordProblems.Splits(d.TrainProblems, d.HeldOutProblems, d.GeneratorSeed);
            var corpus = BpeCorpus.FromSplits(train.Select(p => p.Text).ToList(), heldOut.Select(p => p.Text).ToList(), [], d.SequenceLength);
            ctx?.Log($"corpus: arithmetic word problems, {train.Count} train / {heldOut.Count} held-out (disjoint stated numbers); " +
                     $"tokens train {corpus.Train.Length}, held-out {corpus.Validation.Length}; vocabulary {corpus.VocabularySize} " +
                     $"(unknown rate held-out {corpus.UnknownRate(corpus.Validation):P2})");
            return corpus;
        }
        string dir = DotNetDocsCorpus.FindXmlDirectory();
        var documents = DotNetDocsCorpus.ReadDocuments(dir, d.MinDocumentCharacters);
        var docs = BpeCorpus.Build(documents, d.Documents, d.SequenceLength, d.ValidationFraction, d.ValidationFraction, d.GeneratorSeed);
        ctx?.Log($"corpus: .NET API docs, {docs.DocumentCount} of {documents.Count} documents from {dir}; tokens train {docs.Train.Length}, " +
                 $"held-out {docs.Validation.Length}; vocabulary {docs.VocabularySize} (unknown rate held-out {docs.UnknownRate(docs.Validation):P2})");
        return docs;
    }

    public override void Run(ChainOfExpertsConfig c, RunContext ctx)
    {
        var corpus = BuildCorpus(c.Data, ctx);
        var device = ctx.Device;
        using var train = Windows(corpus, corpus.Train, device, "train");
        using var heldOut = Windows(corpus, corpus.Validation, device, "held-out");
        var overlapRows = new List<(string Arm, int Layer, OverlapSummary Overlap)>();
        foreach (string name in c.Arms)
        {
            ctx.Cancellation.ThrowIfCancellationRequested();
            var arm = ChainOfExpertsArm.Of(name, c.Model);
            ctx.Log($"arm {name}: {arm.Describe()}");
            overlapRows.AddRange(RunArm(arm, c, corpus.VocabularySize, train, heldOut, ctx));
        }
        if (overlapRows.Count > 0)
            ctx.SaveTable("overlap", new DataFrame(
                new StringDataFrameColumn("arm", overlapRows.Select(r => r.Arm)),
                new PrimitiveDataFrameColumn<int>("layer", overlapRows.Select(r => r.Layer)),
                new PrimitiveDataFrameColumn<double>("jaccard", overlapRows.Select(r => r.Overlap.MeanJaccard)),
                new PrimitiveDataFrameColumn<double>("chance_jaccard", overlapRows.Select(r => r.Overlap.ChanceJaccard)),
                new PrimitiveDataFrameColumn<double>("intersection", overlapRows.Select(r => r.Overlap.MeanIntersection)),
                new PrimitiveDataFrameColumn<double>("chance_intersection", overlapRows.Select(r => r.Overlap.ChanceIntersection)),
                new PrimitiveDataFrameColumn<long>("tokens", overlapRows.Select(r => r.Overlap.Tokens))));
    }

    /// <summary>The decoder LM of an arm (parameters drawn from torch's global generator, which the caller seeds).</summary>
    public static DecoderLanguageModel BuildModel(ChainOfExpertsArm arm, CoeModelConfig m, int vocabulary, int sequenceLength, Device? device = null) =>
        new(new DecoderLanguageModelOptions
        {
            Vocabulary = vocabulary, DModel = m.DModel, Layers = arm.Layers, Heads = m.Heads, MaxSequenceLength = sequenceLength,
            FeedForward = arm.Slot(m),
        }, device);

    private sealed record ArmTiming(double TrainSeconds, double EvalSeconds, long StepsTimed, double PeakRssMiB, bool PeakIsPerArm);

    private static List<(string, int, OverlapSummary)> RunArm(ChainOfExpertsArm arm, ChainOfExpertsConfig c, int vocabulary,
        SequenceWindows train, SequenceWindows heldOut, RunContext ctx)
    {
        bool peakReset = ProcessMemory.TryResetPeak();
        TorchDevice.Seed(ctx.Seed);                                       // same initialisation stream for every arm
        using var model = BuildModel(arm, c.Model, vocabulary, c.Data.SequenceLength, ctx.Device);
        var optimizer = c.Train.Optimizer.Create(model.parameters());
        var task = new ChainOfExpertsTask(model, train, heldOut, c, ctx);
        string prefix = arm.Name + "-";
        var watch = Stopwatch.StartNew();
        var outcome = Trainer.Run(ctx, model, optimizer, task, new TrainerOptions
        {
            Steps = c.Train.Steps,
            Schedule = new WarmupStableDecaySchedule(c.Train.Optimizer.Lr, (long)Math.Round(c.Train.WarmupFraction * c.Train.Steps), c.Train.Steps, DecayFraction: 0),
            LogEvery = c.Train.LogEvery,
            EvalEvery = c.Train.EvalEvery,
            CheckpointEvery = c.Train.CheckpointEvery,
            ClipNorm = c.Train.ClipNorm,
            Arm = arm.Name,
            CheckpointPrefix = prefix,
        });
        watch.Stop();
        ArmTiming timing;
        if (outcome.ResumedCompleted)
            timing = ctx.Checkpoints.LoadJson<ArmTiming>(prefix + "timing")
                     ?? throw new InvalidOperationException($"arm {arm.Name}: finished in an earlier process but its timing entry is missing.");
        else
        {
            // Steps trained in this process (a resumed arm times only its remaining steps).
            long steps = outcome.Steps - (task.FirstStep ?? outcome.Steps);
            timing = new ArmTiming(watch.Elapsed.TotalSeconds - task.EvalSeconds, task.EvalSeconds, steps,
                ProcessMemory.PeakResidentMiB(), peakReset);
            ctx.Checkpoints.SaveJson(prefix + "timing", timing);
        }

        var (valLoss, overlap) = task.FinalEvaluation();
        var cost = model.Cost(c.Data.SequenceLength);
        double ffnFlops = model.Blocks.Sum(b => b.FeedForward.SlotCost().ForwardFlopsPerToken);
        long parameters = CostModel.CountParameters(model);
        double tokens = (double)timing.StepsTimed * c.Train.BatchSize * c.Data.SequenceLength;
        var values = new Dictionary<string, double>
        {
            ["val_loss"] = valLoss,
            ["val_perplexity"] = Math.Exp(valLoss),
            ["steps"] = outcome.Steps,
            ["total_params"] = parameters,
            ["nonembedding_params"] = cost.NonEmbedding.TotalParameters,
            ["flops_per_token"] = cost.Total.ForwardFlopsPerToken,
            ["ffn_flops_per_token"] = ffnFlops,
            ["param_mib"] = parameters * 4.0 / (1024 * 1024),
            ["train_state_mib"] = parameters * 16.0 / (1024 * 1024),   // fp32 weights, gradients, AdamW m and v
            ["peak_rss_mib"] = timing.PeakRssMiB,
            ["train_seconds"] = timing.TrainSeconds,
            ["tokens_per_second"] = timing.TrainSeconds > 0 ? tokens / timing.TrainSeconds : double.NaN,
            ["iterations"] = arm.Iterations,
            ["k"] = arm.K,
            ["experts"] = arm.Experts,
            ["layers"] = arm.Layers,
        };
        if (overlap.Count > 0)
        {
            values["overlap_jaccard"] = overlap.Average(o => o.Overlap.MeanJaccard);
            values["overlap_chance_jaccard"] = overlap.Average(o => o.Overlap.ChanceJaccard);
            values["overlap_over_chance"] = overlap.Average(o => o.Overlap.JaccardOverChance);
        }
        ctx.LogSummary(arm.Name, values, new Dictionary<string, string>
        {
            ["description"] = arm.Describe(),
            ["corpus"] = c.Data.Corpus.ToString(),
            ["peak_rss_scope"] = timing.PeakIsPerArm ? (c.Arms.Length == 1 ? "process (one arm)" : "arm (after a reset; upper bound)") : "process",
        });
        ctx.Log($"arm {arm.Name}: held-out loss {valLoss:F4}, {values["tokens_per_second"]:F0} tokens/s, peak RSS {timing.PeakRssMiB:F0} MiB" +
                (overlap.Count > 0 ? $", iteration-1/2 Jaccard {values["overlap_jaccard"]:F3} (chance {values["overlap_chance_jaccard"]:F3})" : ""));
        return overlap.Select(o => (arm.Name, o.Layer, o.Overlap)).ToList();
    }

    internal static SequenceWindows Windows(BpeCorpus corpus, int[] stream, Device device, string split)
    {
        var flat = corpus.Windows(stream, out int count);
        if (count < 1)
            throw new InvalidOperationException($"The {split} split has {stream.Length} tokens, fewer than one window of " +
                $"{corpus.SequenceLength + 1}; use more problems/documents or a shorter sequence length.");
        using var all = torch.tensor(flat.Select(i => (long)i).ToArray(), new long[] { count, corpus.SequenceLength + 1 }, device: device); // [n, T+1]
        return new SequenceWindows(all.narrow(1, 0, corpus.SequenceLength).contiguous(),   // [n, T] inputs
                                   all.narrow(1, 1, corpus.SequenceLength).contiguous());  // [n, T] next tokens
    }
}

/// <summary>Input windows and their next-token targets, [n, T] int64 each.</summary>
public sealed record SequenceWindows(Tensor Inputs, Tensor Targets) : IDisposable
{
    public long Count => Inputs.shape[0];

    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }
}

/// <summary>Next-token loss + α·Σ sequence-balance losses for the shared <see cref="Trainer"/>. The batch
/// of step s is a slice of epoch ⌊s·B/n⌋'s permutation, drawn from <c>data-order-epoch-e</c> of the run's
/// seed (the same for every arm; nothing to save for resume).</summary>
internal sealed class ChainOfExpertsTask(DecoderLanguageModel model, SequenceWindows train, SequenceWindows heldOut,
    ChainOfExpertsConfig c, RunContext ctx) : ITrainingTask
{
    private readonly int _batchesPerEpoch = (int)Math.Max(1, train.Count / c.Train.BatchSize);
    private readonly AuxiliaryLossWeights _weights = new(SequenceBalance: c.Model.BalanceWeight);
    private int _cachedEpoch = -1;
    private long[] _order = [];

    public long ItemsPerMicroBatch => (long)c.Train.BatchSize * c.Data.SequenceLength;

    /// <summary>First step trained in this process (null before any).</summary>
    public long? FirstStep { get; private set; }

    /// <summary>Seconds spent in <see cref="Evaluate"/> in this process.</summary>
    public double EvalSeconds { get; private set; }

    public Tensor Loss(long step, int microBatch) => Loss(Batch(step, microBatch));

    /// <summary>The token windows and targets of step <paramref name="step"/>.</summary>
    public object Batch(long step, int microBatch)
    {
        FirstStep ??= step;
        int epoch = (int)(step / _batchesPerEpoch);
        if (epoch != _cachedEpoch)
        {
            _order = RunRandom.Permutation((int)train.Count, ctx.CreateRandom($"data-order-epoch-{epoch}"));
            _cachedEpoch = epoch;
        }
        int batch = (int)Math.Min(c.Train.BatchSize, train.Count);
        int offset = (int)(step % _batchesPerEpoch) * batch;
        var idx = torch.tensor(_order[offset..(offset + batch)], device: ctx.Device); // [B]
        var x = train.Inputs.index_select(0, idx);                                    // [B, T]
        var y = train.Targets.index_select(0, idx);                                   // [B, T]
        return (x, y);
    }

    public Tensor Loss(object batch)
    {
        var (x, y) = ((Tensor, Tensor))batch;
        var o = model.forward(x);
        return DecoderLanguageModel.NextTokenLoss(o.Logits, y).add(o.AuxiliaryLoss(_weights)); // []
    }

    public IReadOnlyDictionary<string, double> Evaluate()
    {
        var watch = Stopwatch.StartNew();
        double loss = HeldOutLoss(collect: null);
        EvalSeconds += watch.Elapsed.TotalSeconds;
        return new Dictionary<string, double> { ["val_loss"] = loss };
    }

    /// <summary>Held-out loss (mean over every target token) and, per layer of a CoE arm, the overlap of
    /// the expert sets chosen at iterations 1 and 2 for the same tokens.</summary>
    public (double Loss, List<(int Layer, OverlapSummary Overlap)> Overlap) FinalEvaluation()
    {
        int layers = model.Blocks.Count;
        var first = Enumerable.Range(0, layers).Select(_ => new List<long>()).ToList();
        var second = Enumerable.Range(0, layers).Select(_ => new List<long>()).ToList();
        int k1 = 0, k2 = 0;
        double loss;
        model.eval();
        try
        {
            using var noGrad = torch.no_grad();
            loss = HeldOutLoss(o =>
            {
                for (int l = 0; l < layers; l++)
                {
                    var passes = o.Layers[l].RoutedPasses;
                    if (passes.Count < 2) continue;
                    k1 = (int)passes[0].Routing.ExpertIndices.shape[1];
                    k2 = (int)passes[1].Routing.ExpertIndices.shape[1];
                    first[l].AddRange(passes[0].Routing.ExpertIndices.cpu().to(int64).contiguous().data<long>().ToArray());
                    second[l].AddRange(passes[1].Routing.ExpertIndices.cpu().to(int64).contiguous().data<long>().ToArray());
                }
            });
        }
        finally
        {
            model.train();
        }
        var overlap = new List<(int, OverlapSummary)>();
        int experts = model.Blocks.Count > 0 && model.Blocks[0].FeedForward is Models.Layers.ChainOfExpertsLayer coe ? coe.Options.Moe.Experts : 0;
        for (int l = 0; l < layers; l++)
            if (first[l].Count > 0)
                overlap.Add((l, ExpertSetOverlap.Compare(first[l], k1, second[l], k2, experts)));
        return (loss, overlap);
    }

    private double HeldOutLoss(Action<DecoderLanguageModelOutput>? collect)
    {
        double sum = 0;
        long tokens = 0;
        for (long start = 0; start < heldOut.Count; start += c.Train.EvalBatchSize)
        {
            using var scope = torch.NewDisposeScope();
            long n = Math.Min(c.Train.EvalBatchSize, heldOut.Count - start);
            var x = heldOut.Inputs.narrow(0, start, n);                  // [n, T]
            var y = heldOut.Targets.narrow(0, start, n);                 // [n, T]
            var o = model.forward(x);
            var ce = nn.functional.cross_entropy(o.Logits.reshape(-1, o.Logits.shape[^1]), y.reshape(-1), reduction: nn.Reduction.Sum); // []
            sum += ce.to(float64).item<double>();
            tokens += y.numel();
            collect?.Invoke(o);
        }
        return sum / tokens;
    }
}
