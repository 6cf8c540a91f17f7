using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MoeLab.Models.Dispatch;

/// <summary>Single-precision GEMM for the fused dispatch's small expert blocks (fine-grained experts: a few hundred
/// rows × d × d_ff of 64–256), written with AVX2/FMA intrinsics. MKL's <c>sgemm_</c> (in the pinned AVX2 mode) reaches
/// 70–83 GFLOP/s on one core of the 2-core AMD EPYC VMs for the E 256 × d_ff 64 blocks (128 × 256 × 64 and its
/// transposes) against ≈ 100 for a large matmul: at these sizes its packing of both operands and its blocking cost a
/// quarter of the time. These blocks fit in L1/L2 as they are, so a plain register-tiled kernel without packing runs them
/// at 93–108 GFLOP/s (measured the same way); see the README's benchmark section for the layer-level effect.
/// <para>The kernel: tiles of 6 rows × 16 columns of C held in twelve 8-wide registers; for each step along the depth
/// one row of B's 16 columns is loaded and each of the six A values broadcast and multiplied in with FMA; where the JIT
/// has 32 vector registers (AVX-512VL), 6 × 32 tiles (24 registers) where they measured faster (<see cref="Wide"/>). Row
/// remainders use 4-, 2- and 1-row tiles. The depth runs in blocks of <see cref="DepthBlock"/> (the tile is stored and
/// reloaded between blocks, so B's rows for one panel stay in L1). Rows of A and of B are reached through pointer tables,
/// so either can be picked by row indices. A transposed B (<c>C = A · Bᵀ</c>) is first
/// transposed into a per-thread buffer with 8 × 8 register transposes; a transposed A needs no copy (its broadcasts
/// just read with other strides).</para>
/// <para>Numerics: every element of C is one fused multiply-add chain over the depth in order,
/// <c>c = fma(a[i,k-1], b[k-1,j], … fma(a[i,0], b[0,j], 0))</c>, whatever the tile, the block, the thread or the CPU
/// (any x86-64 with AVX2 and FMA; only 256-bit operations — the 6 × 32 tiles use AVX-512's extra registers, not its wider
/// vectors — so an AVX-512 machine gives the same bits; checked by hashing whole layer passes with .NET's AVX-512 use
/// switched off and on). So the result is
/// deterministic and equals a scalar loop of <see cref="MathF.FusedMultiplyAdd"/> bit for bit (tested); it differs
/// from MKL's in the last bits (another summation order).</para>
/// <para>Off where the CPU lacks AVX2 or FMA (<see cref="Available"/>), or with <c>MOELAB_SMALL_GEMM=0</c>; the dispatch
/// then calls MKL as before.</para></summary>
internal static unsafe class SmallGemm
{
    /// <summary>Columns per tile: C's width must be a multiple of this (<see cref="Fits"/>).</summary>
    public const int Panel = 16;

    /// <summary>Depth per block: 128 rows of a 16-column panel of B are 8 KiB, which stay in the 48 KiB L1 data cache of
    /// the AMD EPYC VMs even where B's row stride maps them to few cache sets. Against 256, two alternating rounds on one
    /// core: the weight-gradient shapes with a depth of 512 ran 19.5 / 20.2 vs 20.5 / 25.1 ms (E 32) and 42.3 / 43.5 vs
    /// 44.7 / 50.5 ms (E 128), the other shapes alike within noise.</summary>
    internal const int DepthBlock = 128;

    /// <summary>True when the CPU has what the kernel needs and the environment did not switch it off.</summary>
    public static bool Available { get; } = Avx2.IsSupported && Fma.IsSupported && Environment.GetEnvironmentVariable("MOELAB_SMALL_GEMM") != "0";

    /// <summary>Whether the fused dispatch uses this kernel for its small blocks (default: when <see cref="Available"/>);
    /// tests switch it off to compare with MKL in one process.</summary>
    public static bool Enabled { get => enabled && Available; set => enabled = value; }
    private static bool enabled = true;

