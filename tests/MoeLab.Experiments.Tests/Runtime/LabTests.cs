using System.CommandLine;
using MoeLab.Experiments.Cli;

namespace MoeLab.Experiments.Tests.Runtime;

public class LabTests
{
    [Fact]
    public void Lab_calls_the_report_command_once_per_experiment_with_the_results_root()
    {
        var calls = new List<(string Experiment, string? Results)>();
        var root = new RootCommand("test");
        var experiment = new Argument<string>("experiment");
        var results = new Option<string?>("--results");
        var report = new Command("report") { experiment, results };
        report.SetAction(pr =>
        {
            calls.Add((pr.GetValue(experiment)!, pr.GetValue(results)));
            return 0;
        });
        root.Subcommands.Add(report);

        Assert.Equal(0, LabCommand.BuildReports(root, ["a", "b"], "/tmp/r"));
        Assert.Equal(new[] { ("a", (string?)"/tmp/r"), ("b", (string?)"/tmp/r") }, calls);
    }

    [Fact]
    public void Lab_without_a_report_command_says_so_and_succeeds()
    {
        Assert.Equal(0, LabCommand.BuildReports(new RootCommand("test"), ["a"], "/tmp/r"));
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
