using MoeLab.Metrics.ScalingLaws;

namespace MoeLab.Metrics.Fitting;

/// <summary>A fitted L(C) = α·C^−β with bootstrap uncertainty (null when not asked for).</summary>
public sealed record PowerLawFit(double Alpha, double Beta, double Objective, int Points, BootstrapSummary? Uncertainty)
{
    public PowerLaw Law => LeverageFromLosses.LossLaw(Alpha, Beta);

    /// <summary>Bootstrap standard error of α (NaN without a bootstrap).</summary>
    public double AlphaError => Uncertainty?.StandardErrors[0] ?? double.NaN;
    public double BetaError => Uncertainty?.StandardErrors[1] ?? double.NaN;
}

/// <summary>One measured point of the efficiency-leverage surface.</summary>
public readonly record struct LeveragePoint(double ActivationRatio, double Granularity, double Compute, double Leverage);

/// <summary>A fitted unified law with bootstrap uncertainty per coefficient (0 for fixed coefficients).</summary>
public sealed record LeverageLawFit(EfficiencyLeverageLaw Law, double Objective, int Points, IReadOnlyList<string> Free, BootstrapSummary? Uncertainty)
{
    /// <summary>Bootstrap standard error of a coefficient by name (<see cref="EfficiencyLeverageLaw.CoefficientNames"/>);
    /// NaN for a fixed one or without a bootstrap.</summary>
    public double Error(string name)
    {
        int i = Free.ToList().IndexOf(name);
        return i < 0 || Uncertainty is null ? double.NaN : Uncertainty.StandardErrors[i];
    }
}

/// <summary>The fits of the efficiency-leverage reproduction: Huber loss + BFGS (<see cref="HuberBfgs"/>),
/// uncertainty by a bootstrap over points (not the inverse Hessian: the Huber objective is only
/// piecewise twice differentiable, and with a handful of points the bootstrap also shows how much one
/// point moves the fit).</summary>
public static class ScalingLawFitter
{
    /// <summary>Fits L = α·C^−β on log residuals r_i = ln α − β·ln C_i − ln L_i (parameters ln α and β;
    /// starts: ordinary least squares and a small grid around it).</summary>
    public static PowerLawFit FitLossLaw(IReadOnlyList<double> compute, IReadOnlyList<double> loss, HuberFitOptions? options = null)
    {
        options ??= new HuberFitOptions();
        if (compute.Count != loss.Count) throw new ArgumentException($"FitLossLaw: {compute.Count} compute values for {loss.Count} losses.");
        if (compute.Count < 2) throw new ArgumentException($"FitLossLaw: {compute.Count} point(s); a power law needs at least 2 distinct compute values.");
        for (int i = 0; i < compute.Count; i++)
            if (!(compute[i] > 0) || !(loss[i] > 0))
                throw new ArgumentException($"FitLossLaw: point {i} has compute {compute[i]}, loss {loss[i]}; both must be > 0.");
        var x = compute.Select(v => Math.Log(v)).ToArray();
        var y = loss.Select(v => Math.Log(v)).ToArray();
        if (x.Distinct().Count() < 2) throw new ArgumentException("FitLossLaw: all points have the same compute; the exponent is not identified.");
        double[] Fit(int[] idx)
        {
            var xs = idx.Select(i => x[i]).ToArray();
            var ys = idx.Select(i => y[i]).ToArray();
            double mx = xs.Average(), my = ys.Average();
            double sxx = xs.Sum(v => (v - mx) * (v - mx));
            double slope = sxx > 0 ? xs.Zip(ys, (a, b) => (a - mx) * (b - my)).Sum() / sxx : 0;
            double intercept = my - slope * mx;
            var starts = new List<double[]> { new[] { intercept, -slope } };
            foreach (double db in new[] { -0.05, 0.05 })
                starts.Add(new[] { my + (-slope + db) * mx, -slope + db });
            double[] Residuals(double[] p) => xs.Select((xi, i) => p[0] - p[1] * xi - ys[i]).ToArray();
            return HuberBfgs.Minimize(Residuals, starts, options).Parameters;
        }
        var all = Enumerable.Range(0, x.Length).ToArray();
        var p = Fit(all);
        double objective = HuberBfgs.Objective(x.Select((xi, i) => p[0] - p[1] * xi - y[i]).ToArray(), options.Delta);
        BootstrapSummary? boot = null;
        if (options.BootstrapSamples > 0)
            boot = HuberBfgs.Bootstrap(x.Length, idx =>
            {
                if (idx.Select(i => x[i]).Distinct().Count() < 2) return null;
                var q = Fit(idx);
                return new[] { Math.Exp(q[0]), q[1] };
            }, options.BootstrapSamples, options.Seed);
        return new PowerLawFit(Math.Exp(p[0]), p[1], objective, x.Length, boot);
    }

