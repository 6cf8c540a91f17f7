using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MoeLab.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Dispatch;

/// <summary>The row-permutation kernels of <see cref="FusedGroupedDispatch"/>, on CPU float32 rows in plain
/// C#: each one reads and writes every row once (the torch equivalents need two or three passes and a
/// zero-filled buffer, and <c>index_add</c> accumulates row by row on one thread). Every output row is
/// written by exactly one loop iteration, in a fixed order, so the results do not depend on the number of
/// threads (bitwise deterministic on a given CPU; SIMD width is <see cref="Vector{T}"/>'s).</summary>
internal static unsafe class RowKernels
{
    /// <summary>A raw pointer to a contiguous CPU float32 tensor's first element.</summary>
    public static float* Pointer(Tensor t) => (float*)Data(t, ScalarType.Float32);

    /// <summary>A raw pointer to a contiguous CPU int32 tensor's first element.</summary>
    public static int* IntPointer(Tensor t) => (int*)Data(t, ScalarType.Int32);

    /// <summary>A raw pointer to a contiguous CPU int64 tensor's first element.</summary>
    public static long* LongPointer(Tensor t) => (long*)Data(t, ScalarType.Int64);

    private static void* Data(Tensor t, ScalarType dtype)
    {
        if (t.device_type != DeviceType.CPU || t.dtype != dtype || !t.is_contiguous())
            throw new ArgumentException($"RowKernels: expected a contiguous CPU {dtype} tensor, got {t.dtype} on {t.device} (contiguous: {t.is_contiguous()}).");
        return t.numel() == 0 ? null : Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
    }

    /// <summary>body(from, to) over [0, count) split into contiguous ranges, one per torch thread, at least
    /// <paramref name="minimumPerTask"/> items each (one range, on this thread, when there are fewer).</summary>
    public static void For(int count, int minimumPerTask, Action<int, int> body)
    {
        int tasks = Math.Max(1, Math.Min(torch.get_num_threads(), count / Math.Max(1, minimumPerTask)));
        if (tasks == 1) { body(0, count); return; }
        OmpTeam.ForEach(tasks, tasks, i =>
        {
            int start = (int)((long)count * i / tasks), end = (int)((long)count * (i + 1) / tasks);
            body(start, end);
        });
    }

