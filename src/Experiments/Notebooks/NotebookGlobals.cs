namespace MoeLab.Experiments.Notebooks;

/// <summary>What a notebook cell sees as globals when MoeLab executes it (the headless runner and
/// the MoeLab Jupyter kernel): the <c>display</c> function that .NET notebook hosts provide, the
/// cell's cancellation token, and where the notebook lives.</summary>
public class NotebookGlobals
{
    // The running cell, per async flow: a cell abandoned after an interrupt keeps its own context
    // (and token) while later cells run.
    static readonly AsyncLocal<CellContext?> current = new();

    internal static void Enter(CellContext? context) => current.Value = context;

    internal static CellContext? Current => current.Value;

    /// <summary>Full path of the notebook being run (in the kernel: the session's notebook when the
    /// front end names it, else a name in the kernel's working directory).</summary>
    public string NotebookPath { get; init; } = "";

    /// <summary>Folder of the notebook (relative paths in <c>#r</c> resolve against it).</summary>
    public string NotebookDirectory => Path.GetDirectoryName(NotebookPath) ?? ".";

    /// <summary>Cancelled when the cell is interrupted or runs past its time limit; long loops
    /// should check it (or pass it on) to stop early.</summary>
    public CancellationToken CancellationToken => current.Value?.Token ?? CancellationToken.None;

    /// <summary>Shows <paramref name="value"/> as an output of the current cell, rendered by the
    /// registered formatters (HTML for DataFrames and charts, text otherwise). The returned handle
    /// replaces that output in place (<see cref="DisplayHandle.Update"/>).</summary>
#pragma warning disable IDE1006 // lower-case name: it is the notebook hosts' convention
    public DisplayHandle display(object? value)
#pragma warning restore IDE1006
    {
        var context = current.Value ?? throw new InvalidOperationException("display() was called outside a running cell");
        var output = CellOutputs.Render(value);
        var handle = new DisplayHandle(Guid.NewGuid().ToString("N"), output);
        if (context.Detached) return handle;
        context.Outputs.Add(output);
        context.Displayed?.Invoke(new DisplayEvent(DisplayEventKind.Display, output, handle.DisplayId));
        return handle;
    }

    /// <summary>Clears the current cell's outputs so far (Jupyter's clear_output). With
    /// <paramref name="wait"/>, a live front end clears only when the next output arrives (no flicker
    /// in progress displays); in a written notebook both read the same.</summary>
#pragma warning disable IDE1006
    public void clear_output(bool wait = false)
#pragma warning restore IDE1006
    {
        var context = current.Value ?? throw new InvalidOperationException("clear_output() was called outside a running cell");
        if (context.Detached) return;
        context.Outputs.Clear();
        context.Displayed?.Invoke(new DisplayEvent(DisplayEventKind.Clear, null, null, wait));
    }
}

public enum DisplayEventKind { Display, Update, Clear }

/// <summary>A display() output, an update of one (by its display_id), or a clear_output, as a kernel
/// publishes them (display_data / update_display_data with a transient display_id, clear_output).</summary>
public sealed record DisplayEvent(DisplayEventKind Kind, NotebookOutput? Output, string? DisplayId, bool Wait = false);

/// <summary>Returned by <c>display()</c>: replaces what that output shows, also from a later cell.</summary>
public sealed class DisplayHandle
{
    readonly NotebookOutput output;

    internal DisplayHandle(string displayId, NotebookOutput output)
    {
        DisplayId = displayId;
        this.output = output;
    }

    /// <summary>Jupyter's display_id of the output.</summary>
    public string DisplayId { get; }

    /// <summary>Renders <paramref name="value"/> and shows it in place of the displayed output.</summary>
    public void Update(object? value)
    {
        var fresh = CellOutputs.Render(value);
        lock (output)
        {
            output.Data.Clear();
            foreach (var (mime, content) in fresh.Data) output.Data[mime] = content;
            output.Metadata = fresh.Metadata;
        }
        var context = NotebookGlobals.Current;
        if (context is { Detached: false })
            context.Displayed?.Invoke(new DisplayEvent(DisplayEventKind.Update, fresh, DisplayId));
    }

    public override string ToString() => $"display {DisplayId}";
}
