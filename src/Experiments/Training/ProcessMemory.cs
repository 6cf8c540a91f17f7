using System.Diagnostics;

namespace MoeLab.Experiments.Training;

/// <summary>The process's peak resident set (Linux VmHWM), and a reset of it between phases of one
/// process (writing "5" to /proc/self/clear_refs). After a reset the peak starts from the current
/// resident set, which includes memory the allocator kept from earlier phases, so a per-phase peak in a
/// shared process is an upper bound; one phase per process gives the clean figure.</summary>
public static class ProcessMemory
{
    /// <summary>Peak resident set in MiB since start or the last <see cref="TryResetPeak"/>.</summary>
    public static double PeakResidentMiB()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.PeakWorkingSet64 / (1024.0 * 1024.0);
    }

    /// <summary>Current resident set in MiB.</summary>
    public static double CurrentResidentMiB()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.WorkingSet64 / (1024.0 * 1024.0);
    }

    /// <summary>Minor page faults of the whole process so far (<c>/proc/self/stat</c>, field 10); −1 where unavailable.
    /// On the 2-core cloud VMs this lab is measured on, a first touch of fresh memory costs ≈ 13 µs (four new 64 KiB
    /// arrays: 0.72 ms for 54 faults), so a pass that touches new pages pays visibly for it; <c>moelab bench</c> prints
    /// the median per pass next to the times.</summary>
    public static long MinorPageFaults()
    {
        if (!OperatingSystem.IsLinux()) return -1;
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // after "pid (comm) ": state is field 3
            return long.Parse(fields[10 - 3], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException) { return -1; }
        catch (FormatException) { return -1; }
    }

    /// <summary>Resets the peak to the current resident set; false where the OS does not offer it.</summary>
    public static bool TryResetPeak()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return false;
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
