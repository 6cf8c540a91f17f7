using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using MoeLab.Experiments.Plotting;

namespace MoeLab.Experiments.Notebooks;

/// <summary>How to run a notebook.</summary>
public sealed record NotebookRunOptions
{
    /// <summary>Values for the papermill-style parameters cell (<c>-p key=value</c>), in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters { get; init; } = Array.Empty<KeyValuePair<string, string>>();

    /// <summary>Injected as the parameter <c>preset</c> (a string) when set.</summary>
    public string? Preset { get; init; }

    /// <summary>Time limit of one cell (compilation included).</summary>
    public TimeSpan CellTimeout { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>How often a running cell reports progress on the log.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Reference only the .NET framework plus the files the notebook's own <c>#r</c> lines
    /// name (the published notebooks/lib folder), as a notebook front end does, instead of the
    /// runner's MoeLab assemblies; shows whether a notebook would compile in a front end.</summary>
    public bool OnlyNotebookReferences { get; init; }

    /// <summary>Mirror each cell's stdout/stderr to the log as it is written (papermill's
    /// --log-output), so progress printed by long cells is visible while they run.</summary>
    public bool LogOutput { get; init; }

    /// <summary>Where progress goes (default: the process's stderr).</summary>
    public TextWriter? Log { get; init; }
}

/// <summary>Timing of one executed code cell.</summary>
public sealed record CellRun(int CellIndex, int ExecutionCount, TimeSpan Elapsed, bool Succeeded);

/// <summary>The outcome of a run: the executed notebook (outputs written into it) and whether
/// every code cell succeeded.</summary>
public sealed record NotebookRunResult(
    Notebook Notebook, bool Succeeded, int? FailedCellIndex, string? Error, TimeSpan Elapsed, IReadOnlyList<CellRun> Cells);

/// <summary>Executes a notebook's C# code cells in order in one Roslyn script session (what the
/// .NET Interactive C# kernel did) and writes each cell's outputs back as Jupyter outputs:
/// stdout/stderr streams, <c>display(x)</c> values as display_data, the trailing expression as
/// execute_result, a thrown exception as an error output (the run then stops; earlier outputs are
/// kept). plotly.js is embedded once per notebook, in the first chart output; chart PNGs (where
/// Chromium is installed) are rendered for the whole notebook at the end in one browser session.</summary>
public static class NotebookRunner
{
    static readonly HashSet<string> OtherKernels = new(StringComparer.OrdinalIgnoreCase)
    {
        "fsharp", "f#", "fs", "pwsh", "powershell", "javascript", "js", "html", "sql", "kql", "mermaid",
        "markdown", "md", "http", "python", "value",
    };

    /// <summary>Loads, runs and returns the notebook at <paramref name="path"/>.</summary>
    public static Task<NotebookRunResult> RunFileAsync(string path, NotebookRunOptions options, CancellationToken cancellationToken = default) =>
        RunAsync(Notebook.Load(path), path, options, cancellationToken);

