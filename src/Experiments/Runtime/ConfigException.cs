namespace MoeLab.Experiments.Runtime;

/// <summary>A config could not be resolved: one message per problem, each naming the key, the
/// value given and what is allowed. Nothing runs on a config that raised this.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<string> problems)
        : base(problems.Count == 1 ? problems[0] : "Invalid config:\n  - " + string.Join("\n  - ", problems))
    {
        Problems = problems;
    }

    public ConfigException(string problem) : this(new[] { problem }) { }

    public IReadOnlyList<string> Problems { get; }
}
