namespace MoeLab.Experiments.Runtime;

/// <summary>A registered experiment: a name, a description, a typed config record and named
/// presets. Every experiment offers at least the presets <c>smoke</c> (seconds; tests and CI),
/// <c>cpu</c> (minutes on a 2-core laptop) and <c>paper</c> (the paper's scale, for a GPU).
/// The runtime (registry, overrides, seeds, run directories, resume, sweeps) knows nothing
/// about what an experiment computes.</summary>
public interface IExperiment
{
    /// <summary>Command-line name, kebab-case, e.g. <c>moe-continual-learning</c>.</summary>
    string Name { get; }

    /// <summary>One or two sentences for <c>moelab list</c>.</summary>
    string Description { get; }

    /// <summary>The immutable config record type (nested records allowed: <c>model.experts</c>).</summary>
    Type ConfigType { get; }

    /// <summary>Preset name → config instance (of <see cref="ConfigType"/>).</summary>
    IReadOnlyDictionary<string, object> Presets { get; }

    /// <summary>Runs one seed of the experiment with a resolved, validated config. Writes all
    /// results through <paramref name="context"/>. Must honour <see cref="RunContext.Cancellation"/>
    /// by checkpointing and throwing <see cref="OperationCanceledException"/>.</summary>
    void Run(object config, RunContext context);

    /// <summary>Checks ranges and cross-field constraints of a config; returns one message per
    /// problem, naming the key, the value and what is allowed. Empty when valid.</summary>
    IReadOnlyList<string> Validate(object config);
}

/// <summary>Typed base class: implement this, not <see cref="IExperiment"/> directly.</summary>
public abstract class Experiment<TConfig> : IExperiment where TConfig : class
{
    public abstract string Name { get; }
    public abstract string Description { get; }
    public Type ConfigType => typeof(TConfig);

    /// <summary>Preset name → config. Must contain "smoke", "cpu" and "paper".</summary>
    public abstract IReadOnlyDictionary<string, TConfig> TypedPresets { get; }

    public IReadOnlyDictionary<string, object> Presets =>
        TypedPresets.ToDictionary(kv => kv.Key, kv => (object)kv.Value);

    public abstract void Run(TConfig config, RunContext context);

    /// <summary>Range and cross-field checks; the default accepts everything.</summary>
    public virtual IReadOnlyList<string> Validate(TConfig config) => Array.Empty<string>();

    void IExperiment.Run(object config, RunContext context) => Run((TConfig)config, context);
    IReadOnlyList<string> IExperiment.Validate(object config) => Validate((TConfig)config);
}
