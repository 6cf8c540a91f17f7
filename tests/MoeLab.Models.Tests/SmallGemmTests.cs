using System.Runtime.Intrinsics.X86;
using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

/// <summary>The fused dispatch's kernel for small expert blocks (<see cref="SmallGemm"/>): on where the CPU has AVX2 and
/// FMA; each element exactly the in-order FMA chain (so the same bits for any tiling, depth block, thread or CPU) for
/// every transpose combination, odd row counts, depths across blocks and padded leading dimensions; close to MKL's
/// result in a whole layer, and a layer's bits independent of the thread count.</summary>
public class SmallGemmTests
{
    [Fact]
    public void AvailableWhereTheCpuHasAvx2AndFma()
    {
        bool cpu = Avx2.IsSupported && Fma.IsSupported;
        if (Environment.GetEnvironmentVariable("MOELAB_SMALL_GEMM") == "0") { Assert.False(SmallGemm.Available); return; }
        Assert.Equal(cpu, SmallGemm.Available);
        Assert.Equal(cpu ? null : "the CPU lacks AVX2 or FMA", SmallGemm.Failure);
    }

    [Theory]
    [InlineData(false, false, 128, 64, 256)]
    [InlineData(false, true, 128, 64, 256)]
    [InlineData(true, false, 64, 256, 128)]
    [InlineData(true, true, 13, 32, 7)]
    [InlineData(false, false, 1, 16, 1)]
    [InlineData(false, false, 11, 48, 513)]   // rows 6 + 4 + 1, depth over three blocks
    [InlineData(true, false, 5, 16, 300)]      // 4 + 1 rows, depth over two blocks (the weight-gradient shape)
    [InlineData(false, true, 9, 80, 259)]      // 6 + 2 rows; a transposed B with a depth not a multiple of 8
    [InlineData(true, true, 3, 16, 1)]
    [InlineData(true, false, 13, 64, 300)]     // transposed A over several depth blocks: the 6 × 32 tiles where enabled
    public void EveryElementIsTheInOrderFmaChain(bool transA, bool transB, int m, int n, int k)
    {
        if (!SmallGemm.Available) return;
        bool wide = SmallGemm.Wide;
        try
        {
            foreach (var tiles in new[] { false, true })                               // 6 × 16 only, and with 6 × 32
            {
                SmallGemm.Wide = tiles;
                CheckFmaChain(transA, transB, m, n, k);
            }
        }
        finally { SmallGemm.Wide = wide; }
    }

