using System.Reflection;

namespace MoeLab.Experiments.Plotting;

/// <summary>The plotly.js bundle that Plotly.NET embeds as a resource, so every page and notebook
/// MoeLab writes is self-contained (no CDN; these machines are offline).</summary>
public static class PlotlyAssets
{
    public const string Version = "2.28.0";
    const string ResourceName = "Plotly.NET.plotly-" + Version + ".min.js";
    static readonly Lazy<string> script = new(Load);

    /// <summary>The minified plotly.js source (~3.6 MB).</summary>
    public static string Script => script.Value;

    /// <summary>A &lt;script&gt; element that defines window.Plotly.</summary>
    public static string ScriptTag => "<script type=\"text/javascript\">" + Script + "</script>";

    static string Load()
    {
        Assembly asm = typeof(Plotly.NET.Chart).Assembly;
        using Stream? stream = asm.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException(
                $"Resource '{ResourceName}' not found in {asm.GetName().Name}; available: " +
                string.Join(", ", asm.GetManifestResourceNames()));
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
