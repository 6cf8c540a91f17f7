using MoeLab.Experiments.Cli;
using MoeLab.Experiments.Notebooks;

namespace MoeLab.Experiments.Tests.Notebooks;

/// <summary>`moelab notebook run` end to end through the command line parser (in-process).</summary>
[Collection("notebooks")]
public class NotebookCommandTests
{
    static string WriteNotebook(string dir, params NotebookCell[] cells)
    {
        Directory.CreateDirectory(dir);
        var nb = Notebook.CreatePolyglot();
        nb.Cells.Add(NotebookCell.CreateMarkdown("# Probe\nA *small* notebook."));
        nb.Cells.AddRange(cells);
        string path = Path.Combine(dir, "probe.ipynb");
        nb.Save(path);
        return path;
    }

    static int Invoke(params string[] args) => Program.BuildRoot().Parse(args).Invoke();

    [Fact]
    public void RunWritesOutputsAndHtmlAndReportsFailuresByExitCode()
    {
        // Under the test's bin folder so the working directory stays inside the checkout.
        string dir = Path.Combine(AppContext.BaseDirectory, "notebook-cli-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            string path = WriteNotebook(dir,
                NotebookCell.CreateCode("int steps = 1;", NotebookParameters.ParametersTag),
                NotebookCell.CreateCode("Console.WriteLine($\"cwd={Path.GetFileName(Directory.GetCurrentDirectory())} steps={steps} preset={preset}\");"));
            string before = Directory.GetCurrentDirectory();
            string outPath = Path.Combine(dir, "out", "executed.ipynb");

            Assert.Equal(0, Invoke("notebook", "run", path, "--preset", "smoke", "-p", "steps=4", "--out", outPath, "--html"));
            Assert.Equal(before, Directory.GetCurrentDirectory());
            var executed = Notebook.Load(outPath);
            NbformatAssert.Valid(File.ReadAllText(outPath));
            var printed = executed.Cells.Last().Outputs.Single();
            Assert.Equal($"cwd={Path.GetFileName(dir)} steps=4 preset=smoke\n", printed.Text);
            string html = File.ReadAllText(Path.ChangeExtension(outPath, ".html"));
            Assert.Contains("<h1>Probe</h1>", html);
            Assert.Contains("steps=4 preset=smoke", html);
            // The input notebook is untouched when --out is given.
            Assert.DoesNotContain(Notebook.Load(path).Cells, c => c.HasTag(NotebookParameters.InjectedTag));

            Assert.Equal(2, Invoke("notebook", "run", path, "-p", "steps=four", "--out", outPath)); // bad value
            Assert.Equal(2, Invoke("notebook", "run", Path.Combine(dir, "missing.ipynb")));

            string failing = WriteNotebook(Path.Combine(dir, "f"), NotebookCell.CreateCode("throw new Exception(\"x\");"));
            Assert.Equal(1, Invoke("notebook", "run", failing)); // in place
            Assert.Equal("Exception", Notebook.Load(failing).Cells.Last().Outputs.Single().EName);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
