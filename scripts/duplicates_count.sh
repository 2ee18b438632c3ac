#!/usr/bin/env bash
# Counts repeated code in src/ at a git revision, as issue 10 measures it: the revision's src/ is
# formatted with this checkout's .clang-format (clang-format 14) so that layout does not change how
# lines pair, then `duplicates` (the workplace's repeated-code finder, not a Debian package) lists
# every pair of places sharing 6 or more identical or same-shape lines. "real" = pairs not marked
# boilerplate.
#
#   scripts/duplicates_count.sh [REV ...]     (default: HEAD)
#
# Measured 2026-12-05 (session 7): f9068bd (the round's start) 123 pairs, 49 boilerplate, 74 real;
# the main of that session: see the session note and docs/ARCHITECTURE.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v duplicates >/dev/null || { echo "duplicates_count: the duplicates tool is not on PATH" >&2; exit 2; }
command -v clang-format >/dev/null || { echo "duplicates_count: clang-format (14) is required" >&2; exit 2; }
[ $# -eq 0 ] && set -- HEAD
for rev in "$@"; do
  tmp=$(mktemp -d)
  git -C "$root" archive "$rev" src | tar -x -C "$tmp"
  cp "$root/.clang-format" "$tmp/"
  find "$tmp/src" \( -name '*.cc' -o -name '*.h' \) -print0 | xargs -0 clang-format -i
  out=$(cd "$tmp" && duplicates --repo src --most 200 --seconds 120)
  pairs=$(grep -c '^D' <<<"$out" || true)
  boiler=$(grep '^D' <<<"$out" | grep -c 'boilerplate' || true)
  echo "$rev: $pairs pairs, $boiler boilerplate, $((pairs - boiler)) real ($(head -1 <<<"$out" | grep -o '[0-9]* files read'))"
  rm -rf "$tmp"
done
