using MoeLab.Experiments.Data;
using MoeLab.Experiments.Runtime;
using MoeLab.Models.Networks;
using MoeLab.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>DynaMoE's language-modelling comparison with an MLP-only causal LM
/// (<see cref="MlpLanguageModel"/>): same arms as the image experiment, perplexity on held-out
/// documents.
/// <para>Corpus substitution: the paper uses 1,000 documents of Recycling-the-Web, which is not
/// available offline here. We use 1,000 documents of the .NET SDK's English API documentation
/// (<see cref="DotNetDocsCorpus"/>: one document per type, summary + remarks text), tokenised with
/// the same GPT-2 BPE (TiktokenTokenizer "gpt2"), sequence length 128 as in the paper, and a
/// compact vocabulary of the training split's GPT-2 ids + &lt;unk&gt; (<see cref="BpeCorpus"/>).
/// API prose is narrower and more repetitive than web text, so our perplexities are far lower
/// than the paper's ≈1,000–2,300 and only the comparison between arms carries over.</para></summary>
public sealed class DynaMoeLmExperiment : Experiment<DynaMoeLmConfig>
{
    public override string Name => "dynamoe-lm";

    public override string Description =>
        "DynaMoE: MLP-only causal LM (GPT-2 BPE, 1,000 .NET API-doc documents, length 128); capacity schedules × routing vs dense, perplexity.";

    private static readonly DynaMoeArmsConfig LmArms = new() { BudgetModes = ["matched"], UniformPerTokenPercentile = false };

    public static DynaMoeLmConfig Smoke { get; } = new()
    {
        Documents = 40, SequenceLength = 32,
        Model = new DynaMoeModelConfig { Width = 16, ExpertHidden = 16, Layers = 2, MeanExperts = 4, MinExperts = 2, MaxExperts = 6, WaveAmplitude = 2, TopK = 1 },
        Train = new DynaMoeTrainConfig { Epochs = 1, BatchSize = 8, MaxSteps = 3, GradientVarianceBatches = 2, LogEvery = 1 },
        Arms = LmArms with { Schedules = ["uniform", "descending"] },
    };

    /// <summary>1,000 documents, length 128, d = 32, 4 layers, N̄ = 8 (4..12); 400 steps of 16 sequences
    /// (≈ 0.8M tokens, ≈ 3.3 epochs of the training split; 10× the 40 steps of the first reference runs,
    /// which left the models barely trained) with validation every 50 steps, and six arms (dense,
    /// top-k, uniform/descending/ascending batch percentile, top-p): ≈ 0.3M parameters, inside the
    /// paper's 85K–1.4M LM range. Ours, sized for a 2-core machine (wall time in results/reference/dynamoe-lm/README.md).</summary>
    public static DynaMoeLmConfig Cpu { get; } = new()
    {
        Model = new DynaMoeModelConfig { Width = 32, ExpertHidden = 32, Layers = 4, MeanExperts = 8, MinExperts = 4, MaxExperts = 12 },
        Train = new DynaMoeTrainConfig { Epochs = 4, BatchSize = 16, MaxSteps = 400, GradientVarianceBatches = 4, LogEvery = 10, EvalEvery = 50, CheckpointEvery = 100 },
        Arms = LmArms with { Schedules = ["uniform", "descending", "ascending"] },
    };

    public static DynaMoeLmConfig Paper { get; } = new()
    {
        Model = new DynaMoeModelConfig { Width = 128, ExpertHidden = 128, Layers = 6, MeanExperts = 8, MinExperts = 4, MaxExperts = 12 },
        Train = new DynaMoeTrainConfig { Epochs = 10, BatchSize = 32, GradientVarianceBatches = 20, LogEvery = 50 },
        Arms = LmArms with { BudgetModes = ["matched", "published"] },
    };

    public override IReadOnlyDictionary<string, DynaMoeLmConfig> TypedPresets { get; } =
        new Dictionary<string, DynaMoeLmConfig> { ["smoke"] = Smoke, ["cpu"] = Cpu, ["paper"] = Paper };

    /// <summary>Cross-field rules; ranges are attributes on the config records.</summary>
    public override IReadOnlyList<string> Validate(DynaMoeLmConfig c)
    {
        var problems = c.Model.CrossFieldProblems("model").ToList();
        if (c.ValidationFraction + c.TestFraction >= 1)
            problems.Add($"'validationFraction' = {c.ValidationFraction} and 'testFraction' = {c.TestFraction}: expected a sum < 1.");
        return problems;
    }

    public override void Run(DynaMoeLmConfig config, RunContext context)
    {
        string dir = DotNetDocsCorpus.FindXmlDirectory();
        var documents = DotNetDocsCorpus.ReadDocuments(dir, config.MinDocumentCharacters);
        var corpus = BpeCorpus.Build(documents, config.Documents, config.SequenceLength, config.ValidationFraction, config.TestFraction, config.CorpusSeed);
        context.Log($"corpus: {corpus.DocumentCount} of {documents.Count} documents from {dir}; tokens train {corpus.Train.Length}, " +
                    $"validation {corpus.Validation.Length}, test {corpus.Test.Length}; vocabulary {corpus.VocabularySize} " +
                    $"(unknown rate: validation {corpus.UnknownRate(corpus.Validation):P2}, test {corpus.UnknownRate(corpus.Test):P2})");
        var device = context.Device;
        using var train = Windows(corpus, corpus.Train, device, "train");
        using var validation = Windows(corpus, corpus.Validation, device, "validation");
        using var test = Windows(corpus, corpus.Test, device, "test");

        var arms = DynaMoeArm.Enumerate(config.Model, config.Arms);
        DynaMoeRunner.RunArms(arms, context, "perplexity", arm =>
        {
            TorchDevice.Seed(context.DeriveSeed("init"));                      // same initialisation stream for every arm
            using var network = new MlpLanguageModel(corpus.VocabularySize, config.SequenceLength, DynaMoeNetworkOptions.Stack(arm, config.Model), device);
            // Active parameters include the whole (tied) embedding table, as total parameters do.
            return DynaMoeRunner.TrainAndMeasure(network, DynaMoeNetworkOptions.ExpertParameters(arm, config.Model), arm, train, validation, test,
                config.Train, context, "perplexity", evalBatch: 64, excludedFromActive: 0);
        });
    }

    private static DeviceSplit Windows(BpeCorpus corpus, int[] stream, Device device, string split)
    {
        var flat = corpus.Windows(stream, out int count);
        if (count < 1)
            throw new InvalidOperationException($"The {split} split has {stream.Length} tokens, fewer than one window of " +
                $"{corpus.SequenceLength + 1}; use more documents or a shorter sequence length.");
        using var all = torch.tensor(flat.Select(i => (long)i).ToArray(), new long[] { count, corpus.SequenceLength + 1 }, device: device); // [n, T+1]
        return new DeviceSplit(all.narrow(1, 0, corpus.SequenceLength).contiguous(),   // [n, T] inputs
                               all.narrow(1, 1, corpus.SequenceLength).contiguous());  // [n, T] next tokens
    }
}
