using System.Globalization;
using MoeLab.Experiments.Data;
using MoeLab.Experiments.Data.TimeSeries;

namespace MoeLab.Experiments.Tests.Data;

public sealed class ForecastDataTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("moelab-ett-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>An ETT file in the exact layout (hourly or 15-minute rows from 2016-07-01); row t of
    /// channel j holds t + 1000·j so every row is recognisable.</summary>
    private string WriteEtt(string name, int rows, int minutesPerRow)
    {
        string file = Path.Combine(dir, name + ".csv");
        using var w = new StreamWriter(file);
        w.WriteLine("date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT");
        var start = new DateTime(2016, 7, 1, 0, 0, 0);
        for (int t = 0; t < rows; t++)
            w.WriteLine(start.AddMinutes(t * minutesPerRow).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + "," +
                        string.Join(",", Enumerable.Range(0, 7).Select(j => (t + 1000 * j).ToString(CultureInfo.InvariantCulture))));
        return file;
    }

    [Fact]
    public void EttHourlySplitHasTheStandardBordersAndTheScalerSeesOnlyTrainingRows()
    {
        WriteEtt("ETTh1", 17_420, 60);                                   // the real ETTh1 has 17,420 rows
        var p = ForecastCsv.LoadEtt("ETTh1", dir, lookBack: 96);
        Assert.Equal(new SplitBorders(0, 8640, 8640 - 96, 11520, 11520 - 96, 14400), p.Borders);
        Assert.Equal(["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"], p.Data.Channels);
        // channel j holds t + 1000 j: the training mean of rows 0..8639 is 4319.5 + 1000 j, the std √((8640² − 1)/12)
        for (int j = 0; j < 7; j++)
        {
            Assert.Equal(4319.5 + 1000 * j, p.Scaler.Mean[j], 6);
            Assert.Equal(Math.Sqrt((8640.0 * 8640 - 1) / 12), p.Scaler.Std[j], 6);
        }
        // standardised training rows have mean 0; later rows are above it (a train-only fit, not a full fit)
        double trainMean = Enumerable.Range(0, 8640).Average(t => p.Standardised[t, 6]);
        Assert.Equal(0, trainMean, 4);
        Assert.True(p.Standardised[14_000, 0] > 2.5);
        Assert.Equal(new DateTime(2016, 7, 1, 1, 0, 0), p.Data.Times![1]);
    }

    [Fact]
    public void EttMinuteSplitIsFourTimesTheHourly()
    {
        WriteEtt("ETTm2", 57_700, 15);
        var p = ForecastCsv.LoadEtt("ettm2", dir, lookBack: 512);
        Assert.Equal(new SplitBorders(0, 34_560, 34_560 - 512, 46_080, 46_080 - 512, 57_600), p.Borders);
    }

    [Fact]
    public void MissingOrMalformedEttFilesGiveErrorsThatSayWhatToDo()
    {
        var missing = Assert.Throws<DataUnavailableException>(() => ForecastCsv.LoadEtt("ETTh2", dir, 96));
        Assert.Contains("ETTh2.csv", missing.Message);
        Assert.Contains("data.path", missing.Message);
        Assert.Contains(ForecastCsv.EttDirectoryVariable, missing.Message);
        if (Environment.GetEnvironmentVariable(ForecastCsv.EttDirectoryVariable) is null)
            Assert.Contains("no directory", Assert.Throws<DataUnavailableException>(() => ForecastCsv.LoadEtt("ETTh2", null, 96)).Message);

        File.WriteAllText(Path.Combine(dir, "ETTh1.csv"), "date,HUFL,HULL,MUFL,MULL,LUFL,OT\n2016-07-01 00:00:00,1,2,3,4,5,6\n");
        var header = Assert.Throws<InvalidDataException>(() => ForecastCsv.LoadEtt("ETTh1", dir, 96));
        Assert.Contains("line 1", header.Message);
        Assert.Contains("date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT", header.Message);

        File.WriteAllText(Path.Combine(dir, "ETTh1.csv"), "date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT\n2016-07-01 00:00:00,1,2,3,4,5,6,7\n2016-07-01 01:00:00,1,2,x,4,5,6,7\n");
        var field = Assert.Throws<InvalidDataException>(() => ForecastCsv.LoadEtt("ETTh1", dir, 96));
        Assert.Contains("line 3", field.Message);
        Assert.Contains("'MUFL'", field.Message);

        WriteEtt("ETTh1", 1000, 60);
        Assert.Contains("needs 14400 rows", Assert.Throws<InvalidDataException>(() => ForecastCsv.LoadEtt("ETTh1", dir, 96)).Message);
        Assert.Throws<ArgumentException>(() => ForecastCsv.LoadEtt("ETTx9", dir, 96));
    }

    [Fact]
    public void RatioSplitIsSevenOneTwoWithLookBackOverlap()
    {
        var b = SplitBorders.Ratio(1000, 48);
        Assert.Equal(new SplitBorders(0, 700, 652, 800, 752, 1000), b);
    }

    [Fact]
    public void ShippedWeatherSeriesLoadsWithItsThreeChannels()
    {
        var p = ForecastCsv.LoadShippedWeather(96);
        Assert.Equal(["pressure", "temperature", "wind"], p.Data.Channels);
        Assert.Equal(8759, p.Data.Length);
        Assert.Equal(SplitBorders.Ratio(8759, 96), p.Borders);
        Assert.InRange(p.Scaler.Mean[0], 1000, 1030);                     // hPa
    }

    [Fact]
    public void RegimeGeneratorIsSeededAndItsRegimesSpanSeveralPatches()
    {
        var s = new RegimeSwitchingSettings(Length: 5000, Channels: 2, Regimes: 4, MeanDuration: 96, MinDuration: 40);
        var a = RegimeSwitchingSeries.Generate(s, new Random(1));
        var b = RegimeSwitchingSeries.Generate(s, new Random(1));
        var c = RegimeSwitchingSeries.Generate(s, new Random(2));
        Assert.Equal(a.Regimes, b.Regimes);
        Assert.Equal(a.Values[4321, 1], b.Values[4321, 1]);
        Assert.NotEqual(a.Regimes, c.Regimes);
        var runs = Runs(a.Regimes!);
        Assert.True(runs.Take(runs.Count - 1).All(r => r >= 40), "every completed run lasts at least MinDuration");
        Assert.InRange(runs.Average(), 70, 130);
        Assert.Equal(4, a.Regimes!.Distinct().Count());
        // boundaries do not all fall on a patch grid of 8 (they are not aligned to segments)
        var boundaries = Enumerable.Range(1, a.Length - 1).Where(t => a.Regimes![t] != a.Regimes![t - 1]).ToList();
        Assert.Contains(boundaries, t => t % 8 != 0);

        var iid = RegimeSwitchingSeries.Generate(s with { IidBlock = 8 }, new Random(1));
        Assert.True(Enumerable.Range(1, iid.Length - 1).Where(t => iid.Regimes![t] != iid.Regimes![t - 1]).All(t => t % 8 == 0));
        Assert.InRange(Runs(iid.Regimes!).Average(), 8, 16);              // geometric runs of blocks: mean 8·4/3
    }

    private static List<int> Runs(int[] path)
    {
        var runs = new List<int>();
        int n = 1;
        for (int t = 1; t < path.Length; t++)
        {
            if (path[t] == path[t - 1]) n++;
            else { runs.Add(n); n = 1; }
        }
        runs.Add(n);
        return runs;
    }
}
