#!/usr/bin/python3
"""Column edits keep the optimizer state consistent: the user's upgrade of
neural-lam issue 48, proven in torch.

usage: test_optimizer.py                 run the checks, print TAP
       test_optimizer.py --oracle-only   only the self-checks (no binary needed)

A small model whose first layers are neural-lam's embedders
(grid_prev_embedder = make_mlp([49+K, H, H]), grid_current_embedder =
make_mlp([66+K, H, H]); Linear, SiLU, Linear, LayerNorm), then a Linear, a
BatchNorm (buffers) and a head, is trained a few real AdamW steps
(weight_decay > 0) on random data and saved as Lightning does
(optimizer_states = [opt.state_dict()]).  Then:

* tests/scripts/neural-lam-reorder.cks (move-column ...prev... 49 34,
  ...current... 66 51): OUT deep-equals the input with the two weights
  moved as the reference (and the user's own loop) does, the same columns of
  exactly those two parameters' exp_avg and exp_avg_sq moved, and nothing
  else changed; no warning.  The same with an affine BatchNorm, where the
  parameters have several assignments but the embedders' weights are the
  same parameter in all of them (the correspondence is decided per key).
* The proof: AdamW resumed from OUT (strict load, optimizer state loaded)
  stepping on a batch whose features are in the new order gives bit for bit
  the parameters, buffers and moments that a step from the input on the
  same batch in the old order gives, once those are edited the same way.
  A checkpoint whose weights were moved but not the moments (made in
  Python) gives a different step, so the proof can fail.  The same for
  insert-column/delete-column (the new feature zero), for a plain
  {'model': ..., 'optimizer': ...} checkpoint and with an affine BatchNorm.
* Keys that cannot be told: parameter groups (decay / no decay, grouped by
  type: no assignment at all) and the affine BatchNorm's [H2] tensors (the
  assignments disagree about them): the spec's warning, exactly, the
  tensors still edited, the optimizer untouched; the suggested `drop` line
  then lets AdamW load the state and step.  One script editing both kinds
  of keys: the warning only for the undetermined key, the others' moments
  moved.
* Buffers: running_mean (float, no parameter in any assignment) and an
  int64 buffer: no warning, no optimizer entry changed.

What apply must do to the optimizer comes from colck.correspondence (the
spec's rule, per key: a key is parameter i when every order-preserving
assignment puts i on it); a premise checks it against torch's own
correspondence (the optimizer's parameter order from named_parameters)
wherever it tells, and that it tells what the checks' titles say.
"""

import copy
import sys

import cks

torch = cks.torch
ak = deep = colck = nl = nn = None      # imported after the torch check

SCRIPT = cks.REPO / "tests" / "scripts" / "neural-lam-reorder.cks"
REORDER = [["move-column", "grid_prev_embedder.0.weight", "49", "34"],
           ["move-column", "grid_current_embedder.0.weight", "66", "51"]]
K, H, H2, OUT = 3, 8, 6, 3
PREV_IN, CUR_IN = 49 + K, 66 + K
LR, WD = 1e-2, 0.05
PREV, CUR = "grid_prev_embedder.0.weight", "grid_current_embedder.0.weight"


# --------------------------------------------------------------------------
# The model, its training and its checkpoints

def make_net(prev_in=PREV_IN, cur_in=CUR_IN, affine_norm=False):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            # an int64 buffer, like neural-lam's edge indices (not a candidate)
            self.register_buffer("grid_index", torch.arange(20).reshape(2, 10))
            self.grid_prev_embedder = nl.make_mlp([prev_in, H, H])
            self.grid_current_embedder = nl.make_mlp([cur_in, H, H])
            # The spec's correspondence matches parameters to float tensors
            # by shape, in order: BatchNorm's running_mean/var [H2] are
            # candidates too.  With affine=True its weight and bias [H2] could
            # take any two of the four [H2] tensors (6 assignments): those
            # four keys cannot be told, while every other key (the embedders'
            # weights among them) is the same parameter in all six.  The
            # mixer has no bias [H2], which would widen that ambiguity.
            # Without affine parameters no parameter can take the buffers:
            # a unique assignment.
            self.mixer = nn.Linear(H, H2, bias=False)
            self.norm = nn.BatchNorm1d(H2, affine=affine_norm)
            self.head = nn.Linear(H2, OUT)

        def forward(self, prev, cur):
            h = self.grid_prev_embedder(prev) + self.grid_current_embedder(cur)
            return self.head(torch.relu(self.norm(self.mixer(h))))
    return Net()


