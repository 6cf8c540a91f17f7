using System.Text.Json;
using MoeLab.Experiments.Papers.MoeContinualLearning;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Papers.MoeContinualLearning;

public class MoeContinualLearningExperimentTests
{
    [Fact]
    public void SmokePresetRunsEndToEnd()
    {
        IExperiment experiment = new MoeContinualLearningExperiment();
        Assert.Equal("moe-continual-learning", experiment.Name);
        Assert.Contains("smoke", experiment.Presets.Keys);
        Assert.Contains("cpu", experiment.Presets.Keys);
        Assert.Contains("paper", experiment.Presets.Keys);
        var config = experiment.Presets["smoke"];
        Assert.Empty(experiment.Validate(config));

        var context = new InMemoryRunContext("moe-continual-learning", "smoke", 1);
        experiment.Run(config, context);

        // Arms: M=1, M=3 (expert count) and x=1.25, no-termination (termination study).
        Assert.Equal(new[] { "M=1", "M=3", "no-termination", "x=1.25" }, context.SummaryByArm.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (arm, (_, values, labels)) in context.SummaryByArm)
        {
            Assert.True(double.IsFinite(values["final_forgetting_mean"]), arm);
            Assert.True(values["final_generalisation_mean"] > 0 && double.IsFinite(values["final_generalisation_mean"]), arm);
            Assert.Equal(2, values["repetitions"]);
            Assert.NotNull(labels);
            Assert.Contains(labels!["study"], new[] { "expert-count", "termination" });
        }
        Assert.Equal(0.0, context.SummaryByArm["no-termination"].Values["termination_rate"]);
        // Curves: 1 + 200/20 points per arm.
        Assert.Equal(11, context.Metrics.Where(m => m.Arm == "M=3").Select(m => m.Step).Distinct().Count());
        Assert.Equal(200, context.Metrics.Where(m => m.Arm == "M=3").Max(m => m.Step));
        Assert.Contains("expert-count_forgetting", context.Figures.Keys);
        Assert.Contains("termination_generalisation", context.Figures.Keys);
        Assert.Contains("expert-count_assignment_task_M-3", context.Figures.Keys);
        Assert.Contains("termination_rounds", context.Figures.Keys);
        Assert.Equal(3, context.Tables["expert-count_assignment_cluster_M-3"].Rows.Count);
        Assert.Equal(8, context.Tables["final_errors"].Rows.Count);
        // Assignment counts add up to the rounds of repetition 0.
        var table = context.Tables["expert-count_assignment_task_M-3"];
        long total = 0;
        for (int c = 1; c < table.Columns.Count; c++) for (long r = 0; r < table.Rows.Count; r++) total += Convert.ToInt64(table.Columns[c][r]);
        Assert.Equal(200, total);
        // Figures serialise to plotly JSON.
        using var doc = JsonDocument.Parse(global::MoeLab.Experiments.Plotting.ChartPage.FigureJson(context.Figures["expert-count_generalisation"]));
        Assert.True(doc.RootElement.GetProperty("data").GetArrayLength() >= 2);
    }

    [Fact]
    public void SameSeedSameSummary()
    {
        var experiment = new MoeContinualLearningExperiment();
        var a = new InMemoryRunContext("moe-continual-learning", "smoke", 7); var b = new InMemoryRunContext("moe-continual-learning", "smoke", 7);
        experiment.Run(MoeContinualLearningExperiment.Smoke, a);
        experiment.Run(MoeContinualLearningExperiment.Smoke, b);
        foreach (var arm in a.SummaryByArm.Keys)
            Assert.Equal(a.SummaryByArm[arm].Values["final_generalisation_mean"], b.SummaryByArm[arm].Values["final_generalisation_mean"]);
    }

    [Fact]
    public void InvalidConfigNamesTheKey()
    {
        var experiment = new MoeContinualLearningExperiment();
        var bad = MoeContinualLearningExperiment.Smoke with
        {
            ExpertCount = MoeContinualLearningExperiment.Smoke.ExpertCount with { Experts = new[] { 0 } },
            Termination = MoeContinualLearningExperiment.Smoke.Termination with
            {
                Pool = MoeContinualLearningExperiment.Smoke.Termination.Pool with { Samples = 10 },
            },
        };
        var errors = experiment.Validate(bad);
        Assert.Contains(errors, e => e.StartsWith("expertCount.experts"));
        Assert.Contains(errors, e => e.StartsWith("termination.pool.samples = 10"));
        Assert.Throws<ArgumentException>(() => experiment.Run(bad, new InMemoryRunContext("moe-continual-learning", "smoke", 1)));
    }
}
