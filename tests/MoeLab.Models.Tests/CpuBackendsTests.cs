using MoeLab.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

/// <summary>oneDNN and NNPACK are off in MoeLab processes (see <see cref="CpuBackends"/>), unless MOELAB_ONEDNN=1.</summary>
public class CpuBackendsTests
{
    [Fact]
    public void OneDnnAndNnpackAreOffUnlessAskedFor()
    {
        string state = CpuBackends.EnsureDefault();
        bool keep = CpuBackends.Requested;
        Assert.Equal(keep ? "on (MOELAB_ONEDNN=1)" : "off", state);
        Assert.Equal(keep, CpuBackends.OneDnnEnabled);
        Assert.Equal(keep, CpuBackends.NnpackEnabled);
        Assert.Equal(state, DeterministicNumerics.Current.CpuBackends);
    }

    /// <summary>What the switch is for: GELU and its backward on a contiguous float32 tensor run ATen's kernel, the one a
    /// transposed (non-contiguous) view always gets. With oneDNN on, the contiguous call runs oneDNN's kernel for this
    /// CPU, whose bits differ (checked on the AMD EPYC VMs: this test fails under MOELAB_ONEDNN=1 with the guard removed).</summary>
    [Fact]
    public void GeluAndItsBackwardRunAtensOwnKernel()
    {
        if (CpuBackends.Requested) return; // oneDNN kept on purpose: nothing to check
        using var scope = NewDisposeScope();
        torch.manual_seed(11);
        // Both axes multiples of 16: ATen's vector loop covers every value either way (its scalar tail uses another erf).
        var x = torch.randn(256, 320).mul(3);
        var g = torch.randn(256, 320);
        var viaTranspose = x.t().contiguous().t();                                   // same values, non-contiguous
        Assert.False(viaTranspose.is_contiguous());
        var y = nn.functional.gelu(x);
        var yReference = nn.functional.gelu(viaTranspose);
        Assert.Equal(0L, y.ne(yReference).sum().item<long>());

        var leaf = x.detach().requires_grad_(true);
        var leafT = viaTranspose.detach().requires_grad_(true);
        var gx = torch.autograd.grad(new[] { nn.functional.gelu(leaf) }, new[] { leaf }, new[] { g })[0];
        var gxT = torch.autograd.grad(new[] { nn.functional.gelu(leafT) }, new[] { leafT }, new[] { g.t().contiguous().t() })[0];
        Assert.Equal(0L, gx.ne(gxT).sum().item<long>());
    }
}
