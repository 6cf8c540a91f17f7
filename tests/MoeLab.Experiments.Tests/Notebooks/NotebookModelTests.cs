using System.Text.Json.Nodes;
using MoeLab.Experiments.Notebooks;

namespace MoeLab.Experiments.Tests.Notebooks;

public class NotebookModelTests
{
    const string Sample = """
        {
          "cells": [
            {"cell_type": "markdown", "metadata": {"custom": {"keep": 1}}, "source": ["# Title\n", "text"], "attachments": {}},
            {"cell_type": "code", "execution_count": 3, "metadata": {"tags": ["parameters"], "polyglot_notebook": {"kernelName": "csharp"}},
             "source": "int x = 1;",
             "outputs": [
               {"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]},
               {"output_type": "display_data", "data": {"text/plain": "t", "application/json": {"k": [1, 2]}}, "metadata": {"isolated": true}},
               {"output_type": "execute_result", "execution_count": 3, "data": {"text/html": ["<b>", "x</b>"]}, "metadata": {}},
               {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["l1", "l2"]}
             ]},
            {"cell_type": "raw", "metadata": {}, "source": ""}
          ],
          "metadata": {"kernelspec": {"name": "x"}, "unknown_tool": {"deep": [1, {"a": "b"}]}},
          "nbformat": 4,
          "nbformat_minor": 4,
          "extra_top_level": true
        }
        """;

    [Fact]
    public void RoundTripKeepsContentAndUnknownFields()
    {
        var nb = Notebook.Parse(Sample, "sample.ipynb");
        Assert.Equal(3, nb.Cells.Count);
        var code = nb.Cells[1];
        Assert.Equal(new[] { "parameters" }, code.Tags);
        Assert.Equal("csharp", code.KernelName);
        Assert.Equal(3, code.ExecutionCount);
        Assert.Equal("a\nb\n", code.Outputs[0].Text);
        Assert.Equal("<b>x</b>", code.Outputs[2].Data["text/html"]);
        Assert.Equal(new[] { "l1", "l2" }, code.Outputs[3].Traceback);

        string json = nb.ToJson();
        var root = NbformatAssert.Valid(json);
        Assert.Equal(1, root["metadata"]!["unknown_tool"]!["deep"]![0]!.GetValue<int>());
        Assert.True(root["extra_top_level"]!.GetValue<bool>());
        Assert.Equal(1, root["cells"]![0]!["metadata"]!["custom"]!["keep"]!.GetValue<int>());
        Assert.NotNull(root["cells"]![0]!["attachments"]);
        Assert.Equal(2, root["cells"]![1]!["outputs"]![1]!["data"]!["application/json"]!["k"]![1]!.GetValue<int>());
        Assert.True(root["cells"]![1]!["outputs"]![1]!["metadata"]!["isolated"]!.GetValue<bool>());

        // A second trip gives the same JSON.
        Assert.Equal(json, Notebook.Parse(json).ToJson());
    }

    [Fact]
    public void MinorFiveGivesEveryCellAUniqueId()
    {
        var nb = Notebook.Parse(Sample);
        nb.NbFormatMinor = 5;
        nb.Cells.Add(NotebookCell.CreateCode("1"));
        var root = NbformatAssert.Valid(nb.ToJson());
        var ids = root["cells"]!.AsArray().Select(c => c!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public void PolyglotMetadataIsAddedWithoutLosingOtherMetadata()
    {
        var nb = Notebook.Parse(Sample);
        nb.Cells.Add(new NotebookCell { CellType = NotebookCell.Code, Source = "2" });
        nb.ApplyPolyglotMetadata();
        var root = NbformatAssert.Valid(nb.ToJson());
        Assert.Equal(".net-csharp", root["metadata"]!["kernelspec"]!["name"]!.GetValue<string>());
        Assert.Equal("C#", root["metadata"]!["kernelspec"]!["language"]!.GetValue<string>());
        Assert.Equal("polyglot-notebook", root["metadata"]!["language_info"]!["name"]!.GetValue<string>());
        Assert.Equal("csharp", root["metadata"]!["polyglot_notebook"]!["kernelInfo"]!["defaultKernelName"]!.GetValue<string>());
        Assert.NotNull(root["metadata"]!["unknown_tool"]);
        Assert.Equal("csharp", root["cells"]![3]!["metadata"]!["polyglot_notebook"]!["kernelName"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{\"nbformat\": 3, \"cells\": []}", "nbformat")]
    [InlineData("{\"nbformat\": 4}", "cells")]
    [InlineData("{\"nbformat\": 4, \"cells\": [{\"cell_type\": \"python\", \"source\": \"\"}]}", "cells[0]")]
    [InlineData("{\"nbformat\": 4, \"cells\": [{\"cell_type\": \"code\", \"source\": \"\", \"outputs\": [{\"output_type\": \"weird\"}]}]}", "weird")]
    [InlineData("not json", "not valid JSON")]
    public void BadNotebooksGiveErrorsNamingTheField(string json, string expected)
    {
        var e = Assert.Throws<NotebookFormatException>(() => Notebook.Parse(json, "bad.ipynb"));
        Assert.Contains("bad.ipynb", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void RepositoryNotebooksAreValidPolyglotNotebooks()
    {
        foreach (var path in NotebookPaths.All())
        {
            var root = NbformatAssert.Valid(File.ReadAllText(path));
            Assert.Equal(".net-csharp", root["metadata"]!["kernelspec"]!["name"]!.GetValue<string>());
            Assert.Equal("polyglot-notebook", root["metadata"]!["language_info"]!["name"]!.GetValue<string>());
            foreach (var cell in root["cells"]!.AsArray().Where(c => c!["cell_type"]!.GetValue<string>() == "code"))
                Assert.Equal("csharp", cell!["metadata"]!["polyglot_notebook"]!["kernelName"]!.GetValue<string>());
            Assert.Contains(root["cells"]!.AsArray(), c => c!["metadata"]!["tags"] is JsonArray tags && tags.Any(t => t!.GetValue<string>() == "parameters"));
        }
    }
}

static class NotebookPaths
{
    public static string RepoRoot => MoeLab.Experiments.Runtime.RunLayout.FindRepoRoot(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException("tests must run inside the MoeLab checkout (no Experiments.sln above " + AppContext.BaseDirectory + ")");

    public static IReadOnlyList<string> All()
    {
        var files = Directory.GetFiles(Path.Combine(RepoRoot, "notebooks"), "*.ipynb").OrderBy(f => f, StringComparer.Ordinal).ToList();
        Assert.NotEmpty(files);
        return files;
    }
}
