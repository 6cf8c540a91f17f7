using MoeLab.Experiments.Data.TimeSeries;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.SegMoe;

/// <summary>Windows over a standardised series held as one tensor [T, C] on the run's device. A window
/// starting at s has the look-back rows [s, s + L); its training target is [s + f, s + f + L) (the window
/// shifted by f); its forecast truth for horizon H is [s + L, s + L + H).</summary>
public sealed class SegMoeWindows : IDisposable
{
    private readonly Tensor series; // [T, C] standardised

    public PreparedSeries Prepared { get; }
    public int LookBack { get; }
    public int Step { get; }
    public Device Device { get; }

    public SegMoeWindows(PreparedSeries prepared, int lookBack, int step, Device device)
    {
        Prepared = prepared;
        LookBack = lookBack;
        Step = step;
        Device = device;
        var s = prepared.Standardised;
        int t = s.GetLength(0), c = s.GetLength(1);
        var flat = new float[t * c];
        Buffer.BlockCopy(s, 0, flat, 0, flat.Length * sizeof(float));
        series = torch.tensor(flat, new long[] { t, c }, device: device);
    }

    public int Channels => (int)series.shape[1];

    /// <summary>Starts s in [from, to − span] with the given stride (span = rows a window needs).</summary>
    public static long[] Starts(int from, int to, int span, int stride)
    {
        var list = new List<long>();
        for (long s = from; s + span <= to; s += stride) list.Add(s);
        return list.ToArray();
    }

    public long[] TrainStarts(int stride) => Starts(Prepared.Borders.TrainStart, Prepared.Borders.TrainEnd, LookBack + Step, stride);
    public long[] ValidationStarts(int stride) => Starts(Prepared.Borders.ValidationStart, Prepared.Borders.ValidationEnd, LookBack + Step, stride);
    public long[] TestStarts(int horizon, int stride) => Starts(Prepared.Borders.TestStart, Prepared.Borders.TestEnd, LookBack + horizon, stride);

    /// <summary>Rows [s + offset, s + offset + length) of each start → [B, C, length].</summary>
    public Tensor Slice(IReadOnlyList<long> starts, int offset, int length)
    {
        using var scope = NewDisposeScope();
        var s = torch.tensor(starts.ToArray(), device: Device).unsqueeze(1);                       // [B, 1]
        var idx = s.add(torch.arange(offset, offset + length, dtype: int64, device: Device).unsqueeze(0)); // [B, length]
        var rows = series.index(new TensorIndex[] { TensorIndex.Tensor(idx) });                     // [B, length, C]
        return rows.permute(0, 2, 1).contiguous().MoveToOuterDisposeScope();                        // [B, C, length]
    }

    public Tensor History(IReadOnlyList<long> starts) => Slice(starts, 0, LookBack);
    public Tensor ShiftedTarget(IReadOnlyList<long> starts) => Slice(starts, Step, LookBack);
    public Tensor Future(IReadOnlyList<long> starts, int horizon) => Slice(starts, LookBack, horizon);

    public void Dispose() => series.Dispose();
}
