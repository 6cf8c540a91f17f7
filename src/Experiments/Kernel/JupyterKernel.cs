using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using MoeLab.Experiments.Notebooks;
using NetMQ;
using NetMQ.Sockets;

namespace MoeLab.Experiments.Kernel;

/// <summary>MoeLab's Jupyter kernel: the Jupyter messaging protocol 5.3 over NetMQ (pure C# ZeroMQ)
/// in front of a <see cref="NotebookSession"/>, the engine the headless runner uses, so cells,
/// <c>display()</c> and the formatters behave the same in both.
/// <list type="bullet">
/// <item>shell (ROUTER): kernel_info, execute, complete, inspect, is_complete, comm_info, history,
/// comm_open/msg/close, shutdown; requests run one at a time on this thread.</item>
/// <item>control (ROUTER, its own thread): kernel_info, interrupt, shutdown (also restart).</item>
/// <item>iopub (PUB, its own thread): status, execute_input, stream, display_data,
/// update_display_data, execute_result, error.</item>
/// <item>stdin (ROUTER): input_request / input_reply for <c>Console.ReadLine()</c> in a cell.</item>
/// <item>heartbeat (REP, its own thread): echoes.</item>
/// </list>
/// Every incoming message's HMAC-SHA256 signature is checked; a message that fails is logged to the
/// kernel's stderr and dropped.</summary>
public sealed class JupyterKernel : IDisposable
{
    readonly KernelConnection connection;
    readonly JupyterWire wire;
    readonly string sessionId = Guid.NewGuid().ToString();
    readonly NotebookSession notebook;
    readonly TextWriter log;
    readonly RouterSocket shell = new(), control = new(), stdin = new();
    readonly PublisherSocket iopub = new();
    readonly ResponseSocket heartbeat = new();
    readonly BlockingCollection<object> iopubQueue = new(); // messages, and flush barriers
    readonly object stdinGate = new();
    readonly CancellationTokenSource stopping = new();
    readonly TimeSpan interruptGrace;
    int executionCount;
    volatile CancellationTokenSource? runningCell;
    volatile JupyterMessage? runningRequest;
    Thread? iopubThread;

    /// <param name="interruptGrace">How long an interrupted cell has to stop before it is abandoned.</param>
    public JupyterKernel(KernelConnection connection, string notebookPath, TimeSpan interruptGrace, TextWriter? log = null)
    {
        this.connection = connection;
        this.interruptGrace = interruptGrace;
        this.log = TextWriter.Synchronized(log ?? Console.Error);
        wire = new JupyterWire(connection.Key, connection.SignatureScheme);
        notebook = new NotebookSession(notebookPath);
    }

    /// <summary>The kernel_info_reply content.</summary>
    public static JsonObject KernelInfo() => new()
    {
        ["status"] = "ok",
        ["protocol_version"] = JupyterMessage.ProtocolVersion,
        ["implementation"] = "moelab",
        ["implementation_version"] = typeof(JupyterKernel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0",
        ["language_info"] = new JsonObject
        {
            ["name"] = "C#",
            ["version"] = "14.0",
            ["mimetype"] = "text/x-csharp",
            ["file_extension"] = ".cs",
            ["pygments_lexer"] = "csharp",
            ["codemirror_mode"] = "text/x-csharp",
        },
        ["banner"] = $"MoeLab C# kernel (Roslyn scripting on .NET {Environment.Version}; MoeLab, TorchSharp, Plotly.NET and Microsoft.Data.Analysis referenced)",
        ["help_links"] = new JsonArray(),
    };

    /// <summary>Binds the sockets and serves until a shutdown request; returns the exit code.</summary>
    public int Run()
    {
        shell.Bind(connection.Address(connection.ShellPort));
        control.Bind(connection.Address(connection.ControlPort));
        stdin.Bind(connection.Address(connection.StdinPort));
        iopub.Bind(connection.Address(connection.IopubPort));
        heartbeat.Bind(connection.Address(connection.HbPort));
        foreach (var s in new NetMQSocket[] { shell, control, stdin, iopub, heartbeat }) s.Options.Linger = TimeSpan.FromSeconds(1);
        log.WriteLine($"moelab kernel: listening on {connection.Ip} (shell {connection.ShellPort}, iopub {connection.IopubPort}, " +
            $"stdin {connection.StdinPort}, control {connection.ControlPort}, heartbeat {connection.HbPort}); signatures {(wire.Signs ? "checked" : "off (empty key)")}");

        iopubThread = StartThread("iopub", IopubLoop);
        StartThread("heartbeat", HeartbeatLoop);
        StartThread("control", ControlLoop);
        Publish(JupyterMessage.Create("status", new JsonObject { ["execution_state"] = "starting" }, sessionId));
        // Console.ReadLine() in a cell asks the front end (input_request on stdin).
        Console.SetIn(new KernelInput(this));
        // Ctrl-C in the terminal that started the kernel interrupts the running cell, as in ipykernel.
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            runningCell?.Cancel();
        };
        // Warm Roslyn on the side so the first real cell does not pay the whole cold start.
        ThreadPool.QueueUserWorkItem(_ => { try { _ = NotebookSession.IsComplete("1"); notebook.Complete("", 0); } catch (Exception) { } });

        ShellLoop();
        iopubQueue.CompleteAdding();
        iopubThread.Join(TimeSpan.FromSeconds(2));
        return 0;
    }

