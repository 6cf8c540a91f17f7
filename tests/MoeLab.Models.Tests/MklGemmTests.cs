using System.Runtime.InteropServices;
using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

/// <summary>The fused dispatch's direct MKL calls (<see cref="MklGemm"/>): present where LibTorch carries MKL, the right
/// products for every transpose combination, and the same bits as the <c>addmm_</c> path they replace.</summary>
public class MklGemmTests
{
    [Fact]
    public void LibTorchOnLinuxX64ExportsMklsGemm()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return; // MKL builds only
        Assert.True(MklGemm.Available, MklGemm.Failure);
        Assert.Null(MklGemm.Failure);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public unsafe void RowMajorComputesTheProductOfTheTransposedOperands(bool transA, bool transB)
    {
        if (!MklGemm.Available) return;
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        const int m = 37, n = 19, k = 23;
        var a = transA ? torch.randn(k, m) : torch.randn(m, k);            // stored as given, op(A) [m, k]
        var b = transB ? torch.randn(n, k) : torch.randn(k, n);            // op(B) [k, n]
        var c = torch.full(m, n, float.NaN);                               // β = 0 must not read C
        MklGemm.RowMajor(transA, transB, m, n, k, RowKernels.Pointer(a), (int)a.shape[1], RowKernels.Pointer(b), (int)b.shape[1], 0, RowKernels.Pointer(c), n);
        var expected = (transA ? a.t() : a).to(float64).matmul((transB ? b.t() : b).to(float64)).to(float32);
        Close(expected, c, atol: 1e-4, rtol: 1e-5, what: $"op(A)·op(B), transA {transA}, transB {transB}");
        // β = 1 accumulates.
        MklGemm.RowMajor(transA, transB, m, n, k, RowKernels.Pointer(a), (int)a.shape[1], RowKernels.Pointer(b), (int)b.shape[1], 1, RowKernels.Pointer(c), n);
        Close(expected.mul(2), c, atol: 2e-4, rtol: 1e-5, what: "β = 1");
    }

    /// <summary>Small blocks on two workers, and large ones one after another with every thread; GELU and SwiGLU with
    /// biases: output and every gradient bit for bit equal with the direct calls and with <c>addmm_</c>.</summary>
    [Theory]
    [InlineData(ExpertKind.Gelu, false, 6, 16, 2)]
    [InlineData(ExpertKind.SwiGlu, true, 6, 16, 2)]
    [InlineData(ExpertKind.Gelu, false, 4, 512, 1)]
    [InlineData(ExpertKind.Gelu, true, 4, 512, 2)]
    public void FusedDispatchGivesTheSameBitsWithDirectCallsAsWithAddmm(ExpertKind kind, bool bias, int experts, int hidden, int threads)
    {
        if (!MklGemm.Available) return;
        int previous = torch.get_num_threads();
        torch.set_num_threads(threads);
        SmallGemm.Enabled = false;                                          // MKL on both sides (SmallGemmTests covers the other kernel)
        try
        {
            var direct = Run(kind, bias, experts, hidden, useDirect: true);
            var viaTorch = Run(kind, bias, experts, hidden, useDirect: false);
            SameBits(direct, viaTorch, "between the direct MKL calls and addmm_");
        }
        finally
        {
            MklGemm.Enabled = true;
            SmallGemm.Enabled = true;
            torch.set_num_threads(previous);
        }
    }

    private static Tensor[] Run(ExpertKind kind, bool bias, int experts, int hidden, bool useDirect)
    {
        MklGemm.Enabled = useDirect;
        torch.manual_seed(11);
        var layer = new MoeLayer(new MoeLayerOptions
        {
            DModel = 256, DHidden = hidden, Experts = experts, Kind = kind, Bias = bias, Kernel = GroupedKernel.FusedBlocks,
            Router = new RouterOptions { K = 2 },
        });
        var x = torch.randn(new long[] { 2048, 256 }).requires_grad_(true);   // 2,048 tokens: 1,024 rows an expert on average
        var upstream = torch.randn(2048, 256);
        return LayerPass(layer, x, upstream);
    }
}
