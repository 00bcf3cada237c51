#!/usr/bin/python3
"""`ckpt-surgeon diff`, layout files, suggestions and `apply --target`,
checked against real torch.

usage: test_diff.py               run the checks, print TAP

Every expectation is computed by torch at test time:

* layout files that Python writes with print(k, v.dtype, v.shape),
  print(k, v.dtype, list(v.shape)) and print(k, v.dtype, tuple(v.shape))
  for every fixture's state dict read back as the checkpoint's own layout
  (diff exits 0 with nothing listed; a file with one shape changed is
  reported as exactly that mismatch);
* the neural-lam migrations (neural_lam.py: the flat ARModel before issue
  #48, after it, and the ForecasterModule since #208): missing, unexpected
  and mismatched keys are exactly the sets Python computes from the two
  models' state dicts, in torch's terms and orders; the suggestions make a
  script that `apply --target` replays to exit 0, and the result loads into
  the new model with strict=True holding each tensor that
  neural_lam/migrations.py would have put there;
* a model whose input grew (or shrank) by one feature: the mismatch, the
  insert-column (delete-column) suggestion, and the repaired checkpoint
  loading strictly, AdamW state included, with one real optimizer step;
* wrappers: DataParallel's `module.` both ways, torch.compile's `_orig_mod.`;
* ambiguity: two renamed blocks with identical shapes get no suggestion,
  while a distinct block beside them does; single keys that tie get none.
"""

import json
import os
import shutil
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path

import cks

torch = cks.torch
nl = None
SESSION = None


def session_dir(label):
    d = SESSION / label
    d.mkdir(parents=True, exist_ok=True)
    return d


def dtype_text(t):
    return str(t.dtype)


def write_layout(path, sd, style):
    """A layout file as Python prints it (style: size, list, tuple)."""
    with open(path, "w") as f:
        for k, v in sd.items():
            shape = {"size": v.shape, "list": list(v.shape), "tuple": tuple(v.shape)}[style]
            print(k, v.dtype, shape, file=f)
    return path


def entry(k, v):
    return {"key": k, "dtype": cks.dtype_name(v.dtype), "shape": list(v.shape)}


def expected_diff(have, want):
    """What diff --json lists for state dicts have (FILE) and want (TARGET)."""
    missing = [entry(k, v) for k, v in want.items() if k not in have]
    unexpected = [entry(k, v) for k, v in have.items() if k not in want]
    mismatched = [{"key": k,
                   "have": {"dtype": cks.dtype_name(have[k].dtype), "shape": list(have[k].shape)},
                   "want": {"dtype": cks.dtype_name(v.dtype), "shape": list(v.shape)}}
                  for k, v in want.items()
                  if k in have and (have[k].dtype != v.dtype or have[k].shape != v.shape)]
    return missing, unexpected, mismatched


def run_json(*args):
    """(parsed JSON, exit status, problems) of diff --json."""
    r = cks.run_cks(*args)
    if r.returncode not in (0, 1):
        return None, r.returncode, ["expected exit status 0 or 1"] + r.describe()
    try:
        return json.loads(r.stdout), r.returncode, []
    except ValueError as exc:
        return None, r.returncode, [f"stdout is not JSON: {exc}"] + r.describe()


def compare_diff(args, have, want, *, suggestions=None):
    """diff --json equals the expected lists; exit status 1 iff any."""
    got, status, bad = run_json(*args)
    if bad:
        return bad
    problems = []
    missing, unexpected, mismatched = expected_diff(have, want)
    for name, exp in (("missing", missing), ("unexpected", unexpected),
                      ("mismatched", mismatched)):
        if got.get(name) != exp:
            problems.append(f"{name}: got {json.dumps(got.get(name))[:300]}, "
                            f"expected {json.dumps(exp)[:300]}")
    want_status = 1 if (missing or unexpected or mismatched) else 0
    if status != want_status:
        problems.append(f"exit status {status}, expected {want_status}")
    if suggestions is not None:
        edits = [s.get("edit") for s in got.get("suggestions", [])]
        if edits != suggestions:
            problems.append(f"suggestions {edits}, expected {suggestions}")
    for s in got.get("suggestions", []):
        if set(s) != {"edit", "reason", "fixes"} or not s["reason"] or s["fixes"] < 1:
            problems.append(f"malformed suggestion {s}")
    return problems


