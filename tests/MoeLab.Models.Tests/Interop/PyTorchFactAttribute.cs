using System.Diagnostics;

namespace MoeLab.Models.Tests.Interop;

/// <summary>A test that needs PyTorch for <c>/usr/bin/python3</c> (Debian: <c>apt-get install -y python3-torch</c>).
/// Where it is absent the test is reported as skipped, with that reason — except in CI (<c>CI=true</c>,
/// set by the CI runner; <c>.ci/run</c> installs python3-torch) or with <c>MOELAB_REQUIRE_PYTORCH=1</c>:
/// then it runs and fails loudly, so CI can never pass without the parity check.</summary>
public sealed class PyTorchFactAttribute : FactAttribute
{
    public PyTorchFactAttribute()
    {
        if (!PyTorch.Available && !PyTorch.Required)
            Skip = $"needs PyTorch for {PyTorch.Python} ({PyTorch.Problem}); install it with `apt-get install -y python3-torch`";
    }
}

/// <summary>Finds and runs Debian's Python with PyTorch.</summary>
internal static class PyTorch
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<(bool Ok, string Problem)> probe = new(() =>
    {
        if (!File.Exists(Python)) return (false, $"{Python} not found");
        var (code, output) = Run(TimeSpan.FromSeconds(60), "-c", "import torch; print(torch.__version__)");
        return code == 0 ? (true, "") : (false, "`import torch` failed: " + output.Trim().Split('\n').Last());
    });

    public static bool Available => probe.Value.Ok;
    public static string Problem => probe.Value.Problem;

    public static bool Required =>
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) ||
        Environment.GetEnvironmentVariable("MOELAB_REQUIRE_PYTORCH") == "1";

    /// <summary>Runs python3 with the arguments; returns the exit code and stdout+stderr.</summary>
    public static (int ExitCode, string Output) Run(TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Python}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{Python} {string.Join(" ", arguments)} did not finish within {timeout.TotalSeconds} s");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
