#!/usr/bin/python3
"""Oracle tests of `ckpt-surgeon apply SCRIPT FILE -o OUT` against torch.

usage: test_apply.py                 run the checks, print TAP
       test_apply.py --oracle-only   only the self-checks of the oracles
                                     (no binary needed)

What is checked (expected values always come from torch.load at test time,
and from applyck.py's Python implementation of the edit semantics):

* the oracles themselves: deep.diff finds differences made on purpose, the
  script lexer, the edit oracle on small cases, the archive checks;
* every fixture with an empty script: exit 0, nothing on stdout, FILE
  untouched, no stray file; torch.load(OUT) deep-equals torch.load(FILE);
  data.pkl and every record byte-identical; the archive layout;
* every fixture with a state-dict key, renamed away and back: deep-equal,
  data.pkl re-pickled, storages renumbered 0..N-1, sharing kept;
* one script per edit kind: keys in order, _metadata, the whole checkpoint,
  load_state_dict(strict=True) into a model with the new names;
* --dry-run output, warnings, and every failure path (exit 2, message at
  SCRIPT:LINE:COL or naming the file, FILE and OUT's directory unchanged).

Set CKS_KEEP_TMP=1 to keep the working directory (its path is printed).
"""

import collections
import os
import shutil
import sys
from pathlib import Path

import cks

torch = cks.torch

ak = deep = None        # imported after the torch check (they need torch)


def fixture_net():
    import fixture_models
    return fixture_models.FixtureNet()


def lit_wrapper():
    import fixture_models
    return fixture_models.LitWrapper()


# --------------------------------------------------------------------------
# Oracle self-checks

