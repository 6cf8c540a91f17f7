using MoeLab.Experiments.Cluster;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Kernel;

/// <summary>Writes the MoeLab kernelspec (kernel.json) where Jupyter front ends look for kernels,
/// as <c>jupyter kernelspec install</c> does. The spec starts the kernel with this very build:
/// <c>argv = [dotnet, &lt;absolute path of MoeLab.Experiments.dll&gt;, "kernel", "run",
/// "--connection-file", "{connection_file}"]</c>, so a rebuilt CLI is what the next kernel start runs.</summary>
public static class KernelSpecInstaller
{
    /// <summary>The kernelspec name (its folder name).</summary>
    public const string KernelName = "moelab-csharp";

    public const string DisplayName = "MoeLab (C#)";

    /// <summary>Where the kernelspec folder goes: <paramref name="prefix"/>/share/jupyter/kernels,
    /// the user's Jupyter data folder (<paramref name="user"/>), or the system-wide folder.</summary>
    public static string KernelsDirectory(bool user, string? prefix)
    {
        if (prefix is not null) return Path.Combine(Path.GetFullPath(prefix), "share", "jupyter", "kernels");
        if (user) return Path.Combine(UserDataDirectory(), "kernels");
        return OperatingSystem.IsWindows()
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "jupyter", "kernels")
            : "/usr/local/share/jupyter/kernels";
    }

    /// <summary>Jupyter's per-user data folder (jupyter_core.paths.jupyter_data_dir).</summary>
    public static string UserDataDirectory()
    {
        string? env = Environment.GetEnvironmentVariable("JUPYTER_DATA_DIR");
        if (!string.IsNullOrEmpty(env)) return env;
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (OperatingSystem.IsWindows())
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData), "jupyter");
        if (OperatingSystem.IsMacOS()) return Path.Combine(home, "Library", "Jupyter");
        string? xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        return Path.Combine(string.IsNullOrEmpty(xdg) ? Path.Combine(home, ".local", "share") : xdg, "jupyter");
    }

    /// <summary>The dotnet host that runs this process (falls back to <c>dotnet</c> on PATH).</summary>
    public static string DotnetHost()
    {
        string? process = Environment.ProcessPath;
        if (process is not null && Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            return process;
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return string.IsNullOrEmpty(host) ? "dotnet" : host;
    }

    /// <summary>The kernel.json content for the kernel in <paramref name="assemblyPath"/>; with <paramref name="jemalloc"/>
    /// (a libjemalloc path), the kernel preloads it as the ./moelab wrapper does.</summary>
    public static JsonObject Spec(string dotnet, string assemblyPath, string? jemalloc = null) => new()
    {
        ["argv"] = new JsonArray(dotnet, assemblyPath, "kernel", "run", "--connection-file", "{connection_file}"),
        ["display_name"] = DisplayName,
        ["language"] = "C#",
        ["interrupt_mode"] = "message",
        // As the ./moelab wrapper: keep freed big blocks instead of re-faulting them each step; jemalloc where installed
        // (found when the kernel is installed: the kernel runs on this machine).
        ["env"] = new JsonObject(MoelabInvocation.Environment.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))
            .Concat(jemalloc is null ? [] : new[]
            {
                KeyValuePair.Create("LD_PRELOAD", (JsonNode?)jemalloc),
                KeyValuePair.Create("MALLOC_CONF", (JsonNode?)MoelabInvocation.JemallocConf),
            })
            .Append(KeyValuePair.Create("DOTNET_CLI_TELEMETRY_OPTOUT", (JsonNode?)"1"))),
        ["metadata"] = new JsonObject
        {
            ["moelab"] = new JsonObject { ["kernel_assembly"] = assemblyPath },
        },
    };

    /// <summary>Writes kernels/<see cref="KernelName"/>/kernel.json (replacing an earlier one) and
    /// returns the kernelspec folder.</summary>
    public static string Install(bool user, string? prefix, string? assemblyPath = null, string? dotnet = null)
    {
        assemblyPath ??= typeof(KernelSpecInstaller).Assembly.Location;
        string dir = Path.Combine(KernelsDirectory(user, prefix), KernelName);
        Directory.CreateDirectory(dir);
        var spec = Spec(dotnet ?? DotnetHost(), assemblyPath, MoelabInvocation.FindJemalloc());
        File.WriteAllText(Path.Combine(dir, "kernel.json"), spec.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return dir;
    }

    /// <summary>Removes the kernelspec folder; returns it, or null when there was none.</summary>
    public static string? Uninstall(bool user, string? prefix)
    {
        string dir = Path.Combine(KernelsDirectory(user, prefix), KernelName);
        if (!Directory.Exists(dir)) return null;
        Directory.Delete(dir, recursive: true);
        return dir;
    }
}
