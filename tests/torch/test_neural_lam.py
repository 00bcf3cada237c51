#!/usr/bin/python3
"""The neural-lam checkpoint migrations, done by `ckpt-surgeon apply`.

usage: test_neural_lam.py               run the checks, print TAP

A Lightning-style checkpoint of a small model shaped like neural-lam's old
flat ARModel/GraphLAM (neural_lam.py) is written by torch after a few real
AdamW steps.  Then:

* tests/scripts/neural-lam-208.cks (the two migrations of
  neural_lam/migrations.py) must give a checkpoint that
  ForecasterModule.load_state_dict(strict=True) accepts, with every tensor
  equal to the old model's under its old name, the same predictions bit
  for bit, an optimizer state that resumes training exactly like the old
  one, and everything else (optimizer_states, hyper_parameters with their
  Namespace, epoch, loops, callbacks) unchanged; its --dry-run lists exactly
  the renames; applied again to its own output it fails and writes nothing;
* tests/scripts/neural-lam-issue48.cks (ARModel.on_load_checkpoint's rename
  of g2m_gnn.grid_mlp) the same for the flat model after issue #48.

The scripts are checked against a transcription of migrations.py first.
"""

import sys

import cks

torch = cks.torch
ak = deep = nl = None
SCRIPTS = cks.REPO / "tests" / "scripts"
SCRIPT_208 = SCRIPTS / "neural-lam-208.cks"
SCRIPT_48 = SCRIPTS / "neural-lam-issue48.cks"

EDITS_48 = [["rename-prefix", "g2m_gnn.grid_mlp", "encoding_grid_mlp"]]
EDITS_208 = EDITS_48 + [["rename-prefix", "", "forecaster.predictor",
                         "--except", "interior_mask_bool", "--except", "per_var_std"]]


class Old:
    """The old checkpoint, written once on first use."""

    def __init__(self):
        self._path = None

    @property
    def path(self):
        if self._path is None:
            checkpoint, _, _ = nl.lightning_checkpoint()
            self._path = ak.SESSION.new_dir("neural-lam-input") / "graph_lam-old.ckpt"
            torch.save(checkpoint, self._path)
        return self._path

    def model(self, cls=None):
        """The old model (or cls) with the old checkpoint's state loaded."""
        model = (cls or nl.OldARModel)()
        model.load_state_dict(torch.load(self.path)["state_dict"], strict=True)
        return model


OLD = None


# --------------------------------------------------------------------------
# Self-checks: the scripts, the oracle and the models agree with neural-lam

def check_script_contents():
    problems = []
    for path, want in ((SCRIPT_208, EDITS_208), (SCRIPT_48, EDITS_48)):
        try:
            got = [e.tokens() for e in ak.parse_script(path.read_text())]
        except Exception as exc:
            problems.append(f"{path.name}: {type(exc).__name__}: {exc}")
            continue
        if got != want:
            problems.append(f"{path.name}: edits {got}, expected {want}")
    return problems


def check_oracle_vs_migrations():
    """The edit oracle on the scripts renames exactly as migrations.py does."""
    state = torch.load(OLD.path)["state_dict"]
    problems = []
    for path, version in ((SCRIPT_48, 1), (SCRIPT_208, 2)):
        _, _, origin = ak.apply_edits(state, ak.parse_script(path.read_text()))
        ours = {old: new for new, old in origin.items()}
        theirs = nl.migrate_like_neural_lam(state, version)
        if ours != theirs:
            bad = [(k, ours.get(k), theirs.get(k)) for k in state if ours.get(k) != theirs.get(k)]
            problems.append(f"{path.name}: (key, script oracle, migrations.py) differ: {bad[:5]}")
    return problems


def check_model_premise():
    """migrations.py's result loads into the new models and predicts alike."""
    checkpoint = torch.load(OLD.path)
    state = checkpoint["state_dict"]
    old = OLD.model()
    x, _ = nl.batch(1)
    problems = []
    for cls, version in ((nl.ForecasterModule, 2), (nl.Issue48ARModel, 1)):
        mapping = nl.migrate_like_neural_lam(state, version)
        model = cls()
        try:
            model.load_state_dict({mapping[k]: v for k, v in state.items()}, strict=True)
        except RuntimeError as exc:
            problems.append(f"{cls.__name__}: {exc}".replace("\n", " "))
            continue
        if not torch.equal(model.predict(x), old.predict(x)):
            problems.append(f"{cls.__name__}: predictions differ from the old model's")
    if torch.equal(nl.ForecasterModule().predict(x), old.predict(x)):
        problems.append("an untrained ForecasterModule predicts like the trained model")
    return problems


# --------------------------------------------------------------------------
# After apply

