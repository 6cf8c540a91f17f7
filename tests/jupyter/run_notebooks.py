"""Executes every notebook in notebooks/ in a Jupyter kernel through nbclient (Debian's
python3-nbclient), the way a front end runs them, and fails when any cell has an error output.

Parameters are injected exactly as the headless runner does it (`moelab notebook parameterize`:
a cell tagged injected-parameters after the cell tagged parameters); the kernel starts in
notebooks/, as a front end starts it in the notebook's folder.

    /usr/bin/python3 tests/jupyter/run_notebooks.py --kernel moelab-csharp --preset smoke [--keep DIR]

Prints one line per notebook: wall time (kernel start included), code cells, outputs per MIME type.
"""
import argparse
import collections
import glob
import os
import subprocess
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parameterize(moelab, source, target, preset):
    subprocess.run([moelab, "notebook", "parameterize", source, "--preset", preset, "--out", target],
                   check=True, env=dict(os.environ, MOELAB_NO_BUILD=os.environ.get("MOELAB_NO_BUILD", "1")))


def run(path, kernel, preset, moelab, workdir, timeout):
    name = os.path.basename(path)
    prepared = os.path.join(workdir, name)
    parameterize(moelab, path, prepared, preset)
    nb = nbformat.read(prepared, as_version=4)
    client = NotebookClient(nb, kernel_name=kernel, timeout=timeout, allow_errors=True,
                            startup_timeout=180, resources={"metadata": {"path": os.path.dirname(path)}})
    started = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - started
    nbformat.write(nb, prepared)
    errors, mimes, code_cells = [], collections.Counter(), 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        code_cells += 1
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                errors.append(f"cell {index + 1}: {output.ename}: {output.evalue}")
            for mime, value in output.get("data", {}).items():
                mimes[mime] += 1
                if mime == "application/vnd.plotly.v1+json" and not (isinstance(value, dict) and "data" in value):
                    errors.append(f"cell {index + 1}: plotly output is not a figure object with 'data'")
    # Every notebook here draws charts: they must reach the front end as plotly figure JSON.
    if mimes["application/vnd.plotly.v1+json"] == 0:
        errors.append("no application/vnd.plotly.v1+json output (charts did not reach the front end as plotly figures)")
    return elapsed, code_cells, mimes, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", default="moelab-csharp")
    parser.add_argument("--preset", default="smoke")
    parser.add_argument("--moelab", default=os.path.join(ROOT, "moelab"))
    parser.add_argument("--keep", help="write the executed notebooks into this folder")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("notebooks", nargs="*", help="default: notebooks/*.ipynb")
    args = parser.parse_args()
    paths = [os.path.abspath(p) for p in args.notebooks] or sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))
    failed = 0
    with tempfile.TemporaryDirectory(prefix="moelab-nbclient-") as scratch:
        workdir = args.keep or scratch
        os.makedirs(workdir, exist_ok=True)
        for path in paths:
            elapsed, cells, mimes, errors = run(path, args.kernel, args.preset, args.moelab, workdir, args.timeout)
            outputs = ", ".join(f"{m} {n}" for m, n in sorted(mimes.items()))
            print(f"{os.path.basename(path)}: kernel {args.kernel}, preset {args.preset}: {elapsed:.1f} s, "
                  f"{cells} code cells, outputs: {outputs or 'none'}; {len(errors)} error output(s)", flush=True)
            for e in errors:
                print("  " + e[:2000], flush=True)
            failed += bool(errors)
    if failed:
        print(f"{failed} notebook(s) had error outputs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