    Thread StartThread(string name, Action body)
    {
        var t = new Thread(() =>
        {
            try { body(); }
            catch (Exception e) when (stopping.IsCancellationRequested && e is ObjectDisposedException or TerminatingException) { }
        })
        { IsBackground = true, Name = "kernel-" + name };
        t.Start();
        return t;
    }

    bool TryReceive(NetMQSocket socket, string channel, out JupyterMessage message)
    {
        message = null!;
        NetMQMessage? frames = null;
        if (!socket.TryReceiveMultipartMessage(TimeSpan.FromMilliseconds(100), ref frames) || frames is null) return false;
        try
        {
            message = wire.Decode(frames.Select(f => f.ToByteArray()).ToList());
            return true;
        }
        catch (JupyterProtocolException e)
        {
            log.WriteLine($"moelab kernel: {channel}: dropped a message: {e.Message}");
            return false;
        }
    }

    void Send(NetMQSocket socket, JupyterMessage message)
    {
        var frames = new NetMQMessage(wire.Encode(message).Select(b => new NetMQFrame(b)));
        socket.SendMultipartMessage(frames);
    }

    void Publish(JupyterMessage message)
    {
        try { iopubQueue.Add(message); }
        catch (InvalidOperationException) { } // shutting down: iopub is closed
    }

    void PublishChild(string type, JsonObject content, JupyterMessage parent)
    {
        var m = JupyterMessage.Create(type, content, sessionId, parent);
        m.Identities.Clear();
        m.Identities.Add(System.Text.Encoding.ASCII.GetBytes("kernel." + sessionId[..8] + "." + type));
        Publish(m);
    }

    void Status(string state, JupyterMessage parent) => PublishChild("status", new JsonObject { ["execution_state"] = state }, parent);

    void IopubLoop()
    {
        foreach (var item in iopubQueue.GetConsumingEnumerable())
        {
            if (item is JupyterMessage message) Send(iopub, message);
            else if (item is ManualResetEventSlim barrier) barrier.Set();
        }
    }

    /// <summary>Waits until everything published so far has been handed to the iopub socket, so a
    /// reply on shell never overtakes the outputs of its request (clients read the reply first and
    /// then expect the outputs to be there).</summary>
    void FlushIopub()
    {
        using var barrier = new ManualResetEventSlim();
        try { iopubQueue.Add(barrier); }
        catch (InvalidOperationException) { return; } // shutting down
        barrier.Wait(TimeSpan.FromSeconds(30));
    }

    void HeartbeatLoop()
    {
        while (!stopping.IsCancellationRequested)
        {
            NetMQMessage? ping = null;
            if (heartbeat.TryReceiveMultipartMessage(TimeSpan.FromMilliseconds(100), ref ping) && ping is not null)
                heartbeat.SendMultipartMessage(ping);
        }
    }

    void ControlLoop()
    {
        while (!stopping.IsCancellationRequested)
        {
            if (!TryReceive(control, "control", out var request)) continue;
            Status("busy", request);
            switch (request.MessageType)
            {
                case "kernel_info_request":
                    Reply(control, request, "kernel_info_reply", KernelInfo());
                    break;
                case "interrupt_request":
                    runningCell?.Cancel();
                    Reply(control, request, "interrupt_reply", new JsonObject { ["status"] = "ok" });
                    break;
                case "shutdown_request":
                    Shutdown(control, request);
                    break;
                default:
                    log.WriteLine($"moelab kernel: control: unsupported message type '{request.MessageType}'");
                    break;
            }
            Status("idle", request);
        }
    }