def check_predictions(case, cls):
    bad = case.failed()
    if bad:
        return bad
    model = cls()
    try:
        model.load_state_dict(case.loaded()["state_dict"], strict=True)
    except RuntimeError as exc:
        return [f"load_state_dict(strict=True): {exc}".replace("\n", " ")]
    old = OLD.model()
    problems = []
    for seed in (1, 2, 3):
        x, _ = nl.batch(seed)
        if not torch.equal(model.predict(x), old.predict(x)):
            problems.append(f"batch {seed}: predictions differ from the old model's")
    return problems


def check_resume(case, cls):
    """AdamW loaded from OUT's optimizer_states makes the same step as the
    old optimizer on the old model: same parameters afterwards, same moments."""
    bad = case.failed()
    if bad:
        return bad
    old_ckpt, new_ckpt = torch.load(OLD.path), case.loaded()
    _, steps, origin, _ = case.expected()
    old = OLD.model()
    new = cls()
    new.load_state_dict(new_ckpt["state_dict"], strict=True)
    old_opt = torch.optim.AdamW(old.parameters(), lr=1e-3, weight_decay=0.01)
    new_opt = torch.optim.AdamW(new.parameters(), lr=1e-3, weight_decay=0.01)
    old_opt.load_state_dict(old_ckpt["optimizer_states"][0])
    try:
        new_opt.load_state_dict(new_ckpt["optimizer_states"][0])
    except Exception as exc:
        return [f"AdamW.load_state_dict(OUT's optimizer_states[0]): {exc}"]
    x, y = nl.batch(99)
    for model, opt in ((old, old_opt), (new, new_opt)):
        opt.zero_grad()
        model.loss(x, y).backward()
        opt.step()
    old_params = dict(old.named_parameters())
    problems = []
    for name, param in new.named_parameters():
        before = old_params[origin[name]]
        if not torch.equal(param, before):
            problems.append(f"{name}: differs from the old model's {origin[name]} after one step")
        for moment in ("exp_avg", "exp_avg_sq"):
            if not torch.equal(new_opt.state[param][moment], old_opt.state[before][moment]):
                problems.append(f"{name}: AdamW {moment} differs after one step")
    return problems[:20]


def check_rest_unchanged(case):
    """Everything outside state_dict deep-equals the input's."""
    bad = case.failed()
    if bad:
        return bad
    old = {k: v for k, v in torch.load(OLD.path).items() if k != "state_dict"}
    new = {k: v for k, v in case.loaded().items() if k != "state_dict"}
    problems = deep.diff(old, new)
    if not problems:
        moments = sum(1 for s in old["optimizer_states"][0]["state"].values() for m in s
                      if m.startswith("exp_avg"))
        if moments == 0:
            problems.append("(test premise: the input holds no AdamW moments)")
    return problems


def check_no_remigration(case):
    """neural-lam loads an unstamped checkpoint as version 0 and runs every
    migration: on apply's output they must find nothing to rename."""
    bad = case.failed()
    if bad:
        return bad
    state = case.loaded()["state_dict"]
    mapping = nl.migrate_like_neural_lam(state, 2)
    moved = [(k, v) for k, v in mapping.items() if k != v]
    return [f"migrations.py would still rename {len(moved)} keys, e.g. {moved[:3]}"] if moved else []


def check_refused_again(first, script):
    """Applying script to first's OUT: exit 2 at the first edit, nothing written."""
    bad = first.failed()
    if bad:
        return [ak.Headline("the first apply failed")] + bad
    d = ak.SESSION.new_dir(f"again-{script.stem}")
    out = d / "again.ckpt"
    edit = ak.parse_script(script.read_text())[0]
    inv = ak.Invocation(["apply", script, first.out, "-o", out], first.out, out, str(script),
                        watch=(d, first.out.parent)).execute()
    return inv.check_failure(where=f"{script}:{edit.line}", cols=edit.cols(),
                             mention=["g2m_gnn.grid_mlp"])


def check_same_as(case, reference):
    """Two routes to the same layout give deep-equal checkpoints."""
    bad = reference.failed() or case.failed()
    if bad:
        return bad
    return deep.diff(reference.loaded(), case.loaded())


