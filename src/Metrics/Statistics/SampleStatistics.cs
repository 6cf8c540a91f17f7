namespace MoeLab.Metrics.Statistics;

/// <summary>Mean, sample standard deviation and median of a sample: the one place these are
/// computed for seeds, repetitions and benchmark timings.</summary>
public static class SampleStatistics
{
    /// <summary>Arithmetic mean; NaN for an empty sample.</summary>
    public static double Mean(IEnumerable<double> values)
    {
        var v = values as IReadOnlyCollection<double> ?? values.ToArray();
        return v.Count == 0 ? double.NaN : v.Average();
    }

    /// <summary>Sample standard deviation (divisor n − 1); NaN for fewer than two values (a spread
    /// of one seed does not exist — never report it as 0; people see "–").</summary>
    public static double Std(IEnumerable<double> values)
    {
        var v = values as IReadOnlyCollection<double> ?? values.ToArray();
        if (v.Count < 2) return double.NaN;
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1));
    }

    /// <summary>Standard error of the mean, sd/√n; NaN for fewer than 2 values (as <see cref="Std"/>).</summary>
    public static double StandardError(IEnumerable<double> values)
    {
        var v = values as IReadOnlyCollection<double> ?? values.ToArray();
        return Std(v) / Math.Sqrt(v.Count);
    }

    /// <summary>Median (mean of the two middle values for an even count); NaN for an empty sample.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        if (v.Length == 0) return double.NaN;
        return v.Length % 2 == 1 ? v[v.Length / 2] : 0.5 * (v[v.Length / 2 - 1] + v[v.Length / 2]);
    }
}
