using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Notebooks;

/// <summary>MIME types MoeLab's notebook outputs use.</summary>
public static class MimeTypes
{
    /// <summary>Plotly figure JSON (<c>{"data": [...], "layout": {...}}</c>); VS Code's Jupyter
    /// renderer and JupyterLab's plotly extension draw it offline with their own plotly.js.</summary>
    public const string PlotlyJson = "application/vnd.plotly.v1+json";
    public const string Html = "text/html";
    public const string Png = "image/png";
    public const string PlainText = "text/plain";

    /// <summary>Whether a MIME type holds a JSON document (nbformat stores it as a JSON value, not text).</summary>
    public static bool IsJson(string mime) => mime == "application/json" || mime.EndsWith("+json", StringComparison.Ordinal);
}

/// <summary>One rich output as Jupyter sends it: MIME type → data, richest first (e.g. plotly JSON,
/// HTML, PNG, plain text). Text MIME types hold text, <c>image/png</c> base64, JSON MIME types
/// (<see cref="MimeTypes.IsJson"/>) the JSON document as text. The headless runner writes a bundle
/// as a display_data / execute_result output; a Jupyter kernel sends <see cref="ToJupyterData"/> as
/// the <c>data</c> of a display_data message.</summary>
public sealed class MimeBundle : IEnumerable<KeyValuePair<string, string>>
{
    readonly List<KeyValuePair<string, string>> entries = new();

    /// <summary>Adds or replaces <paramref name="mime"/>; a new type goes last.</summary>
    public MimeBundle Set(string mime, string data)
    {
        ArgumentException.ThrowIfNullOrEmpty(mime);
        ArgumentNullException.ThrowIfNull(data);
        int at = entries.FindIndex(e => e.Key == mime);
        if (at >= 0) entries[at] = new(mime, data);
        else entries.Add(new(mime, data));
        return this;
    }

    public bool Remove(string mime) => entries.RemoveAll(e => e.Key == mime) > 0;

    public bool Contains(string mime) => entries.Exists(e => e.Key == mime);

    public bool TryGet(string mime, out string data)
    {
        foreach (var (k, v) in entries)
            if (k == mime)
            {
                data = v;
                return true;
            }
        data = "";
        return false;
    }

    public string this[string mime] => TryGet(mime, out var data) ? data : throw new KeyNotFoundException($"the bundle has no '{mime}' (it has {string.Join(", ", MimeTypeList)})");

    /// <summary>The MIME types in order.</summary>
    public IReadOnlyList<string> MimeTypeList => entries.Select(e => e.Key).ToList();

    public int Count => entries.Count;

    /// <summary>The Jupyter <c>data</c> object: JSON MIME types as JSON values, everything else as strings.</summary>
    public JsonObject ToJupyterData()
    {
        var data = new JsonObject();
        foreach (var (mime, value) in entries)
            data[mime] = MimeTypes.IsJson(mime) ? JsonNode.Parse(value) : JsonValue.Create(value);
        return data;
    }

    /// <summary>Reads a Jupyter <c>data</c> object back (JSON values become their JSON text;
    /// nbformat's multi-line string arrays are joined).</summary>
    public static MimeBundle FromJupyterData(JsonObject data)
    {
        var bundle = new MimeBundle();
        foreach (var (mime, value) in data)
        {
            if (value is JsonValue v && v.GetValueKind() == JsonValueKind.String && !MimeTypes.IsJson(mime)) bundle.Set(mime, v.GetValue<string>());
            else if (value is JsonArray lines && !MimeTypes.IsJson(mime)) bundle.Set(mime, string.Concat(lines.Select(l => l?.GetValue<string>())));
            else bundle.Set(mime, value?.ToJsonString() ?? "null");
        }
        return bundle;
    }

    /// <summary>The bundle of a display_data / execute_result output (what a kernel sends for it).</summary>
    public static MimeBundle FromOutput(NotebookOutput output)
    {
        var bundle = new MimeBundle();
        foreach (var (mime, data) in output.Data) bundle.Set(mime, data);
        return bundle;
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