def make_optimizer(model, groups):
    if not groups:
        return torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
    named = list(model.named_parameters())
    return torch.optim.AdamW([
        {"params": [p for _, p in named if p.ndim >= 2], "weight_decay": WD},
        {"params": [p for _, p in named if p.ndim < 2], "weight_decay": 0.0},
    ], lr=LR)


def loss_of(model, batch):
    prev, cur, y = batch
    return (model(prev, cur) - y).pow(2).mean()


def random_batch(seed, prev_in=PREV_IN, cur_in=CUR_IN):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(16, prev_in, generator=g), torch.randn(16, cur_in, generator=g),
            torch.randn(16, OUT, generator=g))


def trained(groups=False, affine_norm=False, steps=3, seed=0):
    torch.manual_seed(seed)
    model = make_net(affine_norm=affine_norm)
    opt = make_optimizer(model, groups)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    model.train()
    for i in range(steps):
        opt.zero_grad()
        loss_of(model, random_batch(100 + i)).backward()
        opt.step()
        sched.step()
    return model, opt, sched


def lightning(groups=False, affine_norm=False):
    model, opt, sched = trained(groups, affine_norm)
    return {
        "epoch": 0,
        "global_step": 3,
        "pytorch-lightning_version": "2.0.9",
        "state_dict": model.state_dict(),
        "loops": {"fit_loop": {"epoch_loop.state_dict": {"_batches_that_stepped": 3}}},
        "callbacks": {"ModelCheckpoint": {"best_model_score": torch.tensor(0.25)}},
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [sched.state_dict()],
        "hparams_name": "kwargs",
        "hyper_parameters": {"hidden_dim": H, "lr": LR},
    }


def plain(groups=False, affine_norm=False):
    model, opt, _ = trained(groups, affine_norm)
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 0}


class Layout:
    """A checkpoint kind: how it is made (Lightning or plain; parameter
    groups; an affine BatchNorm), where it keeps the state dict and the
    optimizer."""

    def __init__(self, name, root, opt_path, groups, affine=False):
        self.name, self.root, self.opt_path, self.groups = name, root, opt_path, groups
        self.affine = affine

    def make(self):
        if self.root == "state_dict":
            return lightning(self.groups, self.affine)
        return plain(self.groups, self.affine)

    def sd(self, ck):
        return ck[self.root]

    def opt(self, ck):
        return cks.resolve(ck, self.opt_path)


LIGHTNING = Layout("Lightning", "state_dict", "optimizer_states.0", False)
PLAIN = Layout("{'model', 'optimizer'}", "model", "optimizer", False)
LIGHTNING_GROUPS = Layout("Lightning, 2 parameter groups", "state_dict", "optimizer_states.0", True)
PLAIN_GROUPS = Layout("{'model', 'optimizer'}, 2 parameter groups", "model", "optimizer", True)
LIGHTNING_AFFINE = Layout("Lightning, affine BatchNorm", "state_dict", "optimizer_states.0",
                          False, affine=True)
LAYOUTS = (LIGHTNING, PLAIN, LIGHTNING_GROUPS, PLAIN_GROUPS, LIGHTNING_AFFINE)


def name_to_id(layout):
    """torch's own correspondence: the optimizer's parameter ids (in group
    order, as Optimizer.state_dict numbers them) of each parameter name."""
    model = make_net(affine_norm=layout.affine)
    opt = make_optimizer(model, layout.groups)
    names = {p: n for n, p in model.named_parameters()}
    ids, i = {}, 0
    for group in opt.param_groups:
        for p in group["params"]:
            ids[names[p]] = i
            i += 1
    return ids


# --------------------------------------------------------------------------
# Edits, as the spec says they act on a checkpoint (torch code)

def targets(edit):
    """[(key, dim)] an edit changes: KEY along D, each --also along its D2."""
    dim = int(edit.option("--dim", 1))
    return [(edit.args[0], dim)] + [(k, dim if d is None else d) for k, d in edit.alsos()]


def edit_tensor(edit, t, dim, optimizer=False):
    """The reference edit on t; in optimizer state an insert is 0."""
    nums = [int(x) for x in edit.args[1:]]
    fill = None
    if edit.op == "insert-column" and not optimizer and edit.option("--value") is not None:
        fill, reason = colck.fill_value(edit.option("--value"), t.dtype)
        assert fill is not None, reason
    return colck.reference(edit.op, t, dim, *nums, fill=fill)


