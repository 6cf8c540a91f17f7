namespace MoeLab.Experiments.Runtime;

/// <summary>Reads the current git commit from .git without spawning git (worktrees and packed
/// refs included); "unknown" outside a repository.</summary>
public static class GitInfo
{
    public static string CurrentCommit(string? start = null)
    {
        try
        {
            for (var dir = new DirectoryInfo(start ?? Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            {
                string dotGit = Path.Combine(dir.FullName, ".git");
                string? gitDir = Directory.Exists(dotGit) ? dotGit
                    : File.Exists(dotGit) ? ReadGitDirFile(dotGit, dir.FullName) : null;
                if (gitDir is null) continue;
                return ResolveHead(gitDir) ?? "unknown";
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return "unknown";
    }

    private static string? ReadGitDirFile(string file, string baseDir)
    {
        string line = File.ReadAllText(file).Trim();
        if (!line.StartsWith("gitdir:", StringComparison.Ordinal)) return null;
        string p = line["gitdir:".Length..].Trim();
        return Path.GetFullPath(Path.IsPathRooted(p) ? p : Path.Combine(baseDir, p));
    }

    private static string? ResolveHead(string gitDir)
    {
        string head = File.ReadAllText(Path.Combine(gitDir, "HEAD")).Trim();
        if (!head.StartsWith("ref:", StringComparison.Ordinal)) return head;
        string refName = head["ref:".Length..].Trim();
        string common = gitDir;
        string commonFile = Path.Combine(gitDir, "commondir");
        if (File.Exists(commonFile))
        {
            string c = File.ReadAllText(commonFile).Trim();
            common = Path.GetFullPath(Path.IsPathRooted(c) ? c : Path.Combine(gitDir, c));
        }
        foreach (string d in new[] { gitDir, common })
        {
            string f = Path.Combine(d, refName);
            if (File.Exists(f)) return File.ReadAllText(f).Trim();
        }
        string packed = Path.Combine(common, "packed-refs");
        if (File.Exists(packed))
            foreach (string line in File.ReadLines(packed))
                if (line.EndsWith(" " + refName, StringComparison.Ordinal)) return line.Split(' ')[0];
        return null;
    }
}
