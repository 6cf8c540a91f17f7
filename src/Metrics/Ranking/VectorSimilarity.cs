namespace MoeLab.Metrics.Ranking;

/// <summary>Cosine similarity of vectors (e.g. gate vectors of a truncated and the full behaviour
/// sequence). Pure computation.</summary>
public static class VectorSimilarity
{
    /// <summary>cos(a, b) = a·b / (‖a‖ ‖b‖); NaN when either vector is zero.</summary>
    public static double Cosine(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        if (a.Count != b.Count) throw new ArgumentException($"vectors differ in length: {a.Count} vs {b.Count}.", nameof(b));
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Count; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return na == 0 || nb == 0 ? double.NaN : dot / Math.Sqrt(na * nb);
    }

    /// <summary>Cosine of each row pair of two row-major matrices [rows, dim].</summary>
    public static double[] RowCosines(IReadOnlyList<double> a, IReadOnlyList<double> b, int dim)
    {
        if (dim < 1) throw new ArgumentOutOfRangeException(nameof(dim), dim, "dim must be ≥ 1.");
        if (a.Count != b.Count || a.Count % dim != 0)
            throw new ArgumentException($"matrices must have the same length, a multiple of dim = {dim} (got {a.Count} and {b.Count}).", nameof(b));
        var result = new double[a.Count / dim];
        double[] aa = a as double[] ?? a.ToArray(), bb = b as double[] ?? b.ToArray();
        for (int r = 0; r < result.Length; r++)
        {
            var ra = new ArraySegment<double>(aa, r * dim, dim);
            var rb = new ArraySegment<double>(bb, r * dim, dim);
            result[r] = Cosine(ra, rb);
        }
        return result;
    }
}
