using MoeLab.Models.Runtime;
using TorchSharp;

namespace MoeLab.Models.Tests;

public class TorchRuntimeTests
{
    [Fact]
    public void TensorOperationRunsInsideTheTestProcess()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        var b = a.matmul(a); // [[7,10],[15,22]]
        Assert.Equal(new float[] { 7, 10, 15, 22 }, b.data<float>().ToArray());
    }

    [Fact]
    public void AutoDeviceIsCpuWithoutCuda()
    {
        if (torch.cuda.is_available()) return; // on a GPU box auto picks CUDA; covered by the next test's logic
        Assert.Equal(DeviceType.CPU, TorchDevice.Resolve("auto").type);
        Assert.Equal(DeviceType.CPU, TorchDevice.Resolve(null).type);
    }

    [Fact]
    public void AskingForCudaWithoutCudaIsAClearError()
    {
        if (torch.cuda.is_available()) return;
        var e = Assert.Throws<InvalidOperationException>(() => TorchDevice.Resolve("cuda"));
        Assert.Contains("CUDA is not available", e.Message);
    }

    [Fact]
    public void UnknownDeviceNameIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => TorchDevice.Resolve("tpu"));
        Assert.Contains("auto, cpu, cuda", e.Message);
    }
}
