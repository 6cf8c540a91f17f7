using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Runtime;

/// <summary>One entry of a sweep's task list (<see cref="SweepTaskList"/>): the run that index
/// <see cref="Index"/> stands for. It holds the resolved config itself, so a task can run on a
/// machine that has neither the config file nor the command line the sweep was planned with.</summary>
/// <param name="Index">0, 1, 2, … in the order the tasks were planned; never renumbered.</param>
/// <param name="Point">The grid point, e.g. "model.experts=4 train.lr=0.001" ("(base)" for an empty grid).</param>
/// <param name="RunId">The run directory's name inside the sweep directory: &lt;configHash8&gt;-s&lt;seed&gt;.</param>
/// <param name="ConfigHash">Hash of <paramref name="Config"/> as the runtime writes it (checked before running).</param>
/// <param name="Overrides">The overrides the config was resolved with (recorded in the run's manifest).</param>
public sealed record SweepTask(int Index, string Point, long Seed, string RunId, string Preset,
    IReadOnlyList<string> Overrides, string ConfigHash, JsonNode Config)
{
    /// <summary>Rebuilds the resolved config from <see cref="Config"/>, validating it again, and checks
    /// that it still hashes to <see cref="ConfigHash"/> (it does not when the experiment's config type
    /// changed since the sweep was planned: then running it would not be the planned run).</summary>
    public ResolvedConfig Resolve(IExperiment experiment, string source)
    {
        object config;
        try
        {
            config = ConfigBinder.FromJson(experiment, Config.ToJsonString());
        }
        catch (ConfigException e)
        {
            throw new ConfigException(e.Problems.Select(p => $"{source}, task {Index} ('config'): {p}").ToList());
        }
        string json = ConfigBinder.ToJson(config);
        string hash = ConfigBinder.HashOf(json);
        if (hash != ConfigHash)
            throw new ConfigException($"{source}, task {Index}: the stored config hashes to {hash}, but 'configHash' says {ConfigHash}. " +
                                      $"The config of '{experiment.Name}' changed since the sweep was planned (or the file was edited); " +
                                      "plan the sweep again with `moelab sweep` from this build.");
        return new ResolvedConfig(config, Preset, Overrides, json, hash);
    }
}
