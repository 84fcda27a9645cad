# Shared by the shell tests that check the ofa binary's exit codes (source it after setting $ofa):
# fail records a failure and goes on; run EXPECTED_EXIT WORDS... runs ofa (at most $run_timeout
# seconds, default 60) and leaves its stdout+stderr in $out; finish exits 1 if anything failed.
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
run() {
  local want=$1
  shift
  out=$(timeout "${run_timeout:-60}" "$ofa" "$@" 2>&1)
  local rc=$?
  [[ $rc -eq $want ]] || fail "ofa $*: exit $rc, expected $want; output: $out"
}
finish() {
  [[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
}
