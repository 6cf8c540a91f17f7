using System.Globalization;
using System.Text;
using MoeLab.Experiments.Papers.MoeContinualLearning;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Papers.MoeContinualLearning;

/// <summary>Runs the cpu preset once (a minute or two) and writes its summary as CSV to
/// $MOELAB_CL_SUMMARY when set. Slow: excluded from the default test run.</summary>
public class MoeContinualLearningCpuPresetTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public void CpuPresetRunsAndEveryArmHasFiniteErrors()
    {
        var experiment = new MoeContinualLearningExperiment();
        var context = new InMemoryRunContext("moe-continual-learning", "cpu", 0);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        experiment.Run(MoeContinualLearningExperiment.Cpu, context);
        watch.Stop();
        Assert.Equal(4 + 5, context.Summary.Count);
        foreach (var (arm, (_, values, _)) in context.SummaryByArm)
        {
            Assert.True(double.IsFinite(values["final_generalisation_mean"]), arm);
            Assert.True(values["repetitions"] >= 20, arm);
        }
        string? path = Environment.GetEnvironmentVariable("MOELAB_CL_SUMMARY");
        if (path is null) return;
        var keys = context.SummaryByArm.First().Value.Values.Keys.ToList();
        var sb = new StringBuilder("arm,study," + string.Join(",", keys) + "\n");
        foreach (var (arm, (_, values, labels)) in context.SummaryByArm)
            sb.Append(arm).Append(',').Append(labels!["study"]).Append(',')
              .AppendLine(string.Join(",", keys.Select(k => values[k].ToString("G6", CultureInfo.InvariantCulture))));
        sb.AppendLine($"# wall seconds: {watch.Elapsed.TotalSeconds:F1}");
        foreach (var line in context.LogLines) sb.AppendLine("# " + line);
        File.WriteAllText(path, sb.ToString());
        string dir = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "figures");
        foreach (var (name, chart) in context.Figures) MoeLab.Experiments.Plotting.ChartPage.Save(chart, Path.Combine(dir, name + ".html"));
    }
}
