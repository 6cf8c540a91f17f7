using MoeLab.Models.Dispatch;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

/// <summary>The fused node hands its weight gradients to the parameters without autograd copying them (through a view of
/// each parameter), and accumulation across backward passes still adds up.</summary>
public class FusedGradientHandOverTests
{
    [Fact]
    public unsafe void ExpertWeightGradientsAreTheNodesOwnMemoryAndStillAccumulate()
    {
        torch.manual_seed(2);
        var layer = new MoeLayer(new MoeLayerOptions
        {
            DModel = 32, DHidden = 64, Experts = 4, Bias = true, Kernel = GroupedKernel.FusedBlocks, Router = new RouterOptions { K = 2 },
        });
        var x = torch.randn(256, 32).requires_grad_(true);
        var upstream = torch.randn(256, 32);
        layer.forward(x).Output.mul(upstream).sum().backward();
        var gIn = layer.Experts.InputWeight.grad!;
        Assert.Equal(FusedGroupedDispatch.LastInputWeightGradient, (IntPtr)RowKernels.Pointer(gIn));
        var first = ToArray(gIn.clone());
        var firstBias = ToArray(layer.Experts.InputBias!.grad!.clone());
        layer.forward(x).Output.mul(upstream).sum().backward();                 // same input: the gradient doubles
        Assert.Equal(first.Select(v => 2 * v), ToArray(layer.Experts.InputWeight.grad!));
        Assert.Equal(firstBias.Select(v => 2 * v), ToArray(layer.Experts.InputBias!.grad!));
    }
}
