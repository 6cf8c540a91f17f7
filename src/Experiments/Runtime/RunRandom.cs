namespace MoeLab.Experiments.Runtime;

/// <summary>Derives independent, reproducible random streams from the run's one seed:
/// <c>Derive(seed, "data")</c> and <c>Derive(seed, "data-order-epoch-3")</c> give unrelated but
/// fixed seeds. The hash is our own (FNV-1a over UTF-16 code units, then SplitMix64), so it does
/// not change between .NET versions or processes (string.GetHashCode would). The one seeding API of the
/// lab: experiments reach it through <see cref="RunContext.CreateRandom"/>, <see cref="RunContext.DeriveSeed"/>
/// and <see cref="RunContext.CreateGenerator"/>; simulations with numbered parts use <see cref="Mersenne"/>.</summary>
public static class RunRandom
{
    public static long Derive(long seed, string stream)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in stream)
        {
            h ^= c;
            h *= 1099511628211UL;
        }
        return (long)SplitMix64((ulong)seed ^ SplitMix64(h));
    }

    /// <summary>A 32-bit seed for System.Random / MathNet generators.</summary>
    public static int Derive32(long seed, string stream)
    {
        long d = Derive(seed, stream);
        return (int)((d ^ (d >> 32)) & 0x7FFFFFFF);
    }

    /// <summary>A System.Random seeded from (seed, stream). System.Random(int) is the
    /// deterministic legacy generator: same seed, same sequence, on every platform.</summary>
    public static Random Create(long seed, string stream) => new(Derive32(seed, stream));

    /// <summary>A stream indexed by integers rather than a name, for simulations whose parts are numbered
    /// (study, repetition, part: <c>RunRandom.Mersenne(seed, study, rep, 0)</c>): a SplitMix64 chain over
    /// the seed and the keys gives a 31-bit seed for a non-thread-safe MathNet Mersenne Twister (fast,
    /// and MathNet's distributions sample from it). Fixed across .NET versions and processes.</summary>
    public static Random Mersenne(long seed, params long[] keys) => new MathNet.Numerics.Random.MersenneTwister(DeriveKeyed(seed, keys), threadSafe: false);

    /// <summary>The 31-bit seed of <see cref="Mersenne"/>.</summary>
    public static int DeriveKeyed(long seed, params long[] keys)
    {
        ulong state = unchecked((ulong)seed);
        ulong z = NextSplitMix(ref state);
        foreach (long key in keys) { state ^= unchecked((ulong)key) + 0x9E3779B97F4A7C15UL; z = NextSplitMix(ref state); }
        return (int)(z & 0x7FFFFFFF);
    }

    private static ulong NextSplitMix(ref ulong state)
    {
        unchecked
        {
            state += 0x9E3779B97F4A7C15UL;
            return Finalise(state);
        }
    }

    private static ulong Finalise(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong SplitMix64(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    /// <summary>A permutation of 0..n−1 (Fisher–Yates from the top, one <c>rng.Next(i + 1)</c> per position):
    /// an epoch's data order from <c>ctx.CreateRandom($"data-order-epoch-{epoch}")</c>.</summary>
    public static long[] Permutation(int n, Random rng)
    {
        var p = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        for (int i = n - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }
}