    /// <summary>Runs <paramref name="notebook"/> in place; <paramref name="notebookPath"/> anchors
    /// relative <c>#r</c> paths and names the cells in diagnostics.</summary>
    public static async Task<NotebookRunResult> RunAsync(Notebook notebook, string notebookPath, NotebookRunOptions options, CancellationToken cancellationToken = default)
    {
        NotebookFormatters.Register();
        // Chart PNGs are rendered for the whole notebook at the end, in one Chromium session.
        NotebookFormatters.DeferChartImages = true;
        ConsoleRouter.Install();
        // Progress (runner thread) and mirrored cell output (cell threads) share the log.
        var log = TextWriter.Synchronized(options.Log ?? ConsoleRouter.OriginalError);
        string fullPath = Path.GetFullPath(notebookPath);
        string name = Path.GetFileName(fullPath);
        var total = Stopwatch.StartNew();

        var parameters = options.Parameters.ToList();
        if (options.Preset is not null) parameters.Add(new("preset", options.Preset));
        NotebookParameters.Inject(notebook, parameters, w => log.WriteLine($"{name}: warning: {w}"));

        foreach (var cell in notebook.Cells.Where(c => c.IsCode))
        {
            cell.Outputs.Clear();
            cell.ExecutionCount = null;
        }

        var globals = new NotebookGlobals { NotebookPath = fullPath };
        var references = options.OnlyNotebookReferences ? ScriptReferences.FrameworkOnly : ScriptReferences.Default;
        var scriptOptions = ScriptOptions.Default
            .WithReferences(references.MetadataReferences)
            .WithImports(options.OnlyNotebookReferences ? ScriptReferences.FrontEndImports : ScriptReferences.DefaultImports)
            .WithMetadataResolver(ScriptMetadataResolver.Default.WithBaseDirectory(Path.GetDirectoryName(fullPath)!))
            .WithEmitDebugInformation(true)
            .WithFileEncoding(System.Text.Encoding.UTF8)
            .WithOptimizationLevel(OptimizationLevel.Release)
            .WithAllowUnsafe(true);

        ScriptState<object>? state = null;
        var runs = new List<CellRun>();
        int codeCells = notebook.Cells.Count(c => c.IsCode);
        int executionCount = 0;
        int? failedAt = null;
        string? error = null;

        for (int index = 0; index < notebook.Cells.Count && failedAt is null; index++)
        {
            var cell = notebook.Cells[index];
            if (!cell.IsCode) continue;
            executionCount++;
            cell.ExecutionCount = executionCount;
            var outputs = new CellOutputs
            {
                Echo = options.LogOutput ? (_, text) => { log.Write(text); log.Flush(); } : null,
            };
            var watch = Stopwatch.StartNew();
            string label = $"{name} cell {executionCount}/{codeCells}";
            log.WriteLine($"[{label}] running");
            log.Flush();
            try
            {
                string code = Prepare(cell, fullPath, references, note => log.WriteLine($"[{label}] {note}"));
                var cellOptions = scriptOptions.WithFilePath($"{name}[cell {executionCount}]");
                using var cellCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                globals.CancellationToken = cellCancel.Token;
                globals.Current = outputs;
                var previous = state;
                var task = Task.Run(async () =>
                {
                    ConsoleRouter.Capture(outputs);
                    try
                    {
                        return previous is null
                            ? await CSharpScript.RunAsync(code, cellOptions, globals, typeof(NotebookGlobals), cellCancel.Token).ConfigureAwait(false)
                            : await previous.ContinueWithAsync(code, cellOptions, cellCancel.Token).ConfigureAwait(false);
                    }
                    finally
                    {
                        ConsoleRouter.Capture(null);
                    }
                }, CancellationToken.None);

                while (!task.IsCompleted)
                {
                    var remaining = options.CellTimeout - watch.Elapsed;
                    if (remaining <= TimeSpan.Zero) break;
                    var wait = remaining < options.ProgressInterval ? remaining : options.ProgressInterval;
                    await Task.WhenAny(task, Task.Delay(wait, cancellationToken)).ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                    if (!task.IsCompleted && watch.Elapsed < options.CellTimeout)
                    {
                        log.WriteLine($"[{label}] still running, {watch.Elapsed.TotalSeconds:F0} s elapsed (limit {options.CellTimeout.TotalSeconds:F0} s)");
                        log.Flush();
                    }
                }
                if (!task.IsCompleted)
                {
                    cellCancel.Cancel();
                    throw new TimeoutException($"cell {executionCount} ran longer than its time limit of {options.CellTimeout.TotalSeconds:F0} s (--timeout-per-cell)");
                }
                state = await task.ConfigureAwait(false);
                globals.Current = null;
                foreach (var o in outputs.Snapshot()) cell.Outputs.Add(o);
                if (HasReturnValue(state)) cell.Outputs.Add(CellOutputs.Render(state.ReturnValue, executionCount));
                runs.Add(new CellRun(index, executionCount, watch.Elapsed, true));
                log.WriteLine($"[{label}] ok in {watch.Elapsed.TotalSeconds:F2} s");
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                globals.Current = null;
                foreach (var o in outputs.Snapshot()) cell.Outputs.Add(o);
                var errorOutput = ErrorOutput(e);
                cell.Outputs.Add(errorOutput);
                runs.Add(new CellRun(index, executionCount, watch.Elapsed, false));
                failedAt = index;
                error = $"cell {executionCount} (notebook cell {index + 1}) failed: {errorOutput.EName}: {errorOutput.EValue}";
                log.WriteLine($"[{label}] FAILED after {watch.Elapsed.TotalSeconds:F2} s: {errorOutput.EName}: {errorOutput.EValue}");
            }
            log.Flush();
        }

        PlaceOnePlotlyBundle(notebook);
        NotebookFormatters.AddChartImages(notebook, new PrefixedWriter(log, name + ": "));
        bool ok = failedAt is null;
        notebook.Metadata["moelab"] = new JsonObject
        {
            ["runner"] = "moelab notebook run",
            ["status"] = ok ? "completed" : "failed",
            ["ended_at"] = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["elapsed_s"] = Math.Round(total.Elapsed.TotalSeconds, 3),
            ["parameters"] = new JsonObject(parameters.GroupBy(p => p.Key).Select(g => new KeyValuePair<string, JsonNode?>(g.Key, g.Last().Value))),
            ["error"] = error,
        };
        return new NotebookRunResult(notebook, ok, failedAt, error, total.Elapsed, runs);
    }

