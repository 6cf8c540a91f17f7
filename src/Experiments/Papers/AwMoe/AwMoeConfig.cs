using System.ComponentModel.DataAnnotations;
using MoeLab.Experiments.Data.Ctr;

namespace MoeLab.Experiments.Papers.AwMoe;

/// <summary>The arms of the comparison (all see the same features; parameters matched within 5 %).</summary>
public enum AwMoeArm
{
    /// <summary>One MLP on [x, e, mean-pooled behaviours].</summary>
    Dnn,

    /// <summary>One MLP on [x, e, DIN attention-pooled behaviours].</summary>
    Din,

    /// <summary>Soft MoE whose gate sees the non-sequence features [x, e] only.</summary>
    MoeFeatureGate,

    /// <summary>Soft MoE whose gate sees [x, e, mean-pooled behaviours].</summary>
    MoeMeanPoolGate,

    /// <summary>AW-MoE (reconstruction) trained with the click loss only.</summary>
    AwMoeNoContrastive,

    /// <summary>AW-MoE (reconstruction) with the contrastive loss on gate vectors of masked sequences.</summary>
    AwMoe,
}

public enum CtrDataSource
{
    /// <summary>The seeded synthetic world (personas, heavy-tailed histories).</summary>
    Synthetic,

    /// <summary>Amazon-review-style files in <see cref="AwMoeDataConfig.AmazonDirectory"/>.</summary>
    AmazonFiles,
}

/// <summary>Which two gate vectors the contrastive loss pulls together.</summary>
public enum ContrastiveViews
{
    /// <summary>Two independent random maskings of the sequence.</summary>
    TwoMasks,

    /// <summary>One random masking and the full sequence.</summary>
    MaskedVsFull,
}

/// <summary>Config of <see cref="AwMoeExperiment"/>. The paper (arXiv 2306.05011) gives none of these
/// values in its abstract, the only text we had: every value is ours, and the four unknowns of the
/// method (experts K, mask ratio ρ, temperature τ, loss weight λ) are swept and reported.</summary>
public sealed record AwMoeConfig
{
    public AwMoeDataConfig Data { get; init; } = new();
    public AwMoeModelConfig Model { get; init; } = new();
    public AwMoeContrastiveConfig Contrastive { get; init; } = new();
    public AwMoeTrainConfig Train { get; init; } = new();
    public AwMoeEvalConfig Eval { get; init; } = new();

    /// <summary>Arms to run, in this order (all six by default; a sweep of AW-MoE's own unknowns runs [AwMoe] only).</summary>
    public AwMoeArm[] Arms { get; init; } = Enum.GetValues<AwMoeArm>();
}

public sealed record AwMoeDataConfig
{
    public CtrDataSource Source { get; init; } = CtrDataSource.Synthetic;

    public SyntheticCtrConfig Synthetic { get; init; } = new();

    /// <summary>Folder with items.tsv and interactions.tsv (only for Source = AmazonFiles).</summary>
    public string AmazonDirectory { get; init; } = "";

    /// <summary>Most recent behaviours a model sees (ours: covers ≈ 98 % of synthetic histories fully).</summary>
    [Range(1, 1000)] public int MaxSequence { get; init; } = 50;

    /// <summary>Long-tail users: true history length ≤ this (ours; ≈ 60 % of synthetic users).</summary>
    [Range(0, 1000)] public int LongTailMaxHistory { get; init; } = 5;
}

public sealed record AwMoeModelConfig
{
    /// <summary>Embedding size per sparse field (ours).</summary>
    [Range(1, 256)] public int EmbeddingDim { get; init; } = 8;

    /// <summary>Hidden width of the activation unit's MLP (ours).</summary>
    [Range(1, 1024)] public int AttentionHidden { get; init; } = 32;

    /// <summary>Experts K (unknown; swept over {4, 8}).</summary>
    [Range(2, 64)] public int Experts { get; init; } = 4;

    /// <summary>Hidden width of each expert (ours). DNN and DIN get the width that matches AW-MoE's parameter count.</summary>
    [Range(1, 4096)] public int ExpertHidden { get; init; } = 32;
}

public sealed record AwMoeContrastiveConfig
{
    /// <summary>Mask ratio ρ (unknown; swept over {0.2, 0.5}).</summary>
    [Range(0.0, 0.95)] public double MaskRatio { get; init; } = 0.5;

    /// <summary>InfoNCE temperature τ (unknown; swept over {0.1, 0.5}).</summary>
    [Range(0.01, 10.0)] public double Temperature { get; init; } = 0.1;

    /// <summary>Loss weight λ (unknown; swept over {0.01, 0.1}).</summary>
    [Range(0.0, 10.0)] public double Weight { get; init; } = 0.1;

    public ContrastiveViews Views { get; init; } = ContrastiveViews.TwoMasks;
}

public sealed record AwMoeTrainConfig
{
    /// <summary>Passes over the training impressions (the step count follows from it).</summary>
    [Range(0.01, 1000.0)] public double Epochs { get; init; } = 1;

    [Range(8, 65_536)] public int BatchSize { get; init; } = 256;

    /// <summary>Peak learning rate of AdamW, the same for every arm (ours).</summary>
    [Range(0.0, 1.0)] public double Lr { get; init; } = 3e-3;

    [Range(0.0, 1.0)] public double WeightDecay { get; init; } = 0.0;

    [Range(0, 1_000_000)] public int WarmupSteps { get; init; } = 20;

    [Range(0.0, 1e6)] public double ClipNorm { get; init; } = 5.0;

    [Range(1, 1_000_000)] public int LogEvery { get; init; } = 20;

    /// <summary>Validation AUC every this many steps (and after the last).</summary>
    [Range(1, 1_000_000)] public int EvalEvery { get; init; } = 200;

    [Range(0, 1_000_000)] public int CheckpointEvery { get; init; } = 200;

    /// <summary>Torch intra-op threads for this run (0 = leave the process's setting). Ours: 1, because on
    /// the shared 2-core machine two threads made a step 5–10× slower (measured: DIN forward+backward
    /// 170 ms with 1 thread vs 690 ms with 2 at load ≈ 17).</summary>
    [Range(0, 256)] public int TorchThreads { get; init; } = 1;
}

public sealed record AwMoeEvalConfig
{
    /// <summary>k of NDCG@k per user list (ours).</summary>
    [Range(1, 1000)] public int NdcgK { get; init; } = 5;

    [Range(16, 1_000_000)] public int BatchSize { get; init; } = 2048;

    /// <summary>Gate similarity: keep only the most recent m behaviours, for each m here…</summary>
    public int[] TruncationLengths { get; init; } = [1, 2, 5, 10];

    /// <summary>…of test impressions whose visible history has at least this many behaviours.</summary>
    [Range(2, 1000)] public int GateSimilarityMinHistory { get; init; } = 20;
}