def add_oracle_checks(tap, fx):
    for description, check in deep.self_checks(lambda p: torch.load(str(p), map_location="cpu"), fx):
        tap.add(description, check, needs_binary=False)

    def lexer():
        problems = []
        cases = [
            ("rename a b", ["rename", "a", "b"]),
            ("  rename-prefix   \"model\"   'net'   # comment", ["rename-prefix", "model", "net"]),
            ("rename-prefix \"\" x --except 'a b' --except=c*", ["rename-prefix", "", "x", "--except", "a b",
                                                              "--except=c*"]),
            (r'rename-regex "a\.b" "x\\y\"z"', ["rename-regex", r"a\.b", 'x\\y"z']),
            (r"rename-regex a\.b 'c\d'", ["rename-regex", r"a\.b", r"c\d"]),
            ("delete 'hash#tag'  # real comment", ["delete", "hash#tag"]),
            ("delete a\"b c\"d", ["delete", "ab cd"]),
            ("# only a comment", []),
        ]
        for line, want in cases:
            got = [t.text for t in ak.lex(line)]
            if got != want:
                problems.append(f"lex({line!r}) = {got}, expected {want}")
        for line, col in (("rename 'abc def", 8), ('rename "abc', 8), ("  frob a b", 3)):
            try:
                ak.parse_line(line)
                problems.append(f"parse_line({line!r}) raised nothing")
            except ak.ScriptError as exc:
                if exc.col != col:
                    problems.append(f"parse_line({line!r}): column {exc.col}, expected {col}")
        for arg in ("", "a b", "it's", 'say "hi"', "--x", "#", "back\\slash", "x'y\"z", "tab\there"):
            line = ak.edit_line("rename", arg, "x")
            got = [t.text for t in ak.lex(line)]
            if got != ["rename", arg, "x"]:
                problems.append(f"quote({arg!r}) -> {line!r} lexes as {got}")
        return problems
    tap.add("script lexer/quoting: contract examples, errors, round trips", lexer,
            needs_binary=False)

    def oracle():
        keys = ["enc.w", "encoder.w", "enc", "enc.sub.x", "top"]
        meta = collections.OrderedDict([("", {"version": 1}), ("enc", {"version": 1}),
                                        ("enc.sub", {"version": 2}), ("encoder", {"version": 1})])
        cases = [
            ("rename-prefix enc x", ["x.w", "encoder.w", "x", "x.sub.x", "top"],
             ["", "x", "x.sub", "encoder"]),
            ("rename-prefix '' p --except 'enc.sub.*'",
             ["p.enc.w", "p.encoder.w", "p.enc", "enc.sub.x", "p.top"], ["p", "p.enc", "enc.sub", "p.encoder"]),
            # enc.sub -> '' would clash with the root entry, which stays: kept
            ("rename-prefix enc.sub ''", ["enc.w", "encoder.w", "enc", "x", "top"],
             ["", "enc", "enc.sub", "encoder"]),
            (r"rename-regex 'enc\.(.*)' 'dec.\1'", ["dec.w", "encoder.w", "enc", "dec.sub.x", "top"],
             ["", "dec", "dec.sub", "encoder"]),
            ("rename enc.sub.x enc.sub2.x", ["enc.w", "encoder.w", "enc", "enc.sub2.x", "top"],
             ["", "enc", "enc.sub2", "encoder"]),
            ("rename enc.w enc.v", ["enc.v", "encoder.w", "enc", "enc.sub.x", "top"],
             ["", "enc", "enc.sub", "encoder"]),
            ("rename top enc.sub.top", ["enc.w", "encoder.w", "enc", "enc.sub.x", "enc.sub.top"],
             ["", "enc", "enc.sub", "encoder"]),
            ("delete 'enc*'", ["top"], ["", "enc", "enc.sub", "encoder"]),
            ("delete 'enc.?'", ["encoder.w", "enc", "enc.sub.x", "top"],
             ["", "enc", "enc.sub", "encoder"]),
        ]
        problems = []
        for line, want_keys, want_meta in cases:
            try:
                got_keys, got_meta, _ = ak.edit_keys(keys, meta, ak.parse_line(line))
            except ak.EditError as exc:
                problems.append(f"{line}: unexpected error {exc}")
                continue
            if got_keys != want_keys:
                problems.append(f"{line}: keys {got_keys}, expected {want_keys}")
            if list(got_meta) != want_meta:
                problems.append(f"{line}: _metadata {list(got_meta)}, expected {want_meta}")
        for line, kind in (("rename nope x", "missing"), ("rename enc.w top", "collision"),
                           ("rename-prefix encoder enc", "collision"),
                           ("rename-prefix nope x", "nothing"),
                           ("rename-prefix enc x --except 'enc*'", "nothing"),
                           ("delete 'x*'", "nothing"), ("rename-regex 'a(b' x", "regex"),
                           (r"rename-regex '(enc|encoder)\.w' w", "collision")):
            try:
                ak.edit_keys(keys, meta, ak.parse_line(line))
                problems.append(f"{line}: no error, expected {kind}")
            except ak.EditError as exc:
                if exc.kind != kind:
                    problems.append(f"{line}: error {exc.kind}, expected {kind}")
        step = ak.edit_keys(keys, meta, ak.parse_line("rename-regex 'nc' x"))[2]
        if step.warning is None:
            problems.append("rename-regex 'nc' x (anchored: matches no key) gave no warning")
        return problems
    tap.add("edit oracle: hand-checked small cases (keys, _metadata, errors)", oracle,
            needs_binary=False)

    def archive_ok():
        problems = []
        for name in ("tied.pt", "state-dict.pt", "lightning.ckpt", "my.ckpt.v1.pt"):
            bad = ak.archive_problems(fx / name, fx / name, repickled=False)
            problems += [f"{name}: {p}" for p in bad]
        return problems
    tap.add("archive checks pass on files torch itself wrote", archive_ok, needs_binary=False)

    def archive_bad():
        problems = []
        expect = {
            "deflated.ckpt": ["STORED", "multiple of 64"],
            "bytesio.pt": ["archive folder 'archive'"],
            "torch2-v3.pt": ["multiple of 64", "calculate_storage_offsets"],
        }
        for name, words in expect.items():
            text = "\n".join(ak.archive_problems(fx / name, fx / name))
            for word in words:
                if word not in text:
                    problems.append(f"{name}: no problem mentioning {word!r}: {text[:300]!r}")
        text = "\n".join(ak.archive_problems(fx / "state-dict.pt", fx / "torch2-v3.pt"))
        for word in (".format_version", "byteorder"):
            if word not in text:
                problems.append(f"dropped 2.x records not reported ({word})")
        text = "\n".join(ak.archive_problems(fx / "tied.pt", fx / "tied.pt", repickled=True))
        if "not re-pickled" not in text:
            problems.append("an identical data.pkl is not reported when re-pickling is expected")
        text = "\n".join(ak.archive_problems(fx / "state-dict.pt", fx / "tied.pt", repickled=False))
        if "data.pkl differs" not in text:
            problems.append("a different data.pkl is not reported")
        return problems
    tap.add("archive checks fail on DEFLATED, unaligned, misnamed, 2.x-unpredictable, "
            "dropped-record and wrong-pickle files", archive_bad, needs_binary=False)

    def prediction():
        # torch 1.13 writes storages string-sorted; with < 11 storages that is
        # pickle order, and its layout is miniz's: the prediction must hold
        a = ak.read_archive(fx / "tied.pt")
        storages = ak.first_seen(ak.read_pids(a.pickle))
        if list(storages) != [str(i) for i in range(len(storages))]:
            return [f"tied.pt storages {list(storages)} are not 0..N-1 (test premise)"]
        return ak.offset_prediction_problems(a, storages)
    tap.add("torch 2.x offset prediction holds for a torch-written file (tied.pt)",
            prediction, needs_binary=False)


