using System.ComponentModel.DataAnnotations;
using MoeLab.Experiments.Training;

namespace MoeLab.Experiments.Papers.ChainOfExperts;

/// <summary>Which corpus a Chain-of-Experts run trains on.</summary>
public enum CoeCorpus
{
    /// <summary>Generated arithmetic word problems with worked solutions ("query : … response : …"),
    /// our offline stand-in for MetaMathQA; held-out problems state only numbers never stated in training.</summary>
    Arithmetic,

    /// <summary>English prose of the .NET SDK's API documentation (a second, unrelated corpus).</summary>
    DotNetDocs,
}

/// <summary>Config of <see cref="ChainOfExpertsExperiment"/> (arXiv 2506.18945).</summary>
public sealed record ChainOfExpertsConfig
{
    public CoeDataConfig Data { get; init; } = new();
    public CoeModelConfig Model { get; init; } = new();
    public CoeTrainConfig Train { get; init; } = new();

    /// <summary>Arms to train, in order (names: <see cref="ChainOfExpertsArm.AllNames"/>). Every arm sees
    /// the same data order, the same initialisation seed, steps and optimiser. One arm per run gives a clean
    /// per-arm peak memory (the process's peak resident set).</summary>
    public string[] Arms { get; init; } = ChainOfExpertsArm.AllNames.ToArray();
}

public sealed record CoeDataConfig
{
    /// <summary>Arithmetic problems (default) or .NET API docs.</summary>
    public CoeCorpus Corpus { get; init; } = CoeCorpus.Arithmetic;

    /// <summary>Training problems generated (ours: more than the cpu preset reads, so no window repeats).</summary>
    [Range(10, 10_000_000)] public int TrainProblems { get; init; } = 20_000;

    /// <summary>Held-out problems (the paper holds out 1,000 MetaMathQA examples).</summary>
    [Range(10, 1_000_000)] public int HeldOutProblems { get; init; } = 1_000;

    /// <summary>Seed of the generator (fixed across run seeds: every seed trains on the same corpus).</summary>
    [Range(0, int.MaxValue)] public int GeneratorSeed { get; init; } = 13;

    /// <summary>.NET docs: documents used (split by document).</summary>
    [Range(10, 1_000_000)] public int Documents { get; init; } = 3_000;

    /// <summary>.NET docs: share of documents held out for validation.</summary>
    [Range(0.01, 0.5)] public double ValidationFraction { get; init; } = 0.1;

    /// <summary>.NET docs: shortest document kept (characters).</summary>
    [Range(0, 100_000)] public int MinDocumentCharacters { get; init; } = 200;

    /// <summary>Tokens per training window (the issue's ≈128; the paper packs 512).</summary>
    [Range(4, 8192)] public int SequenceLength { get; init; } = 128;
}

/// <summary>The base model: decoder LM, every layer MoE/CoE. Arms derive their slot from it.</summary>
public sealed record CoeModelConfig
{
    /// <summary>Width d (paper 1024; ours 128, the low end of the 128–256, for 2 CPU cores).</summary>
    [Range(8, 8192)] public int DModel { get; init; } = 128;

    /// <summary>Decoder layers L of the base arms (paper 4; ours 2 so that the 3×-layers arm has 6).</summary>
    [Range(1, 64)] public int Layers { get; init; } = 2;

    /// <summary>Attention heads (paper 8 MLA heads; ours plain multi-head attention with RoPE).</summary>
    [Range(1, 64)] public int Heads { get; init; } = 4;

    /// <summary>Routed fine-grained experts N (paper 63 routed + 1 shared = 64; ours 32 + 1 shared).</summary>
    [Range(2, 1024)] public int Experts { get; init; } = 32;

    /// <summary>N of the "fewer experts" arm (paper 48 of 64 = −25 % experts, ≈ −17.6 % memory; ours 24 of 32).</summary>
    [Range(2, 1024)] public int FewerExperts { get; init; } = 24;

    /// <summary>Hidden width of one SwiGLU expert (paper 704 = 0.69·d; ours 64 = 0.5·d).</summary>
    [Range(1, 65_536)] public int ExpertHidden { get; init; } = 64;

    /// <summary>K of the MoE(K) baseline (paper 8 of 64; ours 4 of 32, the same K/N = 1/8). Must be even
    /// (the equal-compute CoE arm uses K/2 per iteration).</summary>
    [Range(2, 1024)] public int K { get; init; } = 4;

    /// <summary>Shared experts, always on and applied at every iteration (paper 1).</summary>
    [Range(0, 16)] public int SharedExperts { get; init; } = 1;

    /// <summary>α of the sequence-level balance loss, per router, per iteration, per layer (official code 0.001).</summary>
    [Range(0.0, 1.0)] public double BalanceWeight { get; init; } = 0.001;
}

public sealed record CoeTrainConfig
{
    /// <summary>Optimiser steps (paper 1,000).</summary>
    [Range(1, 10_000_000)] public int Steps { get; init; } = 300;

    /// <summary>Sequences per step (paper 64 × 512 tokens).</summary>
    [Range(1, 65_536)] public int BatchSize { get; init; } = 16;

    /// <summary>AdamW (official: lr 3e-4, betas 0.9/0.95, weight decay 0.01).</summary>
    public OptimizerSettings Optimizer { get; init; } = new() { Lr = 3e-4, Beta2 = 0.95, WeightDecay = 0.01 };

    /// <summary>Warm-up share of the steps, then constant (official: 10 %).</summary>
    [Range(0.0, 1.0)] public double WarmupFraction { get; init; } = 0.1;

    /// <summary>Global gradient-norm clip (official 1.0).</summary>
    [Range(0.0, 1e6)] public double ClipNorm { get; init; } = 1.0;

    [Range(1, 1_000_000)] public int LogEvery { get; init; } = 10;

    /// <summary>Held-out evaluation every N steps (and after the last).</summary>
    [Range(1, 1_000_000)] public int EvalEvery { get; init; } = 50;

    /// <summary>Sequences per evaluation batch.</summary>
    [Range(1, 65_536)] public int EvalBatchSize { get; init; } = 32;

    /// <summary>Checkpoint every N steps (0 = only on interruption and at the end of each arm).</summary>
    [Range(0, 1_000_000)] public int CheckpointEvery { get; init; } = 100;
}
