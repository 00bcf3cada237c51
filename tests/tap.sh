# tap.sh: tiny TAP helpers for the shell tests (sourced).
tap_n=0
tap_failed=0
ok() {	# ok DESCRIPTION: record a pass
	tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"
}
not_ok() {	# not_ok DESCRIPTION [DETAIL...]: record a failure
	tap_n=$((tap_n + 1)); tap_failed=1; echo "not ok $tap_n - $1"
	shift
	for line in "$@"; do printf '%s\n' "$line" | sed 's/^/# /'; done
}
check() {	# check DESCRIPTION COMMAND...: pass when the command succeeds
	desc=$1; shift
	if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
}
tap_done() {
	echo "1..$tap_n"
	exit $tap_failed
}
