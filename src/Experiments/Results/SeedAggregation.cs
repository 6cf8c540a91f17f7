using MoeLab.Metrics.Statistics;
using MathNet.Numerics.Distributions;
using Microsoft.Data.Analysis;

namespace MoeLab.Experiments.Results;

/// <summary>Aggregates rows over seeds: groups by key columns and, for each metric, reports
/// mean, sample standard deviation (n − 1), the half-width of the two-sided 95 % confidence
/// interval of the mean (Student t with n − 1 degrees of freedom: t·s/√n) and n (non-missing
/// values). Std and CI are missing when n &lt; 2. NaN values are kept (they make the mean NaN:
/// a diverged seed must not silently disappear); missing values are skipped.</summary>
public static class SeedAggregation
{
    /// <summary>Suffixes of the aggregated columns: "&lt;metric&gt;.mean" etc.</summary>
    public const string Mean = ".mean", Std = ".std", Ci95 = ".ci95", Count = ".n";

    /// <summary>Name of the column holding the number of rows in each group.</summary>
    public const string Rows = "n";

    /// <summary>Summary statistics of one sample.</summary>
    public readonly record struct Stats(int N, double? Mean, double? Std, double? Ci95);

    /// <summary>Mean, sample std and 95 % CI half-width of <paramref name="values"/>.</summary>
    public static Stats Compute(IReadOnlyList<double> values, double confidence = 0.95)
    {
        int n = values.Count;
        if (n == 0) return new Stats(0, null, null, null);
        double mean = values.Sum() / n;
        if (n < 2) return new Stats(1, mean, null, null);
        double std = SampleStatistics.Std(values);
        double t = StudentT.InvCDF(0, 1, n - 1, 1 - (1 - confidence) / 2);
        return new Stats(n, mean, std, t * std / Math.Sqrt(n));
    }

    /// <summary>Groups <paramref name="frame"/> by <paramref name="groupBy"/> (key columns keep their
    /// types; groups sorted by key) and aggregates each of <paramref name="metrics"/> (numeric columns).</summary>
    public static DataFrame Aggregate(DataFrame frame, IReadOnlyList<string> groupBy, IReadOnlyList<string> metrics, double confidence = 0.95)
    {
        var keyCols = groupBy.Select(k => FrameColumns.Get(frame, k)).ToList();
        var metricCols = metrics.Select(m => FrameColumns.Get(frame, m)).ToList();
        foreach (var m in metricCols)
            if (!FrameColumns.IsNumeric(FrameColumns.ElementType(m)))
                throw new ArgumentException($"metric column '{m.Name}' is {m.DataType.Name}, not numeric");

        var groups = new Dictionary<string, (object?[] Key, List<long> Rows)>();
        for (long r = 0; r < frame.Rows.Count; r++)
        {
            var key = keyCols.Select(c => c[r]).ToArray();
            string id = string.Join("\u001f", key.Select(v => v is null ? "\u0000" : v.GetType().Name + ":" + FrameColumns.Format(v is double d ? (object)d.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : v)));
            if (!groups.TryGetValue(id, out var g)) groups[id] = g = (key, new List<long>());
            g.Rows.Add(r);
        }
        var ordered = groups.Values.OrderBy(g => g.Key, KeyComparer.Instance).ToList();

        var columns = new List<DataFrameColumn>();
        for (int k = 0; k < keyCols.Count; k++)
            columns.Add(FrameColumns.Create(keyCols[k].Name, FrameColumns.ElementType(keyCols[k]), ordered.Select(g => g.Key[k])));
        columns.Add(new Int64DataFrameColumn(Rows, ordered.Select(g => (long?)g.Rows.Count)));
        foreach (var m in metricCols)
        {
            var stats = ordered.Select(g => Compute(g.Rows.Select(r => FrameColumns.AsDouble(m[r])).Where(v => v.HasValue).Select(v => v!.Value).ToList(), confidence)).ToList();
            columns.Add(new DoubleDataFrameColumn(m.Name + Mean, stats.Select(s => s.Mean)));
            columns.Add(new DoubleDataFrameColumn(m.Name + Std, stats.Select(s => s.Std)));
            columns.Add(new DoubleDataFrameColumn(m.Name + Ci95, stats.Select(s => s.Ci95)));
            columns.Add(new Int64DataFrameColumn(m.Name + Count, stats.Select(s => (long?)s.N)));
        }
        return new DataFrame(columns);
    }

    /// <summary>Orders key tuples: missing first, numbers numerically, text ordinally.</summary>
    public sealed class KeyComparer : IComparer<object?[]>
    {
        public static readonly KeyComparer Instance = new();

        public int Compare(object?[]? a, object?[]? b)
        {
            if (a is null || b is null) return (a is null ? 0 : 1) - (b is null ? 0 : 1);
            for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
            {
                int c = CompareValues(a[i], b[i]);
                if (c != 0) return c;
            }
            return a.Length.CompareTo(b.Length);
        }

        public static int CompareValues(object? x, object? y)
        {
            if (x is null || y is null) return (x is null ? 0 : 1) - (y is null ? 0 : 1);
            double? dx = x is bool ? null : FrameColumns.AsDouble(x), dy = y is bool ? null : FrameColumns.AsDouble(y);
            if (dx.HasValue && dy.HasValue) return dx.Value.CompareTo(dy.Value);
            if (x is bool bx && y is bool by) return bx.CompareTo(by);
            return string.CompareOrdinal(FrameColumns.Format(x), FrameColumns.Format(y));
        }
    }
}