def suggested_script(target, file, d):
    """Write diff --suggest's script; (path, problems)."""
    r = cks.run_cks("diff", file, target, "--suggest")
    path = d / "suggested.cks"
    if r.returncode not in (0, 1):
        return path, ["diff --suggest failed"] + r.describe()
    path.write_text(r.stdout)
    return path, []


def apply_target(script, file, target, out, *, want_status=0):
    """apply --target: exit status as expected; the report's first line."""
    r = cks.run_cks("apply", script, file, "-o", out, "--target", target)
    if r.returncode != want_status:
        return r, [f"apply --target: exit status {r.returncode}, expected {want_status}"] + r.describe()
    return r, []


# --------------------------------------------------------------------------
# Layout files written by Python read as the checkpoint's own layout

def layout_fixtures(outdir):
    out = []
    for path in cks.checkpoint_files(outdir):
        if cks.is_unsupported(path) or cks.expect_file(path).exists():
            continue
        try:
            ck = cks.load_checkpoint(path)
        except Exception:
            continue
        entries = ck.root_entries()
        if entries:
            out.append((path, OrderedDict(entries)))
    return out


def printable(key):
    return "\n" not in key and "\r" not in key and key.strip() == key and key != ""


def check_python_layout(path, sd, style):
    """diff FIXTURE python-layout: nothing missing, unexpected or mismatched
    except the keys Python cannot print on one line."""
    d = session_dir(f"layout-{path.name}-{style}")
    shown = OrderedDict((k, v) for k, v in sd.items() if printable(k))
    target = write_layout(d / "layout.txt", shown, style)
    return compare_diff(("diff", path, target, "--json"), sd, shown)


def check_python_layout_detects(path, sd):
    """The same file with the last tensor's shape changed (or its dtype,
    for a 0-dim tensor): exactly that key is mismatched, exit 1."""
    d = session_dir(f"layout-mut-{path.name}")
    shown = OrderedDict((k, v) for k, v in sd.items() if printable(k))
    if not shown:
        return []
    key = list(shown)[-1]
    v = shown[key]
    if v.dim():
        changed = torch.zeros([n + 1 for n in v.shape[:1]] + list(v.shape[1:]), dtype=v.dtype) \
            if not v.is_quantized else torch.zeros(1)
    else:
        changed = torch.zeros((), dtype=torch.float64 if v.dtype != torch.float64 else torch.float32)
    mutated = OrderedDict(shown)
    mutated[key] = changed
    target = write_layout(d / "layout.txt", mutated, "size")
    return compare_diff(("diff", path, target, "--json"), sd, mutated)


def check_layout_roundtrip(path, sd):
    """`layout FILE` read back as a target: diff exits 0."""
    d = session_dir(f"layout-own-{path.name}")
    r = cks.run_cks("layout", path)
    if r.returncode != 0:
        return ["layout failed"] + r.describe()
    target = d / "own.layout"
    target.write_text(r.stdout)
    return compare_diff(("diff", path, target, "--json"), sd, sd)


# --------------------------------------------------------------------------
# neural-lam

class NeuralLam:
    def __init__(self):
        self.dir = session_dir("neural-lam")
        self.files = {}

    def checkpoint(self, cls):
        name = cls.__name__
        if name not in self.files:
            torch.manual_seed(0)
            ck, _, _ = nl.lightning_checkpoint(cls)
            path = self.dir / f"{name}.ckpt"
            torch.save(ck, path)
            self.files[name] = path
        return self.files[name]

    def state(self, cls):
        return torch.load(self.checkpoint(cls))["state_dict"]

    def target(self, cls, form):
        """The layout cls expects, as a layout file or a checkpoint."""
        key = (cls.__name__, form)
        if key not in self.files:
            sd = cls().state_dict()
            if form in ("size", "list", "tuple"):
                path = write_layout(self.dir / f"{cls.__name__}-{form}.txt", sd, form)
            elif form == "state_dict":
                path = self.dir / f"{cls.__name__}-sd.pt"
                torch.save(sd, path)
            else:                               # a Lightning checkpoint
                path = self.dir / f"{cls.__name__}-lightning.ckpt"
                torch.save({"epoch": 0, "state_dict": sd}, path)
            self.files[key] = path
        return self.files[key]


NL = None


