using MoeLab.Experiments.Plotting;

namespace MoeLab.Experiments.Tests.Plotting;

/// <summary>A test that needs headless Chromium (PNG/SVG export). Where Chromium is absent the test
/// is reported as <b>skipped, with the reason</b> (so "0 skipped" always means export was tested),
/// except when <c>MOELAB_REQUIRE_CHROMIUM=1</c> (set by .ci/run, which installs Chromium): then it
/// runs and fails loudly, so CI can never pass without testing export.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (ChromiumExporter.FindChromium() is null && Environment.GetEnvironmentVariable("MOELAB_REQUIRE_CHROMIUM") != "1")
            Skip = "needs Chromium for PNG/SVG export, which is not installed (" + ChromiumExporter.InstallHint + ")";
    }
}
