using System.Globalization;
using MoeLab.Models.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

/// <summary>"Same results" as the runtime promises them: byte for byte when LibTorch's CPU code paths
/// are pinned (the default, see <see cref="DeterministicNumerics"/>); when a user turned the pins off
/// (MOELAB_DETERMINISTIC=0) bitwise equality cannot hold on every CPU, so numbers are compared with
/// the stated relative tolerance <see cref="UnpinnedRelativeTolerance"/> and every failure message says so.</summary>
internal static class SameResults
{
    /// <summary>Relative tolerance when unpinned: MKL's kernels differ in the last bits of float32
    /// (≈1e-7 relative per operation, measured ≈1e-8–1e-7 on a loss); 1e-4 leaves room for growth
    /// over a few hundred training steps.</summary>
    public const double UnpinnedRelativeTolerance = 1e-4;

    public static bool Bitwise => DeterministicNumerics.Current.Pinned;

    public static void AssertCsv(string expectedPath, string actualPath)
    {
        string expected = File.ReadAllText(expectedPath), actual = File.ReadAllText(actualPath);
        if (Bitwise)
        {
            Assert.Equal(expected, actual);
            return;
        }
        string[] e = expected.Split('\n'), a = actual.Split('\n');
        Assert.True(e.Length == a.Length, $"{actualPath}: {a.Length} lines, expected {e.Length}");
        for (int i = 0; i < e.Length; i++)
        {
            string[] ec = e[i].Split(','), ac = a[i].Split(',');
            Assert.True(ec.Length == ac.Length, $"{actualPath} line {i + 1}: {ac.Length} cells, expected {ec.Length}");
            for (int j = 0; j < ec.Length; j++)
            {
                bool en = double.TryParse(ec[j], NumberStyles.Float, CultureInfo.InvariantCulture, out double ev);
                bool an = double.TryParse(ac[j], NumberStyles.Float, CultureInfo.InvariantCulture, out double av);
                if (en && an) AssertClose(ev, av, $"{actualPath} line {i + 1} cell {j + 1}");
                else Assert.Equal(ec[j], ac[j]);
            }
        }
    }

    public static void AssertValues(IEnumerable<double> expected, IEnumerable<double> actual, string what)
    {
        var e = expected.ToList();
        var a = actual.ToList();
        Assert.Equal(e.Count, a.Count);
        if (Bitwise)
        {
            Assert.Equal(e, a);
            return;
        }
        for (int i = 0; i < e.Count; i++) AssertClose(e[i], a[i], $"{what}[{i}]");
    }

    private static void AssertClose(double expected, double actual, string where)
    {
        double scale = Math.Max(Math.Abs(expected), Math.Abs(actual));
        Assert.True(expected.Equals(actual) || Math.Abs(expected - actual) <= UnpinnedRelativeTolerance * scale,
            $"{where}: {actual:R} vs {expected:R}, beyond the relative tolerance {UnpinnedRelativeTolerance} used because " +
            $"the numerics are not pinned ({DeterministicNumerics.Current})");
    }
}
