using System.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace MoeLab.Experiments.Notebooks;

/// <summary>How a cell ended.</summary>
public enum CellStatus
{
    /// <summary>Ran to the end.</summary>
    Completed,

    /// <summary>Threw (compile error, exception, or it stopped after a cancellation request).</summary>
    Failed,

    /// <summary>Was asked to stop (interrupt or time limit) and did not within the grace period; it
    /// keeps running in the background, detached: its further outputs are dropped and the session
    /// continues from the state before it.</summary>
    Abandoned,
}

/// <summary>The outcome of one cell: status, the trailing expression's value (when it has one),
/// the exception of a failed cell, and the wall time.</summary>
public sealed record CellResult(CellStatus Status, object? ReturnValue, Exception? Error, TimeSpan Elapsed)
{
    // A trailing display(x) without a semicolon shows x once, not also its handle.
    public bool HasReturnValue => Status == CellStatus.Completed && ReturnValue is not null and not DisplayHandle;
}

/// <summary>Limits of one cell run.</summary>
public sealed record CellLimits
{
    /// <summary>Wall-time limit (compilation included); null: none.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>After a cancellation request (interrupt, time limit), how long the cell has to stop
    /// before it is abandoned.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Called every <see cref="ProgressInterval"/> while the cell runs, with the elapsed time.</summary>
    public Action<TimeSpan>? Progress { get; init; }

    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>One C# notebook session: the cell-execution engine shared by the headless runner
/// (<see cref="NotebookRunner"/>) and MoeLab's Jupyter kernel. Cells run in order in one Roslyn
/// script session (state flows from cell to cell); <c>display()</c>, console output and the
/// formatters go to the running cell's <see cref="CellOutputs"/>; a cell is cancelled cooperatively
/// through the global <c>CancellationToken</c>, and one that ignores it is abandoned, never waited on
/// for ever. Also answers the editor questions a kernel is asked: completion, inspection and
/// whether a piece of code is a complete submission.</summary>
public sealed class NotebookSession
{
    static readonly HashSet<string> OtherKernels = new(StringComparer.OrdinalIgnoreCase)
    {
        "fsharp", "f#", "fs", "pwsh", "powershell", "javascript", "js", "html", "sql", "kql", "mermaid",
        "markdown", "md", "http", "python", "value",
    };

    readonly NotebookGlobals globals;
    readonly ScriptOptions scriptOptions;
    readonly string notebookPath;
    readonly string name;
    ScriptState<object>? state;
    int submissions;

    /// <param name="notebookPath">The notebook (it need not exist): anchors relative <c>#r</c> paths and
    /// names cells in diagnostics (<c>name.ipynb[cell 3]</c>).</param>
    /// <param name="onlyNotebookReferences">Reference only the framework plus the cells' own <c>#r</c>
    /// files, as a notebook front end does, instead of MoeLab and all its dependencies.</param>
    public NotebookSession(string notebookPath, bool onlyNotebookReferences = false)
    {
        NotebookFormatters.Register();
        ConsoleRouter.Install();
        this.notebookPath = Path.GetFullPath(notebookPath);
        name = Path.GetFileName(this.notebookPath);
        References = onlyNotebookReferences ? ScriptReferences.FrameworkOnly : ScriptReferences.Default;
        globals = new NotebookGlobals { NotebookPath = this.notebookPath };
        scriptOptions = ScriptOptions.Default
            .WithReferences(References.MetadataReferences)
            .WithImports(onlyNotebookReferences ? ScriptReferences.FrontEndImports : ScriptReferences.DefaultImports)
            .WithMetadataResolver(ScriptMetadataResolver.Default.WithBaseDirectory(Path.GetDirectoryName(this.notebookPath)!))
            .WithEmitDebugInformation(true)
            .WithFileEncoding(System.Text.Encoding.UTF8)
            .WithOptimizationLevel(OptimizationLevel.Release)
            .WithAllowUnsafe(true);
    }

    public ScriptReferences References { get; }

