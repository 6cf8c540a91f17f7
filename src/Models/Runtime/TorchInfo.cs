using System.Reflection;
using TorchSharp;

namespace MoeLab.Models.Runtime;

/// <summary>Versions and settings of the tensor runtime, for `moelab doctor` and run manifests.</summary>
public sealed record TorchInfo(
    string TorchSharpVersion,
    string LibTorchVersion,
    string Backend,
    bool CudaAvailable,
    int CudaDeviceCount,
    int Threads,
    string DefaultDevice,
    string NativeDirectory)
{
    public static TorchInfo Read()
    {
        var asm = typeof(torch).Assembly;
        string tsVersion = asm.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                           ?? asm.GetName().Version?.ToString() ?? "unknown";
        int plus = tsVersion.IndexOf('+');
        if (plus > 0) tsVersion = tsVersion[..plus];
        bool cuda = torch.cuda.is_available();
        return new TorchInfo(
            tsVersion,
            torch.__version__,
            TorchDevice.Backend,
            cuda,
            cuda ? torch.cuda.device_count() : 0,
            torch.get_num_threads(),
            TorchDevice.Resolve("auto").ToString(),
            Path.GetDirectoryName(asm.Location) ?? "");
    }
}
