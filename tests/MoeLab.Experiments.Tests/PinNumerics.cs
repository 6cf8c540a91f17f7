using System.Runtime.CompilerServices;
using MoeLab.Models.Runtime;

namespace MoeLab.Experiments.Tests;

internal static class PinNumerics
{
    /// <summary>Tests compare numbers bit for bit: pin LibTorch's CPU code paths before the first
    /// tensor operation of this test assembly (see <see cref="DeterministicNumerics"/>).</summary>
    // A library module initializer on purpose: the pins must be in place before any tensor operation.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Apply()
    {
        DeterministicNumerics.Apply();
        CpuBackends.EnsureDefault(); // tests that call torch directly compare with MoeLab's layers: same kernels
    }
}