def check_nl_diff(old_cls, new_cls, form, suggestions):
    old = NL.state(old_cls)
    want = new_cls().state_dict()
    return compare_diff(("diff", NL.checkpoint(old_cls), NL.target(new_cls, form), "--json"),
                        old, want, suggestions=suggestions)


def check_nl_text(old_cls, new_cls):
    """The text report: counts first, the target's new prefix as one group."""
    old, want = NL.state(old_cls), new_cls().state_dict()
    missing, unexpected, mismatched = expected_diff(old, want)
    r = cks.run_cks("diff", NL.checkpoint(old_cls), NL.target(new_cls, "size"))
    if r.returncode != 1:
        return [f"exit status {r.returncode}, expected 1"] + r.describe()
    lines = r.stdout.splitlines()
    problems = []
    head = (f"{len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(mismatched)} mismatched ({len(old)} tensors here, {len(want)} in the target)")
    if not lines or head not in lines[0]:
        problems.append(f"first line {lines[:1]}, expected it to hold {head!r}")
    under = [m for m in missing if m["key"].startswith("forecaster.predictor.")]
    group = f"forecaster.predictor.*  {len(under)} keys"
    if not any(line.strip() == group for line in lines):
        problems.append(f"no line {group!r} in the report")
    if "suggested edits" not in r.stdout:
        problems.append("no suggested edits in the report")
    return problems + (r.describe() if problems else [])


def check_nl_apply(old_cls, new_cls, form):
    """The suggested script: apply --target exits 0; the result loads
    strictly into the new model, each tensor the one migrations.py maps."""
    d = session_dir(f"nl-apply-{old_cls.__name__}-{new_cls.__name__}-{form}")
    src, target = NL.checkpoint(old_cls), NL.target(new_cls, form)
    script, bad = suggested_script(target, src, d)
    if bad:
        return bad
    out = d / "out.ckpt"
    r, bad = apply_target(script, src, target, out)
    if bad:
        return bad
    if "matches" not in r.stdout:
        return ["apply --target printed no match line"] + r.describe()
    new = new_cls()
    loaded = torch.load(out)
    try:
        new.load_state_dict(loaded["state_dict"], strict=True)
    except Exception as exc:
        return [f"load_state_dict(strict=True): {exc}"]
    old = NL.state(old_cls)
    version = {"Issue48ARModel": 1, "ForecasterModule": 2}[new_cls.__name__]
    start = 1 if old_cls.__name__ == "Issue48ARModel" else 0
    mapping = nl.migrate_like_neural_lam(old, version) if start == 0 else \
        {k: ("forecaster.predictor." + k if k not in nl.UNPREFIXED else k) for k in old}
    problems = []
    for k_old, k_new in mapping.items():
        if not torch.equal(loaded["state_dict"][k_new], old[k_old]):
            problems.append(f"{k_new} is not the old {k_old}")
    return problems[:20]


def check_nl_partial():
    """Only the first suggestion: apply --target exits 1 and lists what is
    left (the grid MLP's keys)."""
    d = session_dir("nl-partial")
    src, target = NL.checkpoint(nl.OldARModel), NL.target(nl.ForecasterModule, "list")
    script, bad = suggested_script(target, src, d)
    if bad:
        return bad
    first = [line for line in script.read_text().splitlines()
             if line and not line.startswith("#")][:1]
    part = d / "first.cks"
    part.write_text("\n".join(first) + "\n")
    out = d / "out.ckpt"
    r, bad = apply_target(part, src, target, out, want_status=1)
    if bad:
        return bad
    grid = [k for k in nl.ForecasterModule().state_dict() if ".encoding_grid_mlp." in k]
    head = f"{len(grid)} missing, {len(grid)} unexpected, 0 mismatched"
    problems = [] if head in r.stdout.splitlines()[0] else [f"expected {head!r}"] + r.describe()
    if not out.exists():
        problems.append("OUT was not written (it must be, with exit 1)")
    dry = cks.run_cks("apply", part, src, "--dry-run", "--target", target)
    if dry.returncode != 1 or head not in dry.stdout:
        problems += ["--dry-run --target: expected exit 1 and the same counts"] + dry.describe()
    return problems


# --------------------------------------------------------------------------
# A feature more or fewer

