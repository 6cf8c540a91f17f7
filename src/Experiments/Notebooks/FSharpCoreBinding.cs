using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace MoeLab.Experiments.Notebooks;

/// <summary>Lets MoeLab load in a process that already holds another FSharp.Core 10.x, such as the
/// .NET Interactive kernel (it loads its own FSharp.Core 10.0.0.0, while Plotly.NET 6 asks for
/// 10.1.0.0). Without help the script host loads a second FSharp.Core beside the kernel's; F# types
/// from the two do not match, and the first chart fails (MissingMethodException in Giraffe.ViewEngine).
/// <para>The published library folder therefore keeps FSharp.Core.dll in a sub-folder
/// (<see cref="SubFolder"/>), where script hosts do not probe, and this handler answers the default
/// load context's requests for FSharp.Core: with the FSharp.Core the process already holds when its
/// major version matches, otherwise with the copy in the sub-folder. In the MoeLab CLI, runner and
/// tests FSharp.Core is found normally and the handler is never asked.</para>
/// Installed when MoeLab.Experiments.dll is first used (module initializer) and by
/// <see cref="NotebookFormatters.Register"/>.</summary>
public static class FSharpCoreBinding
{
    /// <summary>Sub-folder of the published library that holds FSharp.Core.dll.</summary>
    public const string SubFolder = "fsharp";

    static int installed;

#pragma warning disable CA2255 // a module initializer in a library: it must run before any F# type is loaded
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void OnLoad() => Install();

    /// <summary>Adds the resolving handler to the default load context (once).</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref installed, 1) == 1) return;
        AssemblyLoadContext.Default.Resolving += Resolve;
    }

    /// <summary>What the handler answers for <paramref name="name"/> (null: not FSharp.Core, or nothing fits).</summary>
    public static Assembly? Resolve(AssemblyLoadContext context, AssemblyName name)
    {
        if (!string.Equals(name.Name, "FSharp.Core", StringComparison.OrdinalIgnoreCase)) return null;
        var loaded = AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => string.Equals(a.GetName().Name, "FSharp.Core", StringComparison.OrdinalIgnoreCase))
            .OrderByDescending(a => AssemblyLoadContext.GetLoadContext(a) == AssemblyLoadContext.Default)
            .ThenByDescending(a => a.GetName().Version)
            .FirstOrDefault();
        if (loaded is not null && (name.Version is null || loaded.GetName().Version?.Major == name.Version.Major)) return loaded;
        string? here = Path.GetDirectoryName(typeof(FSharpCoreBinding).Assembly.Location);
        string candidate = here is null ? "" : Path.Combine(here, SubFolder, "FSharp.Core.dll");
        return File.Exists(candidate) ? context.LoadFromAssemblyPath(candidate) : null;
    }
}