def edit_checkpoint(ck, layout, edits, ids, moments=True):
    """A deep copy of ck with the edits applied: the state-dict tensors, and
    (moments=True) every state tensor of the edited parameters whose shape
    is the parameter's shape before the edit."""
    ck = copy.deepcopy(ck)
    sd, opt = layout.sd(ck), layout.opt(ck)
    for edit in edits:
        for key, dim in targets(edit):
            before = tuple(sd[key].shape)
            sd[key] = edit_tensor(edit, sd[key], dim)
            if moments and key in ids:
                state = opt["state"].get(ids[key], {})
                for name, value in list(state.items()):
                    if cks.is_tensor(value) and tuple(value.shape) == before:
                        state[name] = edit_tensor(edit, value, dim, optimizer=True)
    return ck


def expectation(ck, layout, edits):
    """What the spec (decision 1: per key) makes apply do to layout's
    optimizer, from colck's correspondence on the input ck: (ids, warnings).
    ids: {key: optimizer id} of every edited key that every assignment
    makes that parameter (its moments are edited); warnings: {script line:
    key} for each line with a floating key that cannot be told (its
    optimizer state is left alone).  Keys no assignment makes a parameter
    (buffers, non-floating tensors) are in neither."""
    corr = colck.correspondence(layout.opt(ck), layout.sd(ck))
    ids, warnings = {}, {}
    for edit in edits:
        for key, _ in targets(edit):
            status = corr.status(key)
            if status is None:
                # (test design) one line, one undetermined key: the spec
                # does not say how many warnings a line with two would get
                assert edit.line not in warnings, f"line {edit.line}: two undetermined keys"
                warnings[edit.line] = key
            elif status is not colck.NOT_A_PARAMETER:
                ids[key] = corr.ids[status]
    return ids, warnings


def parse(lines):
    return ak.parse_script("\n".join(lines))


# --------------------------------------------------------------------------
# The proof: one AdamW step commutes with the edit

def proof_batch(seed, edits=()):
    """A batch for the step: each row of each embedder's input has ONE
    nonzero feature (+-1, +-2, 0.5), so the first layer's sums are exact in
    any feature order and the two steps can be compared bit for bit (a dense
    batch sums the features in another order: the last bits differ), and no
    feature is nonzero in more than two rows, so the weight gradients' sums
    over the batch are exact in any order too.  The rows cover the moved
    features; features an edit deletes stay zero."""
    g = torch.Generator().manual_seed(seed)
    avoid = {PREV: set(), CUR: set()}
    for edit in edits:
        if edit.op == "delete-column":
            avoid[edit.args[0]].add(int(edit.args[1]))
    hot = {PREV: [49, 34, 35, 48, 40, 0, 51, 33, 50, 49, 34, 41, 12, 36, 47, 45],
           CUR: [66, 51, 52, 65, 60, 0, 68, 50, 67, 66, 51, 3, 58, 53, 64, 62]}
    values = torch.tensor([1.0, -1.0, 2.0, -2.0, 0.5])
    xs = []
    for key, size in ((PREV, PREV_IN), (CUR, CUR_IN)):
        x = torch.zeros(16, size)
        for row, col in enumerate(hot[key]):
            if col in avoid[key]:
                col = (col + 1) % size
            x[row, col] = values[int(torch.randint(0, 5, (), generator=g))]
        assert int((x != 0).sum(0).max()) <= 2 and bool(((x != 0).sum(1) == 1).all())
        xs.append(x)
    y = torch.randn(16, OUT, generator=g)
    return xs[0], xs[1], y


def edit_batch(batch, edits):
    """The batch with its features in the new order (an inserted feature 0)."""
    prev, cur, y = batch
    for edit in edits:
        for key, _ in targets(edit):
            if key == PREV:
                prev = edit_tensor(edit, prev, 1, optimizer=True)
            elif key == CUR:
                cur = edit_tensor(edit, cur, 1, optimizer=True)
    return prev, cur, y


def resume_and_step(ck, layout, batch):
    """Model (strict load) and AdamW (load_state_dict) from ck, one training
    step on batch: (state dict, {param name: its optimizer state})."""
    sd = layout.sd(ck)
    model = make_net(sd[PREV].shape[1], sd[CUR].shape[1], layout.affine)
    model.load_state_dict(sd, strict=True)
    opt = make_optimizer(model, layout.groups)
    opt.load_state_dict(copy.deepcopy(layout.opt(ck)))
    model.train()
    opt.zero_grad()
    loss_of(model, batch).backward()
    opt.step()
    state = {name: {k: v.detach().clone() if cks.is_tensor(v) else v
                    for k, v in opt.state[p].items()}
             for name, p in model.named_parameters()}
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, state