# --------------------------------------------------------------------------
# Empty scripts and rename away and back

EMPTY_SCRIPT = ["# ckpt-surgeon script (empty: no edits)", "", "   # indented comment", ""]


def out_name_for(path):
    """A dotted OUT name, so the folder rule (cut at the last dot) is exercised."""
    return f"out.{path.name}"


def loadable(path):
    return not cks.is_unsupported(path)


def first_tensor_key(path):
    obj = ak.load(path)
    root = cks.default_root(obj)
    container = cks.resolve(obj, root)
    if not isinstance(container, dict):
        return None
    for key, value in container.items():
        if isinstance(key, str) and cks.is_tensor(value) and "\n" not in key:
            return key, list(container.keys())
    return None


def check_storage_facts(case):
    """Each tensor's storage keeps its pid dtype, numel and location."""
    bad = case.failed()
    if bad or ak.is_torch2(case.fixture):
        return bad
    before = cks.load_checkpoint(case.fixture)
    after = cks.load_checkpoint(case.out)
    facts = lambda ck: {p: (s.dtype, s.numel, s.location) for p, s in
                        ((p, ck.storage(t)) for p, t in ck.all_tensors())}
    fb, fa = facts(before), facts(after)
    problems = [f"{p}: storage (dtype, numel, location) {fb[p]} became {fa.get(p)}"
                for p in fb if fa.get(p) != fb[p]]
    return problems[:20]


def add_fixture_checks(tap, fx):
    for path in cks.checkpoint_files(fx):
        if not loadable(path):
            continue
        name = path.name
        empty = ak.Case(f"empty script: {name}", path, EMPTY_SCRIPT, out_name=out_name_for(path))
        tap.add(f"{empty.label}: exit 0, no stdout, FILE untouched, no stray file",
                empty.check_clean)
        tap.add(f"{empty.label}: torch.load(OUT) deep-equals torch.load(FILE)", empty.check_deep)
        tap.add(f"{empty.label}: data.pkl and every storage record byte-identical",
                lambda c=empty: c.failed() or [p for p in ak.archive_problems(c.out, c.fixture,
                                                                              repickled=False)
                                               if "differs from the input" in p])
        tap.add(f"{empty.label}: archive (CRCs, STORED, 64-byte aligned data, folder "
                f"{ak.torch_folder(empty.out_name)!r}, records"
                f"{', 2.x records kept' if ak.is_torch2(path) else ''})",
                lambda c=empty: c.check_archive(False))

        if name == "tied.pt":
            for out_name, lines in (("noext", EMPTY_SCRIPT), (".hidden.pt", []), ("x.", [])):
                case = ak.Case(f"empty script: {name} -o {out_name}", path, lines, out_name=out_name)
                tap.add(f"{case.label}: archive folder {ak.torch_folder(out_name)!r}"
                        f"{' (0-byte script)' if not lines else ''}",
                        lambda c=case: c.check_clean() or c.check_archive(False))
        try:
            found = first_tensor_key(path)
        except Exception as exc:
            tap.add(f"rename away and back: {name}: load the input",
                    lambda exc=exc: [f"torch.load failed: {exc}"], needs_binary=False)
            continue
        if found is None:
            continue        # no state-dict key (whole-module.pt)
        key, keys = found
        away = key + ".cks-away"
        while away in keys:
            away += "x"
        lines = ["# rename one key away and back: forces re-pickling",
                 ak.edit_line("rename", key, away), ak.edit_line("rename", away, key)]
        back = ak.Case(f"rename away and back: {name}", path, lines, out_name=out_name_for(path))
        ak.add_case_checks(tap, back, repickled=True, keys=False, metadata=None)
        tap.add(f"{back.label}: storages keep dtype, numel and location",
                lambda c=back: check_storage_facts(c))


# --------------------------------------------------------------------------
# One script per edit kind

