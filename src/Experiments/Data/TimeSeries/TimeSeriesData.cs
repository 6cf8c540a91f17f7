using System.Globalization;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Data.TimeSeries;

/// <summary>A multivariate time series: <see cref="Values"/>[t, c] for T steps and C channels, with
/// optional time stamps and, for generated data, the true regime of every step.</summary>
public sealed record TimeSeriesData(string Name, IReadOnlyList<string> Channels, float[,] Values, int[]? Regimes = null, DateTime[]? Times = null)
{
    public int Length => Values.GetLength(0);
    public int ChannelCount => Values.GetLength(1);
}

/// <summary>Row ranges [start, end) of train, validation and test. Validation and test start L rows
/// early so their first window's look-back lies in the previous part (the convention of the ETT and
/// 7:1:2 benchmarks: every target point of a part belongs to that part).</summary>
public sealed record SplitBorders(int TrainStart, int TrainEnd, int ValidationStart, int ValidationEnd, int TestStart, int TestEnd)
{
    /// <summary>The standard ETT hour split: 12/4/4 months of 30 days (train [0, 8640), validation
    /// [8640 − L, 11520), test [11520 − L, 14400)); <paramref name="stepsPerHour"/> = 4 for ETTm (×4).</summary>
    public static SplitBorders Ett(int lookBack, int stepsPerHour)
    {
        int month = 30 * 24 * stepsPerHour;
        return new SplitBorders(0, 12 * month, 12 * month - lookBack, 16 * month, 16 * month - lookBack, 20 * month);
    }

    /// <summary>The 7:1:2 split of Weather/ECL/Traffic: train ⌊0.7·T⌋ rows, test ⌊0.2·T⌋ rows, validation the rest.</summary>
    public static SplitBorders Ratio(int length, int lookBack, double train = 0.7, double test = 0.2)
    {
        int nTrain = (int)(length * train), nTest = (int)(length * test), nVal = length - nTrain - nTest;
        return new SplitBorders(0, nTrain, nTrain - lookBack, nTrain + nVal, length - nTest - lookBack, length);
    }

    public void Check(int length, string what)
    {
        if (TestEnd > length)
            throw new InvalidDataException($"{what}: the split needs {TestEnd} rows but the series has {length}.");
        if (ValidationStart < 0 || TestStart < 0 || TrainEnd <= TrainStart)
            throw new InvalidDataException($"{what}: the look-back is too long for the split (validation starts at {ValidationStart}, test at {TestStart}).");
    }
}

/// <summary>Per-channel standardisation (x − mean) / std with statistics of the TRAINING rows only
/// (population std; a constant channel gets std 1).</summary>
public sealed record StandardScaler(double[] Mean, double[] Std)
{
    public static StandardScaler Fit(float[,] values, int start, int end)
    {
        int c = values.GetLength(1), n = end - start;
        if (n <= 0) throw new ArgumentException($"StandardScaler.Fit: empty row range [{start}, {end}).");
        var mean = new double[c];
        var std = new double[c];
        for (int j = 0; j < c; j++)
        {
            double s = 0;
            for (int t = start; t < end; t++) s += values[t, j];
            mean[j] = s / n;
            double v = 0;
            for (int t = start; t < end; t++) v += (values[t, j] - mean[j]) * (values[t, j] - mean[j]);
            std[j] = Math.Sqrt(v / n);
            if (!(std[j] > 1e-12)) std[j] = 1;
        }
        return new StandardScaler(mean, std);
    }

    public float[,] Transform(float[,] values)
    {
        int t = values.GetLength(0), c = values.GetLength(1);
        var r = new float[t, c];
        for (int i = 0; i < t; i++)
            for (int j = 0; j < c; j++)
                r[i, j] = (float)((values[i, j] - Mean[j]) / Std[j]);
        return r;
    }
}

/// <summary>A series with its split and its train-fitted standardisation.</summary>
public sealed record PreparedSeries(TimeSeriesData Data, SplitBorders Borders, StandardScaler Scaler, float[,] Standardised)
{
    public static PreparedSeries Create(TimeSeriesData data, SplitBorders borders)
    {
        borders.Check(data.Length, data.Name);
        var scaler = StandardScaler.Fit(data.Values, borders.TrainStart, borders.TrainEnd);
        return new PreparedSeries(data, borders, scaler, scaler.Transform(data.Values));
    }
}

/// <summary>Readers of forecasting CSV files: the ETT layout (<c>date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT</c>)
/// and any CSV whose first column is a date and whose other columns are numbers (e.g. the shipped
/// Seattle weather normals). Errors name the file, the line and the field.</summary>
public static class ForecastCsv
{
    /// <summary>The ETT header, exactly.</summary>
    public static readonly string[] EttColumns = ["date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"];

    /// <summary>The four ETT sets: name → steps per hour (ETTh: 1, ETTm: 4).</summary>
    public static readonly IReadOnlyDictionary<string, int> EttSets = new Dictionary<string, int>
    {
        ["ETTh1"] = 1, ["ETTh2"] = 1, ["ETTm1"] = 4, ["ETTm2"] = 4,
    };

    public const string EttDirectoryVariable = "MOELAB_ETT_DIR";

