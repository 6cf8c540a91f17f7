using System.Globalization;
using System.Text;

namespace MoeLab.Experiments.Cluster;

/// <summary>Slurm's --array value for a set of indices: runs of consecutive indices as ranges
/// (0-5; 1,3,7-9), then %K to run at most K tasks at once.</summary>
public static class ArraySpec
{
    public static string Format(IEnumerable<int> indices, int? maxParallel = null)
    {
        var sorted = indices.Distinct().Order().ToList();
        if (sorted.Count == 0) throw new ArgumentException("An array job needs at least one index.", nameof(indices));
        var sb = new StringBuilder();
        for (int i = 0; i < sorted.Count;)
        {
            int j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1) j++;
            if (sb.Length > 0) sb.Append(',');
            sb.Append(sorted[i].ToString(CultureInfo.InvariantCulture));
            if (j > i) sb.Append('-').Append(sorted[j].ToString(CultureInfo.InvariantCulture));
            i = j + 1;
        }
        if (maxParallel is { } k) sb.Append('%').Append(k.ToString(CultureInfo.InvariantCulture));
        return sb.ToString();
    }

    /// <summary>The indices of a spec written by <see cref="Format"/> (the %K part is ignored).</summary>
    public static IReadOnlyList<int> Parse(string spec)
    {
        string body = spec.Split('%')[0];
        var result = new List<int>();
        foreach (string part in body.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-');
            if (dash < 0) result.Add(int.Parse(part, CultureInfo.InvariantCulture));
            else
            {
                int a = int.Parse(part[..dash], CultureInfo.InvariantCulture), b = int.Parse(part[(dash + 1)..], CultureInfo.InvariantCulture);
                for (int x = a; x <= b; x++) result.Add(x);
            }
        }
        return result;
    }
}