    /// <summary>Fits the unified law's coefficients to measured points on ln-EL residuals
    /// r_i = exponent(G_i, C_i)·ln Â(A_i) − ln EL_i. <paramref name="fixedCoefficients"/> holds the
    /// coefficients kept at given values (by name: a, d, gamma, beta, A_start, A_max; A_max may be
    /// +∞), e.g. when the points cannot identify them. A_start and A_max are fitted in log space
    /// (A_max = A_start + e^p so that A_max &gt; A_start). Starts: the paper's Table 2 values and a grid
    /// around them.</summary>
    public static LeverageLawFit FitLeverageLaw(IReadOnlyList<LeveragePoint> points, LogBase computeLog = LogBase.Ten,
        LogBase granularityLog = LogBase.Two, IReadOnlyDictionary<string, double>? fixedCoefficients = null, HuberFitOptions? options = null)
    {
        options ??= new HuberFitOptions();
        fixedCoefficients ??= new Dictionary<string, double>();
        foreach (var name in fixedCoefficients.Keys)
            if (!EfficiencyLeverageLaw.CoefficientNames.Contains(name))
                throw new ArgumentException($"FitLeverageLaw: unknown coefficient '{name}'; expected one of {string.Join(", ", EfficiencyLeverageLaw.CoefficientNames)}.");
        for (int i = 0; i < points.Count; i++)
        {
            var pt = points[i];
            if (!(pt.ActivationRatio > 0 && pt.ActivationRatio <= 1) || !(pt.Granularity > 0) || !(pt.Compute > 0) || !(pt.Leverage > 0))
                throw new ArgumentException($"FitLeverageLaw: point {i} = {pt}: need 0 < A ≤ 1, G > 0, C > 0, EL > 0.");
        }
        var names = EfficiencyLeverageLaw.CoefficientNames;
        var free = names.Where(n => !fixedCoefficients.ContainsKey(n)).ToArray();
        if (points.Count < free.Length)
            throw new ArgumentException($"FitLeverageLaw: {points.Count} points for {free.Length} free coefficients ({string.Join(", ", free)}); fix some.");
        var table2 = EfficiencyLeverageLaw.PaperTable2;

        // Internal parameterisation: a, d, gamma, beta as is; ln A_start; ln(A_max − A_start).
        double ToInternal(string n, double v, double aStart) => n switch
        {
            "A_start" => Math.Log(v),
            "A_max" => Math.Log(Math.Max(v - aStart, 1e-300)),
            _ => v,
        };
        EfficiencyLeverageLaw Build(double[] p)
        {
            var full = new double[6];
            int k = 0;
            for (int j = 0; j < 4; j++) full[j] = fixedCoefficients.TryGetValue(names[j], out double f) ? f : p[k++];
            full[4] = fixedCoefficients.TryGetValue("A_start", out double fs) ? fs : Math.Exp(p[k++]);
            full[5] = fixedCoefficients.TryGetValue("A_max", out double fm) ? fm : full[4] + Math.Exp(p[k++]);
            return EfficiencyLeverageLaw.FromVector(full, computeLog, granularityLog);
        }
        double[] Residuals(double[] p, IReadOnlyList<LeveragePoint> pts)
        {
            var law = Build(p);
            var r = new double[pts.Count];
            for (int i = 0; i < pts.Count; i++)
            {
                try { r[i] = law.LogLeverage(pts[i].ActivationRatio, pts[i].Granularity, pts[i].Compute) - Math.Log(pts[i].Leverage); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException) { r[i] = double.NaN; }
            }
            return r;
        }
        var starts = new List<double[]>();
        double startAStart = fixedCoefficients.GetValueOrDefault("A_start", table2.AStart);
        foreach (double scale in new[] { 1.0, 0.5, 2.0 })
            foreach (double aStartScale in new[] { 1.0, 3.0, 0.3 })
            {
                var s = new List<double>();
                foreach (var n in free)
                    s.Add(n switch
                    {
                        "a" => table2.A * scale,
                        "d" => table2.D * scale,
                        "gamma" => table2.Gamma * scale,
                        "beta" => table2.Beta * scale,
                        "A_start" => ToInternal("A_start", table2.AStart * aStartScale, 0),
                        _ => ToInternal("A_max", 1.0, startAStart * aStartScale),
                    });
                starts.Add(s.ToArray());
            }
        double[] Fit(IReadOnlyList<LeveragePoint> pts) => HuberBfgs.Minimize(p => Residuals(p, pts), starts, options).Parameters;
        var best = Fit(points);
        double objective = HuberBfgs.Objective(Residuals(best, points), options.Delta);
        BootstrapSummary? boot = null;
        if (options.BootstrapSamples > 0)
            boot = HuberBfgs.Bootstrap(points.Count, idx =>
            {
                var pts = idx.Select(i => points[i]).ToArray();
                if (pts.Distinct().Count() < free.Length) return null;
                var law = Build(Fit(pts));
                var v = law.ToVector();
                return free.Select(n => v[Array.IndexOf(names, n)]).ToArray();
            }, options.BootstrapSamples, options.Seed, minimumDistinct: free.Length);
        return new LeverageLawFit(Build(best), objective, points.Count, free, boot);
    }
}
