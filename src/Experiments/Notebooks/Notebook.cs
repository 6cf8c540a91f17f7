using MoeLab.Experiments.Runtime;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Notebooks;

/// <summary>A Jupyter notebook in nbformat 4 (https://nbformat.readthedocs.io/en/latest/format_description.html).
/// Reads and writes <c>.ipynb</c> JSON with System.Text.Json; notebook, cell and output metadata and any
/// top-level or cell field this model does not know are kept as they were.</summary>
public sealed class Notebook
{
    /// <summary>Major format version; only 4 is supported.</summary>
    public int NbFormat { get; set; } = 4;

    /// <summary>Minor format version; from 5 on, every cell carries an <c>id</c>.</summary>
    public int NbFormatMinor { get; set; } = 5;

    /// <summary>Notebook metadata (kernelspec, language_info, polyglot_notebook, anything else).</summary>
    public JsonObject Metadata { get; set; } = new();

    public List<NotebookCell> Cells { get; } = new();

    /// <summary>Top-level fields other than nbformat, nbformat_minor, metadata and cells.</summary>
    public JsonObject Extra { get; } = new();

    /// <summary>A new, empty notebook carrying the Polyglot (.NET C#) metadata.</summary>
    public static Notebook CreatePolyglot()
    {
        var nb = new Notebook();
        nb.ApplyPolyglotMetadata();
        return nb;
    }

    /// <summary>Sets the metadata that Polyglot Notebooks / .NET front ends expect:
    /// kernelspec .net-csharp, language_info polyglot-notebook, default kernel csharp, and
    /// <c>polyglot_notebook.kernelName = csharp</c> on every code cell that has no kernel yet.
    /// Other metadata is left alone.</summary>
    public void ApplyPolyglotMetadata()
    {
        Metadata["kernelspec"] = new JsonObject
        {
            ["display_name"] = ".NET (C#)",
            ["language"] = "C#",
            ["name"] = ".net-csharp",
        };
        Metadata["language_info"] = new JsonObject { ["name"] = "polyglot-notebook" };
        var polyglot = Metadata["polyglot_notebook"] as JsonObject ?? new JsonObject();
        var kernelInfo = polyglot["kernelInfo"] as JsonObject ?? new JsonObject();
        kernelInfo["defaultKernelName"] = "csharp";
        if (kernelInfo["items"] is not JsonArray)
            kernelInfo["items"] = new JsonArray(new JsonObject { ["aliases"] = new JsonArray(), ["name"] = "csharp" });
        polyglot["kernelInfo"] = kernelInfo;
        Metadata["polyglot_notebook"] = polyglot;
        foreach (var cell in Cells.Where(c => c.IsCode))
        {
            var pn = cell.Metadata["polyglot_notebook"] as JsonObject ?? new JsonObject();
            if (pn["kernelName"] is null) pn["kernelName"] = "csharp";
            cell.Metadata["polyglot_notebook"] = pn;
        }
    }

