using System.ComponentModel.DataAnnotations;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Papers.SegMoe;

/// <summary>Config of <see cref="SegMoeExperiment"/> (Seg-MoE, arXiv 2601.21641).</summary>
public sealed record SegMoeConfig
{
    public SegMoeDataConfig Data { get; init; } = new();
    public SegMoeModelConfig Model { get; init; } = new();
    public SegMoeTrainConfig Train { get; init; } = new();

    /// <summary>Arms, in order (<see cref="SegMoeArms.AllNames"/>). All share the backbone, look-back,
    /// data order, initialisation stream, optimiser and early stopping; they differ only in the
    /// feed-forward slot of each layer.</summary>
    [EachOf("dense", "token-moe", "seg-moe", "token-route-seg-shared", "seg-moe-no-shared", "token-moe-no-shared")]
    public string[] Arms { get; init; } = ["dense", "token-moe", "seg-moe", "token-route-seg-shared", "seg-moe-no-shared", "token-moe-no-shared"];

    /// <summary>Forecast horizons (the paper: 96, 192, 336, 720). Each must fit in the test part.</summary>
    public int[] Horizons { get; init; } = [96, 192, 336, 720];
}

public sealed record SegMoeDataConfig
{
    /// <summary>regimes (generated, Markov-switching), regimes-iid (negative control: the regime is redrawn
    /// every patch), weather (the shipped Seattle hourly normals, 3 channels), ETTh1/ETTh2/ETTm1/ETTm2
    /// (CSV files from <see cref="Path"/> or $MOELAB_ETT_DIR; standard 12/4/4-month split).</summary>
    [EachOf("regimes", "regimes-iid", "weather", "ETTh1", "ETTh2", "ETTm1", "ETTm2")]
    public string Source { get; init; } = "regimes";

    /// <summary>Directory holding the ETT CSV files (ETT sources only).</summary>
    public string? Path { get; init; }

    /// <summary>Generated series: length in steps (ours; split 7:1:2).</summary>
    [Range(1000, 10_000_000)] public int Length { get; init; } = 20_000;

    /// <summary>Generated series: channels.</summary>
    [Range(1, 64)] public int Channels { get; init; } = 3;

    /// <summary>Generated series: regimes K.</summary>
    [Range(1, 6)] public int Regimes { get; init; } = 4;

    /// <summary>Generated series: mean regime run length in steps (ours: 96 = 12 patches of 8).</summary>
    [Range(2, 100_000)] public int MeanDuration { get; init; } = 96;

    /// <summary>Generated series: shortest regime run in steps (ours: 40, five patches).</summary>
    [Range(1, 100_000)] public int MinDuration { get; init; } = 40;

    /// <summary>Seed of the generator (fixed across run seeds: every seed sees the same series).</summary>
    [Range(0, int.MaxValue)] public int GeneratorSeed { get; init; } = 17;

    /// <summary>Stride between training windows (1 = every start, as the official loaders).</summary>
    [Range(1, 10_000)] public int TrainStride { get; init; } = 1;

    /// <summary>Stride between validation and test windows (1 = every start, the standard protocol;
    /// larger values make evaluation cheaper on a CPU and are stated with the results).</summary>
    [Range(1, 10_000)] public int EvalStride { get; init; } = 1;
}

public sealed record SegMoeModelConfig
{
    /// <summary>Look-back L (official: 512), the same for every arm.</summary>
    [Range(8, 8192)] public int LookBack { get; init; } = 512;

    /// <summary>Patch length p (official: 8).</summary>
    [Range(1, 512)] public int PatchLength { get; init; } = 8;

    /// <summary>Forecast step f: the model learns the window shifted by f and forecasts f points per pass
    /// (official: 4·p = 32).</summary>
    [Range(1, 8192)] public int ForecastStep { get; init; } = 32;

    /// <summary>Width d (official small: 128).</summary>
    [Range(4, 4096)] public int DModel { get; init; } = 128;

    /// <summary>Expert hidden width d_ff (official small: 256).</summary>
    [Range(1, 65_536)] public int DHidden { get; init; } = 256;