def step_problems(edited_ck, original_ck, layout, edits):
    """Step (a) from edited_ck on the batch in the new order; step (b) from
    original_ck on the batch in the old order, then its parameters, buffers
    and moments edited the same way: they must be bitwise equal."""
    batch = proof_batch(7, edits)
    try:
        sd_a, st_a = resume_and_step(edited_ck, layout, edit_batch(batch, edits))
    except Exception as exc:
        return [f"resuming from the edited checkpoint failed: {type(exc).__name__}: {exc}"]
    sd_b, st_b = resume_and_step(original_ck, layout, batch)
    for edit in edits:
        for key, dim in targets(edit):
            before = tuple(sd_b[key].shape)
            sd_b[key] = edit_tensor(edit, sd_b[key], dim)
            for name, value in st_b.get(key, {}).items():
                if cks.is_tensor(value) and tuple(value.shape) == before:
                    st_b[key][name] = edit_tensor(edit, value, dim, optimizer=True)
    problems = []
    if list(sd_a) != list(sd_b):
        return [f"state-dict keys differ: {list(sd_a)} vs {list(sd_b)}"]
    for key in sd_b:
        problems += colck.bit_problems(sd_b[key], sd_a[key], f"after the step: {key}")
    for name in st_b:
        for k, v in st_b[name].items():
            w = st_a[name].get(k)
            if cks.is_tensor(v):
                if not cks.is_tensor(w):
                    problems.append(f"after the step: AdamW {name}.{k} missing")
                else:
                    problems += colck.bit_problems(v, w, f"after the step: AdamW {name}.{k}")
            elif v != w:
                problems.append(f"after the step: AdamW {name}.{k}: {w!r}, expected {v!r}")
    return problems


# --------------------------------------------------------------------------
# Cases

class Work:
    """Input written once, apply run once."""

    def __init__(self, label, make, lines=None, script=None, out_name="out.ckpt"):
        self.label, self._make = label, make
        self.lines, self.script, self.out_name = lines, script, out_name
        self._case = None

    @property
    def case(self):
        if self._case is None:
            d = ak.SESSION.new_dir(self.label)
            path = d / "in.ckpt"
            torch.save(self._make(), path)
            self._case = ak.Case(self.label, path, self.lines, script=self.script,
                                 out_name=self.out_name)
        return self._case

    @property
    def edits(self):
        return self.case.edits

    def original(self):
        return torch.load(str(self.case.fixture))

    def got(self):
        return torch.load(str(self.case.out))

    def success(self, warnings=None):
        return self.case.check_clean(warnings)


def expected_problems(work, layout):
    """apply's outcome (exit 0, exactly the warnings colck's per-key
    correspondence expects) and OUT deep-equal to the input edited in torch
    as the spec says: the tensors, and the optimizer state of exactly the
    edited keys the correspondence determines (the rest of it unchanged)."""
    ids, warnings = expectation(work.original(), layout, work.edits)
    bad = warning_problems(work, layout, warnings)
    if bad:
        return bad
    want = edit_checkpoint(work.original(), layout, work.edits, ids)
    problems = deep.diff(want, work.got())
    return ["(first: the input edited by torch as the spec says, second: torch.load(OUT))"] \
        + problems if problems else []


def outcome_problems(work, layout):
    """exit 0, no stdout, FILE untouched, and on stderr exactly the warnings
    colck's correspondence expects (none when it determines every edited
    floating key)."""
    return warning_problems(work, layout, expectation(work.original(), layout, work.edits)[1])


def untouched_problems(work, layout):
    """OUT's optimizer state deep-equals the input's (checked directly, not
    through the oracle)."""
    bad = work.case.failed()
    if bad:
        return bad
    problems = deep.diff(layout.opt(work.original()), layout.opt(work.got()))
    return [f"(first: the input's '{layout.opt_path}', second: OUT's)"] + problems \
        if problems else []


def warning_problems(work, layout, keys_by_line):
    """Exactly one warning per line of keys_by_line, naming its key, in the
    spec's words, for layout's optimizer; nothing else on stderr (no
    warning at all when keys_by_line is empty); exit 0."""
    inv = work.case.inv()
    cols = {e.line: e.cols() for e in work.edits}
    problems = inv.check_success(warnings={ln: cols[ln] for ln in keys_by_line})
    lines = inv.run.stderr.splitlines()
    for ln, key in keys_by_line.items():
        rx = colck.warning_regex(inv.script, ln, layout.opt_path, key)
        hits = [m for m in map(rx.fullmatch, lines) if m]
        if len(hits) != 1:
            problems.append(f"line {ln}: expected exactly one stderr line matching "
                            f"{rx.pattern!r}")
        elif int(hits[0].group(1)) not in cols[ln]:
            problems.append(f"line {ln}: warning at column {hits[0].group(1)}, "
                            f"expected one of {sorted(cols[ln])}")
    if problems and inv.run.stderr and not any("stderr:" in p for p in problems):
        problems += inv.run.describe()
    return problems