def scenarios(fx):
    """(case, checks options): the edits on suitable fixtures."""
    S = lambda label, name, lines, **kw: ak.Case(label, fx / name, lines, **kw)
    out = []

    def add(case, **options):
        out.append((case, options))

    add(S("rename emb.weight embedding.weight (state-dict.pt)", "state-dict.pt",
          ["rename emb.weight embedding.weight"]),
        metadata=[("embedding", 1)], model=lambda: ak.relocate(fixture_net(), "emb", "embedding"))
    add(S("rename mlp.0.weight mlp.0.w: module keeps its bias, _metadata unchanged", "state-dict.pt",
          ["rename mlp.0.weight mlp.0.w"]), metadata=[("mlp.0", 1)])
    add(S("rename emb.weight bn.emb_weight: bn already has an entry, emb's stays", "state-dict.pt",
          ["rename emb.weight bn.emb_weight"]), metadata=[("emb", 1), ("bn", 2)])
    add(S("rename-prefix bn norm0 (BatchNorm, version 2)", "state-dict.pt",
          ["rename-prefix bn norm0"]),
        metadata=[("norm0", 2)], model=lambda: ak.relocate(fixture_net(), "bn", "norm0"))
    add(S("rename-prefix model net (lightning.ckpt)", "lightning.ckpt",
          ["rename-prefix model net"]),
        metadata=[("net.bn", 2), ("", 1)], model=lambda: ak.relocate(lit_wrapper(), "model", "net"))
    add(S("rename-prefix model '' strips the Lightning prefix", "lightning.ckpt",
          ["rename-prefix model ''"]),
        metadata=[("bn", 2)], model=fixture_net)
    add(S("rename-prefix '' pl --except 'model.bn.*' (lightning.ckpt)", "lightning.ckpt",
          ["rename-prefix '' pl --except 'model.bn.*'"]),
        metadata=[("pl", 1), ("pl.model", 1), ("model.bn", 2)],
        model=lambda: ak.relocate(ak.relocate(lit_wrapper(), "", "pl"), "pl.model.bn", "model.bn"))
    add(S("rename-prefix blocks stages --except '*.norm.*' (state-dict.pt)", "state-dict.pt",
          ["rename-prefix blocks stages --except '*.norm.*'"]),
        metadata=[("stages.first.proj", 1), ("blocks.first.norm", 1)],
        model=lambda: ak.relocate(ak.relocate(ak.relocate(fixture_net(), "blocks", "stages"),
                                              "stages.first.norm", "blocks.first.norm"),
                                  "stages.second.norm", "blocks.second.norm"))
    add(S("rename-prefix blocks.1 b1: whole components (not blocks.10, blocks.100)",
          "many-tensors.pt", ["rename-prefix blocks.1 b1"]), metadata=None)
    add(S("rename-prefix blocks '' strips a prefix (many-tensors.pt)", "many-tensors.pt",
          ["rename-prefix blocks ''"]), metadata=None)
    add(S("rename-prefix base foundation: OLD equal to a whole key; views keep offsets",
          "views.pt", ["rename-prefix base foundation"]), metadata=None)
    add(S(r"rename-regex 'mlp\.([0-9]+)\.(weight|bias)' 'ffn.\1.\2' (state-dict.pt)",
          "state-dict.pt", [r"rename-regex 'mlp\.([0-9]+)\.(weight|bias)' 'ffn.\1.\2'"]),
        metadata=[("ffn.0", 1), ("ffn.3", 1)],
        model=lambda: ak.relocate(fixture_net(), "mlp", "ffn"))
    add(S("rename-regex moving part of a module: _metadata unchanged (lightning.ckpt)",
          "lightning.ckpt", [r"rename-regex 'model\.bn\.(weight|bias)' 'model.bn_affine.\1'"]),
        metadata=[("model.bn", 2)])
    add(S(r"rename-regex with \0 and \\ in REPLACEMENT (odd-keys.pt)", "odd-keys.pt",
          [r"rename-regex 'back\\slash' '\0.moved'",
           r"rename-regex 'plain\.(weight)' 'plain\\\1'"]), metadata=None)
    add(S("rename-regex with [[:digit:]]+ (many-tensors.pt)", "many-tensors.pt",
          [r"rename-regex 'blocks\.([[:digit:]]+)\.t0' 'blocks.\1.first'"]), metadata=None)
    add(S("rename-regex is anchored: 'emb' renames nothing (warning, exit 0)", "state-dict.pt",
          ["# the regex must match a whole key", "rename-regex emb x"]),
        warnings=True, repickled=None)
    add(S("delete emb.weight: head.weight and emb.first_row stay tied (tied.pt)", "tied.pt",
          ["delete emb.weight"]), metadata=None)
    add(S("delete 'proj*' drops the storage no tensor uses (tied.pt)", "tied.pt",
          ["delete 'proj*'"]), metadata=None)
    add(S("delete '*.num_batches_tracked' and 'mlp.?.weight': _metadata unchanged",
          "state-dict.pt", ["delete '*.num_batches_tracked'", "delete 'mlp.?.weight'"]),
        metadata=[("bn", 2)])
    add(S("delete 'blocks.?.t1': ? is one character (many-tensors.pt)", "many-tensors.pt",
          ["delete 'blocks.?.t1'"]), metadata=None)
    add(S("quoted keys: '#' inside quotes, \\\" in double quotes, blanks (odd-keys.pt)",
          "odd-keys.pt",
          ["delete 'hash#tag'   # the '#' inside quotes is not a comment",
           'delete "quote\\"d"',
           "rename 'with space' \"without_space\"",
           "rename 'tab\there' \"\"'x'y\"\""]), metadata=None)
    add(S("several edits with comments and blank lines (lightning.ckpt)", "lightning.ckpt",
          MULTI_SCRIPT),
        metadata=[("net.embedding", 1), ("net.bn", 2)],
        model=lambda: ak.relocate(ak.drop(ak.relocate(lit_wrapper(), "model", "net"),
                                          "net.heads.reg"),
                                  "net.emb", "net.embedding"))
    add(S("--root weights: rename-prefix '' w (root-none.pt)", "root-none.pt",
          ["rename-prefix '' w"], root="weights"),
        metadata=[("w", 1), ("w.bn", 2)], model=lambda: ak.relocate(fixture_net(), "", "w"))
    add(S("default root model_state_dict: rename-prefix heads head (root-model-state-dict.pt)",
          "root-model-state-dict.pt", ["rename-prefix heads head"]),
        metadata=[("head.cls", 1)], model=lambda: ak.relocate(fixture_net(), "heads", "head"))
    add(S("rename-prefix mlp ffn on a protocol-4 pickle", "protocol-4.pt",
          ["rename-prefix mlp ffn"]), metadata=[("ffn.0", 1)])
    add(S("rename qint8 q8: quantized view stays tied (quantized.pt)", "quantized.pt",
          ["rename qint8 q8"]), metadata=None)
    add(S("rename weight w: Parameters stay Parameters in a plain dict (parameters.pt)",
          "parameters.pt", ["rename weight w"]), metadata=None)
    add(S("rename tagged tagged2: tensor subclass kept (tensor-subclass.pt)",
          "tensor-subclass.pt", ["rename tagged tagged2"]), metadata=None)
    add(S("rename-prefix mlp ffn keeps cuda:0 locations (cuda-location.pt)",
          "cuda-location.pt", ["rename-prefix mlp ffn"]), metadata=[("ffn.0", 1)])
    add(S("rename-prefix layers L on a torch 2.x pickle (torch2-v3.pt)", "torch2-v3.pt",
          ["rename-prefix layers L"]), metadata=[("", 1)])
    add(S("delete on a torch 2.x pickle with negative views (torch2-neg.pt)", "torch2-neg.pt",
          ["delete negated_slice"]), metadata=None)
    return out


