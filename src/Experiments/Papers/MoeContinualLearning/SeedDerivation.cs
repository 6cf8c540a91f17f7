using MathNet.Numerics.Random;

namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>Deterministic seeds for the parts of a run: SplitMix64 over the run seed and keys.</summary>
public static class SeedDerivation
{
    /// <summary>A 31-bit seed (for <see cref="MersenneTwister"/>) from <paramref name="seed"/> and keys.</summary>
    public static int Derive(long seed, params long[] keys)
    {
        ulong state = unchecked((ulong)seed);
        ulong z = Mix(ref state);
        foreach (long key in keys) { state ^= unchecked((ulong)key) + 0x9E3779B97F4A7C15UL; z = Mix(ref state); }
        return (int)(z & 0x7FFFFFFF);
    }

    private static ulong Mix(ref ulong state)
    {
        unchecked
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>A non-thread-safe Mersenne Twister seeded with <see cref="Derive"/>.</summary>
    public static Random Rng(long seed, params long[] keys) => new MersenneTwister(Derive(seed, keys), threadSafe: false);
}