    /// <summary>The code Roslyn runs for a cell: Polyglot magic lines (<c>#!csharp</c>, ...) removed,
    /// <c>#r</c> lines resolved. A cell meant for another kernel is an error.</summary>
    internal static string Prepare(NotebookCell cell, string notebookPath, ScriptReferences references, Action<string>? notes)
    {
        string? kernel = cell.KernelName;
        if (kernel is not null && OtherKernels.Contains(kernel))
            throw new NotSupportedException($"this cell is for the '{kernel}' kernel; the MoeLab runner executes C# cells only");
        var lines = cell.Source.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string t = lines[i].TrimStart();
            if (!t.StartsWith("#!", StringComparison.Ordinal)) continue;
            string magic = t[2..].Split(' ', 2)[0];
            if (OtherKernels.Contains(magic))
                throw new NotSupportedException($"line {i + 1}: '#!{magic}' switches to another kernel; the MoeLab runner executes C# cells only");
            if (magic is not ("csharp" or "c#" or "cs"))
                notes?.Invoke($"line {i + 1}: ignoring Polyglot magic command '{t}'");
            lines[i] = "";
        }
        return references.ResolveReferences(string.Join("\n", lines), Path.GetDirectoryName(notebookPath)!, notes);
    }

    static bool HasReturnValue(ScriptState<object> state) => state.ReturnValue is not null;

    /// <summary>A Jupyter error output: exception type, message, and the stack without the
    /// runner's own frames (compile errors: one line per diagnostic).</summary>
    internal static NotebookOutput ErrorOutput(Exception e)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } agg) e = agg.InnerException!;
        if (e is CompilationErrorException ce)
        {
            var diagnostics = ce.Diagnostics.Select(d => d.ToString()).ToList();
            return NotebookOutput.CreateError(nameof(CompilationErrorException), string.Join("\n", diagnostics), diagnostics);
        }
        var traceback = new List<string>();
        foreach (var line in e.ToString().Split('\n'))
        {
            string l = line.TrimEnd('\r');
            if (l.TrimStart().StartsWith("at Microsoft.CodeAnalysis.Scripting", StringComparison.Ordinal) ||
                l.TrimStart().StartsWith("at MoeLab.Experiments.Notebooks.NotebookRunner", StringComparison.Ordinal)) break;
            traceback.Add(l);
        }
        return NotebookOutput.CreateError(e.GetType().Name, e.Message, traceback);
    }

    /// <summary>Removes every embedded plotly.js bundle from the notebook's HTML outputs and puts
    /// one in front of the first chart output, so the notebook holds exactly one copy.</summary>
    public static void PlaceOnePlotlyBundle(Notebook notebook)
    {
        string bundle = PlotlyAssets.ScriptTag;
        bool placed = false;
        foreach (var output in notebook.Cells.Where(c => c.IsCode).SelectMany(c => c.Outputs))
        {
            if (!output.Data.TryGetValue("text/html", out string? html)) continue;
            if (html.Contains(bundle, StringComparison.Ordinal)) html = html.Replace(bundle + "\n", "").Replace(bundle, "");
            if (!placed && html.Contains(NotebookFormatters.ChartMarker, StringComparison.Ordinal))
            {
                html = bundle + "\n" + html;
                placed = true;
            }
            output.Data["text/html"] = html;
        }
    }
}

/// <summary>Writes each line with a prefix (log lines that name the notebook).</summary>
file sealed class PrefixedWriter(TextWriter inner, string prefix) : TextWriter
{
    public override System.Text.Encoding Encoding => inner.Encoding;
    public override void Write(char value) => inner.Write(value);
    public override void WriteLine(string? value) => inner.WriteLine(prefix + value);
}