    /// <summary>Notes about a cell's preparation (<c>#r</c> substitutions, ignored magic lines).</summary>
    public Action<string>? Notes { get; set; }

    /// <summary>Runs <paramref name="source"/> as the next cell. Outputs go to <paramref name="outputs"/>
    /// while it runs (the trailing value is in the result, not rendered). Cancelling
    /// <paramref name="cancellationToken"/> (an interrupt) cancels the cell's token; so does the time
    /// limit. A failed or abandoned cell leaves the session state as it was before it.</summary>
    /// <param name="cellNumber">Names the cell in diagnostics (<c>name[cell N]</c>); default: how many cells this session has been given.</param>
    /// <param name="displayed">Hears each <c>display()</c> output and display update as it happens
    /// (a kernel publishes them live; the outputs are in <paramref name="outputs"/> as well).</param>
    public async Task<CellResult> ExecuteAsync(string source, CellOutputs outputs, CellLimits? limits = null,
        string? kernelName = null, Action<DisplayEvent>? displayed = null, int? cellNumber = null, CancellationToken cancellationToken = default)
    {
        limits ??= new CellLimits();
        var watch = Stopwatch.StartNew();
        submissions++;
        int number = cellNumber ?? submissions;
        using var cellCancel = new CancellationTokenSource();
        string code;
        try
        {
            code = Prepare(source, kernelName, notebookPath, References, Notes);
        }
        catch (Exception e) when (e is NotSupportedException or NotebookReferenceException)
        {
            return new CellResult(CellStatus.Failed, null, e, watch.Elapsed);
        }
        var cellOptions = scriptOptions.WithFilePath($"{name}[cell {number}]");
        var previous = state;
        var context = new CellContext(outputs, cellCancel.Token, displayed);
        var task = Task.Run(async () =>
        {
            ConsoleRouter.Capture(outputs);
            NotebookGlobals.Enter(context);
            try
            {
                return previous is null
                    ? await CSharpScript.RunAsync(code, cellOptions, globals, typeof(NotebookGlobals), cellCancel.Token).ConfigureAwait(false)
                    : await previous.ContinueWithAsync(code, cellOptions, cellCancel.Token).ConfigureAwait(false);
            }
            finally
            {
                NotebookGlobals.Enter(null);
                ConsoleRouter.Capture(null);
            }
        }, CancellationToken.None);

        Exception? stopReason = null;
        while (!task.IsCompleted && stopReason is null)
        {
            var wait = limits.ProgressInterval;
            if (limits.Timeout is { } timeout)
            {
                var remaining = timeout - watch.Elapsed;
                if (remaining <= TimeSpan.Zero)
                {
                    stopReason = new TimeoutException($"cell ran longer than its time limit of {timeout.TotalSeconds:F0} s");
                    break;
                }
                if (remaining < wait) wait = remaining;
            }
            try
            {
                await task.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException) { }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                stopReason = new OperationCanceledException("the cell was interrupted");
                break;
            }
            catch (Exception) when (task.IsCompleted) { } // the cell's own failure, read below
            if (!task.IsCompleted) limits.Progress?.Invoke(watch.Elapsed);
        }

        if (stopReason is not null && !task.IsCompleted)
        {
            cellCancel.Cancel();
            try { await task.WaitAsync(limits.Grace).ConfigureAwait(false); }
            catch (TimeoutException) { }
            catch (Exception) when (task.IsCompleted) { }
            if (!task.IsCompleted)
            {
                context.Detach();
                return new CellResult(CellStatus.Abandoned, null,
                    new CellAbandonedException(stopReason, limits.Grace), watch.Elapsed);
            }
        }

        if (task.IsCompletedSuccessfully)
        {
            context.Detach();
            state = task.Result;
            if (stopReason is TimeoutException) // finished in the grace period, but past its limit
                return new CellResult(CellStatus.Failed, null, stopReason, watch.Elapsed);
            return new CellResult(CellStatus.Completed, state.ReturnValue, null, watch.Elapsed);
        }
        context.Detach();
        var error = task.Exception?.InnerExceptions.Count == 1 ? task.Exception.InnerException! : (Exception?)task.Exception
            ?? new OperationCanceledException("the cell was cancelled");
        if (error is OperationCanceledException && stopReason is not null) error = stopReason;
        return new CellResult(CellStatus.Failed, null, error, watch.Elapsed);
    }

