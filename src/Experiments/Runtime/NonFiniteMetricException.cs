namespace MoeLab.Experiments.Runtime;

/// <summary>A metric became NaN or ±Infinity. The run stops, keeps what was logged (the offending
/// row included) and is marked failed with this message.</summary>
public sealed class NonFiniteMetricException : Exception
{
    public NonFiniteMetricException(string metric, long step, double value, string arm = "main")
        : base($"Metric '{metric}' (arm '{arm}') is {Describe(value)} at step {step}; the run was stopped. " +
               "Metrics logged so far are kept. Typical causes: learning rate too high, missing gradient clipping, log of zero.")
    {
        Metric = metric;
        Step = step;
        Value = value;
        Arm = arm;
    }

    public string Metric { get; }
    public long Step { get; }
    public double Value { get; }
    public string Arm { get; }

    private static string Describe(double v) => double.IsNaN(v) ? "NaN" : v > 0 ? "+Infinity" : "-Infinity";

    /// <summary>Throws when any value is NaN or infinite.</summary>
    public static void ThrowIfAny(long step, IReadOnlyDictionary<string, double> values, string arm = "main")
    {
        foreach (var (k, v) in values)
            if (!double.IsFinite(v)) throw new NonFiniteMetricException(k, step, v, arm);
    }
}
