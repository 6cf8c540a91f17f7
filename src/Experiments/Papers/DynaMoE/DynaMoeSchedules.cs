namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>Experts per layer N_l of DynaMoE's capacity schedules as this experiment uses them.
/// Formulas (ours: the paper names the shapes but not their formulas), r = l/(L−1) (r = 0 when L = 1):
/// uniform N̄; descending N_max − (N_max−N_min)·r; ascending N_min + (N_max−N_min)·r;
/// pyramid N_min + (N_max−N_min)·(1−|2r−1|); valley N_max − (N_max−N_min)·(1−|2r−1|);
/// wave N̄ + A·sin(2πf·r); each rounded (half away from zero) and clamped to ≥ 1.
/// <para>"published": those counts as they are (totals differ by schedule). "matched": the
/// same shape rescaled so Σ_l N_l = L·N̄ exactly (every schedule then has the same total experts,
/// hence the same total parameters): N_l ∝ raw_l, rounded by largest remainder, each ≥ 1.</para>
/// <para>NOTE: kept here (not src/Models) because the models branch had not shipped capacity
/// schedules when this experiment was built; it is self-contained and can move to
/// src/Models/Schedules unchanged.</para></summary>
public static class DynaMoeSchedules
{
    public static readonly string[] Names = ["uniform", "descending", "ascending", "pyramid", "valley", "wave"];

    /// <summary>N_l for <paramref name="schedule"/> in <paramref name="budget"/> mode ("matched" or "published").</summary>
    public static int[] Counts(string schedule, string budget, DynaMoeModelConfig m)
    {
        double[] raw = Raw(schedule, m.Layers, m.MeanExperts, m.MinExperts, m.MaxExperts, m.WaveAmplitude, m.WaveFrequency);
        return budget switch
        {
            "published" => raw.Select(v => Math.Max(1, (int)Math.Round(v, MidpointRounding.AwayFromZero))).ToArray(),
            "matched" => Matched(raw, m.Layers * m.MeanExperts),
            _ => throw new ArgumentException($"budget mode '{budget}' is not one of: matched, published."),
        };
    }

    /// <summary>Unrounded per-layer values of a schedule.</summary>
    public static double[] Raw(string schedule, int layers, double mean, double min, double max, double amplitude, double frequency)
    {
        if (layers < 1) throw new ArgumentException($"layers = {layers}: expected ≥ 1.");
        var values = new double[layers];
        for (int l = 0; l < layers; l++)
        {
            double r = layers == 1 ? 0 : l / (double)(layers - 1);
            double tri = 1 - Math.Abs(2 * r - 1);
            values[l] = schedule switch
            {
                "uniform" => mean,
                "descending" => max - (max - min) * r,
                "ascending" => min + (max - min) * r,
                "pyramid" => min + (max - min) * tri,
                "valley" => max - (max - min) * tri,
                "wave" => mean + amplitude * Math.Sin(2 * Math.PI * frequency * r),
                _ => throw new ArgumentException($"schedule '{schedule}' is not one of: {string.Join(", ", Names)}."),
            };
        }
        return values;
    }

    /// <summary>Integer counts ≥ 1 proportional to <paramref name="raw"/> summing to <paramref name="total"/>
    /// (largest-remainder rounding; ties to the earlier layer).</summary>
    public static int[] Matched(double[] raw, int total)
    {
        int layers = raw.Length;
        if (total < layers) throw new ArgumentException($"total {total} experts cannot give ≥ 1 to each of {layers} layers.");
        double[] clamped = raw.Select(v => Math.Max(v, 1e-9)).ToArray();
        double sum = clamped.Sum();
        // Start from 1 per layer, share the rest proportionally to (raw − its share of the floor).
        double[] target = clamped.Select(v => v / sum * total).ToArray();
        int[] counts = target.Select(t => Math.Max(1, (int)Math.Floor(t))).ToArray();
        while (counts.Sum() > total)
        {
            int i = Enumerable.Range(0, layers).Where(j => counts[j] > 1).MaxBy(j => counts[j] - target[j]);
            counts[i]--;
        }
        while (counts.Sum() < total)
        {
            int i = Enumerable.Range(0, layers).MaxBy(j => target[j] - counts[j]);
            counts[i]++;
        }
        return counts;
    }
}