    private static unsafe void CheckFmaChain(bool transA, bool transB, int m, int n, int k)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        // Stored with padded leading dimensions (3 more than the width) to catch a stride mix-up.
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + 3, ldb = bCols + 3, ldc = n + 3;
        var a = Random(rng, aRows * lda);
        var b = Random(rng, bRows * ldb);
        var c = Enumerable.Repeat(float.NaN, m * ldc).ToArray();                     // β = 0: C must not be read
        fixed (float* pa = a, pb = b, pc = c) SmallGemm.RowMajor(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float expected = 0;
                double exact = 0;
                for (int q = 0; q < k; q++)
                {
                    float x = transA ? a[q * lda + i] : a[i * lda + q], y = transB ? b[j * ldb + q] : b[q * ldb + j];
                    expected = MathF.FusedMultiplyAdd(x, y, expected);
                    exact += (double)x * y;
                }
                float actual = c[i * ldc + j];
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
                    $"C[{i},{j}] = {actual:R}, the FMA chain gives {expected:R} (transA {transA}, transB {transB}, {m}×{n}×{k}, 6 × 32 tiles {SmallGemm.Wide})");
                Assert.True(Math.Abs(actual - exact) <= 1e-5 * k, $"C[{i},{j}] = {actual:R} is far from the exact {exact:R}");
            }
            for (int j = n; j < ldc; j++) Assert.True(float.IsNaN(c[i * ldc + j]), $"C[{i},{j}] beyond the width was written");
        }
    }

    /// <summary>Row indices: row i of A (or row q of B) is row aRows[i] (bRows[q]) of the matrix given (any order, repeats
    /// allowed), bit for bit the product of the gathered rows; a transposed A with indices is refused.</summary>
    [Theory]
    [InlineData(13, 32, 70)]
    [InlineData(6, 16, 300)]
    [InlineData(11, 16, 64)]
    public unsafe void RowIndicesPickTheRowsOfAOrB(int m, int n, int k)
    {
        if (!SmallGemm.Available) return;
        var rng = new Random(m + n + k);
        int sourceRows = 17, lda = k + 2;
        var source = Random(rng, sourceRows * lda);
        var index = Enumerable.Range(0, m).Select(_ => rng.Next(sourceRows)).ToArray();
        index[m - 1] = index[0];                                                           // a repeated row
        var gathered = new float[m * k];
        for (int i = 0; i < m; i++) Array.Copy(source, index[i] * lda, gathered, i * k, k);
        var b = Random(rng, k * n);
        var viaIndex = new float[m * n];
        var viaCopy = new float[m * n];
        fixed (float* ps = source, pg = gathered, pb = b, pi = viaIndex, pc = viaCopy)
        fixed (int* rows = index)
        {
            SmallGemm.RowMajor(false, false, m, n, k, ps, lda, pb, n, pi, n, rows);
            SmallGemm.RowMajor(false, false, m, n, k, pg, k, pb, n, pc, n);
        }
        Assert.Equal(viaCopy, viaIndex);
        Assert.Contains(viaIndex, v => v != 0);
        // B's rows through indices: C = Gᵀ · B with B's row q = row index[q] of the source (the shape of W_in's gradient).
        var g = Random(rng, m * 16);
        var bGathered = new float[m * k];
        Array.Copy(gathered, bGathered, m * k);
        var viaBIndex = new float[16 * k];
        var viaBCopy = new float[16 * k];
        if (k % 16 == 0)
            fixed (float* ps = source, pg = g, pbg = bGathered, pi = viaBIndex, pc = viaBCopy)
            fixed (int* rows = index)
            {
                SmallGemm.RowMajor(true, false, 16, k, m, pg, 16, ps, lda, pi, k, bRows: rows);
                SmallGemm.RowMajor(true, false, 16, k, m, pg, 16, pbg, k, pc, k);
                Assert.Equal(viaBCopy, viaBIndex);
                Assert.Contains(viaBIndex, v => v != 0);
            }
        var error = Assert.Throws<ArgumentException>(() =>
        {
            fixed (float* ps = source, pb = b, pi = viaIndex)
            fixed (int* rows = index) SmallGemm.RowMajor(true, false, m, n, k, ps, lda, pb, n, pi, n, rows);
        });
        Assert.Contains("non-transposed", error.Message);
    }

    [Fact]
    public unsafe void ZeroDepthGivesZerosAndAWidthOffThePanelIsRefused()
    {
        if (!SmallGemm.Available) return;
        var c = Enumerable.Repeat(float.NaN, 3 * 16).ToArray();
        var a = new float[1];
        fixed (float* pa = a, pc = c) SmallGemm.RowMajor(false, false, 3, 16, 0, pa, 1, pa, 16, pc, 16);
        Assert.All(c, v => Assert.Equal(0f, v));
        Assert.False(SmallGemm.Fits(24));
        Assert.False(SmallGemm.Fits(0));
        Assert.True(SmallGemm.Fits(64));
        var error = Assert.Throws<ArgumentException>(() => { fixed (float* pa = a, pc = c) SmallGemm.RowMajor(false, false, 1, 24, 1, pa, 1, pa, 24, pc, 24); });
        Assert.Contains("multiple of 16", error.Message);
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(16, 13)]
    [InlineData(24, 3)]
    public unsafe void TransposeCopiesEveryElement(int rows, int cols)
    {
        if (!SmallGemm.Available) return;
        int lds = cols + 5;
        var src = Random(new Random(rows + cols), rows * lds);
        var dst = new float[rows * cols];
        fixed (float* ps = src, pd = dst) SmallGemm.Transpose(ps, lds, rows, cols, pd);
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < cols; q++)
                Assert.Equal(src[r * lds + q], dst[q * rows + r]);
    }

    /// <summary>E 64 top-4 d_ff 64 with GELU and SwiGLU (biases on): small blocks, so the layer's matmuls run on the
    /// kernel (its call count rises); output and every gradient close to the same layer on MKL.</summary>
    [Theory]
    [InlineData(ExpertKind.Gelu, true)]
    [InlineData(ExpertKind.SwiGlu, false)]
    public void ALayerOnTheKernelMatchesTheLayerOnMkl(ExpertKind kind, bool bias)
    {
        if (!SmallGemm.Available || !MklGemm.Available) return;
        long before = SmallGemm.Calls;
        var onKernel = Run(kind, bias, threads: 2);
        Assert.True(SmallGemm.Calls - before >= 6 * 64 - 64, $"the kernel ran {SmallGemm.Calls - before} times for 64 experts");
        SmallGemm.Enabled = false;
        try
        {
            before = SmallGemm.Calls;
            var onMkl = Run(kind, bias, threads: 2);
            Assert.Equal(before, SmallGemm.Calls);
            for (int i = 0; i < LayerPassNames.Length; i++)
                Close(onMkl[i], onKernel[i], atol: 1e-5, rtol: 1e-4, what: $"{LayerPassNames[i]}, kernel vs MKL");
        }
        finally { SmallGemm.Enabled = true; }
    }

    /// <summary>Small blocks read the tokens' rows (x forward and backward, gy backward) through their indices, and make
    /// W_in's gradient transposed then transpose it: the same bits as gathering the rows first (each element is the same
    /// FMA chain), with and without biases (the output bias sends the combine's backward through the kept output rows).</summary>
    [Theory]
    [InlineData(ExpertKind.Gelu, false)]
    [InlineData(ExpertKind.SwiGlu, true)]
    public void RowsReadThroughTheirIndicesGiveTheBitsOfGatheredRows(ExpertKind kind, bool bias)
    {
        if (!SmallGemm.Available) return;
        var indexed = Run(kind, bias, threads: 2);
        FusedGroupedDispatch.PerBlockGather = false;
        try
        {
            var gathered = Run(kind, bias, threads: 2);
            SameBits(indexed, gathered, "between rows read through indices and rows gathered first");
        }
        finally { FusedGroupedDispatch.PerBlockGather = true; }
    }

    [Fact]
    public void ALayerOnTheKernelHasTheSameBitsWithOneOrTwoThreads()
    {
        if (!SmallGemm.Available) return;
        var one = Run(ExpertKind.Gelu, bias: true, threads: 1);
        var two = Run(ExpertKind.Gelu, bias: true, threads: 2);
        SameBits(one, two, "between one and two threads on the small-block kernel");
    }

    private static Tensor[] Run(ExpertKind kind, bool bias, int threads)
    {
        int previous = torch.get_num_threads();
        torch.set_num_threads(threads);
        try
        {
            torch.manual_seed(5);
            var layer = new MoeLayer(new MoeLayerOptions
            {
                DModel = 64, DHidden = 64, Experts = 64, Kind = kind, Bias = bias, Kernel = GroupedKernel.FusedBlocks,
                Router = new RouterOptions { K = 4 },
            });
            var x = torch.randn(new long[] { 1024, 64 }).requires_grad_(true);   // 64 rows an expert on average
            var upstream = torch.randn(1024, 64);
            return LayerPass(layer, x, upstream);
        }
        finally { torch.set_num_threads(previous); }
    }

    private static float[] Random(Random rng, int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
