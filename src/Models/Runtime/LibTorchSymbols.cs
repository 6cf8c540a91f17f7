using System.Runtime.InteropServices;
using TorchSharp;

namespace MoeLab.Models.Runtime;

/// <summary>Functions of the <c>libtorch_cpu</c> library that TorchSharp has loaded into this process, found by their
/// exported names (the C++ switches of <see cref="CpuBackends"/>, MKL's <c>sgemm_</c> for the fused dispatch): for what
/// TorchSharp has no binding for. A lookup through the library's handle also searches the libraries it was linked
/// against (libgomp's <c>GOMP_parallel</c> for <see cref="OmpTeam"/>). Linux only.</summary>
internal static class LibTorchSymbols
{
    private const string Library = "libtorch_cpu.so";
    private const int RtldLazy = 0x1, RtldNoload = 0x4;

    /// <summary>The addresses of <paramref name="symbols"/>, in order (loads LibTorch first, as the first tensor
    /// operation would), or null with the reason in <paramref name="failure"/>: another platform, the library not
    /// loaded, or a symbol it does not export.</summary>
    public static IntPtr[]? Find(IReadOnlyList<string> symbols, out string? failure)
    {
        failure = null;
        if (!OperatingSystem.IsLinux())
        {
            failure = "only wired up on Linux";
            return null;
        }
        try
        {
            _ = torch.get_num_threads();
            // The library TorchSharp loaded, found by its soname whatever directory it came from.
            IntPtr handle = dlopen(Library, RtldLazy | RtldNoload);
            if (handle == IntPtr.Zero)
            {
                failure = $"{Library} is not loaded in this process";
                return null;
            }
            var pointers = symbols.Select(s => dlsym(handle, s)).ToArray();
            int missing = Array.IndexOf(pointers, IntPtr.Zero);
            if (missing >= 0)
            {
                failure = $"{Library} does not export {symbols[missing]}";
                return null;
            }
            return pointers;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException or NotSupportedException)
        {
            failure = e.GetType().Name + ": " + e.Message.Split('\n')[0];
            return null;
        }
    }

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern IntPtr dlopen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int flags);

    [DllImport("libc", EntryPoint = "dlsym")]
    private static extern IntPtr dlsym(IntPtr handle, [MarshalAs(UnmanagedType.LPUTF8Str)] string symbol);
}
