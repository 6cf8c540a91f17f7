using System.Runtime.InteropServices;

namespace MoeLab.Experiments.Bench;

/// <summary>CPU time of the whole process (all threads, user + system) from <c>clock_gettime(CLOCK_PROCESS_CPUTIME_ID)</c>,
/// in milliseconds with nanosecond resolution. On a shared machine a process that is descheduled loses wall time
/// but not CPU time, so with one torch thread the CPU-time ratio of two variants is far steadier than the wall-time
/// ratio (with several threads, idle OpenMP workers spinning count as CPU time). NaN where unavailable.</summary>
public static class CpuClock
{
    private const int ClockProcessCpuTimeId = 2;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds; public long Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime", SetLastError = true)]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    public static double NowMs()
    {
        if (!OperatingSystem.IsLinux()) return double.NaN;
        try
        {
            return ClockGetTime(ClockProcessCpuTimeId, out var t) == 0 ? t.Seconds * 1e3 + t.Nanoseconds * 1e-6 : double.NaN;
        }
        catch (DllNotFoundException) { return double.NaN; }
        catch (EntryPointNotFoundException) { return double.NaN; }
    }
}
