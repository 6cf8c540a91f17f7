using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
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

/// <summary>Executes a notebook's C# code cells in order in one <see cref="NotebookSession"/> (the
/// engine MoeLab's Jupyter kernel also runs cells with) and writes each cell's outputs back as Jupyter
/// outputs: stdout/stderr streams, <c>display(x)</c> values as display_data, the trailing expression as
/// execute_result, a thrown exception as an error output (the run then stops; earlier outputs are
/// kept). plotly.js is embedded once per notebook, in the first chart output; chart PNGs (where
/// Chromium is installed) are rendered for the whole notebook at the end in one browser session.</summary>
public static class NotebookRunner
{
    /// <summary>Loads, runs and returns the notebook at <paramref name="path"/>.</summary>
    public static Task<NotebookRunResult> RunFileAsync(string path, NotebookRunOptions options, CancellationToken cancellationToken = default) =>
        RunAsync(Notebook.Load(path), path, options, cancellationToken);

    /// <summary>Runs <paramref name="notebook"/> in place; <paramref name="notebookPath"/> anchors
    /// relative <c>#r</c> paths and names the cells in diagnostics.</summary>
    public static async Task<NotebookRunResult> RunAsync(Notebook notebook, string notebookPath, NotebookRunOptions options, CancellationToken cancellationToken = default)
    {
        var session = new NotebookSession(notebookPath, options.OnlyNotebookReferences);
        // Chart PNGs are rendered for the whole notebook at the end, in one Chromium session.
        NotebookFormatters.DeferChartImages = true;
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
            string label = $"{name} cell {executionCount}/{codeCells}";
            log.WriteLine($"[{label}] running");
            log.Flush();
            session.Notes = note => log.WriteLine($"[{label}] {note}");
            var limits = new CellLimits
            {
                Timeout = options.CellTimeout,
                ProgressInterval = options.ProgressInterval,
                Progress = elapsed =>
                {
                    log.WriteLine($"[{label}] still running, {elapsed.TotalSeconds:F0} s elapsed (limit {options.CellTimeout.TotalSeconds:F0} s)");
                    log.Flush();
                },
            };
            var result = await session.ExecuteAsync(cell.Source, outputs, limits, cell.KernelName, cellNumber: executionCount, cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var o in outputs.Snapshot()) cell.Outputs.Add(o);
            if (result.Status == CellStatus.Completed)
            {
                if (result.HasReturnValue) cell.Outputs.Add(CellOutputs.Render(result.ReturnValue, executionCount));
                runs.Add(new CellRun(index, executionCount, result.Elapsed, true));
                log.WriteLine($"[{label}] ok in {result.Elapsed.TotalSeconds:F2} s");
            }
            else
            {
                // The caller cancelled the whole run: stop as before, with nothing written.
                if (cancellationToken.IsCancellationRequested) throw new OperationCanceledException(cancellationToken);
                var e = result.Error!;
                if (e is TimeoutException || e.InnerException is TimeoutException)
                    e = new TimeoutException($"cell {executionCount} ran longer than its time limit of {options.CellTimeout.TotalSeconds:F0} s (--timeout-per-cell)" +
                        (result.Status == CellStatus.Abandoned ? " and did not stop when cancelled" : ""));
                var errorOutput = NotebookSession.ErrorOutput(e);
                cell.Outputs.Add(errorOutput);
                runs.Add(new CellRun(index, executionCount, result.Elapsed, false));
                failedAt = index;
                error = $"cell {executionCount} (notebook cell {index + 1}) failed: {errorOutput.EName}: {errorOutput.EValue}";
                log.WriteLine($"[{label}] FAILED after {result.Elapsed.TotalSeconds:F2} s: {errorOutput.EName}: {errorOutput.EValue}");
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
