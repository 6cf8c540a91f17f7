using MoeLab.Experiments.Data;
using MoeLab.Experiments.Runtime;
using MoeLab.Models.Networks;
using MoeLab.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>DynaMoE (arXiv 2603.01697) on image classification: an MLP-style MoE classifier per
/// arm — dense MLP, uniform top-k, each capacity schedule with percentile (dynamic) routing in
/// budget-matched and as-published modes, per-token percentile, top-p — all trained in one run on
/// the same split, data order and seed. Per arm it logs validation/test accuracy, total and active
/// parameters, the experts-per-token histogram of every layer, the gradient-norm variance at
/// initialisation and after training, and wall-clock time.
/// <para>Commands: <c>moelab run dynamoe-images --preset smoke</c> (seconds, shipped subset);
/// <c>--preset cpu</c> (Fashion-MNIST from Debian's dataset-fashion-mnist; measured ≈ 29 min per seed
/// on the heavily shared 2-core dev VM at load average 20–35, three seeds in parallel);
/// <c>--preset paper</c> (GPU). Three seeds: <c>./moelab run dynamoe-images --preset cpu --seeds 3</c>.</para></summary>
public sealed class DynaMoeImagesExperiment : Experiment<DynaMoeImagesConfig>
{
    public override string Name => "dynamoe-images";

    public override string Description =>
        "DynaMoE: capacity schedules × dynamic (percentile / top-p) vs fixed top-k routing vs dense MLP on Fashion-MNIST/MNIST/CIFAR-10.";

    public static DynaMoeImagesConfig Smoke { get; } = new()
    {
        Dataset = ImageDataSources.FashionMnistSubset,
        Model = new DynaMoeModelConfig
        {
            Width = 32, ExpertHidden = 32, Layers = 3, MeanExperts = 4, MinExperts = 2, MaxExperts = 6,
            WaveAmplitude = 2, TopK = 1,
        },
        Train = new DynaMoeTrainConfig { Epochs = 1, BatchSize = 128, MaxSteps = 4, GradientVarianceBatches = 3, LogEvery = 2, CheckpointEvery = 2 },
    };

    /// <summary>Full Fashion-MNIST files, but the first 9,000 training examples (8,100 train /
    /// 900 validation) and 5,000 test examples, 3 epochs (96 steps of 256), 15 arms (ours, sized for
    /// a shared 2-core machine; a full-data run is the paper preset).</summary>
    public static DynaMoeImagesConfig Cpu { get; } = new()
    {
        Dataset = ImageDataSources.FashionMnist,
        TrainLimit = 9000,
        TestLimit = 5000,
        Train = new DynaMoeTrainConfig { Epochs = 3, BatchSize = 256, GradientVarianceBatches = 10, LogEvery = 20, EvalEvery = 32 },
    };

    public static DynaMoeImagesConfig Paper { get; } = new()
    {
        Dataset = ImageDataSources.FashionMnist,
        Model = new DynaMoeModelConfig { Width = 128, ExpertHidden = 128, Layers = 6, MeanExperts = 8, MinExperts = 4, MaxExperts = 12 },
        Train = new DynaMoeTrainConfig { Epochs = 20, BatchSize = 256, GradientVarianceBatches = 20, LogEvery = 100 },
    };

    public override IReadOnlyDictionary<string, DynaMoeImagesConfig> TypedPresets { get; } =
        new Dictionary<string, DynaMoeImagesConfig> { ["smoke"] = Smoke, ["cpu"] = Cpu, ["paper"] = Paper };

    /// <summary>Cross-field rules and the data-set name; ranges are attributes on the config records.</summary>
    public override IReadOnlyList<string> Validate(DynaMoeImagesConfig c)
    {
        var problems = c.Model.CrossFieldProblems("model").ToList();
        if (!ImageDataSources.Names.Contains(c.Dataset))
            problems.Add($"'dataset' = '{c.Dataset}': expected one of {string.Join(", ", ImageDataSources.Names)}.");
        return problems;
    }

    public override void Run(DynaMoeImagesConfig config, RunContext context)
    {
        var (fullTrain, testSet) = ImageDataSources.Load(config.Dataset, config.DataDirectory, config.TrainLimit, config.TestLimit);
        var (trainSet, validationSet) = fullTrain.SplitTrainValidation(config.ValidationFraction, context.Seed);
        context.Log($"{config.Dataset}: train {trainSet.Count}, validation {validationSet.Count}, test {testSet.Count} " +
                    $"({trainSet.Channels}×{trainSet.Height}×{trainSet.Width}, {trainSet.ClassCount} classes) from {fullTrain.Source}");
        var device = context.Device;
        using var train = ToDevice(trainSet, device);
        using var validation = ToDevice(validationSet, device);
        using var test = ToDevice(testSet, device);

        var arms = DynaMoeArm.Enumerate(config.Model, config.Arms);
        DynaMoeRunner.RunArms(arms, context, "accuracy", arm =>
        {
            TorchDevice.Seed(context.DeriveSeed("init"));                      // same initialisation stream for every arm
            using var network = new MlpClassifier(trainSet.FeatureCount, trainSet.ClassCount, DynaMoeNetworkOptions.Stack(arm, config.Model), device);
            return DynaMoeRunner.TrainAndMeasure(network, DynaMoeNetworkOptions.ExpertParameters(arm, config.Model), arm, train, validation, test,
                config.Train, context, "accuracy", evalBatch: 1024, excludedFromActive: 0);
        });
    }

    private static DeviceSplit ToDevice(ImageDataset d, Device device) => new(
        torch.tensor(d.Pixels, new long[] { d.Count, d.FeatureCount }, device: device),  // [n, D]
        torch.tensor(d.Labels.Select(l => (long)l).ToArray(), device: device));          // [n]
}