    /// <summary>Why the kernel is off, or null when it is available.</summary>
    public static string? Failure =>
        Environment.GetEnvironmentVariable("MOELAB_SMALL_GEMM") == "0" ? "MOELAB_SMALL_GEMM=0"
        : !(Avx2.IsSupported && Fma.IsSupported) ? "the CPU lacks AVX2 or FMA" : null;

    /// <summary>True when C's width suits the kernel.</summary>
    public static bool Fits(int n) => n > 0 && n % Panel == 0;

    /// <summary>Calls so far, process-wide (tests check that the dispatch really used the kernel).</summary>
    internal static long Calls => Interlocked.Read(ref calls);
    private static long calls;

    [ThreadStatic] private static float* packed;
    [ThreadStatic] private static long packedCapacity;

    /// <summary>C = op(A) · op(B) for row-major matrices, overwriting C [m, n] (leading dimension ldc): op(A) [m, k] is
    /// A stored [m, k] (or [k, m] when <paramref name="transA"/>) with leading dimension lda, op(B) [k, n] likewise.
    /// Needs <see cref="Enabled"/>, m, k ≥ 0 and <see cref="Fits"/>(n). A transposed B is copied into a buffer of this
    /// thread (k × n floats, kept for the thread's next calls). With <paramref name="aRows"/> (not transposed A only),
    /// row i of A is row aRows[i] of the matrix at <paramref name="a"/>; with <paramref name="bRows"/> (not transposed B
    /// only), row q of B is row bRows[q] of the matrix at <paramref name="b"/>: the fused dispatch reads each expert's
    /// token rows (x, gy) where they are instead of gathering them first.</summary>
    public static void RowMajor(bool transA, bool transB, int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc,
        int* aRows = null, int* bRows = null)
    {
        if (transA && aRows is not null) throw new ArgumentException("SmallGemm: row indices need a non-transposed A.");
        if (transB && bRows is not null) throw new ArgumentException("SmallGemm: row indices need a non-transposed B.");
        if (!Available) throw new InvalidOperationException($"SmallGemm: not available ({Failure}).");
        if (!Fits(n) || m < 0 || k < 0) throw new ArgumentException($"SmallGemm: n = {n} must be a positive multiple of {Panel}; m = {m}, k = {k} must be ≥ 0.");
        Interlocked.Increment(ref calls);
        if (m == 0) return;
        if (k == 0)
        {
            for (int i = 0; i < m; i++) new Span<float>(c + (long)i * ldc, n).Clear();
            return;
        }
        if (transB)
        {
            float* p = Buffer((long)k * n);
            Transpose(b, ldb, n, k, p);                                                       // B [n, k] → Bᵀ [k, n]
            b = p;
            ldb = n;
        }
        long acs = transA ? lda : 1;
        float** row = RowTable(m);                                                            // where each row of op(A) starts
        for (int i = 0; i < m; i++) row[i] = transA ? a + i : aRows is not null ? a + (long)aRows[i] * lda : a + (long)i * lda;
        float** depth = DepthTable(k);                                                        // where each row of op(B) starts
        for (int q = 0; q < k; q++) depth[q] = bRows is not null ? b + (long)bRows[q] * ldb : b + (long)q * ldb;
        // 6 × 32 tiles where they measured faster than 6 × 16 (one core, E 256 / E 128 / E 32 blocks, two rounds): not
        // transposed A (E 256 d_ff 64, first matmul 82 → 93–101 GFLOP/s, the transposed-B one 87 → 95–100) and a
        // transposed A over more than one depth block (E 128 weight gradient, depth 512: 99 → 110–112); a transposed A
        // within one depth block stays on 6 × 16 (E 256 weight gradients: 106–109 vs 94–102 on 6 × 32).
        bool wide = Wide && (!transA || k > DepthBlock);
        for (int k0 = 0; k0 < k; k0 += DepthBlock)
        {
            int kc = Math.Min(DepthBlock, k - k0);
            bool accumulate = k0 > 0;
            long ak = k0 * acs;
            float** bk = depth + k0;
            for (int j = 0; j < n; j += Panel)
            {
                int i = 0;
                if (wide && j + 2 * Panel <= n)
                {
                    for (; i + 6 <= m; i += 6) Tile6x32(kc, row + i, ak, acs, bk, j, c + (long)i * ldc + j, ldc, accumulate);
                    Remainder(i, m, kc, row, ak, acs, bk, j, c + j, ldc, accumulate);
                    Remainder(i, m, kc, row, ak, acs, bk, j + Panel, c + j + Panel, ldc, accumulate);
                    j += Panel;
                    continue;
                }
                for (; i + 6 <= m; i += 6) Tile6(kc, row + i, ak, acs, bk, j, c + (long)i * ldc + j, ldc, accumulate);
                Remainder(i, m, kc, row, ak, acs, bk, j, c + j, ldc, accumulate);
            }
        }
    }

