namespace MoeLab.Experiments.Runtime;

/// <summary>Derives independent, reproducible random streams from the run's one seed:
/// <c>Derive(seed, "data")</c> and <c>Derive(seed, "data-order-epoch-3")</c> give unrelated but
/// fixed seeds. The hash is our own (FNV-1a over UTF-16 code units, then SplitMix64), so it does
/// not change between .NET versions or processes (string.GetHashCode would).</summary>
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

    private static ulong SplitMix64(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
