using System.Text;

namespace MoeLab.Experiments.Notebooks;

/// <summary>Collects what one executing cell produces, in order: stdout/stderr text (consecutive
/// writes to one stream merge into one stream output) and displayed values. Thread-safe.</summary>
public sealed class CellOutputs
{
    readonly object gate = new();
    readonly List<NotebookOutput> outputs = new();

    /// <summary>Also called with (stream, text) for every write, e.g. to mirror a cell's output live.</summary>
    public Action<string, string>? Echo { get; init; }

    public void Write(string stream, string text)
    {
        if (text.Length == 0) return;
        Echo?.Invoke(stream, text);
        lock (gate)
        {
            if (outputs.Count > 0 && outputs[^1] is { OutputType: NotebookOutput.Stream } last && last.Name == stream)
                last.Text += text;
            else
                outputs.Add(NotebookOutput.CreateStream(stream, text));
        }
    }

    public void Add(NotebookOutput output)
    {
        lock (gate) outputs.Add(output);
    }

    /// <summary>Drops the outputs collected so far (clear_output).</summary>
    public void Clear()
    {
        lock (gate) outputs.Clear();
    }

    public List<NotebookOutput> Snapshot()
    {
        lock (gate) return outputs.ToList();
    }

    /// <summary>A display_data (or, with an execution count, execute_result) output for a value:
    /// its MIME bundle from <see cref="NotebookFormatters.Format"/> (plotly JSON, HTML, PNG and text
    /// for charts; HTML and text for DataFrames; text otherwise).</summary>
    public static NotebookOutput Render(object? value, int? executionCount = null)
    {
        var output = new NotebookOutput
        {
            OutputType = executionCount is null ? NotebookOutput.DisplayData : NotebookOutput.ExecuteResult,
            ExecutionCount = executionCount,
        };
        foreach (var (mime, data) in NotebookFormatters.Format(value)) output.Data[mime] = data;
        return output;
    }
}

/// <summary>Routes Console.Out / Console.Error per async flow: while a cell runs, writes from it
/// (and from tasks it starts) go to that cell's <see cref="CellOutputs"/>; everything else goes to
/// the original console. Installed once per process; lets several notebooks run side by side.</summary>
internal sealed class ConsoleRouter : TextWriter
{
    static readonly object gate = new();
    static readonly AsyncLocal<CellOutputs?> current = new();
    static ConsoleRouter? stdout, stderr;

    readonly TextWriter original;
    readonly string stream;

    ConsoleRouter(TextWriter original, string stream)
    {
        this.original = original;
        this.stream = stream;
    }

    public override Encoding Encoding => original.Encoding;

    /// <summary>The process's stderr before any routing (progress messages go here).</summary>
    public static TextWriter OriginalError
    {
        get
        {
            Install();
            return stderr!.original;
        }
    }

    public static void Install()
    {
        lock (gate)
        {
            if (stdout is not null) return;
            stdout = new ConsoleRouter(Console.Out, "stdout");
            stderr = new ConsoleRouter(Console.Error, "stderr");
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }

    /// <summary>Sends this async flow's console output to <paramref name="target"/> (null: the console).</summary>
    public static void Capture(CellOutputs? target) => current.Value = target;

    TextWriter? Passthrough => current.Value is null ? original : null;

    public override void Write(char value)
    {
        if (Passthrough is { } w) w.Write(value);
        else current.Value!.Write(stream, value.ToString());
    }

    public override void Write(string? value)
    {
        if (value is null) return;
        if (Passthrough is { } w) w.Write(value);
        else current.Value!.Write(stream, value);
    }

    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    public override void WriteLine(string? value) => Write((value ?? "") + NewLine);

    public override void WriteLine() => Write(NewLine);

    public override void Flush() => original.Flush();
}
