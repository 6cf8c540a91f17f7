using MoeLab.Experiments.Notebooks;
using MoeLab.Experiments.Tests.Notebooks;

namespace MoeLab.Experiments.Tests.Kernel;

/// <summary>The cell engine the kernel and the headless runner share: cancellation, abandonment,
/// display updates, and the editor services (completion, inspection, completeness).</summary>
[Collection("notebooks")]
public class NotebookSessionTests
{
    static NotebookSession NewSession() =>
        new(Path.Combine(Path.GetTempPath(), "moelab-notebook-tests", "session.ipynb"));

    [Theory]
    [InlineData("1 + 1", "complete")]
    [InlineData("int x = 1;", "complete")]
    [InlineData("if (true) {", "incomplete")]
    [InlineData("var xs = new[] { 1, 2,", "incomplete")]
    [InlineData("/* open comment", "incomplete")]
    [InlineData("int x = ;", "invalid")]
    [InlineData("for (int i = 0; i < 3; i++ }", "invalid")]
    public void IsCompleteTellsCompleteIncompleteAndInvalidApart(string code, string expected) =>
        Assert.Equal(expected, NotebookSession.IsComplete(code));

    [Fact]
    public async Task CompletionAndInspectionSeeEarlierCells()
    {
        var session = NewSession();
        var result = await session.ExecuteAsync("var experts = new List<int> { 4, 8 };", new CellOutputs());
        Assert.Equal(CellStatus.Completed, result.Status);
        var (matches, start, end) = session.Complete("experts.AddR", 12);
        Assert.Equal(new[] { "AddRange" }, matches);
        Assert.Equal((8, 12), (start, end));
        Assert.Contains("expert", session.Complete("expe", 4).Matches.Single());
        Assert.Contains("System.Console.WriteLine(string?)", session.Inspect("Console.WriteLine", 17));
        Assert.Contains("List<int>", session.Inspect("experts", 7));
        Assert.Null(session.Inspect("   ", 1));
    }

    [Fact]
    public async Task AnInterruptStopsACellThatChecksItsToken()
    {
        var session = NewSession();
        await session.ExecuteAsync("int kept = 5;", new CellOutputs());
        using var interrupt = new CancellationTokenSource();
        var result = await session.ExecuteAsync("Console.WriteLine(\"started\"); for (int i = 0; i < 600; i++) await Task.Delay(100, CancellationToken);",
            new CellOutputs { Echo = (_, _) => interrupt.CancelAfter(200) }, new CellLimits { Grace = TimeSpan.FromSeconds(5) }, cancellationToken: interrupt.Token);
        Assert.Equal(CellStatus.Failed, result.Status);
        Assert.IsAssignableFrom<OperationCanceledException>(result.Error);
        var after = await session.ExecuteAsync("kept * 2", new CellOutputs());
        Assert.Equal(10, after.ReturnValue);
    }

    [Fact]
    public async Task ACellThatIgnoresTheInterruptIsAbandonedNotWaitedFor()
    {
        var session = NewSession();
        await session.ExecuteAsync("int kept = 5;", new CellOutputs());
        using var interrupt = new CancellationTokenSource();
        // Interrupted once it runs (its first output), not while it compiles.
        var outputs = new CellOutputs { Echo = (_, _) => interrupt.CancelAfter(200) };
        // Ends on its own after ~4 s, long after the test has moved on.
        var result = await session.ExecuteAsync("Console.WriteLine(\"started\"); for (int i = 0; i < 80; i++) System.Threading.Thread.Sleep(50); Console.WriteLine(\"finished\");",
            outputs, new CellLimits { Grace = TimeSpan.FromMilliseconds(500) }, cancellationToken: interrupt.Token);
        Assert.Equal(CellStatus.Abandoned, result.Status);
        Assert.IsType<CellAbandonedException>(result.Error);
        // The session came back while the cell was still running.
        Assert.DoesNotContain(outputs.Snapshot(), o => o.Text?.Contains("finished") == true);
        var after = await session.ExecuteAsync("kept + 1", new CellOutputs());
        Assert.Equal(CellStatus.Completed, after.Status);
        Assert.Equal(6, after.ReturnValue);
    }

    [Fact]
    public async Task DisplayHandlesUpdateInPlaceAndClearOutputDropsEarlierOutputs()
    {
        var session = NewSession();
        var events = new List<DisplayEvent>();
        var outputs = new CellOutputs();
        var result = await session.ExecuteAsync(
            "Console.WriteLine(\"gone\"); clear_output(); var h = display(\"first\"); h.Update(\"second\"); h",
            outputs, displayed: events.Add);
        Assert.Equal(CellStatus.Completed, result.Status);
        Assert.False(result.HasReturnValue); // a trailing display handle is not shown again
        Assert.Equal(new[] { DisplayEventKind.Clear, DisplayEventKind.Display, DisplayEventKind.Update }, events.Select(e => e.Kind));
        Assert.Equal(events[1].DisplayId, events[2].DisplayId);
        var only = Assert.Single(outputs.Snapshot());
        Assert.Equal("second", only.Data["text/plain"]);
    }
}