MULTI_SCRIPT = [
    "# ckpt-surgeon 0.x script: Lightning 'model.' -> 'net.', drop a head",
    "rename-prefix   \"model\"   'net'     # messy quoting and spacing on purpose",
    "",
    "delete 'net.heads.reg.*'",
    "   rename net.emb.weight net.embedding.weight",
]


def add_scenario_checks(tap, fx):
    for case, options in scenarios(fx):
        warnings = None
        if options.get("warnings"):
            warnings = {e.line: e.cols() for e in case.edits if e.op == "rename-regex"}
        ak.add_case_checks(tap, case, repickled=options.get("repickled", True),
                           warnings=warnings, metadata=options.get("metadata"),
                           model=options.get("model"))
        tap.add(f"{case.label}: the oracle applies the script to torch.load(FILE) (test premise)",
                lambda c=case: [] if c.expected() else ["no expectation"], needs_binary=False)


# --------------------------------------------------------------------------
# --dry-run and warnings

def add_dry_run_checks(tap, fx):
    multi = ak.Case("--dry-run, several edits (lightning.ckpt, no -o)", fx / "lightning.ckpt",
                    MULTI_SCRIPT, dry_run=True, with_out=False)
    tap.add(f"{multi.label}: exact listing, nothing written", lambda: ak.check_dry_run(multi))
    with_o = ak.Case("--dry-run -o OUT (lightning.ckpt)", fx / "lightning.ckpt", MULTI_SCRIPT,
                     dry_run=True)
    tap.add(f"{with_o.label}: exact listing, OUT not created", lambda: ak.check_dry_run(with_o))
    deleted = ak.Case("--dry-run delete 'proj*' (tied.pt)", fx / "tied.pt",
                      ["delete 'proj*'", "rename emb.weight embedding"], dry_run=True)
    tap.add(f"{deleted.label}: '  KEY (deleted)' lines in key order",
            lambda: ak.check_dry_run(deleted))
    prefix = ak.Case("--dry-run rename-prefix '' with --except (state-dict.pt)",
                     fx / "state-dict.pt",
                     ["rename-prefix '' top --except 'bn.*' --except=emb.weight",
                      r"rename-regex 'top\.(mlp|blocks)\.(.*)' '\1.\2'"], dry_run=True)
    tap.add(f"{prefix.label}: canonical lines, renames in key order",
            lambda: ak.check_dry_run(prefix))
    nothing = ak.Case("--dry-run rename-regex renaming nothing (state-dict.pt)",
                      fx / "state-dict.pt", ["rename-regex emb x"], dry_run=True, with_out=False)
    tap.add(f"{nothing.label}: the edit's line and no change line",
            lambda: ak.check_dry_run(nothing))

    def dry_run_error():
        case = ak.Case("--dry-run with a failing edit", fx / "state-dict.pt",
                    ["rename emb.weight x", "delete 'no.such.*'"], dry_run=True)
        inv = case.inv()
        return inv.check_failure(where=f"{inv.script}:2", cols=case.edits[1].cols())
    tap.add("--dry-run with a failing edit on line 2: exit 2 at SCRIPT:2:COL, nothing written",
            dry_run_error)