def check_script_contents():
    got = [e.tokens() for e in ak.parse_script(SCRIPT.read_text())]
    return [] if got == REORDER else [f"{SCRIPT.name}: edits {got}, expected {REORDER}"]


# Edits of keys the affine model's assignments disagree about (the BatchNorm's
# [H2] tensors), alone and next to the embedders' determined weights.
UNDETERMINED_LINES = ["move-column norm.running_mean 0 3 --dim 0",
                      "move-column norm.weight 1 4 --dim 0"]
MIXED_LINES = [f"move-column {PREV} 49 34", "delete-column norm.running_var 2 --dim 0",
               f"move-column {CUR} 66 51"]


def check_premises():
    """colck's per-key correspondence on the test's checkpoints: sound (a key
    it determines is that parameter in torch, a key it calls no parameter
    is none), and telling apart what the checks' titles say: every key
    with one parameter group and no affine BatchNorm; nothing with two
    groups (no assignment); with an affine BatchNorm (>= 2 assignments) the
    embedders' weights but not the BatchNorm's tensors."""
    problems = []
    for layout in LAYOUTS:
        ck = layout.make()
        sd = layout.sd(ck)
        r = colck.correspondence(layout.opt(ck), sd)
        truth = name_to_id(layout)
        for key in sd:
            status = r.status(key)
            if status is colck.NOT_A_PARAMETER and key in truth:
                problems.append(f"{layout.name}: the oracle says {key} is no parameter; "
                                f"torch: parameter {truth[key]}")
            elif status not in (None, colck.NOT_A_PARAMETER) and \
                    r.ids[status] != truth.get(key):
                problems.append(f"{layout.name}: the oracle says {key} is parameter "
                                f"{r.ids[status]}; torch: {truth.get(key, 'no parameter')}")
        if layout.groups:
            if r.count != 0 or r.undetermined != r.candidates:
                problems.append(f"{layout.name}: {r.count} assignments, undetermined "
                                f"{r.undetermined}; expected none and every candidate")
        elif layout.affine:
            if r.count < 2:
                problems.append(f"{layout.name}: {r.count} assignments, expected >= 2")
            for key in (PREV, CUR):
                if r.param_id(key) is None:
                    problems.append(f"{layout.name}: {key} not determined")
            lines = UNDETERMINED_LINES + MIXED_LINES[1:2]
            for key in (e.args[0] for e in parse(lines)):
                if r.status(key) is not None:
                    problems.append(f"{layout.name}: {key} determined ({r.status(key)}), "
                                    f"expected undetermined")
        elif r.count != 1 or r.key_to_id != truth:
            problems.append(f"{layout.name}: {r.count} assignments, the oracle's parameters "
                            f"{r.key_to_id}; torch's {truth}")
        if not any(k.endswith("running_mean") for k in sd):
            problems.append("no BatchNorm buffers in the state dict")
        state = layout.opt(ck)["state"]
        if not state or not all("exp_avg" in s and "exp_avg_sq" in s for s in state.values()):
            problems.append(f"{layout.name}: AdamW has no moments for every parameter")
    ck = lightning()
    sd = ck["state_dict"]
    if sd[PREV].shape[1] <= 49 or sd[CUR].shape[1] <= 66:
        problems.append("columns 49 and 66 do not exist")
    if ck["optimizer_states"][0]["param_groups"][0]["weight_decay"] <= 0:
        problems.append("weight_decay is not > 0")
    return problems


def check_reference_is_user_loop(work):
    """The two weights in OUT equal the user's own loop on the input's."""
    bad = work.success()
    if bad:
        return bad
    orig, got = work.original()["state_dict"], work.got()["state_dict"]
    problems = []
    for key, frm, to in ((PREV, 49, 34), (CUR, 66, 51)):
        problems += colck.bit_problems(colck.user_reorder(orig[key], {frm: to}), got[key], key)
        if torch.equal(orig[key], got[key]):
            problems.append(f"{key}: unchanged")
    return problems


