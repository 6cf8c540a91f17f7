namespace MoeLab.Experiments.Notebooks;

/// <summary>What a notebook cell sees as globals when the MoeLab runner executes it: the
/// <c>display</c> function that .NET notebook hosts provide, plus where the notebook lives.</summary>
public class NotebookGlobals
{
    internal CellOutputs? Current { get; set; }

    /// <summary>Full path of the notebook being run.</summary>
    public string NotebookPath { get; init; } = "";

    /// <summary>Folder of the notebook (relative paths in <c>#r</c> resolve against it).</summary>
    public string NotebookDirectory => Path.GetDirectoryName(NotebookPath) ?? ".";

    /// <summary>Cancelled when the run is cancelled or the cell runs past its time limit; long
    /// loops may check it to stop early.</summary>
    public CancellationToken CancellationToken { get; internal set; }

    /// <summary>Shows <paramref name="value"/> as an output of the current cell, rendered by the
    /// registered formatters (HTML for DataFrames and charts, text otherwise).</summary>
#pragma warning disable IDE1006 // lower-case name: it is the notebook hosts' convention
    public void display(object? value)
#pragma warning restore IDE1006
    {
        var target = Current ?? throw new InvalidOperationException("display() was called outside a running cell");
        target.Add(CellOutputs.Render(value));
    }
}