# --------------------------------------------------------------------------
# Failure paths

SCRIPT_ERRORS = [
    # (label, fixture, lines, failing line, columns allowed (None: any), mention)
    ("unknown edit", "state-dict.pt", ["# header", "", "  frobnicate a b"], 3, {3}, ["frobnicate"]),
    ("unterminated single quote", "state-dict.pt", ["rename 'emb.weight x"], 1, None, []),
    ("unterminated double quote", "state-dict.pt", ["rename emb.weight x", 'delete "x'], 2, None, []),
    ("rename with one argument", "state-dict.pt", ["rename emb.weight"], 1, None, []),
    ("unknown option", "state-dict.pt", ["rename-prefix emb x --frob y"], 1, None, ["--frob"]),
    ("rename of a missing key", "state-dict.pt", ["rename no.such.key x"], 1, "edit", ["no.such.key"]),
    ("missing key on line 3 after two valid edits", "state-dict.pt",
     ["rename emb.weight e", "delete 'mlp.0.*'", "rename mlp.0.weight x"], 3, "edit", ["mlp.0.weight"]),
    ("rename onto an existing key", "state-dict.pt", ["rename mlp.0.weight mlp.0.bias"], 1, "edit",
     ["mlp.0.weight", "mlp.0.bias"]),
    ("rename-prefix making a key equal to an existing one", "state-dict.pt",
     ["rename-prefix mlp.0 mlp.3"], 1, "edit", "collision"),
    ("rename-regex making two keys equal", "state-dict.pt",
     [r"rename-regex 'heads\.(cls|reg)\.(.*)' 'head.\2'"], 1, "edit", "collision"),
    ("rename-prefix renaming nothing", "state-dict.pt", ["rename-prefix nothing.here x"], 1, "edit",
     ["nothing.here"]),
    ("rename-prefix where --except leaves nothing", "state-dict.pt",
     ["rename-prefix emb x --except 'emb*'"], 1, "edit", []),
    ("delete matching nothing", "state-dict.pt", ["delete 'no.such.*'"], 1, "edit", ["no.such.*"]),
    ("invalid regex", "state-dict.pt", ["rename-regex 'a(b' x"], 1, "edit", []),
    ("a later edit fails: nothing written", "lightning.ckpt",
     ["rename-prefix model net", "delete 'model.*'"], 2, "edit", []),
]


def add_script_error_checks(tap, fx):
    for label, name, lines, lineno, cols, mention in SCRIPT_ERRORS:
        case = ak.Case(f"script error: {label}", fx / name, lines)

        def check(case=case, lineno=lineno, cols=cols, mention=mention):
            inv = case.inv()
            problems = []
            if cols == "edit":
                try:
                    case.expected()
                    problems.append("(test bug: the oracle applies this script)")
                except ak.EditError as exc:
                    if exc.edit.line != lineno:
                        problems.append(f"(test bug: the oracle fails on line {exc.edit.line})")
                    if mention == "collision":
                        if exc.kind != "collision":
                            problems.append(f"(test bug: the oracle says {exc.kind})")
                        mention = ()
                        pairs = getattr(exc, "pairs", [])
                        if inv.run.returncode == 2 and not any(
                                a in inv.run.stderr and b in inv.run.stderr for a, b in pairs):
                            problems.append("the message names no colliding pair of keys; "
                                            f"the pairs are {pairs[:4]}")
                cols = next((e.cols() for e in case.edits if e.line == lineno), None)
            return problems + inv.check_failure(where=f"{inv.script}:{lineno}", cols=cols,
                                                mention=mention)
        shown = f"SCRIPT:{lineno}" + (":COL" if cols else "")
        tap.add(f"{case.label}: exit 2 at {shown}, FILE untouched, nothing written", check)


