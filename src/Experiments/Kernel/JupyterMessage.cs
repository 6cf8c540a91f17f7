using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Kernel;

/// <summary>One Jupyter message (messaging protocol 5.3,
/// https://jupyter-client.readthedocs.io/en/stable/messaging.html): routing identities, header,
/// parent header, metadata, content and binary buffers.</summary>
public sealed class JupyterMessage
{
    public const string ProtocolVersion = "5.3";

    /// <summary>ZeroMQ routing prefix (ROUTER sockets): where a reply goes back to.</summary>
    public List<byte[]> Identities { get; init; } = new();

    public JsonObject Header { get; init; } = new();
    public JsonObject ParentHeader { get; init; } = new();
    public JsonObject Metadata { get; init; } = new();
    public JsonObject Content { get; init; } = new();
    public List<byte[]> Buffers { get; init; } = new();

    public string MessageType => (string?)Header["msg_type"] ?? "";
    public string MessageId => (string?)Header["msg_id"] ?? "";

    /// <summary>A new message of <paramref name="type"/> in <paramref name="session"/>, child of
    /// <paramref name="parent"/> (its header becomes the parent header; its identities route it back).</summary>
    public static JupyterMessage Create(string type, JsonObject content, string session, JupyterMessage? parent = null) => new()
    {
        Identities = parent?.Identities.ToList() ?? new List<byte[]>(),
        Header = NewHeader(type, session),
        ParentHeader = parent is null ? new JsonObject() : (JsonObject)parent.Header.DeepClone(),
        Content = content,
    };

    public static JsonObject NewHeader(string type, string session) => new()
    {
        ["msg_id"] = Guid.NewGuid().ToString(),
        ["session"] = session,
        ["username"] = "moelab",
        ["date"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.ffffffzzz", CultureInfo.InvariantCulture),
        ["msg_type"] = type,
        ["version"] = ProtocolVersion,
    };
}

/// <summary>A message that arrived but cannot be accepted: bad framing, bad JSON, or a signature
/// that does not match (wrong key or tampered content).</summary>
public sealed class JupyterProtocolException(string message) : Exception(message);

/// <summary>Frames messages for the wire and checks their HMAC signatures:
/// <c>[identities…, "&lt;IDS|MSG&gt;", signature, header, parent_header, metadata, content, buffers…]</c>,
/// where the signature is the lowercase hex HMAC of the four JSON frames under the connection
/// file's key (empty key: messages are not signed).</summary>
public sealed class JupyterWire
{
    public static readonly byte[] Delimiter = Encoding.ASCII.GetBytes("<IDS|MSG>");

    readonly byte[] key;
    readonly HashSet<string> seen = new(StringComparer.Ordinal);
    readonly Queue<string> seenOrder = new();
    const int ReplayWindow = 65_536;

    /// <param name="key">The connection file's <c>key</c>.</param>
    /// <param name="scheme">The connection file's <c>signature_scheme</c>; only hmac-sha256 is supported.</param>
    public JupyterWire(string key, string scheme = "hmac-sha256")
    {
        if (!string.Equals(scheme, "hmac-sha256", StringComparison.OrdinalIgnoreCase))
            throw new JupyterProtocolException($"signature_scheme '{scheme}' is not supported (expected hmac-sha256)");
        this.key = Encoding.UTF8.GetBytes(key);
    }

    /// <summary>Whether messages are signed (a non-empty key).</summary>
    public bool Signs => key.Length > 0;

    static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    static byte[] Json(JsonObject o) => Encoding.UTF8.GetBytes(o.ToJsonString(Compact));

    /// <summary>Lowercase hex HMAC-SHA256 of the four frames ("" when unsigned).</summary>
    public string Sign(byte[] header, byte[] parent, byte[] metadata, byte[] content)
    {
        if (!Signs) return "";
        using var hmac = new HMACSHA256(key);
        hmac.TransformBlock(header, 0, header.Length, null, 0);
        hmac.TransformBlock(parent, 0, parent.Length, null, 0);
        hmac.TransformBlock(metadata, 0, metadata.Length, null, 0);
        hmac.TransformFinalBlock(content, 0, content.Length);
        return Convert.ToHexStringLower(hmac.Hash!);
    }