def main(argv):
    global ak, deep, nl, OLD
    if len(argv) > 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    cks.require_torch(cks.fixtures_dir())       # torch only; no fixtures needed
    import applyck
    import deep as deep_module
    import neural_lam
    ak, deep, nl = applyck, deep_module, neural_lam
    torch.set_num_threads(1)
    session = ak.start_session()
    OLD = Old()
    tap = ak.Tap()
    nb = dict(needs_binary=False)
    tap.add("the scripts hold migrations.py's edits in its order", check_script_contents, **nb)
    tap.add("the script oracle renames exactly like migrations.py (versions 1 and 2)",
            check_oracle_vs_migrations, **nb)
    tap.add("premise: migrations.py's state dicts load into the new models (strict) and "
            "predict like the old model", check_model_premise, **nb)

    full = LazyCase("neural-lam-208.cks on an old checkpoint", SCRIPT_208, "graph_lam-new.ckpt")
    ak.add_case_checks(tap, full, repickled=True,
                       metadata=[("", 1), ("forecaster.predictor.encoding_grid_mlp", 1),
                                 ("forecaster.predictor.encoding_grid_mlp.0", 1),
                                 ("forecaster.predictor.g2m_gnn", 1),
                                 ("forecaster.predictor.processor.1.aggr_mlp.3", 1)],
                       model=nl.ForecasterModule)
    tap.add(f"{full.label}: ForecasterModule predicts bit for bit like the old model",
            lambda: check_predictions(full, nl.ForecasterModule))
    tap.add(f"{full.label}: AdamW resumed from OUT steps exactly like the old one",
            lambda: check_resume(full, nl.ForecasterModule))
    tap.add(f"{full.label}: neural-lam's own migrations (version 0: no stamp) change "
            f"nothing more", lambda: check_no_remigration(full))
    tap.add(f"{full.label}: everything but state_dict (optimizer_states, hyper_parameters, "
            f"epoch, loops, callbacks) deep-equals the input's",
            lambda: check_rest_unchanged(full))
    dry = LazyCase("neural-lam-208.cks --dry-run", SCRIPT_208, None, dry_run=True)
    tap.add(f"{dry.label}: lists exactly the renames of both edits, writes nothing",
            lambda: ak.check_dry_run(dry))
    tap.add("neural-lam-208.cks on its own output: exit 2 at the first edit, nothing written",
            lambda: check_refused_again(full, SCRIPT_208))

    fixed = LazyCase("neural-lam-issue48.cks on an old checkpoint", SCRIPT_48, "graph_lam-48.ckpt")
    ak.add_case_checks(tap, fixed, repickled=True,
                       metadata=[("", 1), ("encoding_grid_mlp", 1), ("encoding_grid_mlp.2", 1),
                                 ("g2m_gnn", 1)],
                       model=nl.Issue48ARModel)
    tap.add(f"{fixed.label}: the issue-48 model predicts bit for bit like the old model",
            lambda: check_predictions(fixed, nl.Issue48ARModel))
    tap.add(f"{fixed.label}: AdamW resumed from OUT steps exactly like the old one",
            lambda: check_resume(fixed, nl.Issue48ARModel))
    tap.add(f"{fixed.label}: everything but state_dict deep-equals the input's",
            lambda: check_rest_unchanged(fixed))
    tap.add("neural-lam-issue48.cks on its own output: exit 2, nothing written",
            lambda: check_refused_again(fixed, SCRIPT_48))
    tap.add("neural-lam-208.cks on an issue-48-fixed checkpoint: exit 2 at its first edit "
            "(it is for unfixed checkpoints), nothing written",
            lambda: check_refused_again(fixed, SCRIPT_208))
    second = LazyCase("the second edit of neural-lam-208.cks alone on an issue-48-fixed checkpoint",
                      None, "graph_lam-48-208.ckpt", source=fixed,
                      lines=[ak.edit_line("rename-prefix", "", "forecaster.predictor",
                                          excepts=("interior_mask_bool", "per_var_std"))])
    tap.add(f"{second.label}: the same checkpoint as the full script on the old one",
            lambda: check_same_as(second, full))
    try:
        return tap.run()
    finally:
        session.close()


class LazyCase:
    """An ak.Case whose input (the old checkpoint, or another case's OUT)
    only exists once the first check needs it."""

    def __init__(self, label, script, out_name, *, dry_run=False, source=None, lines=None):
        self.label = label
        self._args = dict(script=script, out_name=out_name or "out.ckpt", dry_run=dry_run,
                          with_out=out_name is not None, lines=lines)
        self._source, self._case = source, None

    def _get(self):
        if self._case is None:
            if self._source is not None:
                bad = self._source.failed()
                if bad:
                    raise SourceFailed(self._source.label, bad)
                fixture = self._source.out
            else:
                fixture = OLD.path
            args = dict(self._args)
            lines = args.pop("lines")
            self._case = ak.Case(self.label, fixture, lines, **args)
        return self._case

    def failed(self):
        try:
            return self._get().failed()
        except SourceFailed as exc:
            return [ak.Headline(f"its input could not be made: {exc.label}")] + exc.problems

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        case = self._get()
        return getattr(case, name)


class SourceFailed(Exception):
    def __init__(self, label, problems):
        super().__init__(label)
        self.label, self.problems = label, problems


if __name__ == "__main__":
    sys.exit(main(sys.argv))
