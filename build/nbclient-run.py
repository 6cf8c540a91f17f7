#!/usr/bin/python3
"""Executes notebooks in a real Jupyter kernel with nbclient (the Jupyter project's executor),
papermill-style: a cell tagged `injected-parameters` holding the given parameters goes right after
the cell tagged `parameters`. The kernel runs with the notebook's folder as working directory (as a
front end does), so `#r "lib/MoeLab.Experiments.dll"` finds the published library.

Prints one line per notebook (time, outputs, MIME types of rich outputs, bytes) and exits 1 when any
notebook has an error output or failed to execute, when a chart output lacks plotly figure JSON or
an HTML fallback (or a PNG, with --require-png), or when plotly.js is embedded more than once. Used by .ci/run through
build/notebooks-dotnet-interactive.sh; run it with Debian's /usr/bin/python3 (python3-nbclient).

    build/nbclient-run.py --kernel .net-csharp --out results/notebooks-nbclient -p preset=smoke notebooks/*.ipynb
"""
import argparse
import json
import os
import re
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError


def literal(value, declared):
    """A C# literal of the type the parameters cell declares for the name (else inferred)."""
    if declared == "string" or (declared in (None, "var") and not re.fullmatch(r"true|false|-?\d+(\.\d+)?([eE][-+]?\d+)?", value)):
        return "string", json.dumps(value)
    if declared in (None, "var"):
        if value in ("true", "false"):
            return "bool", value
        return ("int", value) if re.fullmatch(r"-?\d+", value) else ("double", value)
    return declared, value


def inject(nb, parameters):
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    if not parameters:
        return
    at = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])), -1)
    declared = {}
    if at >= 0:
        for m in re.finditer(r"^\s*([A-Za-z_][\w<>\[\]?]*)\s+([A-Za-z_]\w*)\s*=", nb.cells[at].source, re.M):
            declared[m.group(2)] = m.group(1)
    lines = ["// Parameters injected by build/nbclient-run.py"]
    for name, value in parameters:
        t, lit = literal(value, declared.get(name))
        lines.append(f"{t} {name} = {lit};")
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    kernel_name = nb.metadata.get("polyglot_notebook", {}).get("kernelInfo", {}).get("defaultKernelName")
    if kernel_name:
        cell.metadata["polyglot_notebook"] = {"kernelName": kernel_name}
    nb.cells.insert(at + 1, cell)


PLOTLY = "application/vnd.plotly.v1+json"


def check_chart(out, require_png):
    """Problems of one chart output: plotly figure JSON (an object, or JSON text as the .NET
    Interactive kernel sends it) with a data array, an HTML fallback, a PNG when required."""
    problems = []
    figure = out.data.get(PLOTLY)
    if isinstance(figure, str):
        try:
            figure = json.loads(figure)
        except ValueError as e:
            return [f"{PLOTLY} is not JSON: {e}"]
    if not isinstance(figure, dict) or not isinstance(figure.get("data"), list):
        problems.append(f"{PLOTLY} holds no figure with a data array")
    if "text/html" not in out.data:
        problems.append("no text/html fallback")
    if require_png:
        png = out.data.get("image/png", "")
        if not (isinstance(png, str) and png.replace("\n", "").startswith("iVBORw0KGgo")):
            problems.append("no image/png")
    return problems


def summarize(nb, require_png=False):
    errors, mimes, sizes = [], [], {}
    plotly_bundles = 0
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors.append(f"cell {index}: {out.ename}: {out.evalue}")
            elif out.output_type in ("display_data", "execute_result"):
                keys = sorted(out.data.keys())
                mimes.append(keys)
                for k, v in out.data.items():
                    sizes[k] = sizes.get(k, 0) + len(v if isinstance(v, str) else json.dumps(v))
                    if k == "text/html" and "plotly.js v" in (v if isinstance(v, str) else ""):
                        plotly_bundles += 1
                if PLOTLY in out.data or 'class="moelab-chart"' in str(out.data.get("text/html", "")):
                    errors.extend(f"cell {index}: chart output: {p}" for p in check_chart(out, require_png))
            elif out.output_type == "stream" and out.name == "stderr" and "Exception" in out.text:
                errors.append(f"cell {index}: exception text on stderr: {out.text.strip()[:300]}")
    if plotly_bundles > 1:
        errors.append(f"plotly.js is embedded {plotly_bundles} times (at most once per notebook)")
    return errors, mimes, sizes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="+")
    ap.add_argument("--kernel", default=".net-csharp", help="kernelspec name (default .net-csharp)")
    ap.add_argument("--out", required=True, help="folder for the executed notebooks")
    ap.add_argument("-p", "--parameter", action="append", default=[], help="name=value (repeatable)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    ap.add_argument("--startup-timeout", type=int, default=120, help="seconds for the kernel to start")
    ap.add_argument("--summary-json", help="also write the per-notebook summary here")
    ap.add_argument("--kernel-log", help="append the kernel process's own stdout/stderr here (default: inherited)")
    ap.add_argument("--require-png", action="store_true", help="every chart output must carry image/png")
    args = ap.parse_args()

    parameters = []
    for p in args.parameter:
        if "=" not in p:
            ap.error(f"parameter '{p}': expected name=value")
        parameters.append(tuple(p.split("=", 1)))
    os.makedirs(args.out, exist_ok=True)
    failed, summary = 0, []
    for path in args.notebooks:
        name = os.path.basename(path)
        nb = nbformat.read(path, as_version=4)
        inject(nb, parameters)
        client = NotebookClient(nb, kernel_name=args.kernel, timeout=args.timeout, startup_timeout=args.startup_timeout,
                                allow_errors=False, record_timing=True,
                                resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
        started = time.monotonic()
        problem = None
        try:
            if args.kernel_log:
                with open(args.kernel_log, "ab") as log:
                    client.execute(stdout=log, stderr=log)
            else:
                client.execute()
        except (CellExecutionError, DeadKernelError, RuntimeError, TimeoutError) as e:
            problem = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
        elapsed = time.monotonic() - started
        target = os.path.join(args.out, name)
        nbformat.write(nb, target)
        errors, mimes, sizes = summarize(nb, args.require_png)
        if problem and not errors:
            errors.append(problem)
        size = os.path.getsize(target)
        kinds = sorted({"+".join(m) for m in mimes})
        print(f"{name}: {'FAILED' if errors else 'ok'} in {elapsed:.1f} s, {len(mimes)} rich outputs, {size / 1e3:.0f} kB written to {target}")
        for k in kinds:
            print(f"    rich output: {k} x{sum(1 for m in mimes if '+'.join(m) == k)}")
        for e in errors:
            print(f"    error: {e}")
        summary.append({"notebook": name, "ok": not errors, "seconds": round(elapsed, 2), "bytes": size,
                        "rich_outputs": mimes, "bytes_per_mime": sizes, "errors": errors})
        failed += bool(errors)
        sys.stdout.flush()
    if args.summary_json:
        with open(args.summary_json, "w") as f:
            json.dump(summary, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
