using System.CommandLine;
using System.CommandLine.Help;
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

    /// <summary>The command tree. A plain <see cref="Command"/> named "moelab" (a RootCommand takes
    /// its name from the executable, which is MoeLab.Experiments), with the help and version options
    /// a RootCommand would add.</summary>
    public static Command BuildRoot()
    {
        var root = new Command("moelab", "MoeLab: reproductions of Mixture-of-Experts papers in .NET.");
        root.Options.Add(new HelpOption());
        root.Options.Add(new VersionOption());
        root.Subcommands.Add(ListCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(SweepCommand.Create());
        root.Subcommands.Add(SweepStatusCommand.Create());
        root.Subcommands.Add(SweepResubmitCommand.Create());
        root.Subcommands.Add(SweepTaskCommand.Create());
        root.Subcommands.Add(LabCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(ReportCommand.Create());
        root.Subcommands.Add(FiguresCommand.Create());
        root.Subcommands.Add(TableCommand.Create());
        root.Subcommands.Add(NotebookCommand.Create());
        root.Subcommands.Add(KernelCommand.Create());
        return root;
    }
}
