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
# diff: 0 when the layouts match, 1 when they differ, 2 on bad input
"$bin" layout "$demo" >"$tmp/demo.layout"
expect 0 "diff against its own layout" diff "$demo" "$tmp/demo.layout"
expect 0 "diff against itself" diff "$demo" "$demo"
sed '1d' "$tmp/demo.layout" >"$tmp/less.layout"
expect 1 "diff against a layout with a key less" diff "$demo" "$tmp/less.layout"
expect 1 "diff --json with a difference" diff "$demo" "$tmp/less.layout" --json
expect 1 "diff --suggest with a difference" diff "$demo" "$tmp/less.layout" --suggest
expect 0 "diff --root naming the state dict" diff "$demo" "$demo" --root state_dict
expect 1 "diff --root naming another mapping" diff "$demo" "$demo" --root optimizer_states.0.state.0
expect 2 "diff --root to a missing entry" diff "$demo" "$demo" --root no.such
expect 2 "diff --json --suggest" diff "$demo" "$tmp/less.layout" --json --suggest
expect 2 "diff without TARGET" diff "$demo"
expect 2 "diff with a missing target" diff "$demo" "$tmp/nope.layout"
expect 2 "diff with a text file as target" diff "$demo" "$tmp/text.pt"
if grep -qx "ckpt-surgeon: $tmp/text.pt:1: expected 'KEY DTYPE \[d0, d1, ...\]'" "$tmp/err"; then ok "bad layout line named by FILE:LINE"; else not_ok "bad layout line named by FILE:LINE" "$(cat "$tmp/err")"; fi
expect 2 "diff with a directory as target" diff "$demo" "$tmp"
expect 2 "diff with an empty checkpoint file" diff "$tmp/empty.pt" "$tmp/demo.layout"
: >"$tmp/none.cks"
expect 0 "apply --dry-run --target: nothing left" apply "$tmp/none.cks" "$demo" --dry-run --target "$tmp/demo.layout"
expect 1 "apply --dry-run --target: a key left" apply "$tmp/none.cks" "$demo" --dry-run --target "$tmp/less.layout"
expect 2 "apply --target with a bad target" apply "$tmp/none.cks" "$demo" -o "$tmp/o.pt" --target "$tmp/text.pt"
if [ ! -e "$tmp/o.pt" ]; then ok "no output after a bad target"; else not_ok "no output after a bad target"; fi
expect 2 "apply to a .safetensors output (not written yet)" apply "$tmp/none.cks" "$demo" -o "$tmp/o.safetensors"
if [ ! -e "$tmp/o.safetensors" ]; then ok "no .safetensors output written"; else not_ok "no .safetensors output written"; fi
"$bin" ls "$demo" >/dev/full 2>"$tmp/err"
if [ $? -eq 2 ] && grep -q '^ckpt-surgeon: ' "$tmp/err"; then ok "write error reported (exit 2)"; else not_ok "write error reported (exit 2)" "$(cat "$tmp/err")"; fi
tap_done
