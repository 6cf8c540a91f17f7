namespace MoeLab.Experiments.Tests.Runtime;

/// <summary>One decoded TensorBoard event (see <see cref="TfEventFile"/>).</summary>
internal sealed record TfEvent(double WallTime, long Step, string? FileVersion, IReadOnlyList<(string Tag, float Value)> Values);
