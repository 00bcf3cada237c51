#!/usr/bin/python3
"""Oracle tests of `ckpt-surgeon ls` and `ckpt-surgeon layout` against torch.

usage: test_ls.py                          run the checks, print TAP
       test_ls.py --print-expected FIXTURE [--root PATH]
                                           print what the oracle expects

For every fixture, `ls --json`, `ls --all --json`, the `ls` text and
`layout` must agree with what torch.load reports (or, for the torch-2.x-style
fixtures torch 1.13 cannot load, with their .expect.json).  Also --root
overrides, a missing --root path, and the unsupported legacy format.
"""

import sys

import cks

# (fixture, --root PATH): the listing must be that container's tensors.
ROOT_OVERRIDES = [
    ("lightning.ckpt", "optimizer_states.0.state.0"),
    ("lightning.ckpt", "hyper_parameters"),              # an argparse.Namespace
    ("lightning.ckpt", "callbacks.ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}"),
    ("root-model.pt", "optimizer.state.1"),
    ("root-net-ema.pt", "ema"),
    ("root-none.pt", "weights"),
    ("root-none.pt", "buffers"),                          # a list: keys "0", "1"
    ("root-none.pt", "ema.shadow"),                       # a key containing a dot
    ("root-none.pt", "model"),
    ("whole-module.pt", "_modules.emb._parameters"),      # through nn.Module objects
    ("protocol-4.pt", "extras.1.1"),
]

# (fixture, --root PATH) that names nothing: exit 2.
MISSING_ROOTS = [
    ("root-none.pt", "nope"),
    ("root-none.pt", "weights.nope"),
    ("lightning.ckpt", "optimizer_states.7"),
]


def lines_for(expected, with_bytes):
    """The canonical text lines (single blanks) for --print-expected."""
    out = []
    for t in expected["tensors"]:
        shape = "[" + ", ".join(map(str, t["shape"])) + "]"
        extra = f" {t['bytes']}" if with_bytes else ""
        out.append(f"{cks.quote_key(t['key'])} {t['dtype']} {shape}{extra}")
    return out


def add_listing_checks(tap, path, expected):
    """ls --json, ls --all --json, ls text and layout for one fixture."""
    name, file = path.name, str(path)
    ls, ls_all = cks.with_file(expected["ls"], file), cks.with_file(expected["ls_all"], file)

    tap.add(f"ls --json {name}", lambda: cks.check_json(["ls", file, "--json"], ls))
    tap.add(f"ls --all --json {name}",
            lambda: cks.check_json(["ls", file, "--all", "--json"], ls_all))

    def text_check(command, checker):
        """A check that `command FILE` exits 0 and its text passes checker."""
        def check():
            run = cks.run_cks(command, file)
            if run.returncode != 0:
                return ["expected exit status 0"] + run.describe()
            problems = checker(run.stdout, ls)
            return problems + run.describe() if problems else []
        return check
    tap.add(f"ls {name} (text)", text_check("ls", cks.check_ls_text))
    tap.add(f"layout {name}", text_check("layout", cks.check_layout_text))


def add_root_checks(tap, outdir):
    for name, root in ROOT_OVERRIDES:
        path = outdir / name
        file = str(path)

        def listing(path=path, file=file, root=root):
            expected = cks.expected_ls(cks.load_checkpoint(path), file, root=root)
            return cks.check_json(["ls", file, "--json", "--root", root], expected)
        tap.add(f"ls --json --root {root!r} {name}", listing)

        def layout(path=path, file=file, root=root):
            expected = cks.expected_ls(cks.load_checkpoint(path), file, root=root)
            run = cks.run_cks("layout", file, "--root", root)
            if run.returncode != 0:
                return ["expected exit status 0"] + run.describe()
            problems = cks.check_layout_text(run.stdout, expected)
            return problems + run.describe() if problems else []
        tap.add(f"layout --root {root!r} {name}", layout)

    for name, root in MISSING_ROOTS:
        file = str(outdir / name)
        tap.add(f"ls --root {root!r} {name} exits 2",
                lambda file=file, root=root: cks.check_error(["ls", file, "--json", "--root", root], file))


def add_unsupported_checks(tap, path):
    file = str(path)
    for args in (["ls", file], ["ls", file, "--json"], ["ls", file, "--all", "--json"],
                 ["layout", file]):
        shown = " ".join(a if a != file else path.name for a in args)
        tap.add(f"{shown} exits 2 (unsupported format)",
                lambda args=args: cks.check_error(args, file))


def print_expected(argv):
    fixture = cks.find_fixture(argv[0])
    if cks.torch is None:
        sys.exit(cks.TORCH_ERROR)
    if argv[1:2] == ["--root"]:
        ck = cks.load_checkpoint(fixture)
        try:
            expected = cks.expected_ls(ck, str(fixture), root=argv[2])
        except KeyError:
            sys.exit(f"{fixture}: no root {argv[2]!r}")
        cks.print_json({"ls --root": expected, "layout": lines_for(expected, False)})
        return 0
    expected = cks.expectations_for(fixture, show=False)
    ls = cks.with_file(expected["ls"], str(fixture))
    elements = sum(cks.numel_of(t["shape"]) for t in ls["tensors"])
    total = (f"total: {ls['count']} tensors, {elements} elements, {ls['total_bytes']} bytes"
             + cks.human_size(ls["total_bytes"]))
    cks.print_json({"ls": ls,
                    "ls_all": cks.with_file(expected["ls_all"], str(fixture)),
                    "ls text": lines_for(ls, True) + [total],
                    "layout": lines_for(ls, False)})
    return 0


def main(argv):
    if argv[1:2] == ["--print-expected"] and len(argv) >= 3:
        return print_expected(argv[2:])
    if len(argv) > 1:
        print("\n".join(__doc__.strip().splitlines()[2:5]), file=sys.stderr)
        return 2
    outdir = cks.setup()
    tap = cks.Tap()
    for path in cks.checkpoint_files(outdir):
        if cks.is_unsupported(path):
            add_unsupported_checks(tap, path)
        else:
            try:
                expected = cks.expectations_for(path, show=False)
            except Exception as exc:
                tap.add(f"oracle for {path.name}",
                        lambda exc=exc: [f"torch/oracle failed: {type(exc).__name__}: {exc}"],
                        needs_binary=False)
                continue
            add_listing_checks(tap, path, expected)
    add_root_checks(tap, outdir)
    return tap.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
