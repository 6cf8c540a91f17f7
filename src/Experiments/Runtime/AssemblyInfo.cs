using System.Runtime.CompilerServices;
using MoeLab.Models.Runtime;

[assembly: InternalsVisibleTo("MoeLab.Experiments.Tests")]

namespace MoeLab.Experiments.Runtime;

internal static class ModuleSetup
{
    /// <summary>Pins LibTorch's CPU code paths before any code of this assembly touches a tensor
    /// (see <see cref="DeterministicNumerics"/>).</summary>
    // A library module initializer on purpose: the pins must be in place before any tensor operation.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void PinNumerics() => DeterministicNumerics.Apply();
}
