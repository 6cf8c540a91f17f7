namespace MoeLab.Experiments.Data.TimeSeries;

/// <summary>Settings of <see cref="RegimeSwitchingSeries"/>.</summary>
/// <param name="Length">time steps T.</param>
/// <param name="Channels">channels C (they share the regime path; each has its own scale, offset and phase).</param>
/// <param name="Regimes">number of regimes K.</param>
/// <param name="MeanDuration">mean run length of a regime in steps (Markov switching: after a minimum of
/// <paramref name="MinDuration"/> steps the regime leaves with probability 1/(MeanDuration − MinDuration + 1) per step).</param>
/// <param name="MinDuration">shortest run of a regime in steps.</param>
/// <param name="IidBlock">negative control: when &gt; 0, regimes are drawn i.i.d. uniformly for every block
/// of this many steps (e.g. one patch), so runs no longer span several patches and the mean/min durations are ignored.</param>
public sealed record RegimeSwitchingSettings(int Length = 20_000, int Channels = 3, int Regimes = 4, int MeanDuration = 96,
    int MinDuration = 40, int IidBlock = 0);

/// <summary>Seeded generator of a multivariate series with Markov-switching local dynamics and known
/// ground-truth regimes, built so that segment routing has something to find: each regime k has its own
/// period P_k (longer than a patch), amplitude A_k, AR(1) coefficient φ_k of the noise, noise scale σ_k and
/// drift δ_k. Per channel c: x_t = a_c·(A_k sin(2π·τ_t/P_k + θ_c) + e_t + ℓ_t) + b_c, with τ the time since the
/// regime started, e_t = φ_k e_{t−1} + σ_k ε_t and ℓ_t = 0.98 ℓ_{t−1} + δ_k (a mean-reverting trend level).
/// Run lengths are random, so regime boundaries do not align with any patch or segment grid. The
/// negative control (<see cref="RegimeSwitchingSettings.IidBlock"/>) redraws the regime independently
/// every block.</summary>
public static class RegimeSwitchingSeries
{
    /// <summary>One regime's dynamics.</summary>
    public sealed record Regime(double Period, double Amplitude, double Ar, double Noise, double Drift);

    /// <summary>The K regimes (fixed, deliberately distinct; the seed only moves the path and noise).</summary>
    public static IReadOnlyList<Regime> RegimeTable(int k)
    {
        var table = new List<Regime>
        {
            new(Period: 24, Amplitude: 1.0, Ar: 0.5, Noise: 0.15, Drift: 0.00),
            new(Period: 48, Amplitude: 0.4, Ar: 0.95, Noise: 0.25, Drift: 0.02),
            new(Period: 12, Amplitude: 1.5, Ar: 0.2, Noise: 0.10, Drift: -0.02),
            new(Period: 72, Amplitude: 0.8, Ar: 0.8, Noise: 0.40, Drift: 0.00),
            new(Period: 32, Amplitude: 0.2, Ar: 0.0, Noise: 0.60, Drift: 0.01),
            new(Period: 16, Amplitude: 1.2, Ar: 0.9, Noise: 0.05, Drift: -0.01),
        };
        if (k < 1 || k > table.Count) throw new ArgumentException($"RegimeSwitchingSeries: {k} regimes requested; 1..{table.Count} are defined.");
        return table.Take(k).ToList();
    }

    public static TimeSeriesData Generate(RegimeSwitchingSettings s, Random rng)
    {
        if (s.Length < 2 || s.Channels < 1) throw new ArgumentException($"RegimeSwitchingSeries: Length = {s.Length}, Channels = {s.Channels} must be ≥ 2 and ≥ 1.");
        if (s.IidBlock == 0 && (s.MinDuration < 1 || s.MeanDuration < s.MinDuration))
            throw new ArgumentException($"RegimeSwitchingSeries: need 1 ≤ MinDuration ({s.MinDuration}) ≤ MeanDuration ({s.MeanDuration}).");
        var regimes = RegimeTable(s.Regimes);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var scale = Enumerable.Range(0, s.Channels).Select(_ => 0.5 + 1.5 * rng.NextDouble()).ToArray();
        var offset = Enumerable.Range(0, s.Channels).Select(_ => 4 * rng.NextDouble() - 2).ToArray();
        var phase = Enumerable.Range(0, s.Channels).Select(_ => 2 * Math.PI * rng.NextDouble()).ToArray();
        var noise = new double[s.Channels];
        var level = new double[s.Channels];
        var path = new int[s.Length];
        var values = new float[s.Length, s.Channels];
        int current = rng.Next(s.Regimes), runLength = 0, started = 0;
        double leave = 1.0 / (s.MeanDuration - s.MinDuration + 1);
        for (int t = 0; t < s.Length; t++)
        {
            if (s.IidBlock > 0)
            {
                if (t % s.IidBlock == 0)
                {
                    int next = rng.Next(s.Regimes);
                    if (next != current) started = t;
                    current = next;
                }
            }
            else if (t > 0 && runLength >= s.MinDuration && rng.NextDouble() < leave && s.Regimes > 1)
            {
                int next = rng.Next(s.Regimes - 1);
                current = next >= current ? next + 1 : next;   // a different regime
                runLength = 0;
                started = t;
            }
            runLength++;
            path[t] = current;
            var r = regimes[current];
            double tau = t - started;
            for (int c = 0; c < s.Channels; c++)
            {
                noise[c] = r.Ar * noise[c] + r.Noise * Normal();
                level[c] = 0.98 * level[c] + r.Drift;
                double x = r.Amplitude * Math.Sin(2 * Math.PI * tau / r.Period + phase[c]) + noise[c] + level[c];
                values[t, c] = (float)(scale[c] * x + offset[c]);
            }
        }
        string name = s.IidBlock > 0 ? $"regimes-iid{s.IidBlock}" : "regimes";
        return new TimeSeriesData(name, Enumerable.Range(0, s.Channels).Select(c => $"x{c}").ToArray(), values, path);
    }
}