    /// <summary>Query heads (official small: 4).</summary>
    [Range(1, 64)] public int Heads { get; init; } = 4;

    /// <summary>Key/value heads (official small: 2).</summary>
    [Range(1, 64)] public int KeyValueHeads { get; init; } = 2;

    /// <summary>Segment length ω per layer; its length is the number of layers (official small: [3,5,5,5]).</summary>
    public int[] Omegas { get; init; } = [3, 5, 5, 5];

    /// <summary>Routed experts N (official small: 4).</summary>
    [Range(1, 256)] public int Experts { get; init; } = 4;

    /// <summary>Experts per routing unit k (official: 1).</summary>
    [Range(1, 256)] public int TopK { get; init; } = 1;

    /// <summary>Renormalise the top-k probabilities (the paper-time code: with top-1 this makes g ≡ 1 and the
    /// router gets no task gradient). false (ours, and the official code since June 2026): keep the raw
    /// softmax probability as the gate.</summary>
    public bool Renormalize { get; init; } = false;

    /// <summary>Dropout (embedding, attention weights, experts, head; official 0.2).</summary>
    [Range(0.0, 0.95)] public double Dropout { get; init; } = 0.2;

    /// <summary>Largest drop-path rate (official 0.3, rising from 0 over the layers).</summary>
    [Range(0.0, 0.95)] public double DropPath { get; init; } = 0.3;

    /// <summary>Hidden width of the dense arm's FFN; 0 = 2·d_ff, which matches the active parameters of a
    /// top-1 token MoE layer with its shared expert (one routed expert + one shared expert of d_ff each).</summary>
    [Range(0, 1_000_000)] public int DenseHidden { get; init; } = 0;
}

public sealed record SegMoeTrainConfig
{
    /// <summary>Largest number of epochs (an epoch = one pass over the training windows; official: early stopping decides).</summary>
    [Range(1, 10_000)] public int Epochs { get; init; } = 100;

    /// <summary>Cap on optimiser steps per arm (0 = none): keeps CPU presets bounded.</summary>
    [Range(0, 100_000_000)] public int MaxSteps { get; init; } = 0;

    /// <summary>Series (windows) per batch; each window holds all C channels.</summary>
    [Range(1, 65_536)] public int BatchSize { get; init; } = 32;

    /// <summary>Peak learning rate (official 3.2e-4).</summary>
    [Range(1e-7, 1.0)] public double Lr { get; init; } = 3.2e-4;

    /// <summary>Final learning rate of the cosine (official 1.2e-5).</summary>
    [Range(0.0, 1.0)] public double MinLr { get; init; } = 1.2e-5;

    /// <summary>Share of steps spent warming up (official 10 %).</summary>
    [Range(0.0, 0.9)] public double WarmupFraction { get; init; } = 0.1;

    /// <summary>AdamW weight decay (official 0.1).</summary>
    [Range(0.0, 10.0)] public double WeightDecay { get; init; } = 0.1;

    /// <summary>Evaluations without improvement before stopping (official 5).</summary>
    [Range(0, 10_000)] public int Patience { get; init; } = 5;

    /// <summary>Validate every N steps; 0 = once per epoch.</summary>
    [Range(0, 1_000_000)] public int EvalEvery { get; init; } = 0;

    /// <summary>Weight α of the balance loss (official 0.02).</summary>
    [Range(0.0, 10.0)] public double BalanceWeight { get; init; } = 0.02;

    /// <summary>δ of the Huber training loss (official 2.0).</summary>
    [Range(1e-6, 100.0)] public double HuberDelta { get; init; } = 2.0;

    /// <summary>Gradient-norm clipping (ours: 1.0; 0 = none).</summary>
    [Range(0.0, 1000.0)] public double ClipNorm { get; init; } = 1.0;

    [Range(1, 1_000_000)] public int LogEvery { get; init; } = 20;

    /// <summary>Checkpoint every N steps within an arm (0 = only at the end and on cancellation).</summary>
    [Range(0, 1_000_000)] public int CheckpointEvery { get; init; } = 200;

    /// <summary>Windows per evaluation batch.</summary>
    [Range(1, 65_536)] public int EvalBatchSize { get; init; } = 64;
}
