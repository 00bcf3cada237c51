#!/usr/bin/python3
"""Tests of examples/demo.ckpt against torch.

usage: test_demo.py                     run the checks, print TAP
       test_demo.py --print-expected    print what the oracle expects for the demo

CKS_DEMO names the demo checkpoint (default: examples/demo.ckpt beside this
tree).  The demo must list (ls --json, ls --all --json) exactly what torch
reports, and examples/make-demo.py run into a temporary directory must
reproduce a file with the same listing and the same tensor values.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cks

MAKE_DEMO = cks.REPO / "examples" / "make-demo.py"


def demo_path():
    return Path(os.environ.get("CKS_DEMO") or cks.REPO / "examples" / "demo.ckpt")


def check_shape_of_demo(demo):
    """The demo is what it claims to be: a Lightning-style checkpoint."""
    top = cks.load_checkpoint(demo).obj
    problems = []
    for key in ("epoch", "global_step", "pytorch-lightning_version", "state_dict",
                "optimizer_states", "lr_schedulers", "hparams_name", "hyper_parameters"):
        if key not in top:
            problems.append(f"missing top-level key {key!r}")
    if problems:
        return problems
    if top["pytorch-lightning_version"] != "2.1.0":
        problems.append(f"pytorch-lightning_version is {top['pytorch-lightning_version']!r}")
    if not all(k.startswith("model.") for k in top["state_dict"]):
        problems.append("state_dict keys are not all prefixed 'model.'")
    adam = top["optimizer_states"][0]["state"]
    steps = {float(s["step"]) for s in adam.values()}
    if steps != {2.0}:
        problems.append(f"Adam state steps are {sorted(steps)}, expected 2")
    if not isinstance(top["hyper_parameters"], dict):
        problems.append("hyper_parameters is not a plain dict")
    size = demo.stat().st_size
    if size > 64 * 1024:
        problems.append(f"demo is {size} bytes; keep it under 60 KB")
    return problems


class Regenerated:
    """make-demo.py run once into a temporary directory, on first use."""

    def __init__(self):
        self._tmp = None
        self.path = None

    def get(self):
        if self.path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="cks-demo-")
            self.path = Path(self._tmp.name) / demo_path().name
            subprocess.run([sys.executable, str(MAKE_DEMO), str(self.path)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=cks.TIMEOUT)
        return self.path


def check_reproduced(demo, regenerated):
    """Same --all listing (so same root and state dict) and equal tensors."""
    fresh = regenerated.get()
    old, new = cks.load_checkpoint(demo), cks.load_checkpoint(fresh)
    problems = []
    for all_ in (False, True):
        problems += cks.compare(cks.expected_ls(old, "", all=all_),
                                cks.expected_ls(new, "", all=all_))
    if not problems:
        try:
            cks.assert_same_tree(old.obj, new.obj, "regenerated demo")
        except AssertionError as exc:
            problems.append(str(exc))
    return problems


def main(argv):
    if argv[1:] == ["--print-expected"]:
        if cks.torch is None:
            sys.exit(cks.TORCH_ERROR)
        demo = demo_path()
        ck = cks.load_checkpoint(demo)
        cks.print_json({"ls": cks.expected_ls(ck, str(demo)),
                        "ls_all": cks.expected_ls(ck, str(demo), all=True)})
        return 0
    if len(argv) > 1:
        print("\n".join(__doc__.strip().splitlines()[2:4]), file=sys.stderr)
        return 2
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    cks.require_torch(cks.fixtures_dir())   # no fixtures needed, only torch
    demo, regenerated = demo_path(), Regenerated()
    file = str(demo)
    tap = cks.Tap()
    tap.add(f"torch loads {demo.name} as a Lightning-style checkpoint",
            lambda: check_shape_of_demo(demo), needs_binary=False)
    tap.add(f"ls --json {demo.name} equals torch",
            lambda: cks.check_json(["ls", file, "--json"],
                                   cks.expected_ls(cks.load_checkpoint(demo), file)))
    tap.add(f"ls --all --json {demo.name} equals torch",
            lambda: cks.check_json(["ls", file, "--all", "--json"],
                                   cks.expected_ls(cks.load_checkpoint(demo), file, all=True)))
    tap.add("make-demo.py reproduces the demo (listing and values)",
            lambda: check_reproduced(demo, regenerated), needs_binary=False)

    def regenerated_ls():
        fresh = regenerated.get()
        expected = cks.expected_ls(cks.load_checkpoint(fresh), str(fresh), all=True)
        return cks.check_json(["ls", str(fresh), "--all", "--json"], expected)
    tap.add("ls --all --json of the regenerated demo equals torch", regenerated_ls)
    return tap.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