class Setup:
    """A private copy of a fixture in its own directory, for OUT tricks."""

    def __init__(self, label, fixture):
        self.dir = ak.SESSION.new_dir(label)
        self.file = self.dir / "in.pt"
        shutil.copyfile(fixture, self.file)
        self.script = self.dir / "edits.cks"
        self.script.write_text("rename-prefix mlp ffn\n")


def control(setup, *extra):
    """The same invocation with a fresh OUT must succeed (so a refusal is
    about OUT, not a missing feature)."""
    fresh_dir = setup.dir / "control"
    fresh_dir.mkdir(exist_ok=True)
    out = fresh_dir / f"out{len(list(fresh_dir.iterdir()))}.pt"
    r = ak.run(["apply", setup.script, setup.file, "-o", out, *extra])
    if r.returncode != 0 or not out.is_file():
        return [ak.Headline(f"control run with a fresh OUT failed: "
                            f"{(r.stderr.splitlines() or ['exit ' + str(r.returncode)])[0]}")] \
            + r.describe()
    out.unlink()
    return []


def out_failure(label, prepare, *, force=True, mention_out=True):
    """A check: apply with OUT made by prepare(setup) -> (file arg, out arg, cwd)."""
    def check():
        setup = Setup(label, FIXTURES / "state-dict.pt")
        bad = control(setup)
        if bad:
            return bad
        file_arg, out_arg, cwd = prepare(setup)
        args = ["apply", setup.script, file_arg, "-o", out_arg] + (["--force"] if force else [])
        inv = ak.Invocation(args, Path(file_arg), Path(out_arg), str(setup.script), cwd=cwd,
                            watch=(setup.dir,)).execute()
        problems = inv.check_failure()
        if str(out_arg) not in map(str, inv.run.argv):
            problems.append(f"(test bug: OUT {out_arg!r} not passed as spelled)")
        if mention_out and inv.run.returncode == 2 and \
                str(out_arg) not in inv.run.stderr and str(file_arg) not in inv.run.stderr:
            problems.append(f"the message names neither OUT {str(out_arg)!r} nor FILE")
        return problems
    return check


def add_out_checks(tap):
    def existing_out(setup):
        out = setup.dir / "existing.pt"
        out.write_bytes(b"precious, not a checkpoint\n")
        return setup.file, out, None
    tap.add("existing OUT without --force: exit 2, OUT byte-identical, nothing else written",
            out_failure("existing-out", existing_out, force=False))

    def force_replaces():
        setup = Setup("force", FIXTURES / "state-dict.pt")
        out = setup.dir / "existing.pt"
        out.write_bytes(b"old content\n")
        inv = ak.Invocation(["apply", setup.script, setup.file, "-o", out, "--force"],
                            setup.file, out, str(setup.script)).execute()
        problems = inv.check_success()
        if problems:
            return problems
        try:
            got = torch.load(str(out), map_location="cpu")
        except Exception as exc:
            return [f"OUT does not load after --force: {exc}"]
        want = torch.load(str(setup.file), map_location="cpu")
        container, steps, origin = ak.apply_edits(want, ak.parse_script(setup.script.read_text()))
        return deep.diff(container, got)
    tap.add("--force replaces an existing OUT (no temporary file left)", force_replaces)

    tap.add("OUT == FILE (same path, --force): refused, FILE untouched",
            out_failure("same-path", lambda s: (s.file, s.file, None)))
    # strings, not Paths: pathlib would drop the "." components
    tap.add("OUT == FILE spelled DIR/./FILE (--force): refused",
            out_failure("dot-path", lambda s: (s.file, f"{s.dir}/./{s.file.name}", None)))
    tap.add("OUT == FILE spelled DIR/../DIR/FILE (--force): refused",
            out_failure("dotdot-path",
                        lambda s: (s.file, f"{s.dir}/../{s.dir.name}/{s.file.name}", None)))
    tap.add("OUT == FILE as ./FILE vs FILE from FILE's directory (--force): refused",
            out_failure("relative", lambda s: (s.file.name, f"./{s.file.name}", s.dir)))
    tap.add("OUT == FILE as DIR//FILE (--force): refused",
            out_failure("double-slash", lambda s: (s.file, f"{s.dir}//{s.file.name}", None)))

    def symlink(setup):
        link = setup.dir / "link.pt"
        link.symlink_to(setup.file.name)
        return setup.file, link, None
    tap.add("OUT a symlink to FILE (--force): refused, link and FILE unchanged",
            out_failure("symlink", symlink))

    def hardlink(setup):
        link = setup.dir / "hard.pt"
        os.link(setup.file, link)
        return setup.file, link, None
    tap.add("OUT a hard link to FILE (--force): refused (same file)",
            out_failure("hardlink", hardlink))

    def no_dir(setup):
        return setup.file, setup.dir / "no-such-dir" / "out.pt", None
    tap.add("OUT in a nonexistent directory: exit 2, directory not created",
            out_failure("no-dir", no_dir, force=False))

    def not_dir(setup):
        (setup.dir / "plain-file").write_bytes(b"x")
        return setup.file, setup.dir / "plain-file" / "out.pt", None
    tap.add("OUT below a regular file (ENOTDIR): exit 2, nothing changed",
            out_failure("enotdir", not_dir, force=False))


