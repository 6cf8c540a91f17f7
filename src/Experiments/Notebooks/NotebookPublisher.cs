using System.Diagnostics;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Notebooks;

/// <summary>Publishes the MoeLab library with all its dependencies into one folder (by default
/// notebooks/lib/, git-ignored) that a notebook's first cell references with
/// <c>#r "lib/MoeLab.Experiments.dll"</c>. It runs <c>dotnet publish</c> for linux-x64 (or the
/// given runtime), which puts TorchSharp's natives flat beside TorchSharp.dll and, on hosts that
/// need it, patches libLibTorchSharp.so (Directory.Build.targets).</summary>
public static class NotebookPublisher
{
    /// <summary>The arguments of the publish command.</summary>
    public static IReadOnlyList<string> PublishArguments(string repoRoot, string outputDirectory, string configuration, string runtime, string? extraMsbuildArguments = null)
    {
        var args = new List<string>
        {
            "publish", Path.Combine(repoRoot, "src", "Experiments", "MoeLab.Experiments.csproj"),
            "-c", configuration, "-r", runtime, "--self-contained", "false", "-o", outputDirectory, "-nologo",
        };
        if (!string.IsNullOrWhiteSpace(extraMsbuildArguments))
            args.AddRange(extraMsbuildArguments.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return args;
    }

    /// <summary>Runs the publish; returns the process exit code (0 = success, and the folder holds
    /// MoeLab.Experiments.dll and TorchSharp.dll).</summary>
    public static int Publish(string repoRoot, string outputDirectory, string configuration, string runtime, TextWriter log, string? extraMsbuildArguments = null)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false };
        foreach (var a in PublishArguments(repoRoot, outputDirectory, configuration, runtime, extraMsbuildArguments)) psi.ArgumentList.Add(a);
        log.WriteLine("dotnet " + string.Join(' ', psi.ArgumentList));
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start `dotnet`");
        process.WaitForExit();
        if (process.ExitCode != 0) return process.ExitCode;
        foreach (var required in new[] { "MoeLab.Experiments.dll", "TorchSharp.dll" })
            if (!File.Exists(Path.Combine(outputDirectory, required)))
            {
                log.WriteLine($"publish finished but {Path.Combine(outputDirectory, required)} is missing");
                return 1;
            }
        MoveFSharpCore(outputDirectory, log);
        return 0;
    }

    /// <summary>Moves FSharp.Core.dll into the <see cref="FSharpCoreBinding.SubFolder"/> sub-folder,
    /// where script hosts do not probe, so that a host holding its own FSharp.Core 10.x (the .NET
    /// Interactive kernel) keeps one FSharp.Core in the process; <see cref="FSharpCoreBinding"/>
    /// answers FSharp.Core requests from there.</summary>
    public static void MoveFSharpCore(string outputDirectory, TextWriter log)
    {
        string published = Path.Combine(outputDirectory, "FSharp.Core.dll");
        if (!File.Exists(published)) return;
        string folder = Path.Combine(outputDirectory, FSharpCoreBinding.SubFolder);
        Directory.CreateDirectory(folder);
        File.Move(published, Path.Combine(folder, "FSharp.Core.dll"), overwrite: true);
        log.WriteLine($"moved FSharp.Core.dll to {Path.Combine(folder, "FSharp.Core.dll")} (see FSharpCoreBinding)");
    }

    /// <summary>Default output folder: &lt;repo&gt;/notebooks/lib.</summary>
    public static string DefaultOutput(string repoRoot) => Path.Combine(repoRoot, "notebooks", "lib");

    /// <summary>The repository root (folder holding Experiments.sln) from the current directory or
    /// the program's folder; null when neither lies inside a MoeLab checkout.</summary>
    public static string? FindRepoRoot() =>
        RunLayout.FindRepoRoot(Directory.GetCurrentDirectory()) ?? RunLayout.FindRepoRoot(AppContext.BaseDirectory);
}
