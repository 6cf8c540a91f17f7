using MoeLab.Experiments.Runtime;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;

namespace MoeLab.Experiments.Plotting;

/// <summary>Export formats: PNG (at the job's scale), SVG (vector), PDF (vector: the SVG printed by
/// Chromium's <c>--print-to-pdf</c> on a page the size of the figure).</summary>
public enum ImageFormat { Png, Svg, Pdf }

/// <summary>One figure to export: its figure JSON (<c>{"data":..,"layout":..}</c>) and where to write it.</summary>
public sealed record ImageJob(string FigureJson, string OutputPath, ImageFormat Format, int Width = 900, int Height = 560, double Scale = 2);

/// <summary>What one export session did.</summary>
public sealed record ExportResult(IReadOnlyList<string> Written, TimeSpan BrowserTime, int Figures, long Bytes);

/// <summary>Thrown when no Chromium is installed (message says how to install it).</summary>
public sealed class ChromiumNotFoundException(string message) : Exception(message);

/// <summary>Exports Plotly figures to PNG/SVG with headless Chromium, many figures per browser start
/// (start-up dominates: ≈ 5 s). All figures go into one offline page (plotly.js embedded) that calls
/// <c>Plotly.toImage</c> for each; Chromium's <c>--dump-dom</c> hands the data URLs back, and each is
/// checked (PNG signature + IHDR size, SVG parses as XML with an &lt;svg&gt; root) before it is
/// written atomically.</summary>
public static class ChromiumExporter
{
    public const string InstallHint = "Chromium is needed to export PNG/SVG figures; install it with `apt-get install -y chromium` " +
                                      "(Debian/Ubuntu), or set MOELAB_CHROMIUM to a Chromium/Chrome executable.";

