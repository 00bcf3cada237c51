#!/bin/sh
# cli: exit codes, usage errors and the one-line error format of the
# contract, on inputs that need no torch (the bundled demo checkpoint).
srcdir=${CKS_SRCDIR:-.}
bin=${CKS_BIN:-src/ckpt-surgeon}
demo=${CKS_DEMO:-$srcdir/examples/demo.ckpt}
. "$srcdir/tests/tap.sh"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# expect CODE DESCRIPTION ARGS...: exit status CODE; on 2, exactly one
# stderr line starting "ckpt-surgeon: "
expect() {
	code=$1; desc=$2; shift 2
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	lines=$(wc -l <"$tmp/err")
	if [ "$got" -ne "$code" ]; then
		not_ok "$desc: exit $code" "got exit $got" "$(cat "$tmp/err")"
	elif [ "$code" -eq 2 ] && { [ "$lines" -ne 1 ] || ! grep -q '^ckpt-surgeon: ' "$tmp/err"; }; then
		not_ok "$desc: one error line" "$(cat "$tmp/err")"
	else
		ok "$desc"
	fi
}

expect 2 "no arguments"
expect 0 "--help" --help
expect 0 "help ls" help ls
expect 0 "ls --help" ls --help
expect 2 "help of an unknown command" help frobnicate
expect 0 "--version" --version
if grep -qx "ckpt-surgeon [0-9][0-9.]*" "$tmp/out"; then ok "--version prints name and version"; else not_ok "--version prints name and version" "$(cat "$tmp/out")"; fi
expect 2 "unknown command" frobnicate
expect 2 "unknown global option" --frobnicate
expect 2 "unknown option" ls --frobnicate "$demo"
expect 2 "missing operand" ls
expect 2 "extra operand" ls "$demo" "$demo"
expect 2 "option needs an argument" ls "$demo" --root
expect 2 "show without KEY" show "$demo"
expect 2 "bad --values" show "$demo" x --values -1
expect 2 "missing file" ls "$tmp/nope.pt"
if grep -qx "ckpt-surgeon: $tmp/nope.pt: cannot open: No such file or directory" "$tmp/err"; then ok "missing file message names the file"; else not_ok "missing file message names the file" "$(cat "$tmp/err")"; fi
expect 2 "directory" ls "$tmp"
: >"$tmp/empty.pt"
expect 2 "empty file" ls "$tmp/empty.pt"
printf 'hello\n' >"$tmp/text.pt"
expect 2 "text file" ls "$tmp/text.pt"
expect 0 "ls demo" ls "$demo"
if tail -n 1 "$tmp/out" | grep -q '^total: [0-9]* tensors, [0-9]* elements, [0-9]* bytes'; then ok "ls ends with a total line"; else not_ok "ls ends with a total line" "$(tail -n 1 "$tmp/out")"; fi
expect 0 "options after operands" ls "$demo" --json
expect 0 "layout demo" layout "$demo"
expect 2 "show of a missing key" show "$demo" no.such.key
expect 2 "--root to a missing entry" ls "$demo" --root no.such
"$bin" ls "$demo" >/dev/full 2>"$tmp/err"
if [ $? -eq 2 ] && grep -q '^ckpt-surgeon: ' "$tmp/err"; then ok "write error reported (exit 2)"; else not_ok "write error reported (exit 2)" "$(cat "$tmp/err")"; fi
tap_done
