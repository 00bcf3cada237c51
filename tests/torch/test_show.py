#!/usr/bin/python3
"""Oracle tests of `ckpt-surgeon show FILE KEY --json --values 1000` against torch.

usage: test_show.py                                  run the checks, print TAP
       test_show.py --print-expected FIXTURE [KEY...]
                                                     print what the oracle expects

Every tensor of every fixture (a sample of many-tensors.pt) is shown by its
state-dict key, and every tensor outside the state dict by its full dotted
path (e.g. optimizer_states.0.state.0.exp_avg).  dtype, shape, strides,
storage (key, record, dtype, numel, bytes, location), the tensors sharing
the storage, statistics and the preview must match torch; mean/std within
rel 1e-9 (quantized tensors: every float within rel 1e-6).
"""

import sys

import cks

# Fixtures with too many tensors to show each: every SAMPLE_STEP-th key.
SAMPLED = {"many-tensors.pt"}
SAMPLE_STEP = 37

# Keys that name no tensor: exit 2 with one error line.
MISSING_KEYS = [
    ("state-dict.pt", "no.such.key"),
    ("lightning.ckpt", "no.such.key"),
    ("lightning.ckpt", "optimizer_states.0.state.99.exp_avg"),
    ("lightning.ckpt", "epoch"),                 # a value, but not a tensor
    ("torch2-v3.pt", "no.such.key"),
]

# Full paths that reach a state-dict tensor from the top (path = the key).
EXTRA_PATHS = [
    ("lightning.ckpt", "state_dict.model.emb.weight"),
    ("root-model.pt", "model.bn.num_batches_tracked"),
]


def sampled(keys, name):
    if name not in SAMPLED:
        return keys
    return keys[::SAMPLE_STEP] + keys[-1:]


def add_show_check(tap, path, key, expected):
    file = str(path)
    expected = cks.with_file(expected, file)
    args = ["show", file, key, "--json", "--values", str(cks.SHOW_VALUES)]
    tap.add(f"show {path.name} {key!r}",
            lambda: cks.check_json(args, expected, tol=cks.show_tolerance(expected)))


def add_fixture_checks(tap, path):
    if cks.expect_file(path).exists():
        expected = cks.expectations_for(path)["show"]
        for key in sampled(list(expected), path.name):
            add_show_check(tap, path, key, expected[key])
        return
    ck = cks.load_checkpoint(path)
    for key in sampled(cks.show_keys(ck), path.name):
        add_show_check(tap, path, key, cks.expected_show(ck, "", key))


def main(argv):
    if argv[1:2] == ["--print-expected"] and len(argv) >= 3:
        return print_expected(argv[2], argv[3:])
    if len(argv) > 1:
        print("\n".join(__doc__.strip().splitlines()[2:5]), file=sys.stderr)
        return 2
    outdir = cks.setup()
    tap = cks.Tap()
    for path in cks.checkpoint_files(outdir):
        if cks.is_unsupported(path):
            file = str(path)
            tap.add(f"show {path.name} exits 2 (unsupported format)",
                    lambda file=file: cks.check_error(["show", file, "weight", "--json"], file))
            continue
        try:
            add_fixture_checks(tap, path)
        except Exception as exc:
            tap.add(f"oracle for {path.name}",
                    lambda exc=exc: [f"torch/oracle failed: {type(exc).__name__}: {exc}"],
                    needs_binary=False)
    for name, key in EXTRA_PATHS:
        path = outdir / name
        add_show_check(tap, path, key, cks.expected_show(cks.load_checkpoint(path), "", key))
    for name, key in MISSING_KEYS:
        file = str(outdir / name)
        tap.add(f"show {name} {key!r} exits 2",
                lambda file=file, key=key: cks.check_error(["show", file, key, "--json"], file))
    return tap.run()


def print_expected(fixture, keys):
    path = cks.find_fixture(fixture)
    if cks.torch is None:
        sys.exit(cks.TORCH_ERROR)
    if cks.expect_file(path).exists():
        shown = cks.expectations_for(path)["show"]
        missing = [k for k in keys if k not in shown]
        if missing:
            sys.exit(f"not in {cks.expect_file(path).name}: {missing}")
        shown = {k: shown[k] for k in keys or shown}
    else:
        ck = cks.load_checkpoint(path)
        try:
            shown = {k: cks.expected_show(ck, "", k) for k in keys or cks.show_keys(ck)}
        except cks.OracleError as exc:
            sys.exit(str(exc))
    cks.print_json({k: cks.with_file(v, str(path)) for k, v in shown.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
