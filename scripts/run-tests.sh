#!/usr/bin/env bash
# `npm test`: checks the tools the tests need (once, up front), then runs every suite even
# after one fails, and ends with one summary. The last line is always `N passed, N failed`
# (CI reads it); the exit status is non-zero when anything failed.
#   npm test                  every suite
#   npm test -- server        only the named suites
set -uo pipefail
cd "$(dirname "$0")/.."

# A suite is one line: its name and its command. A command that prints a jest JSON report
# (`jest --json`: the report on stdout, the usual output on stderr) to $RESULT is counted
# test by test; any other counts as one check.
SUITES=(
  "typecheck|npx tsc --noEmit && npm --prefix server run --silent typecheck"
  "infra|npx jest --ci --forceExit --json >\"\$RESULT\""
  "server|npm --prefix server test --silent -- --ci --forceExit --json >\"\$RESULT\""
  "client|npm --prefix client test --silent -- --ci --forceExit --json >\"\$RESULT\""
  "ops|npx jest -c ops/jest.config.js --ci --forceExit --json >\"\$RESULT\""
  "bench|npm run --silent test:bench"
)

bash scripts/check-tools.sh tests || exit 1

only=" $* "
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
summary=()
total_passed=0
total_failed=0
for row in "${SUITES[@]}"; do
  name=${row%%|*}
  cmd=${row#*|}
  [ "$only" = "  " ] || case "$only" in *" $name "*) ;; *) continue ;; esac
  echo
  echo "==> $name"
  export RESULT="$results/$name.json"
  started=$(date +%s)
  bash -c "$cmd"
  status=$?
  seconds=$(( $(date +%s) - started ))
  # A report that is missing or unreadable (the run died early) counts as one failure.
  read -r passed failed < <(node -e '
    try {
      const lines = require("node:fs").readFileSync(process.argv[1], "utf8").split("\n");
      const r = JSON.parse(lines.filter((l) => l.startsWith("{")).at(-1));
      // A test file that fails to load counts as a failure even though no test in it ran.
      console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites);
    } catch { console.log("- -"); }' "$RESULT" 2>/dev/null || echo "- -")
  if [ "$passed" = - ]; then
    if [ "$status" -eq 0 ]; then passed=1 failed=0; else passed=0 failed=1; fi
  fi
  [ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  summary+=("$(printf '  %-10s %5d passed %5d failed  (%ds)' "$name" "$passed" "$failed" "$seconds")")
done

echo
echo "summary"
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