    void Shutdown(NetMQSocket socket, JupyterMessage request)
    {
        bool restart = (bool?)request.Content["restart"] ?? false;
        Reply(socket, request, "shutdown_reply", new JsonObject { ["status"] = "ok", ["restart"] = restart });
        runningCell?.Cancel();
        stopping.Cancel();
    }

    void Reply(NetMQSocket socket, JupyterMessage request, string type, JsonObject content)
    {
        FlushIopub();
        Send(socket, JupyterMessage.Create(type, content, sessionId, request));
    }

    void ShellLoop()
    {
        while (!stopping.IsCancellationRequested)
        {
            if (!TryReceive(shell, "shell", out var request)) continue;
            HandleShell(request, aborting: false);
        }
        Thread.Sleep(100); // let the shutdown reply and the last status leave
    }

    void HandleShell(JupyterMessage request, bool aborting)
    {
        Status("busy", request);
        try
        {
            switch (request.MessageType)
            {
                case "execute_request" when aborting:
                    Reply(shell, request, "execute_reply", new JsonObject { ["status"] = "aborted", ["execution_count"] = executionCount });
                    break;
                case "execute_request":
                    Execute(request);
                    break;
                case "kernel_info_request":
                    Reply(shell, request, "kernel_info_reply", KernelInfo());
                    break;
                case "complete_request":
                    Reply(shell, request, "complete_reply", Complete(request.Content));
                    break;
                case "inspect_request":
                    Reply(shell, request, "inspect_reply", Inspect(request.Content));
                    break;
                case "is_complete_request":
                    string verdict = NotebookSession.IsComplete((string?)request.Content["code"] ?? "");
                    var content = new JsonObject { ["status"] = verdict };
                    if (verdict == "incomplete") content["indent"] = "    ";
                    Reply(shell, request, "is_complete_reply", content);
                    break;
                case "history_request":
                    Reply(shell, request, "history_reply", new JsonObject { ["status"] = "ok", ["history"] = new JsonArray() });
                    break;
                case "comm_info_request":
                    Reply(shell, request, "comm_info_reply", new JsonObject { ["status"] = "ok", ["comms"] = new JsonObject() });
                    break;
                case "comm_open":
                    // No comm targets: close it, as ipykernel does for an unknown target.
                    PublishChild("comm_close", new JsonObject { ["comm_id"] = request.Content["comm_id"]?.DeepClone(), ["data"] = new JsonObject() }, request);
                    break;
                case "comm_msg":
                case "comm_close":
                    break;
                case "shutdown_request":
                    Shutdown(shell, request);
                    break;
                default:
                    log.WriteLine($"moelab kernel: shell: unsupported message type '{request.MessageType}'");
                    break;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log.WriteLine($"moelab kernel: shell: {request.MessageType} failed: {e}");
            string? replyType = request.MessageType.EndsWith("_request", StringComparison.Ordinal) ? request.MessageType[..^8] + "_reply" : null;
            if (replyType is not null)
                Reply(shell, request, replyType, new JsonObject
                {
                    ["status"] = "error", ["ename"] = e.GetType().Name, ["evalue"] = e.Message, ["traceback"] = new JsonArray(),
                });
        }
        Status("idle", request);
    }

    void Execute(JupyterMessage request)
    {
        var c = request.Content;
        string code = (string?)c["code"] ?? "";
        bool silent = (bool?)c["silent"] ?? false;
        bool storeHistory = !silent && ((bool?)c["store_history"] ?? true);
        bool stopOnError = (bool?)c["stop_on_error"] ?? true;
        if (storeHistory) executionCount++;
        int count = executionCount;
        if (!silent) PublishChild("execute_input", new JsonObject { ["code"] = code, ["execution_count"] = count }, request);
        if (HelpTarget(code) is { } target)
        {
            Help(request, target, count);
            return;
        }

        bool live = true;
        var outputs = new CellOutputs
        {
            Echo = (stream, text) =>
            {
                if (live && !silent) PublishChild("stream", new JsonObject { ["name"] = stream, ["text"] = text }, request);
            },
        };
        void Displayed(DisplayEvent e)
        {
            if (!live || silent) return;
            if (e.Kind == DisplayEventKind.Clear)
            {
                PublishChild("clear_output", new JsonObject { ["wait"] = e.Wait }, request);
                return;
            }
            var content = Bundle(e.Output!);
            content["transient"] = new JsonObject { ["display_id"] = e.DisplayId };
            PublishChild(e.Kind == DisplayEventKind.Update ? "update_display_data" : "display_data", content, request);
        }

        using var cancel = new CancellationTokenSource();
        runningCell = cancel;
        runningRequest = request;
        CellResult result;
        try
        {
            var limits = new CellLimits { Grace = interruptGrace, ProgressInterval = TimeSpan.FromSeconds(1) };
            result = notebook.ExecuteAsync(code, outputs, limits, displayed: Displayed, cellNumber: count, cancellationToken: cancel.Token)
                .GetAwaiter().GetResult();
        }
        finally
        {
            live = false;
            runningCell = null;
            runningRequest = null;
        }

        if (result.Status == CellStatus.Completed)
        {
            if (result.HasReturnValue && !silent)
            {
                var bundle = Bundle(CellOutputs.Render(result.ReturnValue, count));
                bundle["execution_count"] = count;
                PublishChild("execute_result", bundle, request);
            }
            var userExpressions = new JsonObject();
            if (c["user_expressions"] is JsonObject asked)
                foreach (var (name, _) in asked)
                    userExpressions[name] = new JsonObject
                    {
                        ["status"] = "error", ["ename"] = "NotSupportedException",
                        ["evalue"] = "the MoeLab kernel does not evaluate user_expressions", ["traceback"] = new JsonArray(),
                    };
            Reply(shell, request, "execute_reply", new JsonObject
            {
                ["status"] = "ok", ["execution_count"] = count, ["user_expressions"] = userExpressions, ["payload"] = new JsonArray(),
            });
            return;
        }

        var error = NotebookSession.ErrorOutput(result.Error!);
        var traceback = new JsonArray(error.Traceback.Select(l => (JsonNode)JsonValue.Create(l)!).ToArray());
        if (!silent)
            PublishChild("error", new JsonObject { ["ename"] = error.EName, ["evalue"] = error.EValue, ["traceback"] = traceback.DeepClone() }, request);
        Reply(shell, request, "execute_reply", new JsonObject
        {
            ["status"] = "error", ["execution_count"] = count,
            ["ename"] = error.EName, ["evalue"] = error.EValue, ["traceback"] = traceback,
        });
        if (result.Status == CellStatus.Abandoned)
            log.WriteLine($"moelab kernel: cell {count} ignored the interrupt and was abandoned (still running in the background)");
        if (stopOnError) AbortQueued();
    }

    /// <summary>IPython's help syntax: a cell that is only <c>expression?</c> (not <c>??</c>, which is no
    /// complete C# either) asks for what <c>expression</c> is, shown in the front end's pager.</summary>
    internal static string? HelpTarget(string code)
    {
        string t = code.Trim();
        if (t.Length < 2 || !t.EndsWith('?') || t.EndsWith("??", StringComparison.Ordinal) || t.Contains('\n')) return null;
        string target = t[..^1].TrimEnd();
        return target.Length > 0 && (char.IsLetter(target[0]) || target[0] == '_') && target.All(ch => char.IsLetterOrDigit(ch) || ch is '_' or '.' or '<' or '>' or ',' or ' ')
            ? target : null;
    }

    void Help(JupyterMessage request, string target, int count)
    {
        string? text = notebook.Inspect(target, target.Length);
        if (text is null)
        {
            string message = $"'{target}' does not name anything in scope";
            PublishChild("error", new JsonObject { ["ename"] = "NotFound", ["evalue"] = message, ["traceback"] = new JsonArray(message) }, request);
            Reply(shell, request, "execute_reply", new JsonObject
            {
                ["status"] = "error", ["execution_count"] = count, ["ename"] = "NotFound", ["evalue"] = message, ["traceback"] = new JsonArray(message),
            });
            return;
        }
        var page = new JsonObject { ["source"] = "page", ["data"] = new JsonObject { ["text/plain"] = text }, ["start"] = 0 };
        Reply(shell, request, "execute_reply", new JsonObject
        {
            ["status"] = "ok", ["execution_count"] = count, ["user_expressions"] = new JsonObject(), ["payload"] = new JsonArray(page),
        });
    }

    /// <summary>After a failed cell (stop_on_error): execute requests already waiting are answered
    /// "aborted", as ipykernel does; other requests are served normally.</summary>
    void AbortQueued()
    {
        while (true)
        {
            NetMQMessage? frames = null;
            if (!shell.TryReceiveMultipartMessage(TimeSpan.FromMilliseconds(10), ref frames) || frames is null) return;
            JupyterMessage request;
            try { request = wire.Decode(frames.Select(f => f.ToByteArray()).ToList()); }
            catch (JupyterProtocolException e)
            {
                log.WriteLine($"moelab kernel: shell: dropped a message: {e.Message}");
                continue;
            }
            HandleShell(request, aborting: true);
        }
    }

    /// <summary>A display_data / execute_result content: the MIME bundle (JSON MIME types as JSON,
    /// the rest as text) and its metadata.</summary>
    public static JsonObject Bundle(NotebookOutput output)
    {
        var data = new JsonObject();
        foreach (var (mime, text) in output.Data)
        {
            bool json = mime == "application/json" || mime.EndsWith("+json", StringComparison.Ordinal);
            JsonNode? node = null;
            if (json)
            {
                try { node = JsonNode.Parse(text); }
                catch (JsonException) { }
            }
            data[mime] = node ?? JsonValue.Create(text);
        }
        return new JsonObject { ["data"] = data, ["metadata"] = output.Metadata.DeepClone() };
    }

    JsonObject Complete(JsonObject content)
    {
        string code = (string?)content["code"] ?? "";
        int cursor = Utf16Offset(code, (int?)content["cursor_pos"] ?? code.Length);
        var (matches, start, end) = notebook.Complete(code, cursor);
        return new JsonObject
        {
            ["status"] = "ok",
            ["matches"] = new JsonArray(matches.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
            ["cursor_start"] = CodePoints(code, start),
            ["cursor_end"] = CodePoints(code, end),
            ["metadata"] = new JsonObject(),
        };
    }

    JsonObject Inspect(JsonObject content)
    {
        string code = (string?)content["code"] ?? "";
        int cursor = Utf16Offset(code, (int?)content["cursor_pos"] ?? code.Length);
        string? text = notebook.Inspect(code, cursor);
        var data = new JsonObject();
        if (text is not null) data["text/plain"] = text;
        return new JsonObject { ["status"] = "ok", ["found"] = text is not null, ["data"] = data, ["metadata"] = new JsonObject() };
    }

    /// <summary>Protocol 5.2+ cursor positions count Unicode code points; .NET strings count UTF-16 units.</summary>
    internal static int Utf16Offset(string s, int codePoints)
    {
        int i = 0;
        for (int n = 0; n < codePoints && i < s.Length; n++) i += char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? 2 : 1;
        return i;
    }

    internal static int CodePoints(string s, int utf16)
    {
        int n = 0;
        for (int i = 0; i < utf16 && i < s.Length; n++) i += char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? 2 : 1;
        return n;
    }

    /// <summary>Asks the front end for a line of input (input_request on stdin) for the running cell.</summary>
    internal string? RequestInput(string prompt, bool password)
    {
        var request = runningRequest;
        if (request is null) return null;
        if (!((bool?)request.Content["allow_stdin"] ?? false))
            throw new InvalidOperationException("this front end does not accept input (allow_stdin is false): Console.ReadLine() cannot be answered");
        var token = runningCell?.Token ?? CancellationToken.None;
        lock (stdinGate)
        {
            Send(stdin, JupyterMessage.Create("input_request", new JsonObject { ["prompt"] = prompt, ["password"] = password }, sessionId, request));
            while (true)
            {
                token.ThrowIfCancellationRequested();
                if (stopping.IsCancellationRequested) return null;
                if (!TryReceive(stdin, "stdin", out var reply)) continue;
                if (reply.MessageType == "input_reply") return (string?)reply.Content["value"] ?? "";
            }
        }
    }

    public void Dispose()
    {
        stopping.Cancel();
        foreach (var s in new NetMQSocket[] { shell, control, stdin, iopub, heartbeat }) s.Dispose();
        iopubQueue.Dispose();
    }

    /// <summary>Console.In of the kernel process: each line read is an input_request.</summary>
    sealed class KernelInput(JupyterKernel kernel) : TextReader
    {
        string buffer = "";
        int position;

        bool Fill()
        {
            if (position < buffer.Length) return true;
            string? line = kernel.RequestInput("", password: false);
            if (line is null) return false;
            buffer = line + "\n";
            position = 0;
            return true;
        }

        public override int Read() => Fill() ? buffer[position++] : -1;

        public override int Peek() => Fill() ? buffer[position] : -1;

        public override string? ReadLine()
        {
            if (position < buffer.Length)
            {
                string rest = buffer[position..].TrimEnd('\n');
                position = buffer.Length;
                return rest;
            }
            return kernel.RequestInput("", password: false);
        }
    }
}