def oracle_checks(tap):
    nb = dict(needs_binary=False)
    for description, check in colck.self_checks():
        if "correspondence" in description or "user's" in description:
            tap.add(description, check, **nb)
    tap.add(f"{SCRIPT.name} holds the user's two moves (49->34, 66->51), in order",
            check_script_contents, **nb)
    tap.add("premise: colck's per-key correspondence agrees with torch's parameters wherever "
            "it tells; it tells every key of the single-group models (1 assignment), none "
            "with 2 groups (0 assignments), and with an affine BatchNorm (>= 2 assignments) "
            "the embedders' weights but not the BatchNorm's tensors; columns 49/66 exist, "
            "weight_decay > 0, every parameter has AdamW moments",
            check_premises, **nb)
    edits = parse(SCRIPT.read_text().splitlines())

    def proof_passes(layout, lines):
        def check():
            eds = parse(lines)
            ck = layout.make()
            good = edit_checkpoint(ck, layout, eds, name_to_id(layout))
            return step_problems(good, ck, layout, eds)
        return check

    def proof_fails(layout, lines):
        def check():
            eds = parse(lines)
            ck = layout.make()
            bad = edit_checkpoint(ck, layout, eds, name_to_id(layout), moments=False)
            problems = step_problems(bad, ck, layout, eds)
            if not problems:
                return ["the step from weights moved WITHOUT their moments equals the "
                        "correct step: the proof cannot fail"]
            if not any("AdamW" in p or "weight" in p for p in problems):
                return ["the difference is not in the moved parameters:"] + problems[:5]
            return []
        return check

    def expectation_sees_moments(layout):
        def check():
            ck = layout.make()
            ids, warnings = expectation(ck, layout, edits)
            with_moments = edit_checkpoint(ck, layout, edits, ids)
            without_moments = edit_checkpoint(ck, layout, edits, ids, moments=False)
            text = deep.diff(with_moments, without_moments)
            truth = name_to_id(layout)
            want = {f"{layout.opt_path}.state.{truth[k]}.{m}" for k in (PREV, CUR)
                    for m in ("exp_avg", "exp_avg_sq")}
            got = {p.split(":")[0] for p in text}
            problems = [] if got == want and not warnings else [
                f"the expectations differ at {sorted(got)}, expected exactly {sorted(want)}; "
                f"warnings expected: {warnings}"]
            if not deep.diff(ck, without_moments):
                problems.append("moving the weights changes nothing")
            return problems
        return check
    for layout in (LIGHTNING, LIGHTNING_AFFINE):
        tap.add(f"oracle ({layout.name}): the expected checkpoint differs from a weights-only "
                f"edit exactly in the two parameters' exp_avg and exp_avg_sq (the deep-equal "
                f"check can fail)", expectation_sees_moments(layout), **nb)

    lines = [" ".join(e) for e in REORDER]
    tap.add("oracle: the proof holds for the reorder edited in torch (weights and moments)",
            proof_passes(LIGHTNING, lines), **nb)
    tap.add("oracle: the proof holds for the reorder edited in torch with an affine BatchNorm",
            proof_passes(LIGHTNING_AFFINE, lines), **nb)
    tap.add("oracle: the proof FAILS for weights moved without their moments (the "
            "check can fail)", proof_fails(LIGHTNING, lines), **nb)
    tap.add("oracle: the proof FAILS for weights moved without their moments, affine "
            "BatchNorm", proof_fails(LIGHTNING_AFFINE, lines), **nb)
    tap.add("oracle: the proof holds for insert-column/delete-column edited in torch",
            proof_passes(LIGHTNING, INSERT_DELETE_PROOF), **nb)

    def deterministic():
        ck = lightning()
        good = edit_checkpoint(ck, LIGHTNING, edits, name_to_id(LIGHTNING))
        batch = proof_batch(7)
        sd_a, _ = resume_and_step(good, LIGHTNING, edit_batch(batch, edits))
        sd_b, _ = resume_and_step(good, LIGHTNING, edit_batch(batch, edits))
        return [] if all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a) else \
            ["two identical steps differ: the step is not deterministic"]
    tap.add("oracle: a training step is deterministic (two identical resumes agree bitwise)",
            deterministic, **nb)


INSERT_DELETE_PROOF = [f"insert-column {PREV} 10", f"delete-column {CUR} 3"]


def main(argv):
    global ak, deep, colck, nl, nn
    oracle_only = argv[1:] == ["--oracle-only"]
    if len(argv) > 1 and not oracle_only:
        print("\n".join(__doc__.strip().splitlines()[2:4]), file=sys.stderr)
        return 2
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    cks.require_torch(cks.fixtures_dir())       # torch only; no fixtures needed
    import applyck
    import colck as colck_module
    import deep as deep_module
    import neural_lam
    ak, deep, colck, nl, nn = applyck, deep_module, colck_module, neural_lam, torch.nn
    torch.set_num_threads(1)
    session = ak.start_session()
    tap = ak.Tap()
    try:
        oracle_checks(tap)
        if not oracle_only:
            binary_checks(tap)
        return tap.run()
    finally:
        session.close()


