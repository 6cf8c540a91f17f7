using MoeLab.Experiments.Runtime;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Analysis;
using Parquet;
using Parquet.Schema;

namespace MoeLab.Experiments.Results;

/// <summary>Saves and loads results tables as CSV and Parquet, keeping column types (double, float,
/// long, int, bool, string) and nulls.
/// <para>CSV (RFC 4180, invariant culture, doubles in round-trip form): a missing value is an empty
/// unquoted field; an empty string is written quoted (<c>""</c>) so it stays distinct from null.
/// Column types go to a sidecar <c>&lt;name&gt;.schema.json</c>; without one, types are inferred
/// (long if every value is an integer, double if every value is a number, bool if every value is
/// true/false, else string) — never DataFrame.LoadCsv's float guess.</para></summary>
public static class FrameIO
{
    // ---------------------------------------------------------------- CSV

    /// <summary>Path of the schema sidecar of a CSV file: x.csv → x.schema.json.</summary>
    public static string SchemaPath(string csvPath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(csvPath))!, Path.GetFileNameWithoutExtension(csvPath) + ".schema.json");

    /// <summary>Writes <paramref name="frame"/> as CSV (atomically), plus its schema sidecar unless
    /// <paramref name="writeSchema"/> is false.</summary>
    public static void SaveCsv(DataFrame frame, string path, bool writeSchema = true)
    {
        var columns = frame.Columns.ToList();
        var types = columns.Select(FrameColumns.ElementType).ToList();
        var sb = new StringBuilder();
        sb.Append(string.Join(",", columns.Select(c => Csv.Quote(c.Name, forceQuoteEmpty: true)))).Append('\n');
        for (long r = 0; r < frame.Rows.Count; r++)
        {
            for (int c = 0; c < columns.Count; c++)
            {
                if (c > 0) sb.Append(',');
                sb.Append(FormatCell(columns[c][r], types[c]));
            }
            sb.Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
        if (writeSchema)
        {
            var schema = columns.Select((c, i) => new Dictionary<string, string> { ["name"] = c.Name, ["type"] = FrameColumns.TypeName(types[i]) });
            AtomicFile.WriteAllText(SchemaPath(path), JsonSerializer.Serialize(new { columns = schema }, new JsonSerializerOptions { WriteIndented = true }));
        }
    }

    static string FormatCell(object? value, Type type)
    {
        if (value is null) return "";
        return value switch
        {
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            float f => f.ToString("R", CultureInfo.InvariantCulture),
            long l => l.ToString(CultureInfo.InvariantCulture),
            int i => i.ToString(CultureInfo.InvariantCulture),
            bool b => b ? "true" : "false",
            string s => Csv.Quote(s, forceQuoteEmpty: true),
            _ => throw new NotSupportedException($"cannot write a {type.Name} cell"),
        };
    }

    /// <summary>Loads a CSV written by <see cref="SaveCsv"/> (or any RFC 4180 CSV with a header).
    /// Column types come from <paramref name="types"/> (name → type) when given, else from the
    /// schema sidecar when present, else are inferred.</summary>
    public static DataFrame LoadCsv(string path, IReadOnlyDictionary<string, Type>? types = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CSV file not found: {path}", path);
        var rows = Csv.Parse(File.ReadAllText(path), path);
        if (rows.Count == 0) throw new FormatException($"{path}: empty file (expected a header row)");
        var header = rows[0].Select(f => f.Text).ToList();
        var dupe = header.GroupBy(h => h).FirstOrDefault(g => g.Count() > 1);
        if (dupe is not null) throw new FormatException($"{path}: duplicate column '{dupe.Key}' in header");
        for (int r = 1; r < rows.Count; r++)
            if (rows[r].Count != header.Count)
                throw new FormatException($"{path}: row {r + 1} has {rows[r].Count} fields, header has {header.Count}");

        types ??= ReadSchema(path);
        var columns = new List<DataFrameColumn>();
        for (int c = 0; c < header.Count; c++)
        {
            var cells = rows.Skip(1).Select(row => row[c]).ToList();
            Type type = types is not null && types.TryGetValue(header[c], out var t) ? t : InferType(cells);
            var values = cells.Select((cell, i) => ParseCell(cell, type, path, header[c], i + 2)).ToList();
            columns.Add(FrameColumns.Create(header[c], type, values));
        }
        return new DataFrame(columns);
    }

    static Dictionary<string, Type>? ReadSchema(string csvPath)
    {
        string schemaPath = SchemaPath(csvPath);
        if (!File.Exists(schemaPath)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(schemaPath));
            var result = new Dictionary<string, Type>();
            foreach (var col in doc.RootElement.GetProperty("columns").EnumerateArray())
                result[col.GetProperty("name").GetString()!] = FrameColumns.FromTypeName(col.GetProperty("type").GetString() ?? "", schemaPath);
            return result;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"{schemaPath}: invalid schema file (expected {{\"columns\":[{{\"name\":..,\"type\":..}}]}}): {e.Message}", e);
        }
    }

    /// <summary>Infers a column type from raw cells: long, double, bool, else string.</summary>
    public static Type InferType(IReadOnlyList<Csv.Field> cells)
    {
        var present = cells.Where(c => !c.IsMissing).Select(c => c.Text).ToList();
        if (cells.Any(c => c.Quoted)) return typeof(string);
        if (present.Count == 0) return typeof(string);
        if (present.All(s => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))) return typeof(long);
        if (present.All(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _))) return typeof(double);
        if (present.All(s => s is "true" or "false" or "True" or "False")) return typeof(bool);
        return typeof(string);
    }

    static object? ParseCell(Csv.Field cell, Type type, string path, string column, int line)
    {
        if (cell.IsMissing) return null;
        string s = cell.Text;
        bool ok;
        object? value;
        if (type == typeof(string)) return s;
        if (type == typeof(double)) { ok = double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d); value = d; }
        else if (type == typeof(float)) { ok = float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var f); value = f; }
        else if (type == typeof(long)) { ok = long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l); value = l; }
        else if (type == typeof(int)) { ok = int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i); value = i; }
        else if (type == typeof(bool)) { ok = bool.TryParse(s, out var b); value = b; }
        else throw new NotSupportedException($"{path}: column '{column}' has unsupported type {type.Name}");
        if (!ok) throw new FormatException($"{path}: row {line}, column '{column}': '{s}' is not a valid {FrameColumns.TypeName(type)}");
        return value;
    }

    // ---------------------------------------------------------------- Parquet

    /// <summary>Writes <paramref name="frame"/> as one Parquet row group (atomically). Every column is
    /// written nullable so missing values survive.</summary>
    public static void SaveParquet(DataFrame frame, string path) =>
        Task.Run(() => SaveParquetAsync(frame, path)).GetAwaiter().GetResult();

    public static async Task SaveParquetAsync(DataFrame frame, string path)
    {
        var columns = frame.Columns.ToList();
        var fields = columns.Select(c => MakeField(c.Name, FrameColumns.ElementType(c))).ToList();
        var schema = new ParquetSchema(fields.Cast<Field>());
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + ".tmp-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            await using (var stream = File.Create(tmp))
            {
                await using var writer = await ParquetWriter.CreateAsync(schema, stream);
                using var group = writer.CreateRowGroup();
                for (int c = 0; c < columns.Count; c++)
                {
                    var col = columns[c];
                    var field = fields[c];
                    int n = (int)col.Length;
                    Type t = FrameColumns.ElementType(col);
                    if (t == typeof(string))
                        await group.WriteAsync(field, Enumerable.Range(0, n).Select(i => (string?)col[i]).ToArray()!);
                    else if (t == typeof(double)) await group.WriteAsync<double>(field, Values<double>(col, n));
                    else if (t == typeof(float)) await group.WriteAsync<float>(field, Values<float>(col, n));
                    else if (t == typeof(long)) await group.WriteAsync<long>(field, Values<long>(col, n));
                    else if (t == typeof(int)) await group.WriteAsync<int>(field, Values<int>(col, n));
                    else if (t == typeof(bool)) await group.WriteAsync<bool>(field, Values<bool>(col, n));
                }
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    static ReadOnlyMemory<T?> Values<T>(DataFrameColumn col, int n) where T : struct
    {
        var values = new T?[n];
        for (int i = 0; i < n; i++) values[i] = col[i] is T v ? v : null;
        return values;
    }

    static DataField MakeField(string name, Type t) =>
        t == typeof(string) ? new DataField<string>(name, true) :
        t == typeof(double) ? new DataField<double?>(name, true) :
        t == typeof(float) ? new DataField<float?>(name, true) :
        t == typeof(long) ? new DataField<long?>(name, true) :
        t == typeof(int) ? new DataField<int?>(name, true) :
        t == typeof(bool) ? new DataField<bool?>(name, true) :
        throw new NotSupportedException($"column '{name}': type {t.Name} cannot be written to Parquet");

    /// <summary>Loads a Parquet file of flat columns (all row groups) into a DataFrame.</summary>
    public static DataFrame LoadParquet(string path) =>
        Task.Run(() => LoadParquetAsync(path)).GetAwaiter().GetResult();

    public static async Task<DataFrame> LoadParquetAsync(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Parquet file not found: {path}", path);
        await using var stream = File.OpenRead(path);
        await using var reader = await ParquetReader.CreateAsync(stream);
        var fields = reader.Schema.GetDataFields();
        var values = fields.Select(_ => new List<object?>()).ToList();
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            int n = checked((int)group.RowCount);
            for (int c = 0; c < fields.Length; c++)
            {
                var field = fields[c];
                Type t = ClrTypeOf(field);
                if (field.IsArray) throw new NotSupportedException($"{path}: column '{field.Name}' is a list; results tables are flat");
                if (t == typeof(string))
                {
                    var buf = new string?[n];
                    await group.ReadAsync(field, buf.AsMemory());
                    values[c].AddRange(buf);
                }
                else if (t == typeof(double)) values[c].AddRange(await Read<double>(group, field, n));
                else if (t == typeof(float)) values[c].AddRange(await Read<float>(group, field, n));
                else if (t == typeof(long)) values[c].AddRange(await Read<long>(group, field, n));
                else if (t == typeof(int)) values[c].AddRange(await Read<int>(group, field, n));
                else if (t == typeof(bool)) values[c].AddRange(await Read<bool>(group, field, n));
                else throw new NotSupportedException($"{path}: column '{field.Name}' has type {t.Name} (expected double, float, long, int, bool or string)");
            }
        }
        return new DataFrame(fields.Select((f, c) => FrameColumns.Create(f.Name, ClrTypeOf(f), values[c])));
    }

    /// <summary>Parquet.Net 6 reports UTF-8 string columns as ReadOnlyMemory&lt;char&gt;.</summary>
    static Type ClrTypeOf(DataField field) => field.ClrType == typeof(ReadOnlyMemory<char>) ? typeof(string) : field.ClrType;

    static async Task<IEnumerable<object?>> Read<T>(ParquetRowGroupReader group, DataField field, int n) where T : struct
    {
        if (field.IsNullable)
        {
            var buf = new T?[n];
            await group.ReadAsync<T>(field, buf.AsMemory());
            return buf.Select(v => v.HasValue ? (object?)v.Value : null);
        }
        var dense = new T[n];
        await group.ReadAsync<T>(field, dense.AsMemory());
        return dense.Select(v => (object?)v);
    }
}
