using System.Globalization;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Results;

/// <summary>The lab's one rounding rule for numbers with a spread, used by the report, the claims
/// tables and <c>moelab table</c>:
/// <list type="number">
/// <item>the spread (sd, CI half-width) is rounded to 2 significant digits;</item>
/// <item>the mean is rounded to the same decimal place as the spread's last digit
/// (0.21834 ± 0.06312 → "0.218 ± 0.063"; 1110.4 ± 23.4 → "1110 ± 23"; 82.46 ± 0.5 → "82.46 ± 0.50");</item>
/// <item>without a spread (one seed, or a spread of 0) the value keeps 4 significant digits;</item>
/// <item>values whose rounding would need more than 6 decimals, or of magnitude ≥ 10⁶, are written in
/// scientific notation with 3 significant digits (mean) and 2 (spread);</item>
/// <item>a missing value (NaN) is "–" (<see cref="HumanNumber.Missing"/>).</item>
/// </list></summary>
public static class Rounding
{
    public const int SpreadDigits = 2, ValueDigits = 4, MaxDecimals = 6;

    /// <summary>Mean and spread as two strings rounded by the rule above; the spread is "–" when missing.</summary>
    public static (string Mean, string Spread) MeanSpread(double mean, double? spread)
    {
        if (double.IsNaN(mean)) return (HumanNumber.Missing, spread is double s0 && !double.IsNaN(s0) ? Significant(s0, SpreadDigits) : HumanNumber.Missing);
        if (spread is not double s || double.IsNaN(s) || s == 0 || double.IsInfinity(s))
            return (Value(mean), spread is double z && z == 0 ? "0" : HumanNumber.Missing);
        s = Math.Abs(s);
        int decimals = SpreadDigits - 1 - (int)Math.Floor(Math.Log10(s));
        if (decimals > MaxDecimals || Math.Abs(mean) >= 1e6 || s >= 1e6)
            return (mean.ToString("0.##e+0", CultureInfo.InvariantCulture), s.ToString("0.#e+0", CultureInfo.InvariantCulture));
        if (decimals >= 0)
        {
            string f = "F" + decimals.ToString(CultureInfo.InvariantCulture);
            return (Math.Round(mean, decimals, MidpointRounding.AwayFromZero).ToString(f, CultureInfo.InvariantCulture),
                    Math.Round(s, decimals, MidpointRounding.AwayFromZero).ToString(f, CultureInfo.InvariantCulture));
        }
        double unit = Math.Pow(10, -decimals); // spread ≥ 100: round to tens, hundreds, …
        return ((Math.Round(mean / unit, MidpointRounding.AwayFromZero) * unit).ToString("F0", CultureInfo.InvariantCulture),
                (Math.Round(s / unit, MidpointRounding.AwayFromZero) * unit).ToString("F0", CultureInfo.InvariantCulture));
    }

    /// <summary>"mean ± spread (n)", or "mean (n)" / "mean ± – (1)" for one value, by the rule above.</summary>
    public static string MeanSd(double mean, double? spread, long? n = null)
    {
        var (m, s) = MeanSpread(mean, spread);
        string text = m == HumanNumber.Missing ? m : m + " ± " + s;
        return n is long k ? $"{text} ({k})" : text;
    }

    /// <summary>A value without spread: 4 significant digits (scientific beyond 10⁶ or below 10⁻⁴).</summary>
    public static string Value(double v)
    {
        if (double.IsNaN(v)) return HumanNumber.Missing;
        if (v == 0) return "0";
        double a = Math.Abs(v);
        if (a >= 1e6 || a < 1e-4) return v.ToString("0.###e+0", CultureInfo.InvariantCulture);
        return Significant(v, ValueDigits);
    }

    /// <summary><paramref name="v"/> rounded to <paramref name="digits"/> significant digits, trailing zeros kept
    /// for values below 10^digits (integers above are written without decimals).</summary>
    public static string Significant(double v, int digits)
    {
        if (double.IsNaN(v)) return HumanNumber.Missing;
        if (v == 0) return "0";
        int decimals = digits - 1 - (int)Math.Floor(Math.Log10(Math.Abs(v)));
        if (decimals > MaxDecimals + 2) return v.ToString("0.#e+0", CultureInfo.InvariantCulture);
        if (decimals <= 0)
        {
            double unit = Math.Pow(10, -decimals);
            return (Math.Round(v / unit, MidpointRounding.AwayFromZero) * unit).ToString("F0", CultureInfo.InvariantCulture);
        }
        return Math.Round(v, decimals, MidpointRounding.AwayFromZero).ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    /// <summary>A share (0–1) as a percentage: whole percentages without decimals ("95 %"), others with one ("94.7 %").</summary>
    public static string Percent(double share)
    {
        if (double.IsNaN(share)) return HumanNumber.Missing;
        double p = Math.Round(100 * share, 1, MidpointRounding.AwayFromZero);
        return p.ToString(p % 1 == 0 ? "F0" : "F1", CultureInfo.InvariantCulture) + " %";
    }
}
