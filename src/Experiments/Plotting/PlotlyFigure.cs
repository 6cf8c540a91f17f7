using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Plotting;

/// <summary>Plotly figure JSON (<c>{"data": [...], "layout": {...}}</c>) as front ends with their own
/// plotly.js draw it. Plotly.NET 6 embeds plotly.js 2.28, while VS Code's Jupyter renderer bundles
/// plotly.js 3.x, which dropped the attribute forms deprecated in 2.x: a title given as a plain
/// string, and <c>titlefont</c> / <c>titleside</c> / <c>titleposition</c> / <c>titleoffset</c>.
/// <see cref="ForPlotlyJs3"/> rewrites those into the nested <c>title: {text, font, side, ...}</c>
/// form that both 2.x and 3.x read.</summary>
public static class PlotlyFigure
{
    static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    // Deprecated flat title attributes → the key they take inside the title object.
    static readonly (string Flat, string Nested)[] TitleAttributes =
    {
        ("titlefont", "font"), ("titleside", "side"), ("titleposition", "position"), ("titleoffset", "offset"),
    };

    /// <summary>The figure with every deprecated title form rewritten (idempotent). Throws a
    /// <see cref="FormatException"/> when the text is not a JSON object with a <c>data</c> array.</summary>
    public static string ForPlotlyJs3(string figureJson)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(figureJson); }
        catch (JsonException e) { throw new FormatException($"figure JSON does not parse: {e.Message}", e); }
        if (root is not JsonObject figure || figure["data"] is not JsonArray)
            throw new FormatException("figure JSON must be an object with a 'data' array");
        Normalize(figure);
        return figure.ToJsonString(Compact);
    }

    /// <summary>The deprecated attributes found in a figure (JSON paths), for checks and tests.</summary>
    public static IReadOnlyList<string> DeprecatedAttributes(string figureJson)
    {
        var found = new List<string>();
        void Walk(JsonNode? node, string path)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (key, value) in o)
                    {
                        if ((key == "title" && value is JsonValue) || TitleAttributes.Any(t => t.Flat == key)) found.Add(path + "." + key);
                        Walk(value, path + "." + key);
                    }
                    break;
                case JsonArray a:
                    for (int i = 0; i < a.Count; i++) Walk(a[i], $"{path}[{i}]");
                    break;
            }
        }
        Walk(JsonNode.Parse(figureJson), "$");
        return found;
    }

    /// <summary>layout.width and layout.height when the figure fixes them.</summary>
    public static (int? Width, int? Height) Size(string figureJson)
    {
        var layout = JsonNode.Parse(figureJson)?["layout"] as JsonObject;
        static int? Number(JsonNode? n) => n is JsonValue v && v.TryGetValue(out double d) && d > 0 ? (int)Math.Round(d) : null;
        return (Number(layout?["width"]), Number(layout?["height"]));
    }

    static void Normalize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                if (o["title"] is JsonValue text)
                {
                    o.Remove("title");
                    o["title"] = new JsonObject { ["text"] = text };
                }
                foreach (var (flat, nested) in TitleAttributes)
                {
                    if (!o.ContainsKey(flat)) continue;
                    var value = o[flat];
                    o.Remove(flat);
                    if (o["title"] is not JsonObject title) o["title"] = title = new JsonObject();
                    if (!title.ContainsKey(nested)) title[nested] = value;
                }
                foreach (var (_, child) in o.ToList()) Normalize(child);
                break;
            case JsonArray a:
                foreach (var child in a) Normalize(child);
                break;
        }
    }
}
