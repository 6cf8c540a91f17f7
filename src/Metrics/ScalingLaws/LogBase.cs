namespace MoeLab.Metrics.ScalingLaws;

/// <summary>Base of a logarithm in a fitted law. Published laws often write "log" without a base; the
/// coefficients are only meaningful with the base they were fitted with.</summary>
public enum LogBase
{
    Two,
    E,
    Ten,
}

public static class LogBases
{
    /// <summary>log_base(x).</summary>
    public static double Log(this LogBase logBase, double x) => logBase switch
    {
        LogBase.Two => Math.Log2(x),
        LogBase.E => Math.Log(x),
        LogBase.Ten => Math.Log10(x),
        _ => throw new ArgumentOutOfRangeException(nameof(logBase), logBase, "unknown log base"),
    };

    /// <summary>base^y (the inverse of <see cref="Log"/>).</summary>
    public static double Power(this LogBase logBase, double y) => logBase switch
    {
        LogBase.Two => Math.Pow(2, y),
        LogBase.E => Math.Exp(y),
        LogBase.Ten => Math.Pow(10, y),
        _ => throw new ArgumentOutOfRangeException(nameof(logBase), logBase, "unknown log base"),
    };

    public static string Symbol(this LogBase logBase) => logBase switch
    {
        LogBase.Two => "log2",
        LogBase.E => "ln",
        LogBase.Ten => "log10",
        _ => logBase.ToString(),
    };
}
