using System.Globalization;
using Microsoft.Data.Analysis;

namespace MoeLab.Experiments.Results;

/// <summary>The column types MoeLab tables use, and helpers to build DataFrame columns from boxed
/// values (null = missing). Every conversion uses the invariant culture.</summary>
public static class FrameColumns
{
    /// <summary>CLR element types a results table may hold.</summary>
    public static readonly IReadOnlyList<Type> SupportedTypes =
        new[] { typeof(double), typeof(float), typeof(long), typeof(int), typeof(bool), typeof(string) };

    /// <summary>Short names used in schema sidecar files.</summary>
    public static string TypeName(Type t) =>
        t == typeof(double) ? "double" : t == typeof(float) ? "float" : t == typeof(long) ? "long" :
        t == typeof(int) ? "int" : t == typeof(bool) ? "bool" : t == typeof(string) ? "string" :
        throw new NotSupportedException($"column type {t.Name} is not supported (expected one of double, float, long, int, bool, string)");

    public static Type FromTypeName(string name, string context) => name switch
    {
        "double" => typeof(double),
        "float" => typeof(float),
        "long" => typeof(long),
        "int" => typeof(int),
        "bool" => typeof(bool),
        "string" => typeof(string),
        _ => throw new FormatException($"{context}: unknown column type '{name}' (expected double, float, long, int, bool or string)"),
    };

    /// <summary>Element type of a column; throws naming the column if unsupported.</summary>
    public static Type ElementType(DataFrameColumn column)
    {
        Type t = column.DataType;
        if (!SupportedTypes.Contains(t))
            throw new NotSupportedException($"column '{column.Name}' has type {t.Name}; results tables hold double, float, long, int, bool or string");
        return t;
    }

    /// <summary>Builds a column of type <paramref name="type"/> from boxed values (null = missing).</summary>
    public static DataFrameColumn Create(string name, Type type, IEnumerable<object?> values)
    {
        if (type == typeof(double)) return new DoubleDataFrameColumn(name, values.Select(v => v is null ? (double?)null : Convert.ToDouble(v, CultureInfo.InvariantCulture)));
        if (type == typeof(float)) return new SingleDataFrameColumn(name, values.Select(v => v is null ? (float?)null : Convert.ToSingle(v, CultureInfo.InvariantCulture)));
        if (type == typeof(long)) return new Int64DataFrameColumn(name, values.Select(v => v is null ? (long?)null : Convert.ToInt64(v, CultureInfo.InvariantCulture)));
        if (type == typeof(int)) return new Int32DataFrameColumn(name, values.Select(v => v is null ? (int?)null : Convert.ToInt32(v, CultureInfo.InvariantCulture)));
        if (type == typeof(bool)) return new BooleanDataFrameColumn(name, values.Select(v => v is null ? (bool?)null : Convert.ToBoolean(v, CultureInfo.InvariantCulture)));
        if (type == typeof(string)) return new StringDataFrameColumn(name, values.Select(v => v is null ? null : Convert.ToString(v, CultureInfo.InvariantCulture)));
        throw new NotSupportedException($"column '{name}': type {type.Name} is not supported");
    }

    /// <summary>Non-null values of a column as doubles (for numeric columns).</summary>
    public static double? AsDouble(object? value) => value switch
    {
        null => null,
        double d => d,
        float f => f,
        long l => l,
        int i => i,
        bool b => b ? 1 : 0,
        _ => null,
    };

    public static bool IsNumeric(Type t) => t == typeof(double) || t == typeof(float) || t == typeof(long) || t == typeof(int);

    /// <summary>Formats one cell for display (invariant culture; null → empty).</summary>
    public static string Format(object? value) => value switch
    {
        null => "",
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Returns the column of that name or throws listing the columns there are.</summary>
    public static DataFrameColumn Get(DataFrame frame, string name)
    {
        int index = frame.Columns.IndexOf(name);
        if (index < 0)
            throw new ArgumentException($"no column '{name}' (columns: {string.Join(", ", frame.Columns.Select(c => c.Name))})");
        return frame.Columns[index];
    }

    public static bool Has(DataFrame frame, string name) => frame.Columns.IndexOf(name) >= 0;

    /// <summary>Rows whose <paramref name="keep"/> predicate is true, preserving column types.</summary>
    public static DataFrame Filter(DataFrame frame, Func<long, bool> keep)
    {
        var rows = new List<long>();
        for (long r = 0; r < frame.Rows.Count; r++) if (keep(r)) rows.Add(r);
        return Take(frame, rows);
    }

    /// <summary>The given rows (in order), preserving column types.</summary>
    public static DataFrame Take(DataFrame frame, IReadOnlyList<long> rows) =>
        new(frame.Columns.Select(c => Create(c.Name, ElementType(c), rows.Select(r => c[r]))));
}