    /// <summary>dst[r] = src[rowSource[r]] for r &lt; <paramref name="rows"/> ([rows, d]); rows whose source is −1 become 0.</summary>
    public static void Gather(float* src, int* rowSource, int rows, float* dst, int d)
    {
        long bytes = (long)d * sizeof(float);
        For(rows, 64, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                int s = rowSource[r];
                if (s < 0) new Span<float>(dst + (long)r * d, d).Clear();
                else Buffer.MemoryCopy(src + (long)s * d, dst + (long)r * d, bytes, bytes);
            }
        });
    }

    /// <summary>y[t] = Σ_s w[t, s] · rows[slotRow[t·k + s]] over the slots with a row (slotRow ≥ 0), s in order.</summary>
    public static void WeightedSum(float* rows, float* w, int* slotRow, float* y, int tokens, int k, int d)
    {
        For(tokens, 16, (from, to) =>
        {
            for (int t = from; t < to; t++)
            {
                var target = new Span<float>(y + (long)t * d, d);
                target.Clear();
                for (int s = 0; s < k; s++)
                {
                    int r = slotRow[t * k + s];
                    if (r >= 0) Axpy(w[t * k + s], rows + (long)r * d, y + (long)t * d, d);
                }
            }
        });
    }

    /// <summary>Backward of <see cref="WeightedSum"/>: gRows[r] = w[t, s] · gy[t] for the slot (t, s) of row r,
    /// gw[t, s] = ⟨gy[t], rows[r]⟩ (0 for slots without a row). Rows that no slot names are left untouched.</summary>
    public static void WeightedSumBackward(float* rows, float* w, float* gy, int* slotRow, float* gRows, float* gw, int tokens, int k, int d)
    {
        For(tokens, 16, (from, to) =>
        {
            for (int t = from; t < to; t++)
            {
                float* g = gy + (long)t * d;
                for (int s = 0; s < k; s++)
                {
                    int r = slotRow[t * k + s];
                    if (r < 0) { gw[t * k + s] = 0; continue; }
                    gw[t * k + s] = Dot(g, rows + (long)r * d, d);
                    Scale(w[t * k + s], g, gRows + (long)r * d, d);
                }
            }
        });
    }

    /// <summary><see cref="WeightedSumBackward"/> for the buffer rows [first, first + count) only, on this thread (the
    /// fused dispatch calls it per chunk inside the expert backward, so the rows' gradients are made in a chunk buffer
    /// that stays in cache instead of a [rows, d] tensor written and read back): gRows[r − first] = w[t, s]·gy[t] and
    /// gw[t, s] = ⟨gy[t], rows[r]⟩ for the slot (t, s) that row r holds. The same operations on the same values, so the
    /// same bits; slots without a row are left alone.</summary>
    public static void WeightedSumBackwardRows(float* rows, float* w, float* gy, int* rowToken, int* slotRow, float* gRows, float* gw,
        long first, long count, int k, int d)
    {
        for (long r = first; r < first + count; r++)
        {
            int slot = SlotOf(r, rowToken, slotRow, k, out int t);
            float* g = gy + (long)t * d;
            gw[slot] = Dot(g, rows + r * d, d);
            Scale(w[slot], g, gRows + (r - first) * d, d);
        }
    }

    /// <summary>The flat index t·k + s of the slot that buffer row r holds, and its token t.</summary>
    private static int SlotOf(long r, int* rowToken, int* slotRow, int k, out int t)
    {
        t = rowToken[r];
        if (t >= 0)
            for (int s = 0; s < k; s++)
                if (slotRow[t * k + s] == r) return t * k + s;
        throw new InvalidOperationException($"RowKernels: buffer row {r} (token {t}) is no slot's row.");
    }

    /// <summary>The combine's backward for one expert's buffer rows [first, first + count), from u = gy·W_outᵀ (see the
    /// fused dispatch's <c>CombineGradient</c>), on this thread: for row r holding slot (t, s) with weight w = w[t, s],
    /// gw[t, s] = ⟨u[r], a[r]⟩, scaledA[r] = w·a[r], and u[r] ← w·u[r]. u, a and scaledA hold the block's rows only
    /// (row r at r − first), each <paramref name="f"/> wide.</summary>
    public static void CombineBackwardFromUpstream(float* u, float* a, float* w, int* rowToken, int* slotRow, float* scaledA, float* gw,
        long first, long count, int k, int f)
    {
        for (long r = first; r < first + count; r++)
        {
            int slot = SlotOf(r, rowToken, slotRow, k, out _);
            long o = (r - first) * f;
            float weight = w[slot];
            gw[slot] = Dot(u + o, a + o, f);
            Scale(weight, a + o, scaledA + o, f);
            Scale(weight, u + o, u + o, f);
        }
    }

    /// <summary>gx[t] = Σ_s gRows[slotRow[t·k + s]] over the slots with a row (s in order); 0 when none.</summary>
    public static void SumSlots(float* gRows, int* slotRow, float* gx, int tokens, int k, int d)
    {
        For(tokens, 16, (from, to) =>
        {
            for (int t = from; t < to; t++)
            {
                new Span<float>(gx + (long)t * d, d).Clear();
                for (int s = 0; s < k; s++)
                {
                    int r = slotRow[t * k + s];
                    if (r >= 0) Axpy(1f, gRows + (long)r * d, gx + (long)t * d, d);
                }
            }
        });
    }

    /// <summary>target[j] = Σ_r src[r, j] over rows r = 0 … rows − 1 in order ([rows, width] and [width], contiguous;
    /// one thread: called per expert block, inside the dispatch's own workers).</summary>
    public static void ColumnSums(float* src, int rows, int width, float* target)
    {
        new Span<float>(target, width).Clear();
        for (int r = 0; r < rows; r++) Axpy(1f, src + (long)r * width, target, width);
    }

    private static void Axpy(float a, float* x, float* y, int n)
    {
        int i = 0, width = Vector<float>.Count;
        var va = new Vector<float>(a);
        for (; i <= n - width; i += width)
            Vector.Store(Vector.Load(y + i) + va * Vector.Load(x + i), y + i);
        for (; i < n; i++) y[i] += a * x[i];
    }

    private static void Scale(float a, float* x, float* y, int n)
    {
        int i = 0, width = Vector<float>.Count;
        var va = new Vector<float>(a);
        for (; i <= n - width; i += width)
            Vector.Store(va * Vector.Load(x + i), y + i);
        for (; i < n; i++) y[i] = a * x[i];
    }

    private static float Dot(float* x, float* y, int n)
    {
        int i = 0, width = Vector<float>.Count;
        var acc = Vector<float>.Zero;
        for (; i <= n - width; i += width)
            acc += Vector.Load(x + i) * Vector.Load(y + i);
        float sum = Vector.Sum(acc);
        for (; i < n; i++) sum += x[i] * y[i];
        return sum;
    }
}
