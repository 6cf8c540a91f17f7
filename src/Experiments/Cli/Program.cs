using System.CommandLine;
using MoeLab.Experiments.Runtime;
using Spectre.Console;

namespace MoeLab.Experiments.Cli;

/// <summary>Entry point of the `moelab` command. Each sub-command lives in its own file and is
/// added here.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // Redirected output (CI logs): wide tables, no live widgets (ConsoleProgress prints plain lines).
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200;
        return BuildRoot().Parse(args).Invoke();
    }

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("MoeLab: reproductions of Mixture-of-Experts papers in .NET.");
        root.Subcommands.Add(ListCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(SweepCommand.Create());
        root.Subcommands.Add(LabCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(ReportCommand.Create());
        root.Subcommands.Add(FiguresCommand.Create());
        root.Subcommands.Add(NotebookCommand.Create());
        return root;
    }
}
