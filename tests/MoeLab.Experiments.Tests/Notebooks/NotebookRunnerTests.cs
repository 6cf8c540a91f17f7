using System.Text.RegularExpressions;
using MoeLab.Experiments.Notebooks;
using MoeLab.Experiments.Plotting;
using Xunit.Abstractions;

namespace MoeLab.Experiments.Tests.Notebooks;

/// <summary>Runner tests execute notebooks in-process with the test's loaded MoeLab assemblies.
/// They share one collection so notebooks do not compete for the two cores.</summary>
[CollectionDefinition("notebooks", DisableParallelization = true)]
public sealed class NotebookCollection;

[Collection("notebooks")]
public class NotebookRunnerTests
{
    static Notebook Make(params NotebookCell[] cells)
    {
        var nb = Notebook.CreatePolyglot();
        nb.Cells.AddRange(cells);
        return nb;
    }

    static NotebookCell Code(string source, params string[] tags) => NotebookCell.CreateCode(source, tags);

    static readonly string Dir = Path.Combine(Path.GetTempPath(), "moelab-notebook-tests");

    static async Task<NotebookRunResult> Run(Notebook nb, NotebookRunOptions? options = null)
    {
        Directory.CreateDirectory(Dir);
        var result = await NotebookRunner.RunAsync(nb, Path.Combine(Dir, "test.ipynb"), options ?? new NotebookRunOptions { Log = TextWriter.Null });
        NbformatAssert.Valid(result.Notebook.ToJson()); // every executed notebook is valid nbformat 4
        return result;
    }

    static string Text(NotebookCell cell, string stream) =>
        string.Concat(cell.Outputs.Where(o => o.OutputType == NotebookOutput.Stream && o.Name == stream).Select(o => o.Text));

