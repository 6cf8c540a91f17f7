using System.ComponentModel.DataAnnotations;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>Model shape and routing settings shared by the image and LM experiments of DynaMoE
/// (arXiv 2603.01697). The paper gives none of the widths, depths or expert counts
/// (this folder's README); every default here is our choice for a 2-core CPU and is marked so.</summary>
public sealed record DynaMoeModelConfig
{
    /// <summary>Residual width d (ours: small enough for CPU; the paper's LMs have 85K–1.4M parameters).</summary>
    [Range(1, 65536)] public int Width { get; init; } = 64;

    /// <summary>Hidden width of one GELU expert (ours; equal to d).</summary>
    [Range(1, 65536)] public int ExpertHidden { get; init; } = 64;

    /// <summary>Number of MoE layers L (ours; the paper does not give it).</summary>
    [Range(1, 256)] public int Layers { get; init; } = 4;

    /// <summary>N̄: experts per layer of the uniform schedule, and the per-layer average a
    /// budget-matched schedule keeps (ours).</summary>
    [Range(1, 4096)] public int MeanExperts { get; init; } = 8;

    /// <summary>N_min of the as-published schedules (ours; formulas in MoeLab.Models.Schedules.CapacitySchedule).</summary>
    [Range(1, 4096)] public int MinExperts { get; init; } = 4;

    /// <summary>N_max of the as-published schedules (ours; N̄ = (N_min + N_max)/2).</summary>
    [Range(1, 4096)] public int MaxExperts { get; init; } = 12;

    /// <summary>Wave schedule amplitude A (ours: (N_max − N_min)/2).</summary>
    [Range(0.0, 4096.0)] public double WaveAmplitude { get; init; } = 4;

    /// <summary>Wave schedule frequency f in cycles over the depth (ours).</summary>
    [Range(0.0, 1000.0)] public double WaveFrequency { get; init; } = 1;

    /// <summary>k of the fixed top-k baseline (ours: 2, GShard's; the dense baseline has k·d_ff hidden units).</summary>
    [Range(1, 4096)] public int TopK { get; init; } = 2;

    /// <summary>Percentile τ (unknown in the paper; 0.75 keeps about a quarter of the experts, i.e.
    /// about k = 2 of N̄ = 8, so active compute matches the top-k baseline).</summary>
    [Range(0.0, 1.0, MaximumIsExclusive = true)] public double Tau { get; init; } = 0.75;

    /// <summary>Gate softmax temperature T (0.5, third-party reading of the paper).</summary>
    [Range(0.0, 1e6, MinimumIsExclusive = true)] public double Temperature { get; init; } = 0.5;

    /// <summary>Std of Gaussian noise on gate logits in training (0.1, third-party reading).</summary>
    [Range(0.0, 1e6)] public double NoiseStd { get; init; } = 0.1;

    /// <summary>Top-p mass threshold p (0.4, Huang et al. 2024 official default).</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true, MaximumIsExclusive = true)] public double TopP { get; init; } = 0.4;

    /// <summary>Switch load-balancing weight α for top-k and top-p (1e-2: Switch; Huang et al. α).</summary>
    [Range(0.0, 1e6)] public double BalanceWeight { get; init; } = 1e-2;

    /// <summary>Top-p's dynamic (entropy) loss weight β (1e-4, Huang et al. per a summary).</summary>
    [Range(0.0, 1e6)] public double EntropyWeight { get; init; } = 1e-4;

    /// <summary>Percentile arms get no load-balancing loss (third-party reading: none in the paper's runs).</summary>
    [Range(0.0, 1e6)] public double PercentileBalanceWeight { get; init; } = 0;

    /// <summary>Rules across fields (single-field ranges are attributes, checked by the config binder).</summary>
    public IEnumerable<string> CrossFieldProblems(string prefix)
    {
        if (MinExperts > MaxExperts)
            yield return $"'{prefix}.minExperts' = {MinExperts} and '{prefix}.maxExperts' = {MaxExperts}: expected minExperts ≤ maxExperts.";
        if (TopK > MeanExperts)
            yield return $"'{prefix}.topK' = {TopK}: expected ≤ '{prefix}.meanExperts' ({MeanExperts}).";
    }
}

/// <summary>Optimisation and measurement settings.</summary>
public sealed record DynaMoeTrainConfig
{
    /// <summary>Passes over the training split (unknown in the paper; ours per preset).</summary>
    [Range(1, 1_000_000)] public int Epochs { get; init; } = 2;

    /// <summary>Minibatch size (paper: 256 for images, 32 for the LM).</summary>
    [Range(1, 1_000_000)] public int BatchSize { get; init; } = 256;

    /// <summary>AdamW learning rate (paper: 1e-3).</summary>
    [Range(0.0, 10.0, MinimumIsExclusive = true)] public double LearningRate { get; init; } = 1e-3;

    /// <summary>AdamW weight decay (paper: unknown; 0.01 = PyTorch's AdamW default).</summary>
    [Range(0.0, 10.0)] public double WeightDecay { get; init; } = 0.01;

    /// <summary>Minibatches whose gradient norms give the gradient variance, at fixed weights (ours: 20).</summary>
    [Range(2, 100_000)] public int GradientVarianceBatches { get; init; } = 20;

