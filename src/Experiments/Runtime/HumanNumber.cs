using System.Globalization;

namespace MoeLab.Experiments.Runtime;

/// <summary>Numbers for people (console lines, log lines, tables): invariant culture, and "–" for a
/// value that does not exist (NaN: e.g. the median of an empty sample, or a spread of one seed) —
/// never the word "NaN".</summary>
public static class HumanNumber
{
    public const string Missing = "–";

    public static string Format(double value, string format = "G5") =>
        double.IsNaN(value) ? Missing : value.ToString(format, CultureInfo.InvariantCulture);
}
