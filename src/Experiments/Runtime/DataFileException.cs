namespace MoeLab.Experiments.Runtime;

/// <summary>A results file (a CSV table, a run's manifest.json) that cannot be read as its format
/// says: which file, on which line when known (1-based), and what is wrong with it. A
/// <see cref="FormatException"/>, so code that catches those keeps working. The message reads
/// "&lt;file&gt;: line &lt;n&gt;: &lt;problem&gt;" (without the line part when it is not known).</summary>
public sealed class DataFileException : FormatException
{
    public DataFileException(string file, int? line, string problem, Exception? inner = null)
        : base(line is null ? $"{file}: {problem}" : $"{file}: line {line}: {problem}", inner)
    {
        File = file;
        Line = line;
        Problem = problem;
    }

    /// <summary>The file as it was named to the reader (usually a full path).</summary>
    public string File { get; }

    /// <summary>1-based line where the problem is, or null when it concerns the whole file.</summary>
    public int? Line { get; }

    /// <summary>What is wrong, without the file and line.</summary>
    public string Problem { get; }
}
