namespace MoeLab.Experiments.Reports;

/// <summary>The report was built but its file could not be written. <see cref="Reason"/> is short
/// and names the cause when it can be told ("permission denied", "/x is a file, not a folder",
/// "it is a folder"); the message reads "cannot write &lt;path&gt;: &lt;reason&gt;" on one line.</summary>
public sealed class ReportWriteException : IOException
{
    public ReportWriteException(string path, Exception inner) : this(path, Describe(path, inner), inner) { }

    ReportWriteException(string path, string reason, Exception inner) : base($"cannot write {path}: {reason}", inner)
    {
        Path = path;
        Reason = reason;
    }

    /// <summary>The report file that could not be written (full path).</summary>
    public string Path { get; }

    public string Reason { get; }

    static string Describe(string path, Exception e)
    {
        try
        {
            if (Directory.Exists(path)) return "it is a folder";
            for (string? dir = System.IO.Path.GetDirectoryName(path); !string.IsNullOrEmpty(dir); dir = System.IO.Path.GetDirectoryName(dir))
                if (File.Exists(dir)) return $"{dir} is a file, not a folder";
        }
        catch (Exception probe) when (probe is IOException or UnauthorizedAccessException) { }
        if (e is UnauthorizedAccessException) return "permission denied";
        return e.Message.ReplaceLineEndings(" ").Trim();
    }
}