    /// <summary>The code Roslyn runs for a cell: Polyglot magic lines (<c>#!csharp</c>, ...) removed,
    /// <c>#r</c> lines resolved. A cell meant for another kernel is an error.</summary>
    internal static string Prepare(string source, string? kernel, string notebookPath, ScriptReferences references, Action<string>? notes)
    {
        if (kernel is not null && OtherKernels.Contains(kernel))
            throw new NotSupportedException($"this cell is for the '{kernel}' kernel; MoeLab executes C# cells only");
        var lines = source.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string t = lines[i].TrimStart();
            if (!t.StartsWith("#!", StringComparison.Ordinal)) continue;
            string magic = t[2..].Split(' ', 2)[0];
            if (OtherKernels.Contains(magic))
                throw new NotSupportedException($"line {i + 1}: '#!{magic}' switches to another kernel; MoeLab executes C# cells only");
            if (magic is not ("csharp" or "c#" or "cs"))
                notes?.Invoke($"line {i + 1}: ignoring Polyglot magic command '{t}'");
            lines[i] = "";
        }
        return references.ResolveReferences(string.Join("\n", lines), Path.GetDirectoryName(notebookPath)!, notes);
    }

    /// <summary>A Jupyter error output: exception type, message, and the stack without the engine's
    /// own frames (compile errors: one line per diagnostic).</summary>
    public static NotebookOutput ErrorOutput(Exception e)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } agg) e = agg.InnerException!;
        if (e is CompilationErrorException ce)
        {
            var diagnostics = ce.Diagnostics.Select(d => d.ToString()).ToList();
            return NotebookOutput.CreateError(nameof(CompilationErrorException), string.Join("\n", diagnostics), diagnostics);
        }
        if (e is CellAbandonedException or NotSupportedException or NotebookReferenceException)
            return NotebookOutput.CreateError(e.GetType().Name, e.Message, new[] { $"{e.GetType().Name}: {e.Message}" });
        var traceback = new List<string>();
        foreach (var line in e.ToString().Split('\n'))
        {
            string l = line.TrimEnd('\r');
            string t = l.TrimStart();
            if (t.StartsWith("at Microsoft.CodeAnalysis.Scripting", StringComparison.Ordinal) ||
                t.StartsWith("at MoeLab.Experiments.Notebooks.NotebookSession", StringComparison.Ordinal) ||
                t.StartsWith("at MoeLab.Experiments.Notebooks.NotebookRunner", StringComparison.Ordinal)) break;
            traceback.Add(l);
        }
        return NotebookOutput.CreateError(e.GetType().Name, e.Message, traceback);
    }

    // ---- editor services: completion, inspection, completeness ----

    /// <summary>A compilation of <paramref name="code"/> as the next submission (not run).</summary>
    SemanticModel Analyze(string code, out SyntaxTree tree)
    {
        var script = state is null
            ? CSharpScript.Create(code, scriptOptions, typeof(NotebookGlobals))
            : state.Script.ContinueWith(code, scriptOptions);
        var compilation = script.GetCompilation();
        tree = compilation.SyntaxTrees.Last();
        return compilation.GetSemanticModel(tree);
    }

    /// <summary>Completions for the identifier ending at <paramref name="cursor"/>: names in scope, or
    /// members after <c>expr.</c>. Returns the start and end of the text they replace.</summary>
    public (IReadOnlyList<string> Matches, int Start, int End) Complete(string code, int cursor)
    {
        cursor = Math.Clamp(cursor, 0, code.Length);
        int start = cursor;
        while (start > 0 && (char.IsLetterOrDigit(code[start - 1]) || code[start - 1] == '_')) start--;
        string prefix = code[start..cursor];
        var model = Analyze(code, out var tree);
        var root = tree.GetRoot();
        IEnumerable<ISymbol> symbols;
        int before = start - 1;
        while (before >= 0 && char.IsWhiteSpace(code[before])) before--;
        if (before >= 0 && code[before] == '.')
        {
            var dot = root.FindToken(before);
            if (dot.Parent is Microsoft.CodeAnalysis.CSharp.Syntax.MemberAccessExpressionSyntax access)
            {
                var left = access.Expression;
                var leftSymbol = model.GetSymbolInfo(left).Symbol;
                if (leftSymbol is INamespaceOrTypeSymbol container)
                    symbols = model.LookupStaticMembers(start, container).Concat(container is INamespaceSymbol ns ? ns.GetMembers() : Enumerable.Empty<ISymbol>());
                else if (model.GetTypeInfo(left).Type is { } type)
                    symbols = model.LookupSymbols(start, type, includeReducedExtensionMethods: true).Where(s => !s.IsStatic || s is IMethodSymbol { ReducedFrom: not null });
                else symbols = Enumerable.Empty<ISymbol>();
            }
            else symbols = Enumerable.Empty<ISymbol>();
        }
        else
        {
            symbols = model.LookupSymbols(start);
        }
        var names = symbols
            .Where(s => s.CanBeReferencedByName && !s.IsImplicitlyDeclared)
            .Select(s => s.Name)
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal));
        if (before < 0 || code[before] != '.')
            names = names.Concat(Keywords.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)));
        var matches = names.Distinct(StringComparer.Ordinal).OrderBy(n => n, StringComparer.Ordinal).ToList();
        return (matches, start, cursor);
    }

    static readonly string[] Keywords =
    {
        "abstract", "as", "async", "await", "bool", "break", "byte", "case", "catch", "char", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "false", "finally", "float", "for", "foreach",
        "if", "in", "int", "interface", "is", "long", "new", "null", "object", "out", "override", "private", "public",
        "readonly", "record", "ref", "return", "static", "string", "struct", "switch", "this", "throw", "true", "try",
        "typeof", "using", "var", "void", "while",
    };

    /// <summary>What the symbol at <paramref name="cursor"/> is: its kind and C# signature (every
    /// overload for a method group), or null when there is none.</summary>
    public string? Inspect(string code, int cursor)
    {
        cursor = Math.Clamp(cursor, 0, code.Length);
        var model = Analyze(code, out var tree);
        var root = tree.GetRoot();
        int at = cursor > 0 && (cursor == code.Length || !(char.IsLetterOrDigit(code[cursor]) || code[cursor] == '_')) ? cursor - 1 : cursor;
        var token = root.FindToken(Math.Max(0, at));
        for (var node = token.Parent; node is not null; node = node.Parent)
        {
            var info = model.GetSymbolInfo(node);
            var candidates = info.Symbol is not null ? new[] { info.Symbol } : info.CandidateSymbols.ToArray();
            if (candidates.Length == 0)
            {
                if (model.GetDeclaredSymbol(node) is { } declared) candidates = new[] { declared };
                else if (node is Microsoft.CodeAnalysis.CSharp.Syntax.ExpressionSyntax && model.GetTypeInfo(node).Type is { TypeKind: not TypeKind.Error } t)
                    candidates = new ISymbol[] { t };
            }
            if (candidates.Length == 0) continue;
            var format = SymbolDisplayFormat.CSharpErrorMessageFormat;
            var lines = candidates.Select(s => $"{Kind(s)} {Signature(s, format)}").ToList();
            if (candidates[0] is IMethodSymbol m && info.Symbol is null && m.ContainingType is { } owner)
                lines = owner.GetMembers(m.Name).Select(s => $"{Kind(s)} {Signature(s, format)}").ToList();
            return string.Join("\n", lines.Distinct());
        }
        return null;
    }

    /// <summary>A symbol as C# declares it: with its type (variables, properties) or return type (methods).</summary>
    static string Signature(ISymbol s, SymbolDisplayFormat format) => s switch
    {
        IFieldSymbol { ContainingType.IsScriptClass: true } f => $"{f.Type.ToDisplayString(format)} {f.Name}",
        IFieldSymbol f => $"{f.Type.ToDisplayString(format)} {f.ToDisplayString(format)}",
        ILocalSymbol l => $"{l.Type.ToDisplayString(format)} {l.Name}",
        IParameterSymbol p => $"{p.Type.ToDisplayString(format)} {p.Name}",
        IPropertySymbol p => $"{p.Type.ToDisplayString(format)} {p.ToDisplayString(format)}",
        IMethodSymbol { MethodKind: MethodKind.Constructor } m => m.ToDisplayString(format),
        IMethodSymbol m => $"{m.ReturnType.ToDisplayString(format)} {m.ToDisplayString(format)}",
        _ => s.ToDisplayString(format),
    };

    static string Kind(ISymbol s) => s switch
    {
        ILocalSymbol => "(local variable)",
        IFieldSymbol { ContainingType.IsScriptClass: true } => "(variable)",
        IFieldSymbol => "(field)",
        IPropertySymbol => "(property)",
        IMethodSymbol { MethodKind: MethodKind.Constructor } => "(constructor)",
        IMethodSymbol => "(method)",
        INamedTypeSymbol t => $"({t.TypeKind.ToString().ToLowerInvariant()})",
        INamespaceSymbol => "(namespace)",
        IParameterSymbol => "(parameter)",
        _ => $"({s.Kind.ToString().ToLowerInvariant()})",
    };

    /// <summary>Jupyter's is_complete: "complete" (a submission that parses), "incomplete" (more
    /// input could complete it: an open brace, string or statement), or "invalid" (it cannot parse).</summary>
    public static string IsComplete(string code)
    {
        var options = new CSharpParseOptions(kind: SourceCodeKind.Script);
        var tree = CSharpSyntaxTree.ParseText(code, options);
        var errors = tree.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (SyntaxFactory.IsCompleteSubmission(tree)) return errors.Count > 0 ? "invalid" : "complete";
        // Not complete: more input can complete it unless a bracket already closes one it does not
        // match (strings and comments are lexed, so brackets inside them do not count).
        var open = new Stack<SyntaxKind>();
        foreach (var token in SyntaxFactory.ParseTokens(code))
        {
            switch (token.Kind())
            {
                case SyntaxKind.OpenParenToken: open.Push(SyntaxKind.CloseParenToken); break;
                case SyntaxKind.OpenBracketToken: open.Push(SyntaxKind.CloseBracketToken); break;
                case SyntaxKind.OpenBraceToken: open.Push(SyntaxKind.CloseBraceToken); break;
                case SyntaxKind.CloseParenToken or SyntaxKind.CloseBracketToken or SyntaxKind.CloseBraceToken:
                    if (open.Count == 0 || open.Pop() != token.Kind()) return "invalid";
                    break;
            }
        }
        return "incomplete";
    }
}

/// <summary>What the globals of a running cell point at: its outputs and cancellation token.</summary>
internal sealed class CellContext(CellOutputs outputs, CancellationToken token, Action<DisplayEvent>? displayed)
{
    volatile bool detached;

    public CellOutputs Outputs => outputs;
    public CancellationToken Token => token;
    public Action<DisplayEvent>? Displayed => displayed;

    /// <summary>Set once the session has stopped listening to the cell (it ended or was abandoned).</summary>
    public bool Detached => detached;

    public void Detach() => detached = true;
}

/// <summary>A cell that was asked to stop (interrupt or time limit) and kept running past the grace
/// period; it runs on, detached from the session.</summary>
public sealed class CellAbandonedException(Exception reason, TimeSpan grace) : Exception(
    $"{reason.Message}; the cell did not stop within {grace.TotalSeconds:0.#} s of being cancelled (it does not check " +
    "the global CancellationToken), so it was left running in the background, detached: its further output is discarded " +
    "and the session continues from the state before this cell", reason);