def binary_checks(tap):
    # Every expectation (which keys' moments move, which lines warn) comes
    # from colck's per-key correspondence on the input (expectation()).

    # -- the user's script: Lightning, {'model', 'optimizer'}, and an affine
    #    BatchNorm (>= 2 assignments, both embedder weights determined)
    for layout, name in ((LIGHTNING, "graph_lam.ckpt"), (PLAIN, "plain.pt"),
                         (LIGHTNING_AFFINE, "affine.ckpt")):
        what = ": >= 2 assignments, the embedder weights determined" if layout.affine else ""
        work = Work(f"{SCRIPT.name} on a {layout.name} checkpoint{what}", layout.make,
                    script=SCRIPT, out_name=name)
        tap.add(f"{work.label}: exit 0, no warning, no stdout, FILE untouched",
                lambda work=work, layout=layout: outcome_problems(work, layout))
        tap.add(f"{work.label}: OUT deep-equals the input with both weights moved as the "
                f"reference does, the same columns of exactly their exp_avg/exp_avg_sq "
                f"moved, everything else (step, param_groups, other moments, BatchNorm "
                f"buffers, schedulers, ...) unchanged",
                lambda work=work, layout=layout: expected_problems(work, layout))
        if layout is LIGHTNING:
            tap.add(f"{work.label}: the weights equal the user's own loop (issue 48)",
                    lambda work=work: check_reference_is_user_loop(work))
        tap.add(f"{work.label}: AdamW resumed from OUT (strict load) steps on the batch in "
                f"the new feature order exactly like a step from the input in the old order",
                lambda work=work, layout=layout: outcome_problems(work, layout) or step_problems(
                    work.got(), work.original(), layout, work.edits))

    # -- insert/delete: moments get a zero slice / lose the slice
    resize = Work("insert-column --value 0.5 and delete-column (Lightning)", lightning,
                  [f"insert-column {PREV} 10 --value 0.5", f"delete-column {CUR} 3"])
    tap.add(f"{resize.label}: weights as the reference, moments with a 0 column inserted "
            f"(never --value) and the column deleted, the rest unchanged",
            lambda: expected_problems(resize, LIGHTNING))
    proof = Work("insert-column and delete-column (Lightning)", lightning, INSERT_DELETE_PROOF)
    tap.add(f"{proof.label}: AdamW resumed from OUT (53/68 input features) steps exactly "
            f"like the input's step edited the same way",
            lambda: outcome_problems(proof, LIGHTNING) or step_problems(
                proof.got(), proof.original(), LIGHTNING, proof.edits))

    # -- --also with parameters: both get their moments edited
    also = Work("move-column head.weight 0 2 --dim 0 --also head.bias:0 (Lightning)", lightning,
                ["move-column head.weight 0 2 --dim 0 --also head.bias:0"])
    tap.add(f"{also.label}: exit 0, no warning", lambda: outcome_problems(also, LIGHTNING))
    tap.add(f"{also.label}: both tensors and both parameters' moments moved, the rest unchanged",
            lambda: expected_problems(also, LIGHTNING))

    # -- buffers
    for layout, line, why in (
            (LIGHTNING, "move-column norm.running_mean 0 3 --dim 0",
             "a float buffer no assignment makes a parameter"),
            (LIGHTNING_GROUPS, "move-column grid_index 0 5",
             "an int64 buffer, no assignment: non-floating keys never warn")):
        work = Work(f"{line} ({why})", layout.make, [line])
        tap.add(f"{work.label}: exit 0, no warning",
                lambda work=work, layout=layout: outcome_problems(work, layout))
        tap.add(f"{work.label}: the buffer moved, every optimizer entry unchanged",
                lambda work=work, layout=layout: expected_problems(work, layout)
                or untouched_problems(work, layout))

    # -- keys that cannot be told: two parameter groups (no assignment), the
    #    affine BatchNorm's [H2] tensors (the assignments disagree)
    for layout, lines, what in (
            (LIGHTNING_GROUPS, None, f"{SCRIPT.name}, no assignment"),
            (PLAIN_GROUPS, None, f"{SCRIPT.name}, no assignment"),
            (LIGHTNING_AFFINE, UNDETERMINED_LINES,
             "the BatchNorm's running_mean and weight, which the assignments disagree about")):
        work = Work(f"{layout.name}: keys that cannot be told ({what})", layout.make,
                    lines, script=SCRIPT if lines is None else None)
        tap.add(f"{work.label}: exit 0 and exactly the spec's warning for each line, naming "
                f"its key and '{layout.opt_path}' and suggesting drop "
                f"'{layout.opt_path}.state.*'",
                lambda work=work, layout=layout: outcome_problems(work, layout))
        tap.add(f"{work.label}: the tensors still edited, the optimizer state untouched",
                lambda work=work, layout=layout: expected_problems(work, layout)
                or untouched_problems(work, layout))
        tap.add(f"{work.label}: the suggested drop line, applied to OUT, empties the state; "
                f"AdamW then loads it and steps",
                lambda work=work, layout=layout: drop_problems(work, layout))

    # -- one script, both kinds of keys: decided per key
    mixed = Work(f"{LIGHTNING_AFFINE.name}: the embedders' weights and the BatchNorm's "
                 f"running_var in one script", LIGHTNING_AFFINE.make, MIXED_LINES)
    tap.add(f"{mixed.label}: exit 0, the warning for the running_var line only",
            lambda: outcome_problems(mixed, LIGHTNING_AFFINE))
    tap.add(f"{mixed.label}: the embedders' moments moved with their weights, running_var "
            f"edited, every other optimizer entry unchanged",
            lambda: expected_problems(mixed, LIGHTNING_AFFINE))

    grow = Work(f"insert-column {PREV} 52 on a Lightning checkpoint with 2 parameter groups",
                LIGHTNING_GROUPS.make, [f"insert-column {PREV} 52"])
    tap.add(f"{grow.label}: the warning; AdamW resumed from OUT cannot step (moments of the "
            f"old shape) until the suggested drop is applied",
            lambda: outcome_problems(grow, LIGHTNING_GROUPS)
            or resume_fails(grow, LIGHTNING_GROUPS)
            or drop_problems(grow, LIGHTNING_GROUPS))


