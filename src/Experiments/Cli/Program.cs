using System.CommandLine;

namespace MoeLab.Experiments.Cli;

/// <summary>Entry point of the `moelab` command. Each sub-command lives in its own file and is
/// added here.</summary>
public static class Program
{
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("MoeLab: reproductions of Mixture-of-Experts papers in .NET.");
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(Papers.DynaMoE.DynaMoeCommand.Create());
        return root;
    }
}