    /// <summary>The frames of <paramref name="message"/>, signed.</summary>
    public List<byte[]> Encode(JupyterMessage message)
    {
        byte[] header = Json(message.Header), parent = Json(message.ParentHeader),
            metadata = Json(message.Metadata), content = Json(message.Content);
        var frames = new List<byte[]>(message.Identities.Count + 6 + message.Buffers.Count);
        frames.AddRange(message.Identities);
        frames.Add(Delimiter);
        frames.Add(Encoding.ASCII.GetBytes(Sign(header, parent, metadata, content)));
        frames.Add(header);
        frames.Add(parent);
        frames.Add(metadata);
        frames.Add(content);
        frames.AddRange(message.Buffers);
        return frames;
    }

    /// <summary>Parses and verifies received frames. Throws <see cref="JupyterProtocolException"/>
    /// when the delimiter or a frame is missing, a JSON frame is not an object, the signature does not
    /// match (compared in constant time), or a signature was already used (a replayed message).</summary>
    public JupyterMessage Decode(IReadOnlyList<byte[]> frames)
    {
        int delimiter = -1;
        for (int i = 0; i < frames.Count; i++)
            if (frames[i].AsSpan().SequenceEqual(Delimiter)) { delimiter = i; break; }
        if (delimiter < 0) throw new JupyterProtocolException("no <IDS|MSG> delimiter frame");
        if (frames.Count < delimiter + 6)
            throw new JupyterProtocolException($"expected signature, header, parent_header, metadata and content after the delimiter; got {frames.Count - delimiter - 1} frame(s)");
        byte[] signature = frames[delimiter + 1], header = frames[delimiter + 2], parent = frames[delimiter + 3],
            metadata = frames[delimiter + 4], content = frames[delimiter + 5];
        if (Signs)
        {
            byte[] expected = Encoding.ASCII.GetBytes(Sign(header, parent, metadata, content));
            if (!CryptographicOperations.FixedTimeEquals(expected, signature))
                throw new JupyterProtocolException("invalid HMAC signature (the message was not signed with this kernel's key)");
            string digest = Encoding.ASCII.GetString(signature);
            lock (seen)
            {
                if (!seen.Add(digest)) throw new JupyterProtocolException("duplicate signature (a replayed message)");
                seenOrder.Enqueue(digest);
                if (seenOrder.Count > ReplayWindow) seen.Remove(seenOrder.Dequeue());
            }
        }
        return new JupyterMessage
        {
            Identities = frames.Take(delimiter).ToList(),
            Header = ParseObject(header, "header"),
            ParentHeader = ParseObject(parent, "parent_header"),
            Metadata = ParseObject(metadata, "metadata"),
            Content = ParseObject(content, "content"),
            Buffers = frames.Skip(delimiter + 6).ToList(),
        };
    }

    static JsonObject ParseObject(byte[] frame, string what)
    {
        try
        {
            return JsonNode.Parse(frame) as JsonObject ?? throw new JupyterProtocolException($"the {what} frame is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new JupyterProtocolException($"the {what} frame is not valid JSON: {e.Message}");
        }
    }
}

/// <summary>A kernel connection file (written by the front end; the kernel binds these ports).</summary>
public sealed record KernelConnection(
    string Transport, string Ip, int ShellPort, int IopubPort, int StdinPort, int ControlPort, int HbPort,
    string Key, string SignatureScheme)
{
    public string Address(int port) => $"{Transport}://{Ip}:{port}";

    /// <summary>Reads a connection file; errors name the file and the field.</summary>
    public static KernelConnection Load(string path)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new JupyterProtocolException($"{path}: expected a JSON object");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new JupyterProtocolException($"{path}: cannot read the connection file: {e.Message}");
        }
        string Text(string field, string? fallback = null) =>
            (root[field] as JsonValue)?.TryGetValue(out string? s) == true ? s! :
            fallback ?? throw new JupyterProtocolException($"{path}: missing string field '{field}'");
        int Port(string field) =>
            (root[field] as JsonValue)?.TryGetValue(out int p) == true && p > 0 && p < 65536 ? p :
            throw new JupyterProtocolException($"{path}: field '{field}' must be a port number (1–65535)");
        string transport = Text("transport", "tcp");
        if (transport != "tcp")
            throw new JupyterProtocolException($"{path}: transport '{transport}' is not supported (the MoeLab kernel speaks tcp)");
        return new KernelConnection(transport, Text("ip", "127.0.0.1"), Port("shell_port"), Port("iopub_port"),
            Port("stdin_port"), Port("control_port"), Port("hb_port"), Text("key", ""), Text("signature_scheme", "hmac-sha256"));
    }
}
