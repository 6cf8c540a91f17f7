using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.RegularExpressions;

namespace MoeLab.Experiments.Papers.EfficiencyLeverage;

/// <summary>Config of <see cref="EfficiencyLeverageExperiment"/>: tiny dense and MoE decoder LMs over a grid
/// of compute budget × (granularity, activation ratio). Values are ours (the paper trains 300+ models from
/// 3e18 FLOPs up; nothing of that scale runs on a CPU) unless marked.</summary>
public sealed record EfficiencyLeverageConfig
{
    public ElDataConfig Data { get; init; } = new();
    public ElModelConfig Model { get; init; } = new();
    public ElGridConfig Grid { get; init; } = new();
    public ElTrainConfig Train { get; init; } = new();
}

/// <summary>The corpus: .NET SDK API documentation, GPT-2 BPE, compact vocabulary (the lab's
/// <c>BpeCorpus</c>; the paper trains on its own web-scale corpus).</summary>
public sealed record ElDataConfig
{
    /// <summary>Documents kept after a seeded shuffle (ours: 3,000 of the ≈ 3,070 the SDK ships, ≈ 1.0M training
    /// tokens, so the largest cpu budget reads each window about once).</summary>
    [Range(3, 1_000_000)] public int Documents { get; init; } = 3_000;

    /// <summary>Shortest document kept, in characters.</summary>
    [Range(1, 1_000_000)] public int MinDocumentCharacters { get; init; } = 200;

    /// <summary>Training sequence length s (ours: short, so attention is a small share of compute).</summary>
    [Range(2, 4096)] public int SequenceLength { get; init; } = 64;

    [Range(0.001, 0.5)] public double ValidationFraction { get; init; } = 0.1;
    [Range(0.001, 0.5)] public double TestFraction { get; init; } = 0.05;

    /// <summary>Seed of the document shuffle (fixed across run seeds: every run sees the same split).</summary>
    public long CorpusSeed { get; init; } = 20250723;

    /// <summary>Vocabulary cap: the 2,047 most frequent training BPE ids + &lt;unk&gt; (ours: with the full
    /// compact vocabulary of ≈ 10k ids the logits alone would be most of a tiny model's compute; the cap
    /// brings the FFN share closer to a real LM's). Unknown-token rates are logged.</summary>
    [Range(2, 1_000_000)] public int Vocabulary { get; init; } = 2048;

    /// <summary>Validation windows evaluated per arm (the first ones of the split; all arms the same).</summary>
    [Range(1, 1_000_000)] public int ValidationWindows { get; init; } = 512;
}

/// <summary>The decoder shared by all arms (our <c>DecoderLanguageModel</c>): pre-norm, RoPE, tied
/// embeddings, GELU feed-forward.</summary>
public sealed record ElModelConfig
{
    /// <summary>Blocks L.</summary>
    [Range(1, 64)] public int Layers { get; init; } = 2;

    /// <summary>Head width d_h; heads = d / d_h.</summary>
    [Range(1, 512)] public int HeadDim { get; init; } = 16;

    /// <summary>Dense FFN width as a multiple of d (d_ff = r·d). Every MoE arm activates the same width
    /// (E_a·d_expert = r·d, no shared expert), so dense and MoE arms of a budget have the same per-token
    /// FFN compute. r = 2 makes E_a = G (since d_expert = 2d/G): ours, to keep expert counts CPU-sized.</summary>
    [Range(1, 16)] public int FeedForwardRatio { get; init; } = 2;

    /// <summary>Switch load-balancing loss weight (0.01: Switch Transformer; the paper uses an auxiliary
    /// balance loss as well, weight not stated).</summary>
    [Range(0.0, 10.0)] public double LoadBalancingWeight { get; init; } = 0.01;
}

/// <summary>The grid. Budget i has width <see cref="Widths"/>[i] and <see cref="Steps"/>[i] optimiser steps
/// for every family (equal tokens at a budget, so equal compute up to the router's FLOPs).</summary>
public sealed record ElGridConfig
{
    /// <summary>Model width d per compute budget.</summary>
    public int[] Widths { get; init; } = [32, 48, 64, 96, 128];

    /// <summary>Optimiser steps per compute budget (tokens = steps · batch · s).</summary>
    public int[] Steps { get; init; } = [100, 200, 400, 700, 1000];

    /// <summary>MoE arms "G{granularity}-E{routed experts}": expert width 2d/G, E_a = r·G/2 active
    /// (top-k), activation ratio A = E_a/E (no shared experts, so all three conventions agree). The first
    /// arm is the one the MoE learning rate is tuned on.</summary>
    public string[] MoeArms { get; init; } = ["G2-E8", "G2-E4", "G2-E16", "G1-E4", "G4-E16", "G8-E32", "G16-E64"];

    /// <summary>Seeds per grid point (the dense law and every measured EL rest on these).</summary>
    [Range(1, 100)] public int SeedsPerPoint { get; init; } = 2;

    /// <summary>Peak learning rates tried per family (dense; MoE = the first MoE arm) at budget
    /// <see cref="TuneBudget"/>, first seed; the lowest validation loss picks the family's rate for the whole grid.</summary>
    public double[] LrGrid { get; init; } = [5e-3, 1e-2, 2e-2, 4e-2];

    /// <summary>Index of the budget the learning rates are tuned at (ours: the middle one, so the chosen rate
    /// is not one that only suits the shortest runs; the earlier grid tuned at its smallest budget of 40 steps
    /// and picked its largest rate).</summary>
    [Range(0, 63)] public int TuneBudget { get; init; } = 2;

    /// <summary>Split the grid over several runs (a sweep: --grid grid.shard=0,1,2): this run trains arms
    /// i with i mod Shards = Shard; the fits then need all shards' runs together (the notebook loads
    /// them). 1 = one run trains and fits everything.</summary>
    [Range(1, 1000)] public int Shards { get; init; } = 1;

    [Range(0, 999)] public int Shard { get; init; } = 0;
}

public sealed record ElTrainConfig
{
    /// <summary>Sequences per step.</summary>
    [Range(1, 4096)] public int BatchSize { get; init; } = 16;

    /// <summary>Warm-up as a fraction of the steps, then cosine decay to 10 % of the peak.</summary>
    [Range(0.0, 1.0)] public double WarmupFraction { get; init; } = 0.1;

    /// <summary>AdamW weight decay.</summary>
    [Range(0.0, 10.0)] public double WeightDecay { get; init; } = 0.01;

    /// <summary>Gradient clipping.</summary>
    [Range(0.0, 1e6)] public double ClipNorm { get; init; } = 1.0;

    [Range(1, 1_000_000)] public int LogEvery { get; init; } = 25;
}

/// <summary>One MoE arm of the grid, parsed from "G{g}-E{e}".</summary>
public sealed partial record MoeArmSpec(int Granularity, int Experts)
{
    public string Name => $"G{Granularity}-E{Experts}";

    /// <summary>Active routed experts E_a = r·G/2 (same active FFN width as the dense arm).</summary>
    public int Active(int ratio) => ratio * Granularity / 2;

    /// <summary>Expert width 2d/G.</summary>
    public int ExpertHidden(int dModel) => 2 * dModel / Granularity;

    public static MoeArmSpec Parse(string text)
    {
        var m = Pattern().Match(text.Trim());
        if (!m.Success)
            throw new FormatException($"'grid.moeArms' entry '{text}': expected G<granularity>-E<routed experts>, e.g. G4-E16.");
        return new MoeArmSpec(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^G(\d+)-E(\d+)$")]
    private static partial Regex Pattern();
}