class Net(torch.nn.Module):
    def __init__(self, features, outputs=3):
        super().__init__()
        self.embed = torch.nn.Sequential(torch.nn.Linear(features, 6), torch.nn.SiLU(),
                                         torch.nn.Linear(6, 6))
        self.norm = torch.nn.LayerNorm(6)
        self.head = torch.nn.Linear(6, outputs)

    def forward(self, x):
        return self.head(self.norm(self.embed(x)))


def trained_checkpoint(path, features, outputs=3):
    torch.manual_seed(1)
    net = Net(features, outputs)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(4, features)).pow(2).mean().backward()
        opt.step()
    torch.save({"epoch": 1, "state_dict": net.state_dict(),
                "optimizer_states": [opt.state_dict()]}, path)
    return path


def check_feature_change(old_features, new_features, old_out=3, new_out=3):
    d = session_dir(f"features-{old_features}-{new_features}-{old_out}-{new_out}")
    src = trained_checkpoint(d / "old.ckpt", old_features, old_out)
    new = Net(new_features, new_out)
    target = write_layout(d / "new.txt", new.state_dict(), "size")
    old = torch.load(src)["state_dict"]
    expected = []
    for key, n_old, n_new, dim in (("embed.0.weight", old_features, new_features, 1),
                                   ("head.weight", old_out, new_out, 0),
                                   ("head.bias", old_out, new_out, 0)):
        if n_new == n_old + 1:
            expected.append(f"insert-column {key} {n_old} --dim {dim}")
        elif n_new == n_old - 1:
            expected.append(f"delete-column {key} {n_old - 1} --dim {dim}")
    problems = compare_diff(("diff", src, target, "--json"), old, new.state_dict(),
                            suggestions=expected)
    if problems:
        return problems
    script, bad = suggested_script(target, src, d)
    if bad:
        return bad
    dry = cks.run_cks("apply", script, src, "--dry-run", "--target", target)
    if dry.returncode != 0 or "after" not in dry.stdout.splitlines()[-1]:
        return ["apply --dry-run --target of the suggestions: expected exit 0 "
                "and a match line"] + dry.describe()
    out = d / "out.ckpt"
    _, bad = apply_target(script, src, target, out)
    if bad:
        return bad
    loaded = torch.load(out)
    try:
        new.load_state_dict(loaded["state_dict"], strict=True)
    except Exception as exc:
        return [f"load_state_dict(strict=True): {exc}"]
    w_old, w_new = old["embed.0.weight"], loaded["state_dict"]["embed.0.weight"]
    keep = min(old_features, new_features)
    if not torch.equal(w_new[:, :keep], w_old[:, :keep]):
        problems.append("embed.0.weight: the columns kept changed")
    if new_features > old_features and not torch.equal(w_new[:, -1], torch.zeros(6)):
        problems.append("embed.0.weight: the inserted column is not zero")
    opt = torch.optim.AdamW(new.parameters(), lr=1e-2)
    try:
        opt.load_state_dict(loaded["optimizer_states"][0])
        opt.zero_grad()
        new(torch.randn(4, new_features)).pow(2).mean().backward()
        opt.step()
    except Exception as exc:
        problems.append(f"AdamW resumed from the repaired state fails: {exc}")
    return problems


# --------------------------------------------------------------------------
# Wrappers and ambiguity

def small_model():
    torch.manual_seed(2)
    return torch.nn.Sequential(OrderedDict(
        [("conv", torch.nn.Conv2d(3, 4, 3)), ("bn", torch.nn.BatchNorm2d(4)),
         ("fc", torch.nn.Linear(4, 2))]))


def check_wrapper(label, have, want, expected_edit, who):
    d = session_dir(f"wrapper-{label}")
    src, tgt = d / "have.pt", d / "want.pt"
    torch.save(have, src)
    torch.save(want, tgt)
    problems = compare_diff(("diff", src, tgt, "--json"), have, want,
                            suggestions=[expected_edit])
    if problems:
        return problems
    got, _, _ = run_json("diff", src, tgt, "--json")
    reason = got["suggestions"][0]["reason"]
    if who and who not in reason:
        problems.append(f"the reason does not name {who}: {reason}")
    script, bad = suggested_script(tgt, src, d)
    if bad:
        return bad
    _, bad = apply_target(script, src, tgt, d / "out.pt")
    if bad:
        return problems + bad
    loaded = torch.load(d / "out.pt")
    if list(loaded) != list(want) or not all(torch.equal(loaded[k], v) for k, v in zip(loaded, have.values())):
        problems.append("the result does not hold the input's tensors under the target's names")
    return problems


