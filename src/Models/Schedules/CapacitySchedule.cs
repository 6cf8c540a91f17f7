namespace MoeLab.Models.Schedules;

/// <summary>How expert capacity (experts per MoE layer) varies with depth (DynaMoE, arXiv 2603.01697).</summary>
public enum ScheduleShape { Uniform, Descending, Ascending, Pyramid, Valley, Wave }

/// <summary>Number of experts N_l of each of L MoE layers. The paper does not give its formulas;
/// this is our parametrisation of DynaMoE's schedules with r = l/(L−1) (r = 0 when L = 1):
/// uniform N̄; descending N_max − (N_max−N_min)·r; ascending N_min + (N_max−N_min)·r;
/// pyramid N_min + (N_max−N_min)·(1−|2r−1|); valley N_max − (N_max−N_min)·(1−|2r−1|);
/// wave N̄ + A·sin(2πf·r). Values are rounded half away from zero and clamped to ≥ 1.
/// With <see cref="BudgetMatched"/> the raw values are rescaled so the total equals uniform's
/// L·round(N̄) exactly (proportional shares, every layer ≥ 1, corrected by largest remainder), so
/// schedules compare at equal total experts (equal parameters when all experts have the same size).
/// The one implementation of capacity schedules: DynaMoE's arms are built from it.</summary>
public sealed record CapacitySchedule
{
    /// <summary>Shape over depth.</summary>
    public ScheduleShape Shape { get; init; } = ScheduleShape.Uniform;

    /// <summary>Number of MoE layers L.</summary>
    public int Layers { get; init; } = 4;

    /// <summary>N_min (our choice per experiment; unknown in the paper).</summary>
    public int MinExperts { get; init; } = 2;

    /// <summary>N_max.</summary>
    public int MaxExperts { get; init; } = 8;

    /// <summary>N̄ for uniform and wave; null = (N_min + N_max)/2.</summary>
    public double? MeanExperts { get; init; }

    /// <summary>Wave amplitude A; null = (N_max − N_min)/2.</summary>
    public double? WaveAmplitude { get; init; }

    /// <summary>Wave frequency f (periods over the depth); 1 by default.</summary>
    public double WaveFrequency { get; init; } = 1;

    /// <summary>Rescale to uniform's total number of experts.</summary>
    public bool BudgetMatched { get; init; }

    public double Mean => MeanExperts ?? (MinExperts + MaxExperts) / 2.0;

    /// <summary>Unrounded N_l from the formulas.</summary>
    public double[] RawExperts()
    {
        Validate();
        var values = new double[Layers];
        double span = MaxExperts - MinExperts;
        double amplitude = WaveAmplitude ?? span / 2;
        for (int l = 0; l < Layers; l++)
        {
            double r = Layers == 1 ? 0 : (double)l / (Layers - 1);
            double tent = 1 - Math.Abs(2 * r - 1);
            values[l] = Shape switch
            {
                ScheduleShape.Uniform => Mean,
                ScheduleShape.Descending => MaxExperts - span * r,
                ScheduleShape.Ascending => MinExperts + span * r,
                ScheduleShape.Pyramid => MinExperts + span * tent,
                ScheduleShape.Valley => MaxExperts - span * tent,
                ScheduleShape.Wave => Mean + amplitude * Math.Sin(2 * Math.PI * WaveFrequency * r),
                _ => throw new ArgumentException($"CapacitySchedule.Shape: unknown shape {Shape}."),
            };
        }
        return values;
    }

    /// <summary>N_l for l = 0..L−1.</summary>
    public int[] ExpertsPerLayer()
    {
        var raw = RawExperts();
        if (!BudgetMatched)
            return raw.Select(v => Math.Max(1, (int)Math.Round(v, MidpointRounding.AwayFromZero))).ToArray();
        long total = UniformTotal;
        if (total < Layers)
            throw new ArgumentException($"CapacitySchedule: a budget of {total} experts cannot give {Layers} layers ≥ 1 expert each.");
        // Proportional shares of the budget, floored (each ≥ 1), then corrected one expert at a time:
        // take from the layer furthest above its share, give to the layer furthest below it (ties: the
        // earlier layer), until the counts sum to the budget exactly.
        double[] positive = raw.Select(v => Math.Max(v, 1e-9)).ToArray();
        double sum = positive.Sum();
        double[] share = positive.Select(v => v / sum * total).ToArray();
        int[] counts = share.Select(t => Math.Max(1, (int)Math.Floor(t))).ToArray();
        while (counts.Sum() > total)
        {
            int i = Enumerable.Range(0, Layers).Where(l => counts[l] > 1).MaxBy(l => counts[l] - share[l]);
            counts[i]--;
        }
        while (counts.Sum() < total)
        {
            int i = Enumerable.Range(0, Layers).MaxBy(l => share[l] - counts[l]);
            counts[i]++;
        }
        return counts;
    }

    /// <summary>Shape names as configs and arm names spell them: uniform, descending, ascending,
    /// pyramid, valley, wave.</summary>
    public static IReadOnlyList<string> ShapeNames { get; } =
        Enum.GetValues<ScheduleShape>().Select(v => v.ToString().ToLowerInvariant()).ToArray();

    /// <summary>The shape named <paramref name="name"/> (case-insensitive); a clear error otherwise.</summary>
    public static ScheduleShape ParseShape(string name) =>
        Enum.TryParse<ScheduleShape>(name, ignoreCase: true, out var shape) && Enum.IsDefined(shape)
            ? shape
            : throw new ArgumentException($"schedule '{name}' is not one of: {string.Join(", ", ShapeNames)}.");

    /// <summary>Total experts of the uniform schedule, L·round(N̄): the budget of budget-matched mode.</summary>
    public long UniformTotal => (long)Layers * Math.Max(1, (int)Math.Round(Mean, MidpointRounding.AwayFromZero));

    public void Validate()
    {
        if (Layers < 1) throw new ArgumentException($"CapacitySchedule.Layers = {Layers}: expected ≥ 1.");
        if (MinExperts < 1 || MaxExperts < MinExperts)
            throw new ArgumentException($"CapacitySchedule: expected 1 ≤ MinExperts ≤ MaxExperts, got {MinExperts}, {MaxExperts}.");
        if (WaveFrequency < 0) throw new ArgumentException($"CapacitySchedule.WaveFrequency = {WaveFrequency}: expected ≥ 0.");
    }
}