    /// <summary>The Chromium executable: $MOELAB_CHROMIUM, else chromium / chromium-browser /
    /// google-chrome on PATH; null when none.</summary>
    public static string? FindChromium()
    {
        string? env = Environment.GetEnvironmentVariable("MOELAB_CHROMIUM");
        if (!string.IsNullOrWhiteSpace(env)) return File.Exists(env) ? env : null;
        foreach (var name in new[] { "chromium", "chromium-browser", "google-chrome", "google-chrome-stable" })
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                string candidate = Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    /// <summary>Exports every job in one browser session. Throws <see cref="ChromiumNotFoundException"/>
    /// when Chromium is missing, and an <see cref="InvalidOperationException"/> naming the figure when a
    /// figure fails to render or an output is not a valid image.</summary>
    /// <param name="chromiumPath">Browser executable to use instead of <see cref="FindChromium"/>.</param>
    public static ExportResult Export(IReadOnlyList<ImageJob> jobs, TimeSpan? timeout = null, string? chromiumPath = null)
    {
        if (jobs.Count == 0) return new ExportResult(Array.Empty<string>(), TimeSpan.Zero, 0, 0);
        string chromium = (chromiumPath is null ? FindChromium() : File.Exists(chromiumPath) ? chromiumPath : null)
                          ?? throw new ChromiumNotFoundException(InstallHint);
        string work = Path.Combine(Path.GetTempPath(), "moelab-export-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(work);
        try
        {
            string page = Path.Combine(work, "export.html");
            File.WriteAllText(page, BuildPage(jobs));
            var clock = Stopwatch.StartNew();
            string dom = RunChromium(chromium, page, Path.Combine(work, "profile"), jobs.Count, timeout ?? TimeSpan.FromSeconds(60 + 5 * jobs.Count));
            clock.Stop();
            var written = new List<string>();
            long bytes = 0;
            var pdfs = new List<(ImageJob Job, string Svg)>();
            for (int i = 0; i < jobs.Count; i++)
            {
                var m = Regex.Match(dom, $"<pre id=\"out-{i}\">(.*?)</pre>", RegexOptions.Singleline);
                string result = m.Success ? WebUtility.HtmlDecode(m.Groups[1].Value) : "";
                if (result.StartsWith("ERROR:", StringComparison.Ordinal) || result.Length == 0)
                    throw new InvalidOperationException($"Chromium could not render figure for {jobs[i].OutputPath}: " +
                                                        (result.Length == 0 ? "no output (page did not finish; raise the timeout?)" : result));
                byte[] data = Decode(result, jobs[i]);
                if (jobs[i].Format == ImageFormat.Pdf)
                {
                    pdfs.Add((jobs[i], Encoding.UTF8.GetString(data)));
                    continue;
                }
                Validate(data, jobs[i]);
                AtomicFile.WriteAllBytes(jobs[i].OutputPath, data);
                written.Add(Path.GetFullPath(jobs[i].OutputPath));
                bytes += data.Length;
            }
            clock.Start();
            foreach (var (path, size) in PrintPdfs(chromium, work, pdfs, timeout ?? TimeSpan.FromSeconds(90)))
            {
                written.Add(path);
                bytes += size;
            }
            clock.Stop();
            return new ExportResult(written, clock.Elapsed, jobs.Count, bytes);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static string BuildPage(IReadOnlyList<ImageJob> jobs)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/>").Append(PlotlyAssets.ScriptTag).Append("</head><body>\n");
        for (int i = 0; i < jobs.Count; i++) sb.Append($"<pre id=\"out-{i}\"></pre>\n");
        sb.Append("<script type=\"text/javascript\">\nvar jobs=[");
        for (int i = 0; i < jobs.Count; i++)
        {
            var j = jobs[i];
            if (i > 0) sb.Append(',');
            sb.Append("{fig:").Append(ChartPage.EscapeForScript(j.FigureJson))
              .Append($",format:'{(j.Format == ImageFormat.Png ? "png" : "svg")}',width:{j.Width},height:{j.Height},scale:{j.Scale.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}");
        }
        sb.Append("];\n(async function(){for(var i=0;i<jobs.length;i++){var j=jobs[i];var out=document.getElementById('out-'+i);" +
                  "try{var lay=Object.assign({},j.fig.layout||{});var url=await Plotly.toImage({data:j.fig.data||[],layout:lay},{format:j.format,width:j.width,height:j.height,scale:j.format==='png'?j.scale:1});" +
                  "out.textContent=url;}catch(e){out.textContent='ERROR:'+(e&&e.message?e.message:String(e));}}" +
                  "document.body.setAttribute('data-done','1');})();\n</script></body></html>\n");
        return sb.ToString();
    }

    /// <summary>At most this many Chromium processes print PDFs at once (each mostly waits on start-up).</summary>
    public const int ParallelPdfPrints = 4;

    /// <summary>Prints each SVG to a one-page PDF the size of the figure: one headless Chromium per figure
    /// (<c>--print-to-pdf</c>, no header or footer), up to <see cref="ParallelPdfPrints"/> at a time.
    /// Each output must start with "%PDF-".</summary>
    static IReadOnlyList<(string Path, long Bytes)> PrintPdfs(string chromium, string work, IReadOnlyList<(ImageJob Job, string Svg)> pdfs, TimeSpan timeout)
    {
        var results = new (string Path, long Bytes)[pdfs.Count];
        var errors = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, pdfs.Count, new ParallelOptions { MaxDegreeOfParallelism = ParallelPdfPrints }, i =>
        {
            var (job, svg) = pdfs[i];
            string dir = Path.Combine(work, "pdf-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Directory.CreateDirectory(dir);
            string page = Path.Combine(dir, "page.html"), pdf = Path.Combine(dir, "figure.pdf");
            int svgStart = svg.IndexOf("<svg", StringComparison.Ordinal);
            File.WriteAllText(page, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"/><style>" +
                $"@page{{size:{job.Width}px {job.Height}px;margin:0}}html,body{{margin:0;padding:0;overflow:hidden}}svg{{display:block}}" +
                "</style></head><body>" + (svgStart >= 0 ? svg[svgStart..] : svg) + "</body></html>");
            var psi = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[]
                     {
                         "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--mute-audio", "--user-data-dir=" + Path.Combine(dir, "profile"),
                         "--no-pdf-header-footer", "--print-to-pdf=" + pdf, new Uri(page).AbsoluteUri,
                     })
                psi.ArgumentList.Add(a);
            using var process = Process.Start(psi);
            if (process is null) { errors.Add($"{job.OutputPath}: could not start {chromium}"); return; }
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                errors.Add($"{job.OutputPath}: Chromium did not print the PDF within {timeout.TotalSeconds:F0} s");
                return;
            }
            process.WaitForExit();
            byte[] data = File.Exists(pdf) ? File.ReadAllBytes(pdf) : Array.Empty<byte>();
            if (data.Length < 5 || Encoding.ASCII.GetString(data, 0, 5) != "%PDF-")
            {
                string err = stderr.GetAwaiter().GetResult();
                errors.Add($"{job.OutputPath}: Chromium printed no PDF (exit code {process.ExitCode}): {(err.Length > 500 ? err[^500..] : err)}");
                return;
            }
            AtomicFile.WriteAllBytes(job.OutputPath, data);
            results[i] = (Path.GetFullPath(job.OutputPath), data.Length);
        });
        if (!errors.IsEmpty) throw new InvalidOperationException(string.Join("\n", errors));
        return results;
    }

    static string RunChromium(string chromium, string page, string profile, int figures, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(chromium)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
                 {
                     "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                     "--disable-dev-shm-usage", "--mute-audio", "--user-data-dir=" + profile,
                     // Virtual time runs the page's timers/promises to completion before the DOM is dumped.
                     "--virtual-time-budget=" + (30000 + 5000 * figures), "--dump-dom", new Uri(page).AbsoluteUri,
                 })
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {chromium}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"Chromium did not finish exporting {figures} figure(s) within {timeout.TotalSeconds:F0} s");
        }
        process.WaitForExit();
        string dom = stdout.GetAwaiter().GetResult();
        if (process.ExitCode != 0 || !dom.Contains("data-done=\"1\"", StringComparison.Ordinal))
        {
            string err = stderr.GetAwaiter().GetResult();
            string tail = err.Length > 2000 ? err[^2000..] : err;
            throw new InvalidOperationException($"Chromium export failed (exit code {process.ExitCode}, page finished: {dom.Contains("data-done=\"1\"", StringComparison.Ordinal)}). stderr:\n{tail}");
        }
        return dom;
    }

    static byte[] Decode(string dataUrl, ImageJob job)
    {
        int comma = dataUrl.IndexOf(',');
        if (!dataUrl.StartsWith("data:", StringComparison.Ordinal) || comma < 0)
            throw new InvalidOperationException($"{job.OutputPath}: Plotly returned no data URL: {dataUrl[..Math.Min(80, dataUrl.Length)]}");
        string meta = dataUrl[..comma], payload = dataUrl[(comma + 1)..];
        return meta.EndsWith(";base64", StringComparison.Ordinal) ? Convert.FromBase64String(payload) : Encoding.UTF8.GetBytes(Uri.UnescapeDataString(payload));
    }

    /// <summary>Checks an exported image: PNG signature and IHDR size, or SVG that parses as XML with
    /// an &lt;svg&gt; root. Throws naming the file.</summary>
    public static void Validate(byte[] data, ImageJob job)
    {
        if (job.Format == ImageFormat.Png)
        {
            var (w, h) = PngSize(data) ?? throw new InvalidOperationException($"{job.OutputPath}: not a PNG (bad signature or IHDR)");
            int ew = (int)Math.Round(job.Width * job.Scale), eh = (int)Math.Round(job.Height * job.Scale);
            if (w != ew || h != eh) throw new InvalidOperationException($"{job.OutputPath}: PNG is {w}×{h}, expected {ew}×{eh}");
        }
        else if (!IsSvg(data, out string why)) throw new InvalidOperationException($"{job.OutputPath}: not a valid SVG: {why}");
    }

    /// <summary>Width and height from a PNG's IHDR chunk, or null if the bytes are not a PNG.</summary>
    public static (int Width, int Height)? PngSize(ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<byte> signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        if (data.Length < 24 || !data[..8].SequenceEqual(signature)) return null;
        if (data[12] != 'I' || data[13] != 'H' || data[14] != 'D' || data[15] != 'R') return null;
        int w = (data[16] << 24) | (data[17] << 16) | (data[18] << 8) | data[19];
        int h = (data[20] << 24) | (data[21] << 16) | (data[22] << 8) | data[23];
        return w > 0 && h > 0 ? (w, h) : null;
    }

    public static bool IsSvg(byte[] data, out string why)
    {
        try
        {
            var doc = new XmlDocument { XmlResolver = null };
            using var reader = XmlReader.Create(new MemoryStream(data), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore });
            doc.Load(reader);
            if (doc.DocumentElement?.LocalName != "svg") { why = $"root element is <{doc.DocumentElement?.Name}>"; return false; }
            why = "";
            return true;
        }
        catch (XmlException e)
        {
            why = e.Message;
            return false;
        }
    }
}
