using System.Reflection;

namespace MoeLab.Experiments.Runtime;

/// <summary>Marks an experiment that `moelab lab` (the lab's main job) skips, e.g. the runtime's
/// own test experiment. It still shows in `moelab list` and runs with `moelab run`.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ExcludeFromLabAttribute(string reason) : Attribute
{
    public string Reason { get; } = reason;
}

/// <summary>Every experiment in the MoeLab.Experiments assembly, found by reflection: each
/// non-abstract class implementing <see cref="IExperiment"/> with a public parameterless
/// constructor. Paper folders add experiments without touching this class.</summary>
public static class ExperimentRegistry
{
    private static readonly Lazy<IReadOnlyList<IExperiment>> _all = new(() => Discover(typeof(ExperimentRegistry).Assembly));

    /// <summary>All registered experiments, sorted by name.</summary>
    public static IReadOnlyList<IExperiment> All => _all.Value;

    /// <summary>Experiments `moelab lab` runs (all except those marked <see cref="ExcludeFromLabAttribute"/>).</summary>
    public static IReadOnlyList<IExperiment> ForLab =>
        All.Where(e => e.GetType().GetCustomAttribute<ExcludeFromLabAttribute>() is null).ToList();

    public static IReadOnlyList<IExperiment> Discover(Assembly assembly)
    {
        var found = new List<IExperiment>();
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { types = e.Types.Where(t => t is not null).ToArray()!; }
        foreach (var t in types)
        {
            if (t.IsAbstract || t.IsInterface || t.ContainsGenericParameters || !typeof(IExperiment).IsAssignableFrom(t)) continue;
            if (t.GetConstructor(Type.EmptyTypes) is null) continue;
            found.Add((IExperiment)Activator.CreateInstance(t)!);
        }
        var dup = found.GroupBy(e => e.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
            throw new InvalidOperationException($"Two experiments are named '{dup.Key}': {string.Join(", ", dup.Select(e => e.GetType().FullName))}.");
        return found.OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>The experiment of that name; the error lists the names and the closest one.</summary>
    public static IExperiment Get(string name)
    {
        var e = All.FirstOrDefault(x => string.Equals(x.Name, name, StringComparison.OrdinalIgnoreCase));
        if (e is not null) return e;
        var near = All.OrderBy(x => ConfigKeys.Levenshtein(x.Name, name.ToLowerInvariant())).FirstOrDefault();
        string hint = near is not null && ConfigKeys.Levenshtein(near.Name, name.ToLowerInvariant()) <= Math.Max(3, name.Length / 3)
            ? $" Did you mean '{near.Name}'?" : "";
        throw new ConfigException($"Unknown experiment '{name}'.{hint} Registered: {string.Join(", ", All.Select(x => x.Name))} (see `moelab list`).");
    }
}
