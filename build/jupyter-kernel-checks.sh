#!/usr/bin/env bash
# The MoeLab Jupyter kernel against real Jupyter clients (Debian packages), as a user would meet it:
#   1. `./moelab kernel install --user` (into a private Jupyter data folder), `jupyter kernelspec list` shows it;
#   2. the Jupyter project's conformance suite (jupyter_kernel_test) with C# samples;
#   3. interrupt during a long cell, a cell that ignores the interrupt, restart, signatures, stdin (jupyter_client);
#   4. every notebook in notebooks/ executed in the kernel by nbclient at the smoke preset, no error outputs.
# Needs: apt packages jupyter-client python3-jupyter-client python3-jupyter-kernel-test python3-nbclient
# python3-nbformat (.ci/run installs them). Leaves nothing behind: the data folder is a temporary one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scratch=$(mktemp -d /tmp/moelab-jupyter-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# --user installs into JUPYTER_DATA_DIR when set (as jupyter does); connection files go there too.
export JUPYTER_DATA_DIR="$scratch/data" JUPYTER_RUNTIME_DIR="$scratch/runtime" JUPYTER_CONFIG_DIR="$scratch/config"
py=/usr/bin/python3   # Debian's interpreter, with Debian's Jupyter modules

./moelab kernel install --user
jupyter kernelspec list | tee "$scratch/kernelspecs.txt"
grep -q '^ *moelab-csharp ' "$scratch/kernelspecs.txt" || { echo "jupyter kernelspec list does not show moelab-csharp" >&2; exit 1; }

export MOELAB_NO_BUILD=1   # built by the install step above
"$py" -m unittest -v tests/jupyter/kernel_conformance.py
"$py" -m unittest -v tests/jupyter/kernel_interrupt_restart.py
"$py" tests/jupyter/run_notebooks.py --kernel moelab-csharp --preset smoke