    /// <summary>Reads a notebook file. Errors name the file and what was expected.</summary>
    public static Notebook Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NotebookFormatException($"{path}: cannot read notebook: {e.Message}");
        }
        return Parse(text, path);
    }

    /// <summary>Parses notebook JSON; <paramref name="sourceName"/> is used in error messages.</summary>
    public static Notebook Parse(string json, string sourceName = "<notebook>")
    {
        JsonNode? node;
        try { node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new NotebookFormatException($"{sourceName}: not valid JSON: {e.Message}"); }
        if (node is not JsonObject root) throw new NotebookFormatException($"{sourceName}: expected a JSON object at the top level");

        var nb = new Notebook();
        nb.NbFormat = ReadInt(root, "nbformat", sourceName) ?? throw new NotebookFormatException($"{sourceName}: missing field 'nbformat' (expected 4)");
        if (nb.NbFormat != 4) throw new NotebookFormatException($"{sourceName}: field 'nbformat' is {nb.NbFormat}; only nbformat 4 is supported");
        nb.NbFormatMinor = ReadInt(root, "nbformat_minor", sourceName) ?? 0;
        nb.Metadata = root["metadata"] switch
        {
            null => new JsonObject(),
            JsonObject o => (JsonObject)o.DeepClone(),
            _ => throw new NotebookFormatException($"{sourceName}: field 'metadata' must be an object"),
        };
        if (root["cells"] is not JsonArray cells) throw new NotebookFormatException($"{sourceName}: missing or non-array field 'cells'");
        for (int i = 0; i < cells.Count; i++)
        {
            if (cells[i] is not JsonObject c) throw new NotebookFormatException($"{sourceName}: cells[{i}] must be an object");
            nb.Cells.Add(NotebookCell.FromJson(c, $"{sourceName}: cells[{i}]"));
        }
        foreach (var (key, value) in root)
            if (key is not ("nbformat" or "nbformat_minor" or "metadata" or "cells"))
                nb.Extra[key] = value?.DeepClone();
        return nb;
    }

    static int? ReadInt(JsonObject o, string field, string where)
    {
        if (o[field] is null) return null;
        try { return o[field]!.GetValue<int>(); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new NotebookFormatException($"{where}: field '{field}' must be an integer");
        }
    }

    /// <summary>The notebook as a JSON object (nbformat 4). Cells get ids when the minor version is ≥ 5.</summary>
    public JsonObject ToJsonObject()
    {
        var root = new JsonObject();
        var cells = new JsonArray();
        var usedIds = new HashSet<string>();
        foreach (var cell in Cells)
        {
            if (NbFormatMinor >= 5 && (cell.Id is null || !usedIds.Add(cell.Id)))
            {
                cell.Id = Guid.NewGuid().ToString("N")[..12];
                usedIds.Add(cell.Id);
            }
            cells.Add(cell.ToJson(NbFormatMinor));
        }
        root["cells"] = cells;
        root["metadata"] = Metadata.DeepClone();
        root["nbformat"] = NbFormat;
        root["nbformat_minor"] = NbFormatMinor;
        foreach (var (key, value) in Extra) root[key] = value?.DeepClone();
        return root;
    }

    static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        // Notebooks hold HTML and source code: keep '<', '>', '&', quotes and non-ASCII readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The notebook as indented JSON text ending with a newline.</summary>
    public string ToJson() => ToJsonObject().ToJsonString(WriteOptions) + "\n";

    /// <summary>Writes the notebook atomically (temp file + rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    /// <summary>Joins an nbformat "multiline string" (a string or an array of strings).</summary>
    internal static string ReadMultiline(JsonNode? node, string where) => node switch
    {
        null => "",
        JsonValue v when v.TryGetValue(out string? s) => s ?? "",
        JsonArray a => string.Concat(a.Select((x, i) => x is JsonValue xv && xv.TryGetValue(out string? s)
            ? s : throw new NotebookFormatException($"{where}[{i}] must be a string"))),
        _ => throw new NotebookFormatException($"{where} must be a string or an array of strings"),
    };

    /// <summary>Splits text into lines that keep their '\n' (the form Jupyter writes).</summary>
    internal static JsonArray WriteMultiline(string text)
    {
        var array = new JsonArray();
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '\n') continue;
            array.Add(text[start..(i + 1)]);
            start = i + 1;
        }
        if (start < text.Length) array.Add(text[start..]);
        return array;
    }
}

/// <summary>One cell: code, markdown or raw.</summary>
public sealed class NotebookCell
{
    public const string Code = "code", Markdown = "markdown", Raw = "raw";

    public string CellType { get; set; } = Code;
    public string? Id { get; set; }
    public string Source { get; set; } = "";
    public JsonObject Metadata { get; set; } = new();

    /// <summary>Outputs of a code cell (empty for other cells).</summary>
    public List<NotebookOutput> Outputs { get; } = new();

    /// <summary>Execution count of a code cell; null when not executed.</summary>
    public int? ExecutionCount { get; set; }

    /// <summary>Fields of the cell this model does not know (attachments, ...), kept as they were.</summary>
    public JsonObject Extra { get; } = new();

    public bool IsCode => CellType == Code;

