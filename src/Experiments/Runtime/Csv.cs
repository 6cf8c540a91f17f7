using System.Globalization;
using System.Text;

namespace MoeLab.Experiments.Runtime;

/// <summary>Minimal RFC 4180 CSV reader/writer that remembers whether a field was quoted (so an
/// empty quoted field is an empty string and an empty unquoted field is missing).</summary>
public static class Csv
{
    public readonly record struct Field(string Text, bool Quoted)
    {
        public bool IsMissing => !Quoted && Text.Length == 0;
    }

    public static string Quote(string s, bool forceQuoteEmpty)
    {
        bool needs = s.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 || (forceQuoteEmpty && s.Length == 0)
                     || (s.Length > 0 && (char.IsWhiteSpace(s[0]) || char.IsWhiteSpace(s[^1])));
        return needs ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
    }

    /// <summary>Parses CSV text into rows of fields; errors (<see cref="DataFileException"/>) name
    /// <paramref name="source"/> and the line.</summary>
    public static List<List<Field>> Parse(string text, string source) => Parse(text, source, null);

    /// <summary>As <see cref="Parse(string, string)"/>; <paramref name="rowLines"/>, when given,
    /// receives the 1-based line on which each returned row starts (blank lines are skipped and
    /// quoted fields may span lines, so row index and line differ).</summary>
    public static List<List<Field>> Parse(string text, string source, List<int>? rowLines)
    {
        var rows = new List<List<Field>>();
        var row = new List<Field>();
        var field = new StringBuilder();
        bool quoted = false, inQuotes = false, any = false;
        int line = 1, rowStart = 1, quoteStart = 1;
        int i = 0;
        if (text.Length > 0 && text[0] == '\uFEFF') i = 1;
        for (; i < text.Length; i++)
        {
            char ch = text[i];
            if (inQuotes)
            {
                if (ch == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                    else inQuotes = false;
                }
                else
                {
                    if (ch == '\n') line++;
                    field.Append(ch);
                }
                continue;
            }
            switch (ch)
            {
                case '"':
                    if (field.Length > 0 || quoted) throw new DataFileException(source, line, "unexpected quote inside a field");
                    inQuotes = true; quoted = true; any = true; quoteStart = line;
                    break;
                case ',':
                    row.Add(new Field(field.ToString(), quoted)); field.Clear(); quoted = false; any = true;
                    break;
                case '\r':
                    break;
                case '\n':
                    if (any || field.Length > 0 || row.Count > 0) { row.Add(new Field(field.ToString(), quoted)); rows.Add(row); rowLines?.Add(rowStart); }
                    row = new List<Field>(); field.Clear(); quoted = false; any = false; line++; rowStart = line;
                    break;
                default:
                    if (quoted) throw new DataFileException(source, line, "text after a closing quote");
                    field.Append(ch); any = true;
                    break;
            }
        }
        if (inQuotes) throw new DataFileException(source, quoteStart, "unterminated quoted field (the file ends inside it)");
        if (any || field.Length > 0 || row.Count > 0) { row.Add(new Field(field.ToString(), quoted)); rows.Add(row); rowLines?.Add(rowStart); }
        return rows;
    }
}
