using System.Numerics;
using System.Runtime.Intrinsics;
using MoeLab.Models.Dispatch;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Routing;

/// <summary>The k largest entries of each row of CPU float32 probabilities, chosen in C# — the same indices, in the
/// same order, as <c>topk</c> whenever a row's entries that matter are distinct — for wide routers, where ATen's
/// <c>topk</c> is slow (it sorts each row's candidates: T 4,096 × N 256, k 8, 2 threads, 5.2–6.0 ms; this selection
/// with <c>gather</c> for the values, 2.2–2.4 ms). The values are then gathered from the probabilities, so they and
/// their gradients are bit for bit what <c>topk</c> gives. A row with equal (or NaN) entries among those compared with
/// the kept ones is handed to <c>topk</c>: the choice among equal values stays LibTorch's.</summary>
internal static class TopKSelection
{
    /// <summary>Routers at least this wide use the selection (T 4,096, k 4: at N 32 it was no faster than <c>topk</c>).</summary>
    public const int MinimumExperts = 64;

    /// <summary>Tests switch the selection off to compare with <c>topk</c> in one process.</summary>
    public static bool Enabled { get; set; } = true;

    public static bool Applies(Tensor probabilities, int k) =>
        Enabled && probabilities.device_type == DeviceType.CPU && probabilities.dtype == ScalarType.Float32 && probabilities.dim() == 2
        && probabilities.shape[1] >= MinimumExperts && k >= 1 && k <= probabilities.shape[1];

    /// <summary>[T, k] int64 indices of each row's k largest probabilities, largest first. Rows with a tie or a NaN
    /// where it could matter are chosen by <c>topk</c> on those rows alone (it works row by row, so the same choice).</summary>
    public static unsafe Tensor Indices(Tensor probabilities, int k)
    {
        var p = probabilities.detach().contiguous();
        int t = (int)p.shape[0], n = (int)p.shape[1];
        var indices = torch.empty(t, k, dtype: ScalarType.Int64);
        if (t == 0) return indices;
        float* values = RowKernels.Pointer(p);
        long* chosen = RowKernels.LongPointer(indices);
        var undecided = new bool[t];
        RowKernels.For(t, Math.Max(1, 65536 / n), (from, to) =>
        {
            Span<float> kept = stackalloc float[k];
            for (int r = from; r < to; r++)
                undecided[r] = !SelectRow(values + (long)r * n, n, k, kept, chosen + (long)r * k);
        });
        var rows = Enumerable.Range(0, t).Where(r => undecided[r]).Select(r => (long)r).ToArray(); // in row order
        LastUndecidedRows = rows.Length;
        if (rows.Length > 0)
        {
            using var scope = NewDisposeScope();
            var which = torch.tensor(rows);
            indices.index_copy_(0, which, p.index_select(0, which).topk(k, dim: -1).indexes);
        }
        return indices;
    }

    /// <summary>Rows the last call left to <c>topk</c> (for tests).</summary>
    internal static int LastUndecidedRows;

    /// <summary>The row's k largest entries (<see cref="Insert"/>, entry by entry in index order); false when a tie or a
    /// NaN leaves the order to <c>topk</c>. Where the row splits into k groups of whole 8-wide vectors (N 256 k 8,
    /// N 128 k 16, N 64 k 8, …) only the candidates are inserted: the smallest of the k group maxima is at most the k-th
    /// largest entry (the k maxima are k entries at least that large), so entries below it can never be kept, and an
    /// entry passed over that way could only have tied with another such entry, which changes nothing among the k kept.
    /// T 4,096 × N 256, k 8 (near-uniform probabilities, as a freshly initialised router gives): 1.8–1.9 ms on 2 threads when every
    /// entry was inserted, 1.08–1.24 ms with the bound.</summary>
    private static unsafe bool SelectRow(float* row, int n, int k, Span<float> kept, long* index)
    {
        int filled = 0;
        int group = n / k;
        if (Vector256.IsHardwareAccelerated && n % k == 0 && group % 8 == 0)
        {
            float threshold = float.PositiveInfinity;
            for (int g = 0; g < k; g++)
            {
                float* p = row + (long)g * group;
                var max = Vector256.Load(p);
                var nan = ~Vector256.Equals(max, max);
                for (int j = 8; j < group; j += 8)
                {
                    var v = Vector256.Load(p + j);
                    max = Vector256.Max(max, v);
                    nan |= ~Vector256.Equals(v, v);
                }
                if (nan != Vector256<float>.Zero) return false;                               // NaN: topk decides
                var half = Vector128.Max(max.GetLower(), max.GetUpper());
                float groupMax = MathF.Max(MathF.Max(half[0], half[1]), MathF.Max(half[2], half[3]));
                threshold = MathF.Min(threshold, groupMax);
            }
            var bound = Vector256.Create(threshold);
            for (int i = 0; i < n; i += 8)
            {
                uint candidates = Vector256.GreaterThanOrEqual(Vector256.Load(row + i), bound).ExtractMostSignificantBits();
                for (; candidates != 0; candidates &= candidates - 1)
                {
                    int j = i + BitOperations.TrailingZeroCount(candidates);
                    if (!Insert(row[j], j, ref filled, k, kept, index)) return false;
                }
            }
            return filled == k;
        }
        for (int i = 0; i < n; i++)
            if (!Insert(row[i], i, ref filled, k, kept, index)) return false;
        return true;
    }

    /// <summary>Insertion of entry i into a sorted prefix of k; false on an equality or a NaN met while comparing with a
    /// kept value (the order among equal values is then left to <c>topk</c>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static unsafe bool Insert(float v, int i, ref int filled, int k, Span<float> kept, long* index)
    {
        if (float.IsNaN(v)) return false;
        int s;
        if (filled < k) s = filled++;
        else
        {
            float worst = kept[k - 1];
            if (v < worst) return true;
            if (v == worst) return false;
            s = k - 1;
        }
        while (s > 0 && v > kept[s - 1]) { kept[s] = kept[s - 1]; index[s] = index[s - 1]; s--; }
        if (s > 0 && v == kept[s - 1]) return false;
        kept[s] = v;
        index[s] = i;
        return true;
    }
}
