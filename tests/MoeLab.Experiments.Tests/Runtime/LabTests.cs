using System.CommandLine;
using MoeLab.Experiments.Cli;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

public class LabTests
{
    [Fact]
    public void Lab_writes_one_report_per_experiment_through_the_report_builder()
    {
        using var dir = new TempDir();
        foreach (int seed in new[] { 0, 1 })
            ExperimentRunner.Run(Toy.Experiment, Toy.Smoke(), seed, new RunOptions { ResultsRoot = dir.Path, Device = "cpu" });
        var output = new StringWriter();
        Assert.Equal(0, LabCommand.BuildReports(["toy-regression"], dir.Path, output, TextWriter.Null));
        Assert.True(File.Exists(Path.Combine(dir.Path, "toy-regression", "report.html")));
        Assert.Contains("2 run(s)", output.ToString());
        // An experiment without results is bad input for the report: the lab passes the code on.
        Assert.Equal(2, LabCommand.BuildReports(["toy-regression", "no-such-experiment"], dir.Path, TextWriter.Null, TextWriter.Null));
    }

    [Fact]
    public void Every_command_has_help()
    {
        var root = Program.BuildRoot();
        foreach (string name in new[] { "list", "run", "sweep", "lab" })
        {
            var cmd = root.Subcommands.Single(c => c.Name == name);
            Assert.False(string.IsNullOrWhiteSpace(cmd.Description));
            Assert.All(cmd.Options.Where(o => o.Name != "--help" && o.Name != "-?"), o => Assert.False(string.IsNullOrWhiteSpace(o.Description), $"{name} {o.Name}"));
            Assert.Equal(0, root.Parse([name, "--help"]).Invoke());
        }
    }
}
