namespace MoeLab.Experiments.Runtime;

/// <summary>One axis of a grid: <c>key=v1,v2,v3</c>. Values are split on ';' when the text holds
/// one (for list values: <c>model.hiddenSizes=[8,8];[16]</c>), else on ','.</summary>
public sealed record GridAxis(string Key, IReadOnlyList<string> Values)
{
    public static GridAxis Parse(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1)
            throw new ConfigException($"--grid '{text}': expected key=v1,v2,..., e.g. --grid model.experts=4,8.");
        string values = text[(eq + 1)..];
        var list = (values.Contains(';') ? values.Split(';') : values.Split(','))
            .Select(v => v.Trim()).Where(v => v.Length > 0).ToList();
        if (list.Count == 0) throw new ConfigException($"--grid '{text}': no values given.");
        return new GridAxis(text[..eq].Trim(), list);
    }
}
