namespace MoeLab.Metrics.Ranking;

/// <summary>Agreement between two labellings of the same items: normalised mutual information
/// NMI = I(A;B) / ((H(A) + H(B)) / 2) (arithmetic-mean normalisation), in [0, 1]. Natural logs;
/// the normalisation cancels the base. Pure computation.</summary>
public static class ClusterAgreement
{
    /// <summary>NMI of labellings <paramref name="a"/> and <paramref name="b"/>. By convention 1 when both
    /// are constant (identical trivial partitions) and 0 when only one of them is constant.</summary>
    public static double NormalizedMutualInformation(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (a.Count != b.Count) throw new ArgumentException($"labellings differ in length: {a.Count} vs {b.Count}.", nameof(b));
        if (a.Count == 0) throw new ArgumentException("NMI of empty labellings is undefined.", nameof(a));
        double n = a.Count;
        var joint = new Dictionary<(int, int), int>();
        var ca = new Dictionary<int, int>();
        var cb = new Dictionary<int, int>();
        for (int i = 0; i < a.Count; i++)
        {
            joint[(a[i], b[i])] = joint.GetValueOrDefault((a[i], b[i])) + 1;
            ca[a[i]] = ca.GetValueOrDefault(a[i]) + 1;
            cb[b[i]] = cb.GetValueOrDefault(b[i]) + 1;
        }
        double ha = Entropy(ca.Values, n), hb = Entropy(cb.Values, n);
        if (ha == 0 && hb == 0) return 1.0;
        if (ha == 0 || hb == 0) return 0.0;
        double mi = 0;
        foreach (var ((x, y), c) in joint)
            mi += c / n * Math.Log(c * n / ((double)ca[x] * cb[y]));
        return Math.Clamp(mi / ((ha + hb) / 2), 0.0, 1.0);
    }

    private static double Entropy(IEnumerable<int> counts, double n) =>
        -counts.Sum(c => c / n * Math.Log(c / n));
}
