#!/usr/bin/env bash
# The C++ code's layout (issue 10): every tracked .cc/.h under src, tests, bench and fuzz is exactly
# as Debian's clang-format 14 writes it with the root .clang-format (Google, 100 columns). The
# suite runs it as `format_check`; a file that differs fails it, naming the file and line.
#
#   scripts/format_check.sh          # check; exit 1 and list what differs
#   scripts/format_check.sh --fix    # rewrite the files that differ in place
#
# Without clang-format 14 it fails under CI=true and skips (77) otherwise: other versions lay some
# constructs out differently, so only 14 (scripts/install-deps.sh) is the judge.
set -euo pipefail
cd "$(dirname "$0")/.."
CF="${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format || true)}"
skip() {
  echo "format_check: $1" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  exit 77
}
[ -n "$CF" ] || skip "clang-format not found (apt-get install clang-format)"
"$CF" --version | grep -q 'version 14\.' || skip "$CF is not clang-format 14: $("$CF" --version)"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc' \
                                    'bench/*.h' 'fuzz/*.cc' 'fuzz/*.h')
else
  mapfile -t files < <(find src tests bench fuzz -name '*.cc' -o -name '*.h' | sort)
fi
[ "${#files[@]}" -gt 0 ] || skip "no C++ files found"
if [ "${1:-}" = "--fix" ]; then
  "$CF" -i "${files[@]}"
  exit 0
fi
if out="$("$CF" --dry-run --Werror "${files[@]}" 2>&1)"; then
  echo "format_check: ${#files[@]} files as clang-format 14 writes them"
  exit 0
fi
bad="$(echo "$out" | grep -E '^[^ ].*: (error|warning):' || true)"
echo "$bad" | sed -n 1,40p >&2
echo "format_check: $(echo "$bad" | cut -d: -f1 | sort -u | wc -l) of ${#files[@]} files differ from clang-format 14's layout; run scripts/format_check.sh --fix" >&2
exit 1
