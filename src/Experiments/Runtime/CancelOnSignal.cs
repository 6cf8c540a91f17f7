using System.Runtime.InteropServices;

namespace MoeLab.Experiments.Runtime;

/// <summary>Turns Ctrl+C and SIGTERM into a cancellation request (the experiment checkpoints and
/// the run is marked interrupted). A second Ctrl+C terminates the process immediately.</summary>
public sealed class CancelOnSignal : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly List<PosixSignalRegistration> _registrations = new();
    private PosixSignal? _first;

    public CancelOnSignal(TextWriter? notice = null)
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            _registrations.Add(PosixSignalRegistration.Create(signal, ctx =>
            {
                if (_cts.IsCancellationRequested && ctx.Signal == PosixSignal.SIGINT) return; // second Ctrl+C: default action
                ctx.Cancel = true;
                _first ??= ctx.Signal;
                notice?.WriteLine($"{ctx.Signal} received: checkpointing and stopping (Ctrl+C again aborts without a checkpoint)...");
                _cts.Cancel();
            }));
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>The first signal received ("SIGINT", "SIGTERM"), or null.</summary>
    public string? Received => _first?.ToString();

    /// <summary>The conventional exit code of a process stopped by that signal: 128 + signal number
    /// (SIGINT → 130, SIGTERM → 143); null when no signal arrived.</summary>
    public int? ExitCode => _first switch
    {
        PosixSignal.SIGINT => 130,
        PosixSignal.SIGTERM => 143,
        _ => null,
    };

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _cts.Dispose();
    }
}