def block():
    return torch.nn.Sequential(torch.nn.Linear(5, 5), torch.nn.LayerNorm(5))


def check_ambiguous_blocks(with_distinct):
    """enc1/enc2 -> encA/encB, identical shapes: never a suggestion between
    them; with a distinct block renamed beside them, that one is suggested."""
    d = session_dir(f"ambiguous-{with_distinct}")
    old = torch.nn.Module()
    new = torch.nn.Module()
    old.enc1, old.enc2, new.encA, new.encB = block(), block(), block(), block()
    if with_distinct:
        old.head = torch.nn.Linear(5, 7)
        new.out = torch.nn.Linear(5, 7)
    have, want = old.state_dict(), new.state_dict()
    expected = ["rename-prefix head out"] if with_distinct else []
    src, tgt = d / "have.pt", d / "want.pt"
    torch.save(have, src)
    write_layout(tgt, want, "list")
    problems = compare_diff(("diff", src, tgt, "--json"), have, want, suggestions=expected)
    r = cks.run_cks("diff", src, tgt)
    if not with_distinct and "no edit to suggest" not in r.stdout:
        problems += ["the text report does not say there is no edit to suggest"] + r.describe()
    return problems


def check_ambiguous_singles():
    """Two unexpected and two missing keys of one shape and ending, none
    closer than another: no rename."""
    d = session_dir("ambiguous-singles")
    t = torch.zeros(3, 3)
    have = OrderedDict([("a.weight", t), ("b.weight", t.clone())])
    want = OrderedDict([("c.weight", t.clone()), ("d.weight", t.clone())])
    src, tgt = d / "have.pt", d / "want.pt"
    torch.save(have, src)
    torch.save(want, tgt)
    return compare_diff(("diff", src, tgt, "--json"), have, want, suggestions=[])


def check_single_by_ending():
    """A rename no subtree explains (a decoy of the same shape makes the
    one-key subtrees ambiguous), told apart by the longest common dotted
    ending."""
    d = session_dir("single-ending")
    t = torch.zeros(4, 4)
    have = OrderedDict([("fc.weight", t), ("keep", torch.zeros(2))])
    want = OrderedDict([("head.fc.weight", t.clone()), ("decoder.weight", t.clone()),
                        ("keep", torch.zeros(2))])
    src, tgt = d / "have.pt", d / "want.pt"
    torch.save(have, src)
    torch.save(want, tgt)
    return compare_diff(("diff", src, tgt, "--json"), have, want,
                        suggestions=["rename fc.weight head.fc.weight"])


def check_module_renamed():
    """A module renamed (one tensor in it) is a subtree rename, even with a
    missing decoy of the same shape elsewhere."""
    d = session_dir("module-renamed")
    t = torch.zeros(4, 4)
    have = OrderedDict([("blocks.0.attn.proj.weight", t), ("keep", torch.zeros(2))])
    want = OrderedDict([("blocks.0.attention.proj.weight", t.clone()),
                        ("decoder.weight", t.clone()), ("keep", torch.zeros(2))])
    src, tgt = d / "have.pt", d / "want.pt"
    torch.save(have, src)
    torch.save(want, tgt)
    return compare_diff(("diff", src, tgt, "--json"), have, want,
                        suggestions=["rename-prefix blocks.0.attn blocks.0.attention"])


# --------------------------------------------------------------------------
# Errors

def check_bad_target(text, message):
    d = session_dir("bad-target")
    path = d / f"bad{abs(hash(text)) % 100000}.txt"
    path.write_text(text)
    src = NL.checkpoint(nl.OldARModel)
    r = cks.run_cks("diff", src, path)
    want = f"ckpt-surgeon: {path}:{message}"
    if r.returncode != 2 or r.stdout or r.stderr.strip() != want:
        return [f"expected exit 2, no output and the line {want!r}"] + r.describe()
    r = cks.run_cks("apply", "/dev/null", src, "-o", d / "never.ckpt", "--target", path)
    if r.returncode != 2 or (d / "never.ckpt").exists():
        return ["apply --target with a bad target: expected exit 2 and no OUT"] + r.describe()
    return []


