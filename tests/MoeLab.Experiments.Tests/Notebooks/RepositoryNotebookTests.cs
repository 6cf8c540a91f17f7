using System.Diagnostics;
using MoeLab.Experiments.Notebooks;
using Xunit.Abstractions;

namespace MoeLab.Experiments.Tests.Notebooks;

/// <summary>How CI runs the notebooks: every notebook in notebooks/ executes at the smoke preset,
/// in-process with the test's own MoeLab build (a notebook's <c>#r "lib/MoeLab.Experiments.dll"</c>
/// resolves to it), and must finish without a failing cell.</summary>
[Collection("notebooks")]
public class RepositoryNotebookTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Notebooks() =>
        NotebookPaths.All().Select(p => new object[] { Path.GetFileName(p) });

    [Theory]
    [MemberData(nameof(Notebooks))]
    public async Task RunsAtSmokePreset(string name)
    {
        string path = Path.Combine(NotebookPaths.RepoRoot, "notebooks", name);
        var log = new StringWriter();
        var watch = Stopwatch.StartNew();
        var result = await NotebookRunner.RunFileAsync(path, new NotebookRunOptions { Preset = "smoke", Log = log });
        output.WriteLine($"{name}: {(result.Succeeded ? "ok" : "FAILED")} in {watch.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(log.ToString());
        Assert.True(result.Succeeded, $"{name}: {result.Error}\n{log}");
        NbformatAssert.Valid(result.Notebook.ToJson());
        Assert.All(result.Notebook.Cells.Where(c => c.IsCode), c => Assert.NotNull(c.ExecutionCount));
        Assert.DoesNotContain(result.Notebook.Cells.SelectMany(c => c.Outputs), o => o.OutputType == NotebookOutput.Error);
    }
}
