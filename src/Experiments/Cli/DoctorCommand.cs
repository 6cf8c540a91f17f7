using System.CommandLine;
using MoeLab.Models.Runtime;
using TorchSharp;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab doctor`: prints what the tensor runtime is and proves it computes.</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var cmd = new Command("doctor", "Print TorchSharp/LibTorch versions, device and threads, and run a tensor check.");
        cmd.SetAction(_ => Run(Console.Out));
        return cmd;
    }

    public static int Run(TextWriter output)
    {
        TorchInfo info;
        try
        {
            info = TorchInfo.Read();
        }
        catch (Exception e)
        {
            output.WriteLine($"TorchSharp failed to load: {e.GetBaseException().Message}");
            output.WriteLine("On Debian 12 the build patches libLibTorchSharp.so; rebuild with `dotnet build` (see README).");
            return 1;
        }
        output.WriteLine($"TorchSharp        {info.TorchSharpVersion}");
        output.WriteLine($"LibTorch          {info.LibTorchVersion}");
        output.WriteLine($"backend package   {info.Backend}");
        output.WriteLine($"CUDA available    {info.CudaAvailable} ({info.CudaDeviceCount} device(s))");
        output.WriteLine($"default device    {info.DefaultDevice}");
        output.WriteLine($"threads           {info.Threads}");
        output.WriteLine($"numerics          {MoeLab.Models.Runtime.DeterministicNumerics.Current}");
        output.WriteLine($"allocator         {MoeLab.Experiments.Cluster.MoelabInvocation.DescribeAllocator()}");
        output.WriteLine($"fused dispatch    {MoeLab.Models.Runtime.DispatchThreading.Describe()}");
        output.WriteLine($"natives from      {info.NativeDirectory}");
        output.WriteLine($".NET              {Environment.Version} on {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        using var scope = torch.NewDisposeScope();
        var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        float sum = a.matmul(a.t()).sum().item<float>(); // [[5,14],[14,50]] -> 83
        output.WriteLine($"tensor check      {(sum == 83f ? "ok" : $"WRONG ({sum} != 83)")}");
        return sum == 83f ? 0 : 1;
    }
}