    /// <summary>Maximum training steps per arm; 0 = no limit (smoke presets cap it).</summary>
    [Range(0, int.MaxValue)] public int MaxSteps { get; init; } = 0;

    /// <summary>Log training loss every this many steps.</summary>
    [Range(1, int.MaxValue)] public int LogEvery { get; init; } = 20;

    /// <summary>Evaluate on the validation split every this many steps (validation curves); 0 = only
    /// after the last step.</summary>
    [Range(0, int.MaxValue)] public int EvalEvery { get; init; } = 0;

    /// <summary>Checkpoint the arm (model, optimiser, torch generator, step) every this many steps, so
    /// an interrupted arm resumes where it stopped; 0 = only on cancellation and at the end of the arm.</summary>
    [Range(0, int.MaxValue)] public int CheckpointEvery { get; init; } = 50;
}

/// <summary>Which arms a run trains. All arms of a run share the data split and the seed.</summary>
public sealed record DynaMoeArmsConfig
{
    /// <summary>Dense MLP with k·d_ff hidden units per layer (active parameters of top-k).</summary>
    public bool Dense { get; init; } = true;

    /// <summary>Uniform schedule, fixed top-k, Switch load balancing (the paper's baseline).</summary>
    public bool UniformTopK { get; init; } = true;

    /// <summary>Schedules trained with dynamic (percentile) routing: uniform, descending, ascending,
    /// pyramid, valley, wave (the abstract names four of its six; valley is our sixth, per the spec).</summary>
    [EachOf("uniform", "descending", "ascending", "pyramid", "valley", "wave")] public string[] Schedules { get; init; } = ["uniform", "descending", "ascending", "pyramid", "valley", "wave"];

    /// <summary>Where the percentile threshold is taken for the schedule arms: "batch" (genuinely
    /// dynamic) and/or "token" (per-token, effectively fixed-k; third-party reading of the paper).</summary>
    [EachOf("batch", "token")] public string[] PercentileModes { get; init; } = ["batch"];

    /// <summary>"matched" (every schedule has L·N̄ experts in total) and/or "published" (N_min..N_max
    /// formulas, totals differ; the paper's comparison).</summary>
    [EachOf("matched", "published")] public string[] BudgetModes { get; init; } = ["matched", "published"];

    /// <summary>Also train the uniform schedule with per-token percentile routing, to show its
    /// experts-per-token histogram is a single bar.</summary>
    public bool UniformPerTokenPercentile { get; init; } = true;

    /// <summary>Uniform schedule with top-p routing + balance + entropy losses (Huang et al. 2024).</summary>
    public bool TopP { get; init; } = true;
}

/// <summary>Config of <see cref="DynaMoeImagesExperiment"/>.</summary>
public sealed record DynaMoeImagesConfig
{
    /// <summary>fashion-mnist (Debian package), fashion-mnist-subset (shipped), mnist ($MOELAB_MNIST_DIR), cifar10 ($MOELAB_CIFAR10_DIR).</summary>
    public string Dataset { get; init; } = "fashion-mnist";

    /// <summary>Directory override for the data set; null = its default location.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Keep the first N training examples (before the validation split); 0 = all.</summary>
    [Range(0, int.MaxValue)] public int TrainLimit { get; init; } = 0;

    /// <summary>Keep the first N test examples; 0 = all.</summary>
    [Range(0, int.MaxValue)] public int TestLimit { get; init; } = 0;

    /// <summary>Share of the training set held out for validation (schedule choice), seeded (ours: 0.1).</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true, MaximumIsExclusive = true)] public double ValidationFraction { get; init; } = 0.1;

    public DynaMoeModelConfig Model { get; init; } = new();
    public DynaMoeTrainConfig Train { get; init; } = new();
    public DynaMoeArmsConfig Arms { get; init; } = new();
}

/// <summary>Config of <see cref="DynaMoeLmExperiment"/>.</summary>
public sealed record DynaMoeLmConfig
{
    /// <summary>Documents kept after a seeded shuffle of the .NET SDK doc corpus (paper: 1,000 of Recycling-the-Web).</summary>
    [Range(3, 1_000_000)] public int Documents { get; init; } = 1000;

    /// <summary>Context length (paper: 128).</summary>
    [Range(2, 1_000_000)] public int SequenceLength { get; init; } = 128;

    /// <summary>Shares of documents for validation and test (ours: 0.1 each).</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true, MaximumIsExclusive = true)] public double ValidationFraction { get; init; } = 0.1;
    [Range(0.0, 1.0, MinimumIsExclusive = true, MaximumIsExclusive = true)] public double TestFraction { get; init; } = 0.1;

    /// <summary>Documents shorter than this many characters are skipped (ours: drop one-line stubs).</summary>
    [Range(0, int.MaxValue)] public int MinDocumentCharacters { get; init; } = 200;

    /// <summary>Seed of the document shuffle and split: fixed across runs so every seed sees the same
    /// corpus (ours), while the run seed drives initialisation and data order.</summary>
    public long CorpusSeed { get; init; } = 2026;

    public DynaMoeModelConfig Model { get; init; } = new() { Width = 64, ExpertHidden = 64, Layers = 2 };
    public DynaMoeTrainConfig Train { get; init; } = new() { BatchSize = 32, Epochs = 1 };
    public DynaMoeArmsConfig Arms { get; init; } = new();
}