    /// <summary>Rows [i, m) (fewer than 6) of one 16-column panel: 4-, 2- and 1-row tiles.</summary>
    private static void Remainder(int i, int m, int k, float** row, long offset, long acs, float** bRow, long j, float* c, long ldc, bool accumulate)
    {
        if (i + 4 <= m) { Tile4(k, row + i, offset, acs, bRow, j, c + (long)i * ldc, ldc, accumulate); i += 4; }
        if (i + 2 <= m) { Tile2(k, row + i, offset, acs, bRow, j, c + (long)i * ldc, ldc, accumulate); i += 2; }
        if (i < m) Tile1(k, row[i] + offset, acs, bRow, j, c + (long)i * ldc, accumulate);
    }

    [ThreadStatic] private static float** rowTable;
    [ThreadStatic] private static int rowTableCapacity;
    [ThreadStatic] private static float** depthTable;
    [ThreadStatic] private static int depthTableCapacity;

    private static float** RowTable(int rows) => Table(ref rowTable, ref rowTableCapacity, rows);

    private static float** DepthTable(int rows) => Table(ref depthTable, ref depthTableCapacity, rows);

    /// <summary>A pointer table of this thread with room for <paramref name="rows"/> entries (kept for the next calls).</summary>
    private static float** Table(ref float** table, ref int capacity, int rows)
    {
        if (capacity < rows)
        {
            if (table is not null) System.Runtime.InteropServices.NativeMemory.Free(table);
            table = (float**)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)rows, (nuint)sizeof(float*));
            capacity = rows;
        }
        return table;
    }

    private static float* Buffer(long floats)
    {
        if (packedCapacity < floats)
        {
            if (packed is not null) System.Runtime.InteropServices.NativeMemory.AlignedFree(packed);
            packed = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
            packedCapacity = floats;
        }
        return packed;
    }

    /// <summary>dst [cols, rows] = src [rows, cols]ᵀ (src leading dimension lds, dst dense); rows a multiple of 8.</summary>
    internal static void Transpose(float* src, long lds, int rows, int cols, float* dst)
    {
        int c8 = cols & ~7;
        for (int r = 0; r < rows; r += 8)
        {
            float* s = src + r * lds;
            for (int q = 0; q < c8; q += 8)
            {
                var r0 = Avx.LoadVector256(s + q); var r1 = Avx.LoadVector256(s + lds + q);
                var r2 = Avx.LoadVector256(s + 2 * lds + q); var r3 = Avx.LoadVector256(s + 3 * lds + q);
                var r4 = Avx.LoadVector256(s + 4 * lds + q); var r5 = Avx.LoadVector256(s + 5 * lds + q);
                var r6 = Avx.LoadVector256(s + 6 * lds + q); var r7 = Avx.LoadVector256(s + 7 * lds + q);
                var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
                var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
                var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
                var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
                var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
                var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
                var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
                float* d = dst + (long)q * rows + r;
                Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20)); Avx.Store(d + rows, Avx.Permute2x128(u1, u5, 0x20));
                Avx.Store(d + 2 * rows, Avx.Permute2x128(u2, u6, 0x20)); Avx.Store(d + 3 * rows, Avx.Permute2x128(u3, u7, 0x20));
                Avx.Store(d + 4 * rows, Avx.Permute2x128(u0, u4, 0x31)); Avx.Store(d + 5 * rows, Avx.Permute2x128(u1, u5, 0x31));
                Avx.Store(d + 6 * rows, Avx.Permute2x128(u2, u6, 0x31)); Avx.Store(d + 7 * rows, Avx.Permute2x128(u3, u7, 0x31));
            }
            for (int q = c8; q < cols; q++)
                for (int i = 0; i < 8; i++) dst[(long)q * rows + r + i] = s[i * lds + q];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Start(float* c, bool accumulate) => accumulate ? Avx.LoadVector256(c) : Vector256<float>.Zero;

    private static void Tile6(int k, float** row, long offset, long acs, float** bRow, long j, float* c, long ldc, bool accumulate)
    {
        float* a = row[0] + offset, a1 = row[1] + offset, a2 = row[2] + offset, a3 = row[3] + offset, a4 = row[4] + offset, a5 = row[5] + offset;
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
        Vector256<float> x00 = Start(c, accumulate), x01 = Start(c + 8, accumulate), x10 = Start(c1, accumulate), x11 = Start(c1 + 8, accumulate),
            x20 = Start(c2, accumulate), x21 = Start(c2 + 8, accumulate), x30 = Start(c3, accumulate), x31 = Start(c3 + 8, accumulate),
            x40 = Start(c4, accumulate), x41 = Start(c4 + 8, accumulate), x50 = Start(c5, accumulate), x51 = Start(c5 + 8, accumulate);
        for (long o = 0, end = k * acs; o != end; o += acs, bRow++)
        {
            float* b = *bRow + j;
            var b0 = Avx.LoadVector256(b); var b1 = Avx.LoadVector256(b + 8);
            var v = Vector256.Create(a[o]); x00 = Fma.MultiplyAdd(v, b0, x00); x01 = Fma.MultiplyAdd(v, b1, x01);
            v = Vector256.Create(a1[o]); x10 = Fma.MultiplyAdd(v, b0, x10); x11 = Fma.MultiplyAdd(v, b1, x11);
            v = Vector256.Create(a2[o]); x20 = Fma.MultiplyAdd(v, b0, x20); x21 = Fma.MultiplyAdd(v, b1, x21);
            v = Vector256.Create(a3[o]); x30 = Fma.MultiplyAdd(v, b0, x30); x31 = Fma.MultiplyAdd(v, b1, x31);
            v = Vector256.Create(a4[o]); x40 = Fma.MultiplyAdd(v, b0, x40); x41 = Fma.MultiplyAdd(v, b1, x41);
            v = Vector256.Create(a5[o]); x50 = Fma.MultiplyAdd(v, b0, x50); x51 = Fma.MultiplyAdd(v, b1, x51);
        }
        Avx.Store(c, x00); Avx.Store(c + 8, x01); Avx.Store(c1, x10); Avx.Store(c1 + 8, x11);
        Avx.Store(c2, x20); Avx.Store(c2 + 8, x21); Avx.Store(c3, x30); Avx.Store(c3 + 8, x31);
        Avx.Store(c4, x40); Avx.Store(c4 + 8, x41); Avx.Store(c5, x50); Avx.Store(c5 + 8, x51);
    }

    /// <summary>Whether 6 × 32 tiles (24 accumulators) are used: only where the JIT has 32 vector registers (AVX-512VL,
    /// EVEX encoding), else they would spill. Either tile gives every element the same FMA chain, so the same bits.
    /// Tests switch it to check both.</summary>
    internal static bool Wide { get; set; } = Avx512F.VL.IsSupported;

    private static void Tile6x32(int k, float** row, long offset, long acs, float** bRow, long j, float* c, long ldc, bool accumulate)
    {
        float* a = row[0] + offset, a1 = row[1] + offset, a2 = row[2] + offset, a3 = row[3] + offset, a4 = row[4] + offset, a5 = row[5] + offset;
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
        Vector256<float> x00 = Start(c, accumulate), x01 = Start(c + 8, accumulate), x02 = Start(c + 16, accumulate), x03 = Start(c + 24, accumulate),
            x10 = Start(c1, accumulate), x11 = Start(c1 + 8, accumulate), x12 = Start(c1 + 16, accumulate), x13 = Start(c1 + 24, accumulate),
            x20 = Start(c2, accumulate), x21 = Start(c2 + 8, accumulate), x22 = Start(c2 + 16, accumulate), x23 = Start(c2 + 24, accumulate),
            x30 = Start(c3, accumulate), x31 = Start(c3 + 8, accumulate), x32 = Start(c3 + 16, accumulate), x33 = Start(c3 + 24, accumulate),
            x40 = Start(c4, accumulate), x41 = Start(c4 + 8, accumulate), x42 = Start(c4 + 16, accumulate), x43 = Start(c4 + 24, accumulate),
            x50 = Start(c5, accumulate), x51 = Start(c5 + 8, accumulate), x52 = Start(c5 + 16, accumulate), x53 = Start(c5 + 24, accumulate);
        for (long o = 0, end = k * acs; o != end; o += acs, bRow++)
        {
            float* b = *bRow + j;
            var b0 = Avx.LoadVector256(b); var b1 = Avx.LoadVector256(b + 8); var b2 = Avx.LoadVector256(b + 16); var b3 = Avx.LoadVector256(b + 24);
            var v = Vector256.Create(a[o]); x00 = Fma.MultiplyAdd(v, b0, x00); x01 = Fma.MultiplyAdd(v, b1, x01); x02 = Fma.MultiplyAdd(v, b2, x02); x03 = Fma.MultiplyAdd(v, b3, x03);
            v = Vector256.Create(a1[o]); x10 = Fma.MultiplyAdd(v, b0, x10); x11 = Fma.MultiplyAdd(v, b1, x11); x12 = Fma.MultiplyAdd(v, b2, x12); x13 = Fma.MultiplyAdd(v, b3, x13);
            v = Vector256.Create(a2[o]); x20 = Fma.MultiplyAdd(v, b0, x20); x21 = Fma.MultiplyAdd(v, b1, x21); x22 = Fma.MultiplyAdd(v, b2, x22); x23 = Fma.MultiplyAdd(v, b3, x23);
            v = Vector256.Create(a3[o]); x30 = Fma.MultiplyAdd(v, b0, x30); x31 = Fma.MultiplyAdd(v, b1, x31); x32 = Fma.MultiplyAdd(v, b2, x32); x33 = Fma.MultiplyAdd(v, b3, x33);
            v = Vector256.Create(a4[o]); x40 = Fma.MultiplyAdd(v, b0, x40); x41 = Fma.MultiplyAdd(v, b1, x41); x42 = Fma.MultiplyAdd(v, b2, x42); x43 = Fma.MultiplyAdd(v, b3, x43);
            v = Vector256.Create(a5[o]); x50 = Fma.MultiplyAdd(v, b0, x50); x51 = Fma.MultiplyAdd(v, b1, x51); x52 = Fma.MultiplyAdd(v, b2, x52); x53 = Fma.MultiplyAdd(v, b3, x53);
        }
        Avx.Store(c, x00); Avx.Store(c + 8, x01); Avx.Store(c + 16, x02); Avx.Store(c + 24, x03);
        Avx.Store(c1, x10); Avx.Store(c1 + 8, x11); Avx.Store(c1 + 16, x12); Avx.Store(c1 + 24, x13);
        Avx.Store(c2, x20); Avx.Store(c2 + 8, x21); Avx.Store(c2 + 16, x22); Avx.Store(c2 + 24, x23);
        Avx.Store(c3, x30); Avx.Store(c3 + 8, x31); Avx.Store(c3 + 16, x32); Avx.Store(c3 + 24, x33);
        Avx.Store(c4, x40); Avx.Store(c4 + 8, x41); Avx.Store(c4 + 16, x42); Avx.Store(c4 + 24, x43);
        Avx.Store(c5, x50); Avx.Store(c5 + 8, x51); Avx.Store(c5 + 16, x52); Avx.Store(c5 + 24, x53);
    }

    private static void Tile4(int k, float** row, long offset, long acs, float** bRow, long j, float* c, long ldc, bool accumulate)
    {
        float* a = row[0] + offset, a1 = row[1] + offset, a2 = row[2] + offset, a3 = row[3] + offset;
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        Vector256<float> x00 = Start(c, accumulate), x01 = Start(c + 8, accumulate), x10 = Start(c1, accumulate), x11 = Start(c1 + 8, accumulate),
            x20 = Start(c2, accumulate), x21 = Start(c2 + 8, accumulate), x30 = Start(c3, accumulate), x31 = Start(c3 + 8, accumulate);
        for (long o = 0, end = k * acs; o != end; o += acs, bRow++)
        {
            float* b = *bRow + j;
            var b0 = Avx.LoadVector256(b); var b1 = Avx.LoadVector256(b + 8);
            var v = Vector256.Create(a[o]); x00 = Fma.MultiplyAdd(v, b0, x00); x01 = Fma.MultiplyAdd(v, b1, x01);
            v = Vector256.Create(a1[o]); x10 = Fma.MultiplyAdd(v, b0, x10); x11 = Fma.MultiplyAdd(v, b1, x11);
            v = Vector256.Create(a2[o]); x20 = Fma.MultiplyAdd(v, b0, x20); x21 = Fma.MultiplyAdd(v, b1, x21);
            v = Vector256.Create(a3[o]); x30 = Fma.MultiplyAdd(v, b0, x30); x31 = Fma.MultiplyAdd(v, b1, x31);
        }
        Avx.Store(c, x00); Avx.Store(c + 8, x01); Avx.Store(c1, x10); Avx.Store(c1 + 8, x11);
        Avx.Store(c2, x20); Avx.Store(c2 + 8, x21); Avx.Store(c3, x30); Avx.Store(c3 + 8, x31);
    }

    private static void Tile2(int k, float** row, long offset, long acs, float** bRow, long j, float* c, long ldc, bool accumulate)
    {
        float* a = row[0] + offset, a1 = row[1] + offset;
        float* c1 = c + ldc;
        Vector256<float> x00 = Start(c, accumulate), x01 = Start(c + 8, accumulate), x10 = Start(c1, accumulate), x11 = Start(c1 + 8, accumulate);
        for (long o = 0, end = k * acs; o != end; o += acs, bRow++)
        {
            float* b = *bRow + j;
            var b0 = Avx.LoadVector256(b); var b1 = Avx.LoadVector256(b + 8);
            var v = Vector256.Create(a[o]); x00 = Fma.MultiplyAdd(v, b0, x00); x01 = Fma.MultiplyAdd(v, b1, x01);
            v = Vector256.Create(a1[o]); x10 = Fma.MultiplyAdd(v, b0, x10); x11 = Fma.MultiplyAdd(v, b1, x11);
        }
        Avx.Store(c, x00); Avx.Store(c + 8, x01); Avx.Store(c1, x10); Avx.Store(c1 + 8, x11);
    }

    private static void Tile1(int k, float* a, long acs, float** bRow, long j, float* c, bool accumulate)
    {
        Vector256<float> x00 = Start(c, accumulate), x01 = Start(c + 8, accumulate);
        for (long o = 0, end = k * acs; o != end; o += acs, bRow++)
        {
            float* b = *bRow + j;
            var v = Vector256.Create(a[o]);
            x00 = Fma.MultiplyAdd(v, Avx.LoadVector256(b), x00); x01 = Fma.MultiplyAdd(v, Avx.LoadVector256(b + 8), x01);
        }
        Avx.Store(c, x00); Avx.Store(c + 8, x01);
    }
}
