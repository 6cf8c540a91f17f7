using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Tests.Notebooks;

/// <summary>Structural checks of nbformat 4 JSON (the parts of the official v4 schema that
/// matter here): top-level fields, cell types and their required fields, output types and theirs,
/// multiline strings as strings or string arrays.</summary>
static class NbformatAssert
{
    public static JsonObject Valid(string json)
    {
        var root = Assert.IsType<JsonObject>(JsonNode.Parse(json));
        Assert.Equal(4, root["nbformat"]!.GetValue<int>());
        int minor = root["nbformat_minor"]!.GetValue<int>();
        Assert.True(minor >= 0);
        Assert.IsType<JsonObject>(root["metadata"]);
        var cells = Assert.IsType<JsonArray>(root["cells"]);
        var ids = new HashSet<string>();
        foreach (var node in cells)
        {
            var cell = Assert.IsType<JsonObject>(node);
            string type = cell["cell_type"]!.GetValue<string>();
            Assert.Contains(type, new[] { "code", "markdown", "raw" });
            Assert.IsType<JsonObject>(cell["metadata"]);
            Multiline(cell["source"]);
            if (minor >= 5)
            {
                string id = cell["id"]!.GetValue<string>();
                Assert.Matches("^[a-zA-Z0-9-_]{1,64}$", id);
                Assert.True(ids.Add(id), $"duplicate cell id {id}");
            }
            if (type != "code")
            {
                Assert.False(cell.ContainsKey("outputs"), "only code cells have outputs");
                continue;
            }
            Assert.True(cell.ContainsKey("execution_count"), "code cell without execution_count");
            if (cell["execution_count"] is not null) Assert.True(cell["execution_count"]!.GetValue<int>() >= 1);
            foreach (var o in Assert.IsType<JsonArray>(cell["outputs"]))
            {
                var output = Assert.IsType<JsonObject>(o);
                switch (output["output_type"]!.GetValue<string>())
                {
                    case "stream":
                        Assert.Contains(output["name"]!.GetValue<string>(), new[] { "stdout", "stderr" });
                        Multiline(output["text"]);
                        break;
                    case "display_data":
                        MimeBundle(output);
                        Assert.False(output.ContainsKey("execution_count"));
                        break;
                    case "execute_result":
                        MimeBundle(output);
                        Assert.True(output.ContainsKey("execution_count"));
                        Assert.Equal(cell["execution_count"]?.GetValue<int>(), output["execution_count"]?.GetValue<int>());
                        break;
                    case "error":
                        Assert.IsType<string>(output["ename"]!.GetValue<string>());
                        Assert.IsType<string>(output["evalue"]!.GetValue<string>());
                        foreach (var line in Assert.IsType<JsonArray>(output["traceback"])) Assert.IsType<string>(line!.GetValue<string>());
                        break;
                    default:
                        Assert.Fail($"unknown output_type {output["output_type"]}");
                        break;
                }
            }
        }
        return root;
    }

    static void MimeBundle(JsonObject output)
    {
        var data = Assert.IsType<JsonObject>(output["data"]);
        Assert.IsType<JsonObject>(output["metadata"]);
        foreach (var (mime, value) in data)
        {
            Assert.Matches("^[a-z]+/[a-zA-Z0-9.+-]+$", mime);
            if (mime.EndsWith("json", StringComparison.Ordinal)) continue;
            Multiline(value);
        }
    }

    static void Multiline(JsonNode? node)
    {
        if (node is JsonArray a)
            foreach (var x in a) Assert.IsType<string>(x!.GetValue<string>());
        else
            Assert.IsType<string>(node!.GetValue<string>());
    }
}
