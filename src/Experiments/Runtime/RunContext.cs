using Microsoft.Data.Analysis;
using Plotly.NET;
using TorchSharp;

namespace MoeLab.Experiments.Runtime;

/// <summary>What an experiment sees of the run it is part of: its seed and device, where its
/// results go, and how to checkpoint. The runtime provides a file-backed implementation
/// (results/&lt;experiment&gt;/&lt;run-id&gt;/) and an in-memory one for tests and notebooks.</summary>
public abstract class RunContext
{
    public abstract string ExperimentName { get; }

    /// <summary>Preset the config started from (overrides are in the manifest).</summary>
    public abstract string Preset { get; }

    /// <summary>The one seed that drives data order, initialisation and noise.</summary>
    public abstract long Seed { get; }

    public abstract torch.Device Device { get; }

    /// <summary>Signalled on Ctrl+C / SIGTERM: checkpoint, then throw OperationCanceledException.</summary>
    public abstract CancellationToken Cancellation { get; }

    /// <summary>Run directory, or null for an in-memory context.</summary>
    public abstract string? RunDirectory { get; }

    /// <summary>Appends one row to the step-indexed history (metrics.csv): step, arm, then values.</summary>
    public abstract void LogMetrics(long step, IReadOnlyDictionary<string, double> values, string arm = "main");

    /// <summary>Wall-clock figures of the run (throughput, memory) as step-indexed rows of system.csv —
    /// kept apart from metrics.csv, whose bytes a resumed or repeated run reproduces exactly. The
    /// default ignores them (in-memory contexts).</summary>
    public virtual void LogSystemMetrics(long step, IReadOnlyDictionary<string, double> values, string arm = "main") { }

    /// <summary>Records the final metrics of one arm (summary.csv). <paramref name="labels"/> holds
    /// string-valued columns (e.g. schedule name). Calling again for the same arm replaces it.</summary>
    public abstract void LogSummary(string arm, IReadOnlyDictionary<string, double> values,
        IReadOnlyDictionary<string, string>? labels = null);

    /// <summary>Saves an extra table (e.g. an expert × task matrix) as tables/&lt;name&gt;.csv.</summary>
    public abstract void SaveTable(string name, DataFrame table);

    /// <summary>Saves a figure as figures/&lt;name&gt;.json (Plotly figure JSON: data and layout); the report
    /// shows it, `moelab figures` renders PNG/SVG from it.</summary>
    public abstract void SaveFigure(string name, GenericChart chart);

    /// <summary>Progress of long work (progress bar on a terminal, periodic lines otherwise).</summary>
    public abstract void ReportProgress(string phase, long step, long total, double? loss = null);

    /// <summary>Free-text log line (also kept in the run directory).</summary>
    public abstract void Log(string message);

    /// <summary>Checkpoint storage of this run; empty on a fresh run, filled on --resume.</summary>
    public abstract ICheckpointStore Checkpoints { get; }

    /// <summary>A System.Random for one named stream ("data", "data-order-epoch-3", "noise"),
    /// derived from <see cref="Seed"/>: independent streams, each reproducible on its own, so an
    /// experiment derives all its randomness from the run's one seed. Torch's generator is seeded
    /// with <see cref="Seed"/> by the runtime before <see cref="IExperiment.Run"/>.</summary>
    public virtual Random CreateRandom(string stream) => RunRandom.Create(Seed, stream);

    /// <summary>A 64-bit seed for one named stream (e.g. for a torch.Generator or MathNet).</summary>
    public long DeriveSeed(string stream) => RunRandom.Derive(Seed, stream);

    /// <summary>A CPU torch.Generator for one named stream, e.g. to initialise parameters with
    /// <c>nn.init.*(…, generator: g)</c> independently of torch's global generator (which other
    /// code in the same process may reseed or consume).</summary>
    public torch.Generator CreateGenerator(string stream) => new((ulong)DeriveSeed(stream), torch.CPU);
}

/// <summary>Named checkpoint entries, each written atomically (temp file + rename).</summary>
public interface ICheckpointStore
{
    /// <summary>True when an entry of that name exists (i.e. the run is being resumed).</summary>
    bool Exists(string name);

    /// <summary>Serialises <paramref name="state"/> as JSON under <paramref name="name"/>.</summary>
    void SaveJson<T>(string name, T state);

    /// <summary>Reads a JSON entry; null when it does not exist.</summary>
    T? LoadJson<T>(string name) where T : class;

    /// <summary>Writes a binary entry (e.g. a TorchSharp state dict via Module.save): the callback
    /// gets a temporary path to write; the store renames it into place afterwards.</summary>
    void SaveFile(string name, Action<string> writeToPath);

    /// <summary>Path of an existing binary entry to read (e.g. Module.load); throws if absent.</summary>
    string PathOf(string name);

    /// <summary>Removes every entry whose name starts with <paramref name="prefix"/> (e.g. the trainer
    /// state of an arm once the arm's results are saved elsewhere); returns how many were removed.</summary>
    int DeleteWithPrefix(string prefix);
}