def add_usage_checks(tap, fx):
    def usage(label, args_of, where=None, mention=()):
        def check():
            setup = Setup(label, fx / "state-dict.pt")
            bad = control(setup)
            if bad:
                return bad
            args, file, out = args_of(setup)
            inv = ak.Invocation(args, file, out, str(setup.script),
                                watch=(setup.dir,)).execute()
            w = where(setup) if where else None
            return inv.check_failure(where=w, mention=mention)
        return check

    tap.add("no -o without --dry-run: exit 2, nothing written",
            usage("no-o", lambda s: (["apply", s.script, s.file], s.file, s.dir / "x.pt")))
    tap.add("FILE does not exist: exit 2 naming FILE",
            usage("no-file", lambda s: (["apply", s.script, s.dir / "nope.pt", "-o", s.dir / "o.pt"],
                                        s.file, s.dir / "o.pt"),
                  where=lambda s: s.dir / "nope.pt"))
    tap.add("SCRIPT does not exist: exit 2 naming SCRIPT",
            usage("no-script", lambda s: (["apply", s.dir / "nope.cks", s.file, "-o", s.dir / "o.pt"],
                                          s.file, s.dir / "o.pt"),
                  where=lambda s: s.dir / "nope.cks"))
    tap.add("--root naming nothing: exit 2, nothing written",
            usage("bad-root", lambda s: (["apply", s.script, s.file, "-o", s.dir / "o.pt",
                                          "--root", "nosuchroot"], s.file, s.dir / "o.pt"),
                  mention=["nosuchroot"]))

    def legacy():
        setup = Setup("legacy", fx / "unsupported-legacy.pt")
        out = setup.dir / "o.pt"
        inv = ak.Invocation(["apply", setup.script, setup.file, "-o", out], setup.file, out,
                            str(setup.script), watch=(setup.dir,)).execute()
        return inv.check_failure(where=str(setup.file))
    tap.add("unsupported legacy FILE: exit 2 naming FILE, nothing written", legacy)

    def truncated():
        setup = Setup("truncated", fx / "state-dict.pt")
        data = setup.file.read_bytes()
        setup.file.write_bytes(data[:len(data) // 2])
        out = setup.dir / "o.pt"
        inv = ak.Invocation(["apply", setup.script, setup.file, "-o", out], setup.file, out,
                            str(setup.script), watch=(setup.dir,)).execute()
        return inv.check_failure(where=str(setup.file))
    tap.add("truncated FILE: exit 2 naming FILE, nothing written", truncated)


# --------------------------------------------------------------------------

FIXTURES = None


def main(argv):
    global ak, deep, FIXTURES
    oracle_only = argv[1:] == ["--oracle-only"]
    if len(argv) > 1 and not oracle_only:
        print("\n".join(__doc__.strip().splitlines()[2:5]), file=sys.stderr)
        return 2
    FIXTURES = cks.setup()
    import applyck as ak_module
    import deep as deep_module
    ak, deep = ak_module, deep_module
    torch.set_num_threads(1)
    session = ak.start_session()
    tap = ak.Tap()
    try:
        add_oracle_checks(tap, FIXTURES)
        if not oracle_only:
            add_fixture_checks(tap, FIXTURES)
            add_scenario_checks(tap, FIXTURES)
            add_dry_run_checks(tap, FIXTURES)
            add_script_error_checks(tap, FIXTURES)
            add_out_checks(tap)
            add_usage_checks(tap, FIXTURES)
        return tap.run()
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
