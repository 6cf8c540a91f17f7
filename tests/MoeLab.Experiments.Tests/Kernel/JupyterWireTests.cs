using MoeLab.Experiments.Cluster;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MoeLab.Experiments.Kernel;
using NetMQ;
using NetMQ.Sockets;

namespace MoeLab.Experiments.Tests.Kernel;

/// <summary>The kernel's wire format: framing, HMAC-SHA256 signatures, and the checks on incoming
/// messages (bad signature, replay, malformed frames).</summary>
public class JupyterWireTests
{
    const string Key = "a0436f6c-1916-498b-8eb9-e81ab9368e84";

    static JupyterMessage Sample() => new()
    {
        Identities = { Encoding.ASCII.GetBytes("client-7") },
        Header = JupyterMessage.NewHeader("execute_request", "session-1"),
        ParentHeader = new JsonObject(),
        Metadata = new JsonObject { ["cellId"] = "c1" },
        Content = new JsonObject { ["code"] = "1 + 1", ["silent"] = false },
        Buffers = { new byte[] { 1, 2, 3 } },
    };

    [Fact]
    public void FramesAreIdentitiesDelimiterSignatureFourJsonPartsAndBuffers()
    {
        var wire = new JupyterWire(Key);
        var frames = wire.Encode(Sample());
        Assert.Equal(1 + 1 + 1 + 4 + 1, frames.Count);
        Assert.Equal("client-7", Encoding.ASCII.GetString(frames[0]));
        Assert.Equal("<IDS|MSG>", Encoding.ASCII.GetString(frames[1]));
        // The signature is the hex HMAC-SHA256 of header, parent_header, metadata and content, computed independently here.
        byte[] joined = frames[3].Concat(frames[4]).Concat(frames[5]).Concat(frames[6]).ToArray();
        string expected = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Key), joined));
        Assert.Equal(expected, Encoding.ASCII.GetString(frames[2]));
        Assert.Equal("execute_request", JsonNode.Parse(frames[3])!["msg_type"]!.GetValue<string>());
        Assert.Equal("5.3", JsonNode.Parse(frames[3])!["version"]!.GetValue<string>());
        Assert.Equal(new byte[] { 1, 2, 3 }, frames[7]);
    }

    [Fact]
    public void DecodeReturnsWhatWasEncoded()
    {
        var wire = new JupyterWire(Key);
        var original = Sample();
        var decoded = new JupyterWire(Key).Decode(wire.Encode(original));
        Assert.Equal("client-7", Encoding.ASCII.GetString(Assert.Single(decoded.Identities)));
        Assert.Equal(original.MessageId, decoded.MessageId);
        Assert.Equal("execute_request", decoded.MessageType);
        Assert.Equal("1 + 1", decoded.Content["code"]!.GetValue<string>());
        Assert.Equal("c1", decoded.Metadata["cellId"]!.GetValue<string>());
        Assert.Equal(new byte[] { 1, 2, 3 }, Assert.Single(decoded.Buffers));
    }

    [Fact]
    public void TamperedContentFailsTheSignatureCheck()
    {
        var frames = new JupyterWire(Key).Encode(Sample());
        frames[6] = Encoding.UTF8.GetBytes("{\"code\":\"File.Delete(\\\"x\\\")\",\"silent\":false}");
        var e = Assert.Throws<JupyterProtocolException>(() => new JupyterWire(Key).Decode(frames));
        Assert.Contains("invalid HMAC signature", e.Message);
    }

    [Fact]
    public void AMessageSignedWithAnotherKeyIsRejected()
    {
        var frames = new JupyterWire("some-other-key").Encode(Sample());
        Assert.Throws<JupyterProtocolException>(() => new JupyterWire(Key).Decode(frames));
        // ... and an unsigned one too, when the kernel has a key.
        var unsigned = new JupyterWire("").Encode(Sample());
        Assert.Equal("", Encoding.ASCII.GetString(unsigned[2]));
        Assert.Throws<JupyterProtocolException>(() => new JupyterWire(Key).Decode(unsigned));
    }

    [Fact]
    public void AReplayedMessageIsRejected()
    {
        var frames = new JupyterWire(Key).Encode(Sample());
        var kernel = new JupyterWire(Key);
        kernel.Decode(frames);
        var e = Assert.Throws<JupyterProtocolException>(() => kernel.Decode(frames));
        Assert.Contains("replayed", e.Message);
    }

    [Fact]
    public void MalformedFramesAreRejectedWithTheReason()
    {
        var wire = new JupyterWire(Key);
        var frames = wire.Encode(Sample());
        Assert.Contains("delimiter", Assert.Throws<JupyterProtocolException>(() => wire.Decode(frames.Where((_, i) => i != 1).ToList())).Message);
        Assert.Contains("frame", Assert.Throws<JupyterProtocolException>(() => wire.Decode(frames.Take(5).ToList())).Message);
        var unsignedWire = new JupyterWire("");
        var bad = unsignedWire.Encode(Sample());
        bad[3] = Encoding.UTF8.GetBytes("[1, 2]");
        Assert.Contains("header frame is not a JSON object", Assert.Throws<JupyterProtocolException>(() => unsignedWire.Decode(bad)).Message);
    }

    [Fact]
    public void OnlyHmacSha256IsAccepted()
    {
        Assert.Throws<JupyterProtocolException>(() => new JupyterWire(Key, "hmac-md5"));
    }

    [Fact]
    public void ConnectionFileErrorsNameTheField()
    {
        string path = Path.Combine(Path.GetTempPath(), $"moelab-connection-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, "{\"transport\":\"tcp\",\"ip\":\"127.0.0.1\",\"shell_port\":1,\"iopub_port\":2,\"stdin_port\":3,\"control_port\":4,\"key\":\"k\"}");
            var e = Assert.Throws<JupyterProtocolException>(() => KernelConnection.Load(path));
            Assert.Contains("hb_port", e.Message);
            Assert.Contains(path, e.Message);
            File.WriteAllText(path, "{\"transport\":\"ipc\",\"ip\":\"k\",\"shell_port\":1,\"iopub_port\":2,\"stdin_port\":3,\"control_port\":4,\"hb_port\":5}");
            Assert.Contains("transport 'ipc'", Assert.Throws<JupyterProtocolException>(() => KernelConnection.Load(path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void KernelspecGoesUnderPrefixShareJupyterKernels()
    {
        string prefix = Path.Combine(Path.GetTempPath(), $"moelab-kernelspec-{Guid.NewGuid():N}");
        try
        {
            string dir = KernelSpecInstaller.Install(user: false, prefix: prefix, assemblyPath: "/opt/moelab/MoeLab.Experiments.dll", dotnet: "/usr/bin/dotnet");
            Assert.Equal(Path.Combine(prefix, "share", "jupyter", "kernels", KernelSpecInstaller.KernelName), dir);
            Assert.Contains("moelab", KernelSpecInstaller.KernelName);
            var spec = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "kernel.json")))!;
            Assert.Equal("C#", spec["language"]!.GetValue<string>());
            Assert.Equal("message", spec["interrupt_mode"]!.GetValue<string>());
            Assert.Equal(new[] { "/usr/bin/dotnet", "/opt/moelab/MoeLab.Experiments.dll", "kernel", "run", "--connection-file", "{connection_file}" },
                spec["argv"]!.AsArray().Select(a => a!.GetValue<string>()));
            // The allocator settings of the ./moelab wrapper, and telemetry off.
            Assert.Equal("0", spec["env"]!["MALLOC_MMAP_MAX_"]!.GetValue<string>());
            Assert.Equal("1", spec["env"]!["MALLOC_ARENA_MAX"]!.GetValue<string>());
            Assert.Equal("30000", spec["env"]!["GOMP_SPINCOUNT"]!.GetValue<string>());
            Assert.Equal("1", spec["env"]!["DOTNET_CLI_TELEMETRY_OPTOUT"]!.GetValue<string>());
            // jemalloc as the wrapper, where this machine has it (the kernel runs where it is installed).
            string? jemalloc = MoelabInvocation.FindJemalloc();
            Assert.Equal(jemalloc, spec["env"]!["LD_PRELOAD"]?.GetValue<string>());
            Assert.Equal(jemalloc is null ? null : MoelabInvocation.JemallocConf, spec["env"]!["MALLOC_CONF"]?.GetValue<string>());
            var withJemalloc = KernelSpecInstaller.Spec("/usr/bin/dotnet", "/opt/m.dll", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2");
            Assert.Equal("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", withJemalloc["env"]!["LD_PRELOAD"]!.GetValue<string>());
            Assert.Equal("dirty_decay_ms:-1,muzzy_decay_ms:-1", withJemalloc["env"]!["MALLOC_CONF"]!.GetValue<string>());
            Assert.Null(KernelSpecInstaller.Spec("/usr/bin/dotnet", "/opt/m.dll")["env"]!["LD_PRELOAD"]);
            Assert.Equal(dir, KernelSpecInstaller.Uninstall(user: false, prefix: prefix));
            Assert.False(Directory.Exists(dir));
        }
        finally
        {
            if (Directory.Exists(prefix)) Directory.Delete(prefix, recursive: true);
        }
    }

    static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>The kernel over real sockets: a correctly signed kernel_info_request is answered on
    /// shell, a wrongly signed one is dropped (no reply), a shutdown_request on control ends it.</summary>
    [Fact]
    public async Task KernelAnswersSignedRequestsAndDropsBadlySignedOnes()
    {
        var connection = new KernelConnection("tcp", "127.0.0.1", FreePort(), FreePort(), FreePort(), FreePort(), FreePort(), Key, "hmac-sha256");
        string dir = Path.Combine(Path.GetTempPath(), "moelab-kernel-tests");
        using var kernel = new JupyterKernel(connection, Path.Combine(dir, "k.ipynb"), TimeSpan.FromSeconds(1), TextWriter.Null);
        var run = Task.Run(kernel.Run);
        var client = new JupyterWire(Key);
        using var shell = new DealerSocket();
        using var control = new DealerSocket();
        shell.Connect(connection.Address(connection.ShellPort));
        control.Connect(connection.Address(connection.ControlPort));

        JupyterMessage Request(string type) => JupyterMessage.Create(type, new JsonObject(), "test-session");
        void Send(DealerSocket socket, JupyterWire signer, JupyterMessage m) =>
            socket.SendMultipartMessage(new NetMQMessage(signer.Encode(m).Select(b => new NetMQFrame(b))));
        JupyterMessage? Receive(DealerSocket socket, TimeSpan timeout)
        {
            NetMQMessage? m = null;
            return socket.TryReceiveMultipartMessage(timeout, ref m) && m is not null
                ? new JupyterWire("").Decode(m.Select(f => f.ToByteArray()).ToList()) : null;
        }

        Send(shell, new JupyterWire("wrong-key"), Request("kernel_info_request"));
        Assert.Null(Receive(shell, TimeSpan.FromSeconds(2)));

        var info = Request("kernel_info_request");
        Send(shell, client, info);
        var reply = Receive(shell, TimeSpan.FromSeconds(30));
        Assert.NotNull(reply);
        Assert.Equal("kernel_info_reply", reply!.MessageType);
        Assert.Equal(info.MessageId, reply.ParentHeader["msg_id"]!.GetValue<string>());
        Assert.Equal("5.3", reply.Content["protocol_version"]!.GetValue<string>());

        Send(control, client, JupyterMessage.Create("shutdown_request", new JsonObject { ["restart"] = false }, "test-session"));
        var bye = Receive(control, TimeSpan.FromSeconds(30));
        Assert.Equal("shutdown_reply", bye!.MessageType);
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
