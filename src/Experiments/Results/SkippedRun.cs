namespace MoeLab.Experiments.Results;

/// <summary>A run folder that <see cref="ResultSet.Load(string[])"/> found (it holds a manifest.json)
/// but left out of every table, aggregate and chart because one of its files could not be read:
/// <see cref="File"/> (relative to the run folder, e.g. "metrics.csv"; null when the folder itself
/// could not be read), <see cref="Line"/> (1-based, when known) and <see cref="Problem"/>.
/// <see cref="Record"/> is the run's manifest when that part was readable (status, seed, ...).</summary>
public sealed record SkippedRun(string Directory, string? File, int? Line, string Problem)
{
    /// <summary>The run as its manifest describes it; null when the manifest itself is unreadable.</summary>
    public RunRecord? Record { get; init; }

    /// <summary>"metrics.csv line 14: row has 2 fields, the header has 4 (...)".</summary>
    public string Reason => File is null ? Problem : Line is null ? $"{File}: {Problem}" : $"{File} line {Line}: {Problem}";

    /// <summary>"&lt;run folder&gt;: &lt;reason&gt;".</summary>
    public override string ToString() => $"{Directory}: {Reason}";
}
