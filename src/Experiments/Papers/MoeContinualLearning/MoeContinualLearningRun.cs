namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>Runs one arm of one repetition end to end.</summary>
public static class MoeContinualLearningRun
{
    /// <param name="pool">The repetition's task pool.</param>
    /// <param name="dataRng">Task sequence and features (same seed for every arm of a repetition).</param>
    /// <param name="noiseRng">Routing noise.</param>
    public static SimulationResult Simulate(TaskPool pool, GatingConfig gating, int experts, int rounds,
        Random dataRng, Random noiseRng, CancellationToken cancellation = default)
    {
        var stream = new TaskStream(pool, dataRng);
        var sim = new MoeContinualLearningSimulator(pool, gating, experts, noiseRng);
        var f = new double[rounds]; var g = new double[rounds];
        var tasks = new int[rounds]; var routed = new int[rounds];
        for (int t = 0; t < rounds; t++)
        {
            if ((t & 255) == 0) cancellation.ThrowIfCancellationRequested();
            var rec = sim.Step(stream.Next());
            f[t] = rec.Forgetting; g[t] = rec.Generalisation; tasks[t] = rec.Task; routed[t] = rec.Expert;
        }
        return new SimulationResult(experts, f, g, tasks, routed, sim.Assignment, sim.Load.ToArray(), sim.TerminationRound,
            sim.Flags.Count(f => f),
            sim.ExpertModels.Select(w => (double[])w.Clone()).ToArray(),
            sim.GateParameters.Select(w => (double[])w.Clone()).ToArray());
    }
}