    public static NotebookCell CreateCode(string source, params string[] tags)
    {
        var cell = new NotebookCell { CellType = Code, Source = source };
        cell.Metadata["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" };
        foreach (var tag in tags) cell.AddTag(tag);
        return cell;
    }

    public static NotebookCell CreateMarkdown(string source) => new() { CellType = Markdown, Source = source };

    /// <summary>The cell's tags (metadata.tags).</summary>
    public IReadOnlyList<string> Tags => Metadata["tags"] is JsonArray a
        ? a.Select(t => t is JsonValue v && v.TryGetValue(out string? s) ? s : null).OfType<string>().ToList()
        : Array.Empty<string>();

    public bool HasTag(string tag) => Tags.Contains(tag);

    public void AddTag(string tag)
    {
        if (HasTag(tag)) return;
        if (Metadata["tags"] is not JsonArray a) Metadata["tags"] = a = new JsonArray();
        a.Add(tag);
    }

    /// <summary>The Polyglot kernel a code cell is meant for (metadata.polyglot_notebook.kernelName,
    /// else metadata.dotnet_interactive.language), or null.</summary>
    public string? KernelName =>
        (Metadata["polyglot_notebook"]?["kernelName"] as JsonValue)?.GetValue<string>()
        ?? (Metadata["dotnet_interactive"]?["language"] as JsonValue)?.GetValue<string>();

    internal static NotebookCell FromJson(JsonObject c, string where)
    {
        string type = (c["cell_type"] as JsonValue)?.TryGetValue(out string? t) == true ? t! :
            throw new NotebookFormatException($"{where}: missing string field 'cell_type' (expected code, markdown or raw)");
        if (type is not (Code or Markdown or Raw))
            throw new NotebookFormatException($"{where}: cell_type '{type}' is not one of code, markdown, raw");
        var cell = new NotebookCell
        {
            CellType = type,
            Source = Notebook.ReadMultiline(c["source"], where + ".source"),
            Id = (c["id"] as JsonValue)?.TryGetValue(out string? id) == true ? id : null,
            Metadata = c["metadata"] is JsonObject m ? (JsonObject)m.DeepClone() : new JsonObject(),
        };
        if (type == Code)
        {
            if (c["execution_count"] is JsonValue ec) cell.ExecutionCount = ec.GetValue<int>();
            if (c["outputs"] is JsonArray outs)
                for (int i = 0; i < outs.Count; i++)
                    cell.Outputs.Add(NotebookOutput.FromJson(outs[i] as JsonObject
                        ?? throw new NotebookFormatException($"{where}.outputs[{i}] must be an object"), $"{where}.outputs[{i}]"));
        }
        foreach (var (key, value) in c)
            if (key is not ("cell_type" or "source" or "id" or "metadata" or "execution_count" or "outputs"))
                cell.Extra[key] = value?.DeepClone();
        return cell;
    }

    internal JsonObject ToJson(int nbFormatMinor)
    {
        var o = new JsonObject { ["cell_type"] = CellType };
        if (nbFormatMinor >= 5 && Id is not null) o["id"] = Id;
        o["metadata"] = Metadata.DeepClone();
        o["source"] = Notebook.WriteMultiline(Source);
        if (IsCode)
        {
            o["execution_count"] = ExecutionCount;
            o["outputs"] = new JsonArray(Outputs.Select(x => (JsonNode)x.ToJson()).ToArray());
        }
        foreach (var (key, value) in Extra) o[key] = value?.DeepClone();
        return o;
    }
}

/// <summary>One output of a code cell: stream, display_data, execute_result or error.</summary>
public sealed class NotebookOutput
{
    public const string Stream = "stream", DisplayData = "display_data", ExecuteResult = "execute_result", Error = "error";

    public string OutputType { get; set; } = DisplayData;

    /// <summary>stream: "stdout" or "stderr".</summary>
    public string? Name { get; set; }

    /// <summary>stream: the text.</summary>
    public string? Text { get; set; }

    /// <summary>display_data / execute_result: MIME type → content (text; JSON MIME types hold JSON text).</summary>
    public Dictionary<string, string> Data { get; } = new();

