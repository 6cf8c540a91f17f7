using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MoeLab.Models.Runtime;

/// <summary>How this process pins LibTorch's CPU numerics so that the same seed gives the same bytes.
/// <para>Why: LibTorch's BLAS (Intel MKL, linked into libtorch_cpu) picks a code path per CPU (AVX2,
/// AVX-512, …) and, by default, may pick a different kernel from one call to the next (memory
/// alignment, thread partitioning). Measured on an AMD EPYC with AVX-512: two same-seed runs of the toy
/// experiment differed in the last bits of a validation loss (≈1e-8 relative), run to run, in one
/// process. MKL's "conditional numerical reproducibility" (CNR) fixes one code path:
/// <c>MKL_CBWR=AVX2,STRICT</c> runs the AVX2 kernels on every AVX2-or-better CPU (Intel and AMD) and,
/// with STRICT, gives the same bits whatever the alignment of the operands. ATen's own vectorised
/// kernels (element-wise ops, reductions, softmax) are also chosen per CPU; <c>ATEN_CPU_CAPABILITY=avx2</c>
/// pins them to the same level. Both variables are read by the native libraries when they first run,
/// so they must be in the process environment before the first tensor operation. .NET's
/// <see cref="Environment.SetEnvironmentVariable(string,string)"/> does not change the native
/// environment on Linux, so this class calls libc's <c>setenv</c> as well.</para>
/// <para>Modes (environment variable <c>MOELAB_DETERMINISTIC</c>): unset or <c>1</c> = pinned (default;
/// a variable the user set himself is kept as is); <c>0</c> = off, LibTorch chooses freely (faster on
/// AVX-512 machines, no bitwise guarantee). The mode in force is recorded in every run manifest.</para>
/// <para>Cost, measured with <c>moelab bench</c>: see the README's benchmark section.</para></summary>
public static class DeterministicNumerics
{
    /// <summary>The MKL branch MoeLab pins: AVX2 kernels, alignment-independent (STRICT).</summary>
    public const string PinnedMklCbwr = "AVX2,STRICT";

    /// <summary>ATen's CPU capability MoeLab pins.</summary>
    public const string PinnedAtenCapability = "avx2";

    private static readonly object Gate = new();
    private static NumericsSettings? _applied;

    /// <summary>The settings this process runs with (applied on first use).</summary>
    public static NumericsSettings Current
    {
        get
        {
            Apply();
            // oneDNN and NNPACK off in both modes (CPU-dependent bits, heap growth; see CpuBackends); this loads LibTorch.
            return _applied! with { CpuBackends = CpuBackends.EnsureDefault() };
        }
    }

    /// <summary>Runs when the MoeLab.Models assembly is first used, i.e. before any MoeLab code
    /// touches a tensor.</summary>
    // A library module initializer on purpose: the pins must be in place before any tensor operation.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void OnLoad() => Apply();

    /// <summary>Puts the pinning variables into the process environment (native and managed), once.
    /// Call it before the first tensor operation; later calls are no-ops.</summary>
    public static void Apply()
    {
        lock (Gate)
        {
            if (_applied is not null) return;
            bool torchLoaded = NativeTorchLoaded();
            string? switchValue = Environment.GetEnvironmentVariable("MOELAB_DETERMINISTIC");
            bool off = switchValue is not null && switchValue.Trim() is "0" or "off" or "false" or "no";
            string? mkl = Environment.GetEnvironmentVariable("MKL_CBWR");
            string? aten = Environment.GetEnvironmentVariable("ATEN_CPU_CAPABILITY");
            string source;
            if (off)
            {
                source = mkl is null && aten is null ? "off" : "off (MKL_CBWR/ATEN_CPU_CAPABILITY from the environment)";
            }
            else
            {
                source = mkl is null && aten is null ? "moelab" : "environment";
                if (mkl is null) SetNative("MKL_CBWR", mkl = PinnedMklCbwr);
                if (aten is null) SetNative("ATEN_CPU_CAPABILITY", aten = PinnedAtenCapability);
                // cuBLAS needs a fixed workspace to be deterministic (harmless without CUDA).
                if (Environment.GetEnvironmentVariable("CUBLAS_WORKSPACE_CONFIG") is null)
                    SetNative("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
            }
            _applied = new NumericsSettings(
                Pinned: !off && mkl is not null,
                Source: source,
                MklCbwr: mkl,
                AtenCpuCapability: aten,
                MklEnableInstructions: Environment.GetEnvironmentVariable("MKL_ENABLE_INSTRUCTIONS"),
                AppliedBeforeLibTorchLoaded: !torchLoaded,
                Cpu: CpuModel());
        }
    }

    private static void SetNative(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            if (setenv(name, value, 1) != 0)
                throw new InvalidOperationException($"setenv({name}) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    /// <summary>True when libtorch_cpu is already mapped into this process (then the pinning may come
    /// too late for MKL, and the manifest says so).</summary>
    private static bool NativeTorchLoaded() => IsLibraryMapped("libtorch_cpu");

    /// <summary>True when a native library whose file name contains <paramref name="name"/> is mapped into this process
    /// (Linux: /proc/self/maps; false elsewhere or when it cannot be read).</summary>
    public static bool IsLibraryMapped(string name)
    {
        try
        {
            return OperatingSystem.IsLinux() && File.ReadAllText("/proc/self/maps").Contains(name, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The CPU model (first "model name" of /proc/cpuinfo), "unknown" elsewhere.</summary>
    public static string CpuModel()
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return "unknown";
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal))
                    return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return "unknown";
    }
}

/// <summary>The numerics mode of a process, as recorded in run manifests.</summary>
/// <param name="Pinned">True when the CPU code paths are pinned (same seed → same bytes on this machine).</param>
/// <param name="Source">moelab (MoeLab set the pins), environment (the user's own MKL_CBWR/ATEN_CPU_CAPABILITY), or off.</param>
/// <param name="AppliedBeforeLibTorchLoaded">False when LibTorch was loaded before MoeLab could set the pins (they may not have taken effect).</param>
/// <param name="CpuBackends">Whether LibTorch's CPU operators may use oneDNN and NNPACK: off (MoeLab's default, see
/// <see cref="Runtime.CpuBackends"/>), on (<c>MOELAB_ONEDNN=1</c>), unavailable (with the reason); null in manifests written
/// before this was recorded (both were on then).</param>
public sealed record NumericsSettings(bool Pinned, string Source, string? MklCbwr, string? AtenCpuCapability,
    string? MklEnableInstructions, bool AppliedBeforeLibTorchLoaded, string Cpu, string? CpuBackends = null)
{
    /// <summary>One line for logs and `moelab doctor`.</summary>
    public override string ToString() =>
        (Pinned ? "pinned" : "not pinned") + $" ({Source}): MKL_CBWR={MklCbwr ?? "unset"}, ATEN_CPU_CAPABILITY={AtenCpuCapability ?? "unset"}" +
        (MklEnableInstructions is null ? "" : $", MKL_ENABLE_INSTRUCTIONS={MklEnableInstructions}") +
        (AppliedBeforeLibTorchLoaded ? "" : " (set after LibTorch was loaded)") + $"; oneDNN/NNPACK {CpuBackends ?? "not recorded"}; CPU {Cpu}";
}
