using System.Diagnostics;
using MoeLab.Experiments.Notebooks;
using Xunit.Abstractions;

namespace MoeLab.Experiments.Tests.Notebooks;

/// <summary>The published library folder works in another .NET script host: `dotnet publish` into
/// a fresh folder, then F# Interactive (shipped with the SDK) loads MoeLab.Experiments.dll by path,
/// computes with TorchSharp (natives found and loadable beside it) and renders a DataFrame and a
/// chart through the registered formatters; and every repository notebook runs at the smoke
/// preset referencing only the framework plus its own <c>#r "lib/..."</c> files, as in a notebook
/// front end. Slow: a publish takes about a minute.</summary>
[Collection("notebooks")]
public class NotebookPublishTests(ITestOutputHelper output)
{
    [Fact]
    [Trait("Category", "Slow")]
    public async Task PublishedFolderLoadsInAnotherScriptHost()
    {
        string root = Path.Combine(AppContext.BaseDirectory, "publish-test-" + Guid.NewGuid().ToString("N")[..8]);
        string lib = Path.Combine(root, "lib");
        try
        {
            var log = new StringWriter();
            int rc = NotebookPublisher.Publish(NotebookPaths.RepoRoot, lib, "Release", "linux-x64", log);
            output.WriteLine(log.ToString());
            Assert.Equal(0, rc);
            Assert.True(File.Exists(Path.Combine(lib, "libLibTorchSharp.so")), "TorchSharp natives sit flat beside TorchSharp.dll");

            string script = Path.Combine(lib, "probe.fsx");
            File.WriteAllText(script, $$"""
                #r "{{lib}}/MoeLab.Experiments.dll"
                #r "{{lib}}/TorchSharp.dll"
                #r "{{lib}}/Microsoft.Data.Analysis.dll"
                #r "{{lib}}/Microsoft.DotNet.Interactive.Formatting.dll"
                #r "{{lib}}/Plotly.NET.dll"
                #r "{{lib}}/Plotly.NET.CSharp.dll"
                open Microsoft.DotNet.Interactive.Formatting
                MoeLab.Experiments.Notebooks.NotebookFormatters.Register()
                let t = TorchSharp.torch.arange(6L).reshape(2L, 3L).to_type(TorchSharp.torch.ScalarType.Float32)
                printfn "matmul-sum=%g" (t.matmul(t.t()).sum().item<float32>())
                let col = new Microsoft.Data.Analysis.DoubleDataFrameColumn("loss", [| 1.5; 2.5 |]) :> Microsoft.Data.Analysis.DataFrameColumn
                let df = new Microsoft.Data.Analysis.DataFrame([| col |])
                printfn "table=%b" ((Formatter.ToDisplayString(df, "text/html")).Contains("loss<br/><small>double</small>"))
                let chart = Plotly.NET.CSharp.Chart.Line<float, float, string>(x = [| 1.0; 2.0 |], y = [| 3.0; 4.0 |])
                printfn "chart=%b" ((Formatter.ToDisplayString(chart, "text/html")).Contains("moelab-chart"))
                """);
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("fsi");
            psi.ArgumentList.Add(script);
            using var process = Process.Start(psi)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = await process.StandardOutput.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await process.WaitForExitAsync(limit.Token);
            output.WriteLine(stdout + await stderr);
            Assert.Equal(0, process.ExitCode);
            Assert.Contains("matmul-sum=83", stdout);
            Assert.Contains("table=true", stdout);
            Assert.Contains("chart=true", stdout);

            foreach (var source in NotebookPaths.All())
            {
                string copy = Path.Combine(root, Path.GetFileName(source));
                File.Copy(source, copy);
                var runLog = new StringWriter();
                var result = await NotebookRunner.RunFileAsync(copy, new NotebookRunOptions
                {
                    Preset = "smoke", OnlyNotebookReferences = true, Log = runLog,
                });
                output.WriteLine(runLog.ToString());
                Assert.True(result.Succeeded, $"{Path.GetFileName(source)} with only its own references: {result.Error}");
            }
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
