#!/usr/bin/env bash
# Executes every notebook in notebooks/ in the real .NET Interactive C# kernel (the last release,
# Microsoft.dotnet-interactive 1.0.712001) through Jupyter's own executor, nbclient, at the smoke
# preset, and fails on any error output, on a chart without plotly figure JSON / HTML fallback (and
# PNG where Chromium is installed), on plotly.js embedded more than once, and on files a run leaves
# in the temporary folder.
#
#   build/notebooks-dotnet-interactive.sh [notebook.ipynb ...]      (default: notebooks/*.ipynb)
#
# MOELAB_NOTEBOOK_CELL_TIMEOUT: seconds one cell may take (default 1500; a guard against hangs, far
# above what a smoke cell needs on an idle machine).
# Needs Debian's python3-nbclient, python3-nbformat and python3-jupyter-client (.ci/run installs
# them). The kernel is installed once into $MOELAB_TOOLS (default ~/.cache/moelab) and registered
# in a private JUPYTER_PATH there, so the user's own Jupyter setup is not touched. Executed
# notebooks and a summary go to results/notebooks-dotnet-interactive/ (git-ignored).
set -euo pipefail
# Everything runs inside main, so that editing this file while it runs cannot change what runs.
main() {
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
version=1.0.712001
tools="${MOELAB_TOOLS:-$HOME/.cache/moelab}"
tool_path="$tools/dotnet-interactive-$version"
export JUPYTER_PATH="$tools/jupyter-dotnet-interactive-$version"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out="$root/results/notebooks-dotnet-interactive"
say() { echo "notebooks-dotnet-interactive: $*" >&2; }

# The kernel's argv is `dotnet interactive jupyter ...`: the tool must be on PATH.
if [ ! -x "$tool_path/dotnet-interactive" ]; then
  say "installing Microsoft.dotnet-interactive $version into $tool_path"
  dotnet tool install Microsoft.dotnet-interactive --version "$version" --tool-path "$tool_path" >/dev/null
fi
export PATH="$tool_path:$PATH"
if [ ! -f "$JUPYTER_PATH/kernels/.net-csharp/kernel.json" ]; then
  mkdir -p "$JUPYTER_PATH/kernels"
  dotnet-interactive jupyter install --path "$JUPYTER_PATH/kernels" >/dev/null
fi
/usr/bin/python3 -c 'import nbclient, nbformat, jupyter_client' 2>/dev/null || {
  say "needs Debian's python3-nbclient, python3-nbformat, python3-jupyter-client (apt-get install -y python3-nbclient)"; exit 2; }

# The notebooks load the published library: #r "lib/MoeLab.Experiments.dll".
started=$(date +%s)
mkdir -p "$out"
if ! ./moelab notebook publish >"$out/publish.log" 2>&1; then
  cat "$out/publish.log" >&2; say "moelab notebook publish failed"; exit 1
fi
say "published notebooks/lib in $(( $(date +%s) - started )) s"

# A private temporary folder: whatever a notebook run leaves there is a failure.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/tmp"
export TMPDIR="$scratch/tmp"

[ $# -gt 0 ] || set -- notebooks/*.ipynb
rm -rf "$out/with-png" "$out"/*.ipynb "$out/summary.json" "$out/kernel.log"
status=0
started=$(date +%s)
# Every notebook, as a user runs it (charts: plotly JSON + HTML + text; PNGs are off in live kernels
# by default). The kernel logs its web host's start-up; that goes to a file, shown on failure.
/usr/bin/python3 build/nbclient-run.py --kernel .net-csharp --out "$out" -p preset=smoke --timeout "${MOELAB_NOTEBOOK_CELL_TIMEOUT:-1500}" \
    --summary-json "$out/summary.json" --kernel-log "$out/kernel.log" "$@" || status=$?
say "nbclient ran $# notebook(s) in the .NET Interactive kernel in $(( $(date +%s) - started )) s"
# Chart PNGs inside the kernel (MOELAB_NOTEBOOK_PNG=1: one Chromium start per chart) where Chromium
# is installed, on the tour.
if [ $status -eq 0 ] && { command -v chromium >/dev/null 2>&1 || [ -n "${MOELAB_CHROMIUM:-}" ]; }; then
  started=$(date +%s)
  MOELAB_NOTEBOOK_PNG=1 /usr/bin/python3 build/nbclient-run.py --kernel .net-csharp --out "$out/with-png" -p preset=smoke \
      --summary-json "$out/with-png/summary.json" --kernel-log "$out/kernel.log" --require-png notebooks/tour.ipynb || status=$?
  say "tour with chart PNGs in the kernel: $(( $(date +%s) - started )) s"
fi
[ $status -eq 0 ] || tail -n 40 "$out/kernel.log" >&2
# The kernel itself may keep files in TMPDIR while it runs; MoeLab's own leftovers are failures.
left=$(find "$TMPDIR" -mindepth 1 -maxdepth 1 \( -name 'dynamoe-nb-*' -o -name 'moelab-*' \) -print)
if [ -n "$left" ]; then
  say "notebook runs left files in the temporary folder:"; echo "$left" | sed 's/^/  /' >&2
  du -sh $left >&2 || true
  status=1
fi
return $status
}
main "$@"; exit $?
