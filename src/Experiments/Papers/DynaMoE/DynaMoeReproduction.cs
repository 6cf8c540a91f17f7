using System.Globalization;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Reproductions;
using MoeLab.Experiments.Results;
using MoeLab.Metrics.Statistics;
using Plotly.NET;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>DynaMoE's image-classification claims and figures (<c>dynamoe-images</c>), from saved runs.</summary>
public sealed class DynaMoeImagesReproduction : IPaperReproduction
{
    public string Paper => "DynaMoE: dynamic expert activation and layer-wise capacity schedules (arXiv 2603.01697), image classification";

    public IReadOnlyList<string> Experiments { get; } = ["dynamoe-images"];

    public IReadOnlyList<string>? SummaryColumns { get; } =
        ["test_accuracy", "val_accuracy", "experts_per_token_mean", "experts_per_token_std", "grad_relvar_init", "grad_relvar_final"];

    public IReadOnlyList<ClaimDeclaration> Claims { get; } =
    [
        new ClaimDeclaration("descending-beats-uniform",
            "A descending capacity schedule (more experts in early layers) beats a uniform one on image classification.",
            "up to +5.47 % accuracy (abstract; data set and sizes not given)",
            "test accuracy of descending − uniform (both batch-wide percentile routing, budget-matched: 32 experts in total), " +
            "paired by seed, in percentage points, mean ± sd. Reproduced when the gain exceeds two standard errors; " +
            "partly when positive but within them; not reproduced when ≤ 0.",
            r => PairedComparison.Better(PairedComparison.PairedDifferences(r, "test_accuracy", "descending-batch-matched", "uniform-batch-matched"),
                higherIsBetter: true, "descending − uniform (pp)", 100, "pp")),
        new ClaimDeclaration("dynamic-lowers-gradient-variance",
            "Dynamic expert activation lowers the variance of the gradients.",
            "qualitative (abstract); no number",
            "relative variance of minibatch gradient norms after training (variance / mean², 10 minibatches at fixed weights), " +
            "uniform batch-percentile (dynamic) − uniform top-2 (fixed), paired by seed. Reproduced when lower by more than two " +
            "standard errors; partly when lower within them; not reproduced when not lower.",
            r => PairedComparison.Better(PairedComparison.PairedDifferences(r, "grad_relvar_final", "uniform-batch-matched", "uniform-top2"),
                higherIsBetter: false, "dynamic − fixed", 1, "")),
    ];

    public IReadOnlyList<PaperFigure> Figures { get; } =
    [
        new PaperFigure("schedule-comparison", "Test accuracy by capacity schedule and budget mode, with the baselines (mean ± sd over seeds).",
            r => DynaMoeReport.ScheduleChart(r, "accuracy")),
        new PaperFigure("experts-per-token", "Distribution of the number of experts a test token activates (all layers and seeds pooled): fixed routers give one bar, dynamic ones spread.",
            r => DynaMoeReport.ExpertsPerTokenChart(r, ["uniform-top2", "uniform-token-matched", "uniform-batch-matched", "descending-batch-matched", "uniform-top-p"])),
    ];
}

/// <summary>DynaMoE's language-modelling claims and figures (<c>dynamoe-lm</c>), from saved runs.</summary>
public sealed class DynaMoeLmReproduction : IPaperReproduction
{
    public string Paper => "DynaMoE: dynamic expert activation and layer-wise capacity schedules (arXiv 2603.01697), language modelling";

    public IReadOnlyList<string> Experiments { get; } = ["dynamoe-lm"];

    public IReadOnlyList<string>? SummaryColumns { get; } =
        ["test_perplexity", "val_perplexity", "experts_per_token_mean", "experts_per_token_std", "grad_relvar_final"];

    public IReadOnlyList<ClaimDeclaration> Claims { get; } =
    [
        new ClaimDeclaration("lm-descending-beats-uniform",
            "In the smallest LM, descending capacity beats uniform.",
            "Tiny: 1011.80 vs 1078.31 test perplexity (abstract; Recycling-the-Web)",
            "test perplexity of descending − uniform (batch percentile per position, budget-matched), paired by seed, " +
            "on our substitute corpus (.NET API docs). Reproduced when lower by more than two standard errors.",
            r => PairedComparison.Better(PairedComparison.PairedDifferences(r, "test_perplexity", "descending-batch-matched", "uniform-batch-matched"),
                higherIsBetter: false, "descending − uniform", 1, "")),
        new ClaimDeclaration("lm-ascending-vs-dense",
            "In a larger LM, ascending capacity is marginally better than a dense MLP.",
            "Small: 2308.29 (ascending) vs 2311.02 (dense) test perplexity (abstract)",
            "test perplexity of ascending − dense (the dense MLP has top-2's active parameters), paired by seed; same rule. " +
            "Our model is the smaller one (≈0.3M parameters), so this is a weak test of the Small-model claim.",
            r => PairedComparison.Better(PairedComparison.PairedDifferences(r, "test_perplexity", "ascending-batch-matched", "dense"),
                higherIsBetter: false, "ascending − dense", 1, "")),
    ];

    public IReadOnlyList<PaperFigure> Figures { get; } =
    [
        new PaperFigure("schedule-comparison", "Test perplexity by capacity schedule, with the baselines (mean ± sd over seeds, log axis).",
            r => DynaMoeReport.ScheduleChart(r, "perplexity")),
        new PaperFigure("validation-curves", "Validation perplexity during training (mean ± sd over seeds): whether the budget reaches the flat part.",
            r => Charts.HistoryBands(r.History, "val_perplexity", ["arm"], title: "DynaMoE LM: validation perplexity during training",
                xTitle: "optimiser step", yType: "log", yTitle: "validation perplexity (log scale)")),
    ];
}
