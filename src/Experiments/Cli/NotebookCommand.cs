using System.CommandLine;
using MoeLab.Experiments.Notebooks;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab notebook run|publish`: executes .ipynb notebooks headlessly and publishes the
/// library folder notebooks reference.</summary>
public static class NotebookCommand
{
    public static Command Create()
    {
        var cmd = new Command("notebook", "Run notebooks headlessly; publish the library for notebook front ends.");
        cmd.Subcommands.Add(CreateRun());
        cmd.Subcommands.Add(CreatePublish());
        cmd.Subcommands.Add(CreateParameterize());
        return cmd;
    }

    /// <summary>`notebook parameterize`: only the injection step of `notebook run`, so that a notebook
    /// front end or another client (nbclient, the MoeLab kernel in CI) runs it with the same values.</summary>
    static Command CreateParameterize()
    {
        var file = new Argument<FileInfo>("notebook") { Description = "The .ipynb file." };
        var preset = new Option<string?>("--preset") { Description = "Injected as the parameter `preset`." };
        var parameters = new Option<string[]>("--parameter", "-p")
        {
            Description = "key=value injected after the cell tagged `parameters` (repeatable).",
            DefaultValueFactory = _ => Array.Empty<string>(),
        };
        var output = new Option<FileInfo>("--out", "-o") { Description = "Where to write the parameterized notebook.", Required = true };
        var cmd = new Command("parameterize", "Write a copy of a notebook with parameters injected papermill-style (as `notebook run` does), without running it.");
        cmd.Arguments.Add(file);
        foreach (var o in new Option[] { preset, parameters, output }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            var source = parse.GetValue(file)!;
            try
            {
                var notebook = Notebook.Load(source.FullName);
                var values = (parse.GetValue(parameters) ?? Array.Empty<string>()).Select(NotebookParameters.ParseAssignment).ToList();
                if (parse.GetValue(preset) is { } p) values.Add(new("preset", p));
                NotebookParameters.Inject(notebook, values, w => Console.Error.WriteLine($"{source.Name}: warning: {w}"));
                string outPath = parse.GetValue(output)!.FullName;
                notebook.Save(outPath);
                Console.Error.WriteLine($"wrote {outPath}");
                return 0;
            }
            catch (Exception e) when (e is NotebookFormatException or ArgumentException)
            {
                Console.Error.WriteLine($"notebook parameterize: {e.Message}");
                return 2;
            }
        });
        return cmd;
    }

    static Command CreateRun()
    {
        var file = new Argument<FileInfo>("notebook") { Description = "The .ipynb file to execute." };
        var preset = new Option<string?>("--preset") { Description = "Injected as the parameter `preset` (e.g. smoke, cpu, paper)." };
        var parameters = new Option<string[]>("--parameter", "-p")
        {
            Description = "key=value injected after the cell tagged `parameters` (repeatable).",
            DefaultValueFactory = _ => Array.Empty<string>(),
            AllowMultipleArgumentsPerToken = false,
        };
        var output = new Option<FileInfo?>("--out", "-o") { Description = "Where to write the executed notebook (default: in place)." };
        var html = new Option<bool>("--html") { Description = "Also write a standalone HTML rendering next to the output (.html)." };
        var timeout = new Option<double>("--timeout-per-cell")
        {
            Description = "Time limit of one cell in seconds.",
            DefaultValueFactory = _ => 600,
        };
        var progress = new Option<double>("--progress-every")
        {
            Description = "Seconds between progress lines of a running cell (on stderr).",
            DefaultValueFactory = _ => 10,
        };
        var onlyOwn = new Option<bool>("--only-notebook-references")
        {
            Description = "Reference only the framework and the notebook's own #r files (as a notebook front end does; needs `notebook publish`).",
        };
        var logOutput = new Option<bool>("--log-output")
        {
            Description = "Mirror cells' stdout/stderr to stderr while they run (progress of long cells).",
        };
        var cmd = new Command("run", "Execute a notebook's C# cells in order and write their outputs back (exit 1 when a cell fails).");
        cmd.Arguments.Add(file);
        foreach (var o in new Option[] { preset, parameters, output, html, timeout, progress, onlyOwn, logOutput }) cmd.Options.Add(o);
        cmd.SetAction(parse => Run(
            parse.GetValue(file)!, parse.GetValue(preset), parse.GetValue(parameters) ?? Array.Empty<string>(),
            parse.GetValue(output), parse.GetValue(html), parse.GetValue(timeout), parse.GetValue(progress), parse.GetValue(onlyOwn), parse.GetValue(logOutput)));
        return cmd;
    }

    static int Run(FileInfo file, string? preset, string[] parameters, FileInfo? output, bool html, double timeoutSeconds, double progressSeconds, bool onlyNotebookReferences, bool logOutput)
    {
        var err = Console.Error;
        if (!file.Exists)
        {
            err.WriteLine($"notebook run: {file.FullName}: no such file");
            return 2;
        }
        if (timeoutSeconds <= 0 || progressSeconds <= 0)
        {
            err.WriteLine("notebook run: --timeout-per-cell and --progress-every must be positive (seconds)");
            return 2;
        }
        Notebook notebook;
        List<KeyValuePair<string, string>> values;
        try
        {
            notebook = Notebook.Load(file.FullName);
            values = parameters.Select(NotebookParameters.ParseAssignment).ToList();
        }
        catch (Exception e) when (e is NotebookFormatException or ArgumentException)
        {
            err.WriteLine($"notebook run: {e.Message}");
            return 2;
        }
        string outPath = output?.FullName ?? file.FullName;
        var options = new NotebookRunOptions
        {
            Parameters = values,
            Preset = preset,
            CellTimeout = TimeSpan.FromSeconds(timeoutSeconds),
            ProgressInterval = TimeSpan.FromSeconds(progressSeconds),
            OnlyNotebookReferences = onlyNotebookReferences,
            LogOutput = logOutput,
        };
        // Cells see the notebook's folder as the working directory, as in a notebook front end.
        string previousDirectory = Directory.GetCurrentDirectory();
        NotebookRunResult result;
        try
        {
            Directory.SetCurrentDirectory(file.DirectoryName!);
            result = NotebookRunner.RunAsync(notebook, file.FullName, options).GetAwaiter().GetResult();
        }
        catch (ArgumentException e) // a -p value that does not fit the declared type
        {
            err.WriteLine($"notebook run: {e.Message}");
            return 2;
        }
        finally
        {
            Directory.SetCurrentDirectory(previousDirectory);
        }
        result.Notebook.Save(outPath);
        err.WriteLine($"wrote {outPath}");
        if (html)
        {
            string htmlPath = Path.ChangeExtension(outPath, ".html");
            NotebookHtml.Save(result.Notebook, htmlPath);
            err.WriteLine($"wrote {htmlPath}");
        }
        int cells = result.Cells.Count;
        err.WriteLine(result.Succeeded
            ? $"{file.Name}: {cells} code cell(s) ran in {result.Elapsed.TotalSeconds:F1} s"
            : $"{file.Name}: {result.Error} ({result.Elapsed.TotalSeconds:F1} s)");
        return result.Succeeded ? 0 : 1;
    }

    static Command CreatePublish()
    {
        var output = new Option<DirectoryInfo?>("--out", "-o") { Description = "Target folder (default: <repo>/notebooks/lib)." };
        var configuration = new Option<string>("--configuration", "-c") { Description = "Build configuration.", DefaultValueFactory = _ => "Release" };
        var runtime = new Option<string>("--runtime", "-r") { Description = "Runtime identifier.", DefaultValueFactory = _ => "linux-x64" };
        var msbuild = new Option<string?>("--msbuild-args") { Description = "Extra arguments for dotnet publish, e.g. \"-p:TorchBackend=cuda\"." };
        var cmd = new Command("publish", "Publish MoeLab and its dependencies (TorchSharp natives included, patched where needed) into one folder for notebooks' `#r \"lib/MoeLab.Experiments.dll\"`.");
        foreach (var o in new Option[] { output, configuration, runtime, msbuild }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            string? repo = NotebookPublisher.FindRepoRoot();
            if (repo is null)
            {
                Console.Error.WriteLine("notebook publish: run it inside a MoeLab checkout (no Experiments.sln above the current folder)");
                return 2;
            }
            string target = parse.GetValue(output)?.FullName ?? NotebookPublisher.DefaultOutput(repo);
            int rc = NotebookPublisher.Publish(repo, target, parse.GetValue(configuration)!, parse.GetValue(runtime)!, Console.Error, parse.GetValue(msbuild));
            if (rc == 0)
                Console.Error.WriteLine($"published to {target}; a notebook beside that folder starts with #r \"{Path.GetFileName(target)}/MoeLab.Experiments.dll\"");
            return rc;
        });
        return cmd;
    }
}