def main(argv):
    global nl, SESSION, NL
    outdir = cks.setup()
    import neural_lam
    nl = neural_lam
    SESSION = Path(tempfile.mkdtemp(prefix="cks-diff-"))
    NL = NeuralLam()
    tap = cks.Tap()
    for path, sd in layout_fixtures(outdir):
        for style in ("size", "list", "tuple"):
            tap.add(f"{path.name}: print(k, v.dtype, {style}) layout reads as its own layout",
                    lambda p=path, s=sd, st=style: check_python_layout(p, s, st))
        tap.add(f"{path.name}: one shape or dtype changed is exactly one mismatch",
                lambda p=path, s=sd: check_python_layout_detects(p, s))
        tap.add(f"{path.name}: `layout` output read back as the target matches",
                lambda p=path, s=sd: check_layout_roundtrip(p, s))
    prefix = "rename-prefix '' forecaster.predictor --except interior_mask_bool --except per_var_std"
    grid = "rename-prefix forecaster.predictor.g2m_gnn.grid_mlp forecaster.predictor.encoding_grid_mlp"
    cases = [(nl.OldARModel, nl.ForecasterModule, [prefix, grid]),
             (nl.Issue48ARModel, nl.ForecasterModule, [prefix]),
             (nl.OldARModel, nl.Issue48ARModel, ["rename-prefix g2m_gnn.grid_mlp encoding_grid_mlp"])]
    for old_cls, new_cls, sugg in cases:
        for form in ("size", "list", "tuple", "state_dict", "lightning"):
            tap.add(f"neural-lam {old_cls.__name__} -> {new_cls.__name__} ({form} target): "
                    f"missing/unexpected/mismatched as torch sees them, suggestions {len(sugg)}",
                    lambda o=old_cls, n=new_cls, f=form, s=sugg: check_nl_diff(o, n, f, s))
        for form in ("size", "lightning"):
            tap.add(f"neural-lam {old_cls.__name__} -> {new_cls.__name__} ({form} target): the "
                    f"suggested script applies with --target exit 0 and loads strictly",
                    lambda o=old_cls, n=new_cls, f=form: check_nl_apply(o, n, f))
    tap.add("neural-lam: the text report opens with the counts and groups the new prefix",
            lambda: check_nl_text(nl.OldARModel, nl.ForecasterModule))
    tap.add("neural-lam: after the first suggestion only, apply --target exits 1 with the rest",
            check_nl_partial)
    for args in ((5, 6), (5, 4), (5, 5, 3, 4), (5, 6, 3, 2)):
        tap.add(f"features/outputs {args}: the mismatch, its column edit, a strict load and "
                f"a resumed AdamW step", lambda a=args: check_feature_change(*a))
    m = small_model().state_dict()
    dp = torch.nn.DataParallel(small_model()).state_dict()
    compiled = OrderedDict(("_orig_mod." + k, v) for k, v in m.items())
    tap.add("DataParallel's module. prefix removed", lambda: check_wrapper(
        "dp-strip", dp, m, "rename-prefix module ''", "DataParallel"))
    tap.add("DataParallel's module. prefix added", lambda: check_wrapper(
        "dp-add", m, dp, "rename-prefix '' module", "DataParallel"))
    tap.add("torch.compile's _orig_mod. prefix removed", lambda: check_wrapper(
        "compile", compiled, m, "rename-prefix _orig_mod ''", "torch.compile"))
    tap.add("two renamed blocks with identical shapes: no suggestion",
            lambda: check_ambiguous_blocks(False))
    tap.add("the same beside a distinct renamed block: only that block is suggested",
            lambda: check_ambiguous_blocks(True))
    tap.add("single keys that tie: no rename", check_ambiguous_singles)
    tap.add("a single rename found by the longest common ending", check_single_by_ending)
    tap.add("a module renamed is a subtree rename despite a decoy", check_module_renamed)
    for text, message in (("a.weight float33 [3]\n", "1: unknown dtype 'float33'"),
                          ("# c\n\nb torch.float32 torch.Size([3, x])\n",
                           "3: expected 'KEY DTYPE [d0, d1, ...]'"),
                          ("a float32 [1]\na float32 [2]\n",
                           "2: key 'a' listed twice (first on line 1)")):
        tap.add(f"a bad layout file ({message}): one error line, exit 2",
                lambda t=text, m=message: check_bad_target(t, m))
    try:
        return tap.run()
    finally:
        shutil.rmtree(SESSION, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