    [Fact]
    public async Task FailingCellRecordsTheErrorStopsAndKeepsEarlierOutputs()
    {
        var nb = Make(
            Code("Console.WriteLine(\"before\");\nint n = 41;"),
            Code("Console.WriteLine(\"partial\");\nthrow new InvalidOperationException(\"boom \" + (n + 1));"),
            Code("Console.WriteLine(\"after\");"));
        var result = await Run(nb);

        Assert.False(result.Succeeded);
        Assert.Equal(1, result.FailedCellIndex);
        Assert.Contains("boom 42", result.Error);
        Assert.Equal("before\n", Text(nb.Cells[0], "stdout"));
        Assert.Equal(1, nb.Cells[0].ExecutionCount);
        Assert.Equal("partial\n", Text(nb.Cells[1], "stdout"));
        var error = Assert.Single(nb.Cells[1].Outputs, o => o.OutputType == NotebookOutput.Error);
        Assert.Equal("InvalidOperationException", error.EName);
        Assert.Equal("boom 42", error.EValue);
        Assert.StartsWith("System.InvalidOperationException: boom 42", error.Traceback[0]);
        Assert.Contains(error.Traceback, l => l.Contains("test.ipynb[cell 2]"));
        Assert.Equal(2, nb.Cells[1].ExecutionCount);
        Assert.Null(nb.Cells[2].ExecutionCount);
        Assert.Empty(nb.Cells[2].Outputs);
        Assert.Equal("failed", nb.Metadata["moelab"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task CompileErrorIsAnErrorOutputNamingCellAndLine()
    {
        var nb = Make(Code("int a = 1;"), Code("int b = a +;"));
        var result = await Run(nb);
        Assert.False(result.Succeeded);
        var error = Assert.Single(nb.Cells[1].Outputs);
        Assert.Equal("CompilationErrorException", error.EName);
        Assert.Contains("test.ipynb[cell 2](1,", error.EValue);
        Assert.Contains("CS1525", error.EValue);
    }

    [Fact]
    public async Task StateFlowsBetweenCellsAndTrailingValueIsAnExecuteResult()
    {
        var nb = Make(
            Code("using System.Numerics;\nvar xs = new List<int> { 1, 2, 3 };"),
            Code("Console.Error.Write(\"warn\");\nxs.Sum() * 2"),
            Code("BigInteger.Pow(2, 70)"),
            Code("var unused = 5;"));
        var result = await Run(nb);
        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("warn", Text(nb.Cells[1], "stderr"));
        var value = Assert.Single(nb.Cells[1].Outputs, o => o.OutputType == NotebookOutput.ExecuteResult);
        Assert.Equal(2, value.ExecutionCount);
        Assert.Equal("12", value.Data["text/plain"]);
        // usings of an earlier cell stay in effect
        Assert.Equal("1180591620717411303424", nb.Cells[2].Outputs.Single().Data["text/plain"]);
        Assert.Empty(nb.Cells[3].Outputs);
        Assert.Equal(new int?[] { 1, 2, 3, 4 }, nb.Cells.Select(c => c.ExecutionCount));
    }

    [Fact]
    public async Task ParametersAreInjectedAfterTheParametersCellWithDeclaredTypes()
    {
        var nb = Make(
            Code("var before = 1;"),
            Code("int steps = 3;\ndouble lr = 0.1;\nstring preset = \"cpu\";\nvar name = \"x\";", NotebookParameters.ParametersTag),
            Code("$\"{preset}:{steps * lr}:{steps.GetType().Name}:{lr.GetType().Name}:{name}:{flag}:{ratio}\""));
        var options = new NotebookRunOptions
        {
            Log = TextWriter.Null,
            Preset = "smoke",
            Parameters = new[]
            {
                KeyValuePair.Create("steps", "7"), KeyValuePair.Create("lr", "2"), KeyValuePair.Create("name", "a \"quoted\" name"),
                KeyValuePair.Create("flag", "true"), KeyValuePair.Create("ratio", "1e-3"),
            },
        };
        var result = await Run(nb, options);
        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(4, nb.Cells.Count);
        var injected = nb.Cells[2];
        Assert.Contains(NotebookParameters.InjectedTag, injected.Tags);
        Assert.Contains("int steps = 7;", injected.Source);
        Assert.Contains("double lr = 2.0;", injected.Source);
        Assert.Contains("string preset = \"smoke\";", injected.Source);
        Assert.Contains("bool flag = true;", injected.Source);
        Assert.Contains("double ratio = 0.001;", injected.Source);
        Assert.Equal("smoke:14:Int32:Double:a \"quoted\" name:True:0.001", nb.Cells[3].Outputs.Single().Data["text/plain"]);

        // A second run replaces the injected cell rather than adding another.
        var again = await Run(nb, options with
        {
            Parameters = new[] { KeyValuePair.Create("steps", "1"), KeyValuePair.Create("flag", "false"), KeyValuePair.Create("ratio", "2") },
            Preset = null,
        });
        Assert.True(again.Succeeded, again.Error);
        Assert.Single(nb.Cells, c => c.HasTag(NotebookParameters.InjectedTag));
        Assert.Equal("cpu:0.1:Int32:Double:x:False:2", nb.Cells[3].Outputs.Single().Data["text/plain"]);
    }

    [Fact]
    public void ParameterValuesMustFitTheDeclaredType()
    {
        var e = Assert.Throws<ArgumentException>(() => NotebookParameters.Literal("steps", "many", "int"));
        Assert.Contains("steps", e.Message);
        Assert.Contains("int", e.Message);
        Assert.Throws<ArgumentException>(() => NotebookParameters.ParseAssignment("no-equals"));
        Assert.Throws<ArgumentException>(() => NotebookParameters.ParseAssignment("class=1"));
        Assert.Equal(("string", "\"007\""), NotebookParameters.Literal("id", "007", "string"));
        Assert.Equal(("int", "-3"), NotebookParameters.Literal("k", "-3", null));
        Assert.Equal(("long", "5000000000L"), NotebookParameters.Literal("k", "5000000000", null));
        Assert.Equal(("string", "\"hello\""), NotebookParameters.Literal("k", "hello", null));
    }

    [Fact]
    public async Task DataFrameIsAnHtmlTableWithTypedColumnsAndRowCount()
    {
        var nb = Make(Code("""
            var df = new DataFrame(
                new PrimitiveDataFrameColumn<int>("arm", Enumerable.Range(0, 40)),
                new DoubleDataFrameColumn("loss", Enumerable.Range(0, 40).Select(i => 1.0 / (i + 1))),
                new StringDataFrameColumn("label", Enumerable.Range(0, 40).Select(i => i % 2 == 0 ? "even<&>" : "odd")));
            display(df);
            df.Head(2)
            """));
        var result = await Run(nb);
        Assert.True(result.Succeeded, result.Error);
        var shown = nb.Cells[0].Outputs[0];
        Assert.Equal(NotebookOutput.DisplayData, shown.OutputType);
        string html = shown.Data["text/html"];
        Assert.StartsWith("<div class=\"moelab-dataframe-scroll\"", html); // wide/long tables scroll
        Assert.Contains("overflow:auto", html);
        Assert.Contains("40 rows × 3 columns (first 25 shown)", html);
        Assert.Contains("arm<br/><small>int</small>", html);
        Assert.Contains("loss<br/><small>double</small>", html);
        Assert.Contains("label<br/><small>string</small>", html);
        Assert.Contains("even&lt;&amp;&gt;", html);
        Assert.Equal(25, Regex.Matches(html, @"<tr><th>\d+</th>").Count);
        Assert.Contains("DataFrame: 40 rows × 3 columns", shown.Data["text/plain"]);
        var head = nb.Cells[0].Outputs[1];
        Assert.Equal(NotebookOutput.ExecuteResult, head.OutputType);
        Assert.Contains("2 rows × 3 columns</caption>", head.Data["text/html"]);
    }

    [Fact]
    public async Task ChartsRenderInlineAndPlotlyJsIsEmbeddedOncePerNotebook()
    {
        var nb = Make(
            Code("using Plotly.NET.CSharp;\nvar a = Chart.Line<double, double, string>(x: new[] { 1.0, 2.0 }, y: new[] { 3.0, 4.0 }, Name: \"first-series\");\ndisplay(a);"),
            Code("Console.WriteLine(\"between\");"),
            Code("Chart.Point<double, double, string>(x: new[] { 5.0 }, y: new[] { 6.0 }, Name: \"second-series\")"));
        var result = await Run(nb);
        Assert.True(result.Succeeded, result.Error);
        var first = nb.Cells[0].Outputs.Single();
        var second = nb.Cells[2].Outputs.Single();
        Assert.Contains("class=\"moelab-chart\"", first.Data["text/html"]);
        Assert.Contains("first-series", first.Data["text/html"]);
        Assert.Contains("second-series", second.Data["text/html"]);
        Assert.Contains("Plotly chart: 1 trace(s) (scatter)", second.Data["text/plain"]);
        // Every chart also carries its figure JSON for front ends with their own plotly.js, stored
        // in the .ipynb as a JSON object; a PNG where Chromium is installed.
        foreach (var chart in new[] { first, second })
        {
            var figure = System.Text.Json.Nodes.JsonNode.Parse(chart.Data[MimeTypes.PlotlyJson])!;
            Assert.IsType<System.Text.Json.Nodes.JsonArray>(figure["data"]);
            Assert.Empty(PlotlyFigure.DeprecatedAttributes(chart.Data[MimeTypes.PlotlyJson]));
            Assert.Equal(NotebookFormatters.ChartImagesInRunner, chart.Data.ContainsKey(MimeTypes.Png));
        }
        var stored = System.Text.Json.Nodes.JsonNode.Parse(nb.ToJson())!["cells"]![0]!["outputs"]![0]!["data"]!;
        Assert.IsType<System.Text.Json.Nodes.JsonObject>(stored[MimeTypes.PlotlyJson]);
        Assert.StartsWith(PlotlyAssets.ScriptTag, first.Data["text/html"]);
        Assert.DoesNotContain("plotly.js v" + PlotlyAssets.Version, second.Data["text/html"]);
        string json = nb.ToJson();
        Assert.Single(Regex.Matches(json, Regex.Escape("plotly.js v" + PlotlyAssets.Version)));

        // The HTML rendering carries the bundle once, in its head.
        string page = NotebookHtml.Render(nb, "t");
        Assert.Single(Regex.Matches(page, Regex.Escape("plotly.js v" + PlotlyAssets.Version)));
        Assert.True(page.IndexOf("plotly.js v", StringComparison.Ordinal) < page.IndexOf("</head>", StringComparison.Ordinal));
        Assert.Contains("first-series", page);
        Assert.Contains("<pre class=\"stdout\">between", page);
    }

    [Fact]
    public async Task CellTimeLimitStopsTheRunWithATimeoutError()
    {
        var nb = Make(Code("await Task.Delay(TimeSpan.FromSeconds(60), CancellationToken);"), Code("1"));
        var log = new StringWriter();
        var result = await Run(nb, new NotebookRunOptions
        {
            Log = log, CellTimeout = TimeSpan.FromSeconds(3), ProgressInterval = TimeSpan.FromSeconds(1),
        });
        Assert.False(result.Succeeded);
        var error = nb.Cells[0].Outputs.Single();
        Assert.Equal("TimeoutException", error.EName);
        Assert.Contains("time limit of 3 s", error.EValue);
        Assert.Contains("still running", log.ToString());
        Assert.Empty(nb.Cells[1].Outputs);
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(50));
    }

    [Fact]
    public async Task LogOutputMirrorsCellOutputWhileKeepingItInTheNotebook()
    {
        var nb = Make(Code("for (int epoch = 1; epoch <= 3; epoch++) Console.WriteLine($\"epoch {epoch} of 3\");"));
        var log = new StringWriter();
        var result = await Run(nb, new NotebookRunOptions { Log = log, LogOutput = true });
        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("epoch 1 of 3\nepoch 2 of 3\nepoch 3 of 3\n", Text(nb.Cells[0], "stdout"));
        Assert.Contains("epoch 1 of 3\nepoch 2 of 3\nepoch 3 of 3\n", log.ToString());
    }

    [Fact]
    public async Task ReferencesResolveToTheRunnerOrFailClearly()
    {
        var ok = Make(
            Code("#r \"lib/MoeLab.Experiments.dll\"\n#r \"nuget: Microsoft.Data.Analysis, 0.23.1\"\n#r \"nuget:Plotly.NET.CSharp\"\ntypeof(MoeLab.Experiments.Notebooks.NotebookFormatters).Assembly.GetName().Name"));
        var result = await Run(ok);
        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("MoeLab.Experiments", ok.Cells[0].Outputs.Single().Data["text/plain"]);

        var missingPackage = Make(Code("#r \"nuget: Surely.Not.A.Package, 1.2.3\"\n1"));
        Assert.False((await Run(missingPackage)).Succeeded);
        var e1 = missingPackage.Cells[0].Outputs.Single();
        Assert.Equal(nameof(NotebookReferenceException), e1.EName);
        Assert.Contains("Surely.Not.A.Package", e1.EValue);
        Assert.Contains("not available", e1.EValue);

        var wrongVersion = Make(Code("#r \"nuget: Microsoft.Data.Analysis, 0.1.0\"\n1"));
        Assert.False((await Run(wrongVersion)).Succeeded);
        Assert.Contains("built with Microsoft.Data.Analysis 0.23.1", wrongVersion.Cells[0].Outputs.Single().EValue);

        var missingFile = Make(Code("#r \"nowhere/Missing.dll\"\n1"));
        Assert.False((await Run(missingFile)).Succeeded);
        Assert.Contains("file not found", missingFile.Cells[0].Outputs.Single().EValue);
    }

    [Fact]
    public async Task PolyglotMagicsAreStrippedAndOtherKernelsRejected()
    {
        var nb = Make(Code("#!csharp\n#!time\n40 + 2"), Code("#!fsharp\nlet x = 1"));
        var result = await Run(nb);
        Assert.Equal("42", nb.Cells[0].Outputs.Single().Data["text/plain"]);
        Assert.False(result.Succeeded);
        Assert.Contains("fsharp", nb.Cells[1].Outputs.Single().EValue);
    }
}