    /// <summary>Loads ETTh1/ETTh2/ETTm1/ETTm2 from <paramref name="directory"/> (or $MOELAB_ETT_DIR)
    /// as <c>&lt;name&gt;.csv</c> and splits it the standard way (12/4/4 months).</summary>
    public static PreparedSeries LoadEtt(string name, string? directory, int lookBack)
    {
        var set = EttSets.Keys.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase))
                  ?? throw new ArgumentException($"Unknown ETT set '{name}'; expected one of {string.Join(", ", EttSets.Keys)}.");
        string? dir = directory ?? Environment.GetEnvironmentVariable(EttDirectoryVariable);
        string hint = $"The ETT files are not reachable offline. Download {set}.csv (columns {string.Join(",", EttColumns)}; " +
                      $"e.g. from the ETDataset repository) into a directory and pass --set data.path=DIR or set {EttDirectoryVariable}=DIR.";
        if (dir is null) throw new DataUnavailableException($"{set}: no directory given. {hint}");
        string file = Path.Combine(dir, set + ".csv");
        if (!File.Exists(file)) throw new DataUnavailableException($"{set}: {file} does not exist. {hint}");
        var data = Read(file, EttColumns);
        return PreparedSeries.Create(data with { Name = set }, SplitBorders.Ett(lookBack, EttSets[set]));
    }

    /// <summary>Reads a CSV whose header is <c>date,&lt;channel&gt;,…</c> (if <paramref name="expectedColumns"/>
    /// is given, exactly those columns). Dates: ISO 8601 or "yyyy-MM-dd HH:mm:ss".</summary>
    public static TimeSeriesData Read(string file, IReadOnlyList<string>? expectedColumns = null)
    {
        using var reader = new StreamReader(file);
        string? header = reader.ReadLine();
        if (header is null) throw new InvalidDataException($"{file}: the file is empty (expected a header line).");
        var columns = header.Trim().Split(',').Select(c => c.Trim()).ToArray();
        if (expectedColumns is not null && !columns.SequenceEqual(expectedColumns))
            throw new InvalidDataException($"{file}, line 1: header is '{header.Trim()}', expected exactly '{string.Join(",", expectedColumns)}'.");
        if (columns.Length < 2 || !string.Equals(columns[0], "date", StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{file}, line 1: header '{header.Trim()}' must start with 'date' followed by at least one channel.");
        var times = new List<DateTime>();
        var rows = new List<float[]>();
        int line = 1;
        string? text;
        while ((text = reader.ReadLine()) is not null)
        {
            line++;
            if (text.Length == 0) continue;
            var fields = text.Split(',');
            if (fields.Length != columns.Length)
                throw new InvalidDataException($"{file}, line {line}: {fields.Length} fields, expected {columns.Length} ({string.Join(",", columns)}).");
            if (!DateTime.TryParse(fields[0], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
                throw new InvalidDataException($"{file}, line {line}, field 'date': '{fields[0]}' is not a date (expected e.g. 2016-07-01 00:00:00).");
            var row = new float[columns.Length - 1];
            for (int j = 1; j < columns.Length; j++)
                if (!float.TryParse(fields[j], NumberStyles.Float, CultureInfo.InvariantCulture, out row[j - 1]) || !float.IsFinite(row[j - 1]))
                    throw new InvalidDataException($"{file}, line {line}, field '{columns[j]}': '{fields[j]}' is not a finite number.");
            times.Add(time);
            rows.Add(row);
        }
        if (rows.Count == 0) throw new InvalidDataException($"{file}: no data rows after the header.");
        var values = new float[rows.Count, columns.Length - 1];
        for (int t = 0; t < rows.Count; t++)
            for (int j = 0; j < columns.Length - 1; j++)
                values[t, j] = rows[t][j];
        return new TimeSeriesData(Path.GetFileNameWithoutExtension(file), columns.Skip(1).ToArray(), values, null, times.ToArray());
    }

    /// <summary>The Seattle hourly weather normals shipped in data/seattle-weather-hourly (3 channels), split 7:1:2.</summary>
    public static PreparedSeries LoadShippedWeather(int lookBack, string? file = null)
    {
        var data = Read(file ?? ShippedWeatherFile()) with { Name = "seattle-weather-hourly" };
        return PreparedSeries.Create(data, SplitBorders.Ratio(data.Length, lookBack));
    }

    /// <summary>data/seattle-weather-hourly/seattle-weather-hourly-normals.csv in the repository.</summary>
    public static string ShippedWeatherFile()
    {
        string? repo = RunLayout.FindRepoRoot(Directory.GetCurrentDirectory()) ?? RunLayout.FindRepoRoot(AppContext.BaseDirectory);
        if (repo is null)
            throw new DataUnavailableException("The Seattle weather series ships in data/seattle-weather-hourly of the MoeLab repository; run from a checkout (no Experiments.sln found above the working directory).");
        string file = Path.Combine(repo, "data", "seattle-weather-hourly", "seattle-weather-hourly-normals.csv");
        if (!File.Exists(file)) throw new DataUnavailableException($"{file} is missing from this checkout.");
        return file;
    }
}
