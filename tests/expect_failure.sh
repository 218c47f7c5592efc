#!/usr/bin/env bash
# Runs a command that is supposed to fail, and passes only if it fails the right way.
#
#   expect_failure.sh [--timeout SECONDS] -e REGEX [-e REGEX ...] [-1 REGEX ...] -- COMMAND [ARGS...]
#
# Passes (exit 0) when COMMAND
#   * exits with a non-zero code on its own (being killed by the timeout does not count: a hang
#     is a bug, not the expected failure), and
#   * prints output (stdout and stderr combined) that matches every REGEX (grep -E), each `-1`
#     REGEX on exactly one line (a message every rank repeats is noise).
# Otherwise prints what went wrong and exits 1. The command's output is always echoed, so CTest's
# --output-on-failure shows it.
set -u

timeout_s=60
patterns=()
once=()
while (($#)); do
  case "$1" in
    --timeout) timeout_s="$2"; shift 2 ;;
    -e) patterns+=("$2"); shift 2 ;;
    -1) patterns+=("$2"); once+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) echo "expect_failure: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if (($# == 0)) || ((${#patterns[@]} == 0)); then
  echo "usage: expect_failure.sh [--timeout S] -e REGEX [-e REGEX...] -- COMMAND [ARGS...]" >&2
  exit 2
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# --kill-after: a command that ignores SIGTERM is still ended, so this script always returns.
timeout --kill-after=10 "$timeout_s" "$@" >"$out" 2>&1 </dev/null
rc=$?

echo "---- output of: $* ----"
cat "$out"
echo "---- exit code: $rc ----"

if ((rc == 124 || rc == 137)); then
  echo "expect_failure: FAIL: the command did not finish within ${timeout_s}s (it hung instead of failing)"
  exit 1
fi
if ((rc == 0)); then
  echo "expect_failure: FAIL: the command succeeded (exit code 0) but was expected to fail"
  exit 1
fi
status=0
for re in "${patterns[@]}"; do
  if grep -Eq -e "$re" "$out"; then
    echo "expect_failure: ok: output matches /$re/"
  else
    echo "expect_failure: FAIL: output does not match /$re/"
    status=1
  fi
done
for re in "${once[@]}"; do
  n=$(grep -Ec -e "$re" "$out")
  if ((n == 1)); then
    echo "expect_failure: ok: exactly one line matches /$re/"
  else
    echo "expect_failure: FAIL: $n lines match /$re/, expected exactly one"
    status=1
  fi
done
((status == 0)) && echo "expect_failure: PASS: failed with exit code $rc and the expected message"
exit $status
