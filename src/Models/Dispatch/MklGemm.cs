using MoeLab.Models.Runtime;

namespace MoeLab.Models.Dispatch;

/// <summary>Single-precision GEMM called straight into the MKL that LibTorch's CPU library carries (its Fortran
/// <c>sgemm_</c>, the routine ATen's CPU matmuls end in), for the fused dispatch's per-expert blocks. An
/// <c>addmm_</c> on a row block costs two or three tensor handles (narrow views, a transpose), a trip through
/// ATen's dispatcher and its shape checks before MKL starts; with 32–256 small experts that is 200–1,500 calls per
/// forward+backward. Measured on the 2-core AMD EPYC VMs (32 blocks of 512 × 256 × 256, median of 25): per-expert
/// <c>addmm_</c> on two workers 15.5–17.7 ms, direct calls on two workers 14.5 ms; 256 blocks of 128 × 256 × 64:
/// 11.3–12.2 vs 10.4 ms; 8 blocks of 1,024 × 256 × 1,024 the same within noise.
/// <para>Same routine, same arguments as ATen passes for these layouts, so the same bits: checked against
/// <c>addmm_</c> in the tests. Under the pinned MKL mode (CBWR AVX2, STRICT) the result does not depend on the
/// thread count either.</para>
/// <para>Where the library does not export the routine (a LibTorch built without MKL, a non-Linux host),
/// <see cref="Available"/> is false and callers keep <c>addmm_</c>; <c>MOELAB_DIRECT_GEMM=0</c> forces that path.</para></summary>
internal static unsafe class MklGemm
{
    private static readonly delegate* unmanaged<byte*, byte*, int*, int*, int*, float*, float*, int*, float*, int*, float*, float*, int*, void> sgemm;
    private static readonly delegate* unmanaged<int, int> setLocalThreads;

    /// <summary>True when <see cref="RowMajor"/> can be called (else: why not in <see cref="Failure"/>).</summary>
    public static bool Available { get; }

    /// <summary>Why the direct path is off, or null when it is on.</summary>
    public static string? Failure { get; }

    /// <summary>Whether the fused dispatch uses the direct path (default: when <see cref="Available"/>); tests switch it
    /// off to compare with the <c>addmm_</c> path in one process.</summary>
    public static bool Enabled { get => enabled && Available; set => enabled = value; }
    private static bool enabled = true;

    static MklGemm()
    {
        if (Environment.GetEnvironmentVariable("MOELAB_DIRECT_GEMM") == "0") { Failure = "MOELAB_DIRECT_GEMM=0"; return; }
        if (LibTorchSymbols.Find(["sgemm_", "MKL_Set_Num_Threads_Local"], out var failure) is not { } p) { Failure = failure; return; }
        sgemm = (delegate* unmanaged<byte*, byte*, int*, int*, int*, float*, float*, int*, float*, int*, float*, float*, int*, void>)p[0];
        setLocalThreads = (delegate* unmanaged<int, int>)p[1];
        Available = true;
    }

    /// <summary>C = op(A) · op(B) + β·C for row-major matrices: C [m, n] with leading dimension ldc, op(A) [m, k],
    /// op(B) [k, n]; A is stored [m, k] (or [k, m] when <paramref name="transA"/>) with leading dimension lda, B
    /// likewise. β = 0 never reads C. Sizes must be positive.</summary>
    public static void RowMajor(bool transA, bool transB, int m, int n, int k, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (!Available) throw new InvalidOperationException($"MklGemm: not available ({Failure}).");
        // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, and a row-major matrix read column-major is its
        // transpose: so B comes first, and each operand's flag stays as given.
        byte ta = transB ? (byte)'T' : (byte)'N', tb = transA ? (byte)'T' : (byte)'N';
        float alpha = 1;
        sgemm(&ta, &tb, &n, &m, &k, &alpha, b, &ldb, a, &lda, &beta, c, &ldc);
    }

    /// <summary>Sets MKL's thread count for calls from the current thread (0: back to the process setting) and
    /// returns the previous one.</summary>
    public static int SetThreadsOnThisThread(int threads) => Available ? setLocalThreads(threads) : 0;
}
