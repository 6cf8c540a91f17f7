namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>Binary form of a repetition's results (all arms), for the experiment's checkpoint: one
/// entry per completed (study, repetition). Doubles are stored as their exact bits, so a resumed run
/// aggregates the very same numbers as an uninterrupted one.</summary>
public static class SimulationResultCodec
{
    private const int Version = 1;

    public static void Write(string path, IReadOnlyList<SimulationResult> arms)
    {
        using var w = new BinaryWriter(File.Create(path));
        w.Write(Version);
        w.Write(arms.Count);
        foreach (var r in arms)
        {
            w.Write(r.Experts);
            WriteArray(w, r.Forgetting);
            WriteArray(w, r.Generalisation);
            WriteArray(w, r.TaskOfRound);
            WriteArray(w, r.ExpertOfRound);
            int rows = r.Assignment.GetLength(0), cols = r.Assignment.GetLength(1);
            w.Write(rows);
            w.Write(cols);
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) w.Write(r.Assignment[i, j]);
            WriteArray(w, r.Load);
            w.Write(r.TerminationRound ?? -1);
            w.Write(r.FlaggedAtEnd);
            WriteJagged(w, r.FinalExperts);
            WriteJagged(w, r.FinalGate);
        }
    }

    public static List<SimulationResult> Read(string path)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        int version = r.ReadInt32();
        if (version != Version) throw new InvalidDataException($"{path}: checkpoint format {version}, expected {Version}.");
        int n = r.ReadInt32();
        var list = new List<SimulationResult>(n);
        for (int k = 0; k < n; k++)
        {
            int experts = r.ReadInt32();
            var f = ReadDoubles(r);
            var g = ReadDoubles(r);
            var tasks = ReadInts(r);
            var routed = ReadInts(r);
            int rows = r.ReadInt32(), cols = r.ReadInt32();
            var assignment = new long[rows, cols];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) assignment[i, j] = r.ReadInt64();
            var load = ReadLongs(r);
            int term = r.ReadInt32();
            int flagged = r.ReadInt32();
            list.Add(new SimulationResult(experts, f, g, tasks, routed, assignment, load, term < 0 ? null : term, flagged,
                ReadJagged(r), ReadJagged(r)));
        }
        return list;
    }

    private static void WriteArray(BinaryWriter w, double[] a) { w.Write(a.Length); foreach (double v in a) w.Write(v); }
    private static void WriteArray(BinaryWriter w, int[] a) { w.Write(a.Length); foreach (int v in a) w.Write(v); }
    private static void WriteArray(BinaryWriter w, long[] a) { w.Write(a.Length); foreach (long v in a) w.Write(v); }

    private static void WriteJagged(BinaryWriter w, double[][] a)
    {
        w.Write(a.Length);
        foreach (var row in a) WriteArray(w, row);
    }

    private static double[] ReadDoubles(BinaryReader r) => Enumerable.Range(0, r.ReadInt32()).Select(_ => r.ReadDouble()).ToArray();
    private static int[] ReadInts(BinaryReader r) => Enumerable.Range(0, r.ReadInt32()).Select(_ => r.ReadInt32()).ToArray();
    private static long[] ReadLongs(BinaryReader r) => Enumerable.Range(0, r.ReadInt32()).Select(_ => r.ReadInt64()).ToArray();
    private static double[][] ReadJagged(BinaryReader r) => Enumerable.Range(0, r.ReadInt32()).Select(_ => ReadDoubles(r)).ToArray();
}
