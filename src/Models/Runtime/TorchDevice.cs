using TorchSharp;

namespace MoeLab.Models.Runtime;

/// <summary>Chooses the device a run trains on: CUDA when available, CPU otherwise, or what the
/// user asked for. Asking for CUDA where there is none is an error, never a silent fallback.</summary>
public static class TorchDevice
{
    /// <summary>Resolves "auto" (default), "cpu", "cuda" or "cuda:N".</summary>
    public static torch.Device Resolve(string? requested = "auto")
    {
        CpuBackends.EnsureDefault(); // a run resolves its device before building anything
        string r = (requested ?? "auto").Trim().ToLowerInvariant();
        if (r is "" or "auto") return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (r == "cpu") return torch.CPU;
        if (r == "cuda" || r.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new InvalidOperationException(
                    $"Device '{requested}' was requested but CUDA is not available in this build/host " +
                    $"(backend: {Backend}). Build with -p:TorchBackend=cuda on a machine with an NVIDIA GPU, or use --device cpu.");
            int index = 0;
            if (r.Length > 5 && !int.TryParse(r[5..], out index))
                throw new ArgumentException($"Device '{requested}': expected cuda:<index>, e.g. cuda:0.");
            if (index >= torch.cuda.device_count())
                throw new ArgumentException($"Device '{requested}': only {torch.cuda.device_count()} CUDA device(s) present.");
            return new torch.Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"Device '{requested}' is not one of: auto, cpu, cuda, cuda:<index>.");
    }

    /// <summary>Which TorchSharp package this build references (set by -p:TorchBackend).</summary>
    public static string Backend =>
        AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "TorchSharp") &&
        File.Exists(Path.Combine(AppContext.BaseDirectory, "libtorch_cuda.so")) ? "cuda" : "cpu";

    /// <summary>Seeds torch's global generators (CPU and, where present, CUDA).</summary>
    public static void Seed(long seed)
    {
        torch.manual_seed(seed);
        if (torch.cuda.is_available()) torch.cuda.manual_seed_all(seed);
    }
}
