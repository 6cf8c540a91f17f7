namespace MoeLab.Experiments.Runtime;

/// <summary>A config after preset, file and --set overrides, validated.</summary>
/// <param name="Config">Instance of the experiment's config type.</param>
/// <param name="Preset">Preset it started from.</param>
/// <param name="Overrides">Overrides in the order applied: "--config file" then "key=value" (as typed).</param>
/// <param name="Json">The resolved config as JSON (camelCase keys).</param>
/// <param name="Hash">First 12 hex digits of SHA-256 over <paramref name="Json"/>.</param>
public sealed record ResolvedConfig(object Config, string Preset, IReadOnlyList<string> Overrides, string Json, string Hash);
