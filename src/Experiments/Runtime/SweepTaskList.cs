using System.Text.Json;

namespace MoeLab.Experiments.Runtime;

/// <summary>&lt;sweep-dir&gt;/sweep-tasks.json: the ordered list of a sweep's runs, one index each
/// (index → grid point, seed, run id, resolved config). Written atomically by every `moelab sweep`
/// (local or cluster) before anything runs; a cluster task (`moelab sweep-task &lt;sweep-dir&gt;
/// &lt;index&gt;`) reads its run from it. Indices are stable: running the sweep again with more seeds
/// or grid values appends new tasks at the end and never renumbers the old ones, so a job
/// submitted earlier still finds the runs it was submitted for.</summary>
public sealed record SweepTaskList
{
    public const string FileName = "sweep-tasks.json";

    public required string Sweep { get; init; }
    public required string Experiment { get; init; }
    public required IReadOnlyList<SweepTask> Tasks { get; init; }

    public static string PathIn(string sweepDirectory) => Path.Combine(sweepDirectory, FileName);

    /// <summary>Reads and checks the task list of a sweep directory.</summary>
    /// <exception cref="FileNotFoundException">the directory has no task list.</exception>
    /// <exception cref="InvalidDataException">the file is not a valid task list (names the field).</exception>
    public static SweepTaskList Read(string sweepDirectory)
    {
        string path = PathIn(sweepDirectory);
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"'{sweepDirectory}' is not a sweep directory: it has no {FileName}. Plan the sweep with `moelab sweep <experiment> ...` " +
                "(sweeps run before the task list existed get one when `moelab sweep` is run again with the same arguments).", path);
        SweepTaskList? list;
        try
        {
            list = JsonSerializer.Deserialize<SweepTaskList>(File.ReadAllText(path), ConfigJson.Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a valid sweep task list (at '{e.Path}'): {e.Message}", e);
        }
        if (list is null) throw new InvalidDataException($"{path} is empty; expected an object with 'sweep', 'experiment' and 'tasks'.");
        for (int i = 0; i < list.Tasks.Count; i++)
        {
            var t = list.Tasks[i];
            if (t is null) throw new InvalidDataException($"{path}: 'tasks[{i}]' is null; expected a task object.");
            if (t.Index != i) throw new InvalidDataException($"{path}: 'tasks[{i}].index' is {t.Index}; expected {i} (tasks are listed in index order, from 0).");
            if (string.IsNullOrWhiteSpace(t.RunId) || t.RunId.IndexOfAny(['/', '\\']) >= 0 || t.RunId is "." or "..")
                throw new InvalidDataException($"{path}: 'tasks[{i}].runId' is '{t.RunId}'; expected a directory name like 1a2b3c4d-s0.");
            if (t.Config is null) throw new InvalidDataException($"{path}: 'tasks[{i}].config' is missing; expected the resolved config object.");
        }
        var dup = list.Tasks.GroupBy(t => t.RunId).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new InvalidDataException($"{path}: run id '{dup.Key}' is listed by tasks {string.Join(", ", dup.Select(t => t.Index))}; each run has one index.");
        return list;
    }

    /// <summary>The task of one index.</summary>
    /// <exception cref="ConfigException">the index is not in the list.</exception>
    public SweepTask Get(int index)
    {
        if (index < 0 || index >= Tasks.Count)
            throw new ConfigException($"Task index {index} is out of range: {FileName} of {Sweep} lists {Tasks.Count} task(s), indices 0 … {Tasks.Count - 1}.");
        return Tasks[index];
    }

    public void Write(string sweepDirectory) =>
        AtomicFile.WriteAllText(PathIn(sweepDirectory), JsonSerializer.Serialize(this, ConfigJson.Options));

    /// <summary>The list after adding <paramref name="points"/> to <paramref name="existing"/>: runs
    /// already listed keep their index, new ones are appended in the given order.</summary>
    public static SweepTaskList Merge(SweepTaskList? existing, string sweepId, string experiment, IEnumerable<SweepPoint> points)
    {
        var tasks = new List<SweepTask>(existing?.Tasks ?? []);
        var known = tasks.Select(t => t.RunId).ToHashSet();
        foreach (var p in points)
        {
            if (!known.Add(p.RunId)) continue;
            tasks.Add(new SweepTask(tasks.Count, p.Label, p.Seed, p.RunId, p.Config.Preset, p.Config.Overrides, p.Config.Hash,
                System.Text.Json.Nodes.JsonNode.Parse(p.Config.Json)!));
        }
        return new SweepTaskList { Sweep = sweepId, Experiment = experiment, Tasks = tasks };
    }
}
