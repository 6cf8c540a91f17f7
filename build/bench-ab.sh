#!/usr/bin/env bash
# A/B a speed change: `./moelab bench` from another commit and from this working tree, as whole processes
# taking turns, so both sides see the same slow and fast phases of a shared VM (on the 2-core cloud VMs the
# same build's ratio moves by 10–20 % between runs minutes apart; only interleaved pairs compare).
#
#   build/bench-ab.sh <base-commit> [rounds] [-- bench arguments]
#   build/bench-ab.sh HEAD~1 4 -- --case E32-top4-fine --repetitions 20
#   build/bench-ab.sh 510a513 3 -- --scaling --case E256-k8-ff64 --repetitions 20
#
# The base is checked out with `git worktree` into a temporary folder and built once by its own ./moelab;
# the current tree is built by ./moelab as usual. Rounds alternate which side goes first. Prints each run's
# result lines, labelled, then the ratio column of every pair. Nothing is written into the repository; the
# worktree is removed at the end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 1 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
base_ref="$1"; shift
rounds=3
if [ $# -ge 1 ] && [ "$1" != "--" ]; then rounds="$1"; shift; fi
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || set -- --repetitions 20
case "$rounds" in ''|*[!0-9]*) echo "bench-ab: rounds must be a positive integer, got '$rounds'" >&2; exit 2;; esac

base_sha=$(git -C "$root" rev-parse --verify "$base_ref^{commit}") || { echo "bench-ab: '$base_ref' is not a commit of $root" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/moelab-bench-ab.XXXXXX")
cleanup() { git -C "$root" worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
git -C "$root" worktree add --detach "$tmp/base" "$base_sha" >/dev/null 2>&1
echo "bench-ab: base $base_sha (in $tmp/base), new = working tree of $root; $rounds round(s) of: moelab bench $*" >&2
"$tmp/base/moelab" --help >/dev/null   # builds the base (messages on stderr)
"$root/moelab" --help >/dev/null       # builds the current tree if its sources changed

# Result lines of `moelab bench`: the ratio table rows (default mode) and the markdown rows (--scaling).
results() { grep -E '^(E|T)[0-9A-Za-z-]+ +[0-9]|^\| (E|T)[0-9]' || true; }
declare -a pairs=()
for round in $(seq 1 "$rounds"); do
  order="base new"; [ $((round % 2)) -eq 0 ] && order="new base"   # alternate who goes first: no order bias
  for side in $order; do
    dir="$root"; [ "$side" = base ] && dir="$tmp/base"
    out=$(MOELAB_NO_BUILD=1 "$dir/moelab" bench "$@" 2>&1 | results)
    while IFS= read -r line; do
      [ -n "$line" ] || continue
      echo "round $round $side: $line"
      pairs+=("$round $side $line")
    done <<< "$out"
  done
done
echo
echo "ratio per case and round (base → new):"
printf '%s\n' "${pairs[@]}" | awk '
  { round = $1; side = $2; $1 = $2 = ""; line = $0
    if (line ~ /^ *\|/) { n = split(line, f, "|"); name = f[2]; ratio = f[9] }   # | case | T | E | k | d_ff | MoE | dense | ratio | ...
    else { n = split(line, f, " "); name = f[1]; ratio = f[n] }              # case ... | ratio
    gsub(/ /, "", name); gsub(/ /, "", ratio)
    val[name, round, side] = ratio; names[name] = 1; if (round > last) last = round }
  END { for (name in names) { s = name ":"; for (r = 1; r <= last; r++) s = s "  " val[name, r, "base"] " → " val[name, r, "new"]; print s } }'