    /// <summary>display_data / execute_result: output metadata.</summary>
    public JsonObject Metadata { get; set; } = new();

    /// <summary>execute_result: the cell's execution count.</summary>
    public int? ExecutionCount { get; set; }

    /// <summary>error: exception type name, message and traceback lines.</summary>
    public string? EName { get; set; }
    public string? EValue { get; set; }
    public List<string> Traceback { get; } = new();

    public static NotebookOutput CreateStream(string name, string text) => new() { OutputType = Stream, Name = name, Text = text };

    public static NotebookOutput CreateError(string ename, string evalue, IEnumerable<string> traceback)
    {
        var o = new NotebookOutput { OutputType = Error, EName = ename, EValue = evalue };
        o.Traceback.AddRange(traceback);
        return o;
    }

    static bool IsJsonMime(string mime) => mime == "application/json" || mime.EndsWith("+json", StringComparison.Ordinal);

    internal static NotebookOutput FromJson(JsonObject o, string where)
    {
        string type = (o["output_type"] as JsonValue)?.TryGetValue(out string? t) == true ? t! :
            throw new NotebookFormatException($"{where}: missing string field 'output_type'");
        var output = new NotebookOutput { OutputType = type };
        switch (type)
        {
            case Stream:
                output.Name = (o["name"] as JsonValue)?.GetValue<string>() ?? throw new NotebookFormatException($"{where}: stream output needs 'name'");
                output.Text = Notebook.ReadMultiline(o["text"], where + ".text");
                break;
            case DisplayData:
            case ExecuteResult:
                if (o["data"] is JsonObject data)
                    foreach (var (mime, value) in data)
                    {
                        bool isText = value is null or JsonArray || (value is JsonValue sv && sv.TryGetValue(out string? _));
                        output.Data[mime] = IsJsonMime(mime) && !isText
                            ? value!.ToJsonString() // a JSON MIME type holds a JSON document, kept as its text
                            : Notebook.ReadMultiline(value, $"{where}.data['{mime}']");
                    }
                output.Metadata = o["metadata"] is JsonObject m ? (JsonObject)m.DeepClone() : new JsonObject();
                if (type == ExecuteResult && o["execution_count"] is JsonValue ec) output.ExecutionCount = ec.GetValue<int>();
                break;
            case Error:
                output.EName = (o["ename"] as JsonValue)?.GetValue<string>() ?? "";
                output.EValue = (o["evalue"] as JsonValue)?.GetValue<string>() ?? "";
                if (o["traceback"] is JsonArray tb) output.Traceback.AddRange(tb.Select(x => x?.GetValue<string>() ?? ""));
                break;
            default:
                throw new NotebookFormatException($"{where}: output_type '{type}' is not one of stream, display_data, execute_result, error");
        }
        return output;
    }

    static JsonNode? TryParseJson(string text)
    {
        try { return JsonNode.Parse(text); }
        catch (JsonException) { return null; }
    }

    internal JsonObject ToJson()
    {
        var o = new JsonObject { ["output_type"] = OutputType };
        switch (OutputType)
        {
            case Stream:
                o["name"] = Name ?? "stdout";
                o["text"] = Notebook.WriteMultiline(Text ?? "");
                break;
            case DisplayData:
            case ExecuteResult:
                var data = new JsonObject();
                foreach (var (mime, value) in Data)
                    data[mime] = IsJsonMime(mime) && TryParseJson(value) is { } json ? json : Notebook.WriteMultiline(value);
                o["data"] = data;
                o["metadata"] = Metadata.DeepClone();
                if (OutputType == ExecuteResult) o["execution_count"] = ExecutionCount;
                break;
            case Error:
                o["ename"] = EName ?? "";
                o["evalue"] = EValue ?? "";
                o["traceback"] = new JsonArray(Traceback.Select(x => (JsonNode)JsonValue.Create(x)!).ToArray());
                break;
        }
        return o;
    }
}

/// <summary>A notebook file that is not valid nbformat 4; the message names the file and field.</summary>
public sealed class NotebookFormatException(string message) : Exception(message);