def resume_fails(work, layout):
    ck = work.got()
    sd = layout.sd(ck)
    try:
        resume_and_step(ck, layout, random_batch(3, sd[PREV].shape[1], sd[CUR].shape[1]))
    except RuntimeError as exc:
        if "size of tensor" in str(exc):
            return []
        return [f"resuming failed, but not for the moments' shape: {exc}"]
    return ["AdamW resumed from OUT stepped although its moments have the old shape "
            "(test premise)"]


def drop_problems(work, layout):
    """Apply the drop the warning suggests to OUT; the state becomes {}, the
    rest stays; AdamW loads it and steps."""
    inv = work.case.inv()
    if inv.run.returncode != 0:
        return ak.apply_failed(inv.run)
    lines = [ln for ln in inv.run.stderr.splitlines() if "warning:" in ln]
    drops = {colck.suggested_drop(ln) for ln in lines}
    want = f"drop '{layout.opt_path}.state.*'"
    if drops != {want}:
        return [f"the warnings suggest {sorted(map(str, drops))}, expected {want!r}"]
    d = ak.SESSION.new_dir(f"drop-{work.label}")
    script, out = d / "reset.cks", d / "reset.ckpt"
    script.write_text(want + "\n")
    run = ak.Invocation(["apply", script, work.case.out, "-o", out], work.case.out, out,
                        str(script), watch=(work.case.out.parent,)).execute()
    problems = run.check_success()
    if problems:
        return problems
    before, after = work.got(), torch.load(str(out))
    expected = copy.deepcopy(before)
    layout.opt(expected)["state"].clear()
    problems = deep.diff(expected, after)
    if problems:
        return ["(first: OUT with the state emptied in Python, second: after the drop)"] + problems
    sd = layout.sd(after)
    model = make_net(sd[PREV].shape[1], sd[CUR].shape[1], layout.affine)
    model.load_state_dict(sd, strict=True)
    opt = make_optimizer(model, layout.groups)
    try:
        opt.load_state_dict(layout.opt(after))
        batch = random_batch(5, sd[PREV].shape[1], sd[CUR].shape[1])
        opt.zero_grad()
        loss_of(model, batch).backward()
        opt.step()
    except Exception as exc:
        return [f"AdamW after the drop: {type(exc).__name__}: {exc}"]
    if any(float(s["step"]) != 1.0 for s in opt.state.values()):
        problems.append("the moments did not restart (step != 1 after one step)")
    if [g["lr"] for g in opt.param_groups] != [g["lr"] for g in layout.opt(after)["param_groups"]]:
        problems.append("param_groups (lr) not restored")
    return problems


if __name__ == "__main__":
    sys.exit(main(sys.argv))
