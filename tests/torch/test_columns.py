#!/usr/bin/python3
"""The column edits (move-column, insert-column, delete-column) and `drop`,
done by `ckpt-surgeon apply`, checked against torch.

usage: test_columns.py                 run the checks, print TAP
       test_columns.py --oracle-only   only the self-checks (no binary needed):
                                       the oracle agrees with itself and torch,
                                       and every check passes on a correct output
                                       made by torch and fails on broken ones

Every expected value is computed by torch at test time: the reference code
of docs/cli-contract.md (narrow/cat along the dimension, colck.reference).

* The matrix: every column edit (move, insert, insert --value, delete) x
  float32, float16, bfloat16, int64, bool (complex64 and float64 once per
  edit) x --dim 0, 1, -1 x four layouts of the edited tensor (contiguous,
  a 2-D a.t(), a 3-D transpose(0, 2), an offset view a[1:]); the tensor
  (a Parameter, a requires_grad tensor or a plain one) is tied to a second
  key and shares its storage with a third tensor.  After apply, torch.load:
  the key equals the reference bitwise (NaN equal to any NaN), is a new
  contiguous tensor at offset 0 alone on a storage of its own size, keeps
  type, dtype and requires_grad; the tied key and the sharer are unchanged
  and still share their storage; everything else deep-equals the input.
* move FROM == TO changes nothing (the key keeps its storage and its tie).
* --also: output rows of a Linear with its bias and the next layer's input
  columns; the model then computes the permuted hidden units and the same
  output (forward passes); --also's default D; --value with --also.
* --value conversion (does not fit, integer values, ranges, bool) and
  quantized move/delete.
* Validation errors: exit 2 at SCRIPT:LINE:COL, FILE untouched, nothing written.
* drop: a top-level entry, an optimizer's per-parameter state (Adam then
  loads it and steps), list items all at once, an attribute, a dotted key
  of an EMA copy of the state dict, an entry next to a nested state dict;
  nothing matching or an empty PATH: exit 2.  drop never removes the
  state dict's keys, the state dict or what holds it (exit 2, "'PATH' is
  the state dict: use delete for its keys" / "'PATH' holds the state
  dict: ..."); `delete` removes a state-dict key.

Set CKS_KEEP_TMP=1 to keep the working directory (its path is printed).
"""

import argparse
import collections
import copy
import fnmatch
import itertools
import re
import sys
from dataclasses import dataclass

import cks

torch = cks.torch
ak = deep = colck = nn = None       # imported after the torch check

ORACLE_ONLY = False


# --------------------------------------------------------------------------
# Test tensors

def values_for(dtype, shape, seed):
    """Random values of dtype with the special ones: -0.0, NaN (two payloads),
    +-inf, a subnormal and the maximum for floats; the extremes for int64."""
    g = torch.Generator().manual_seed(seed)
    numel = 1
    for s in shape:
        numel *= s
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=g).bool()
    if dtype == torch.int64:
        x = torch.randint(-2 ** 62, 2 ** 62, shape, generator=g, dtype=torch.int64)
        flat = x.view(-1)
        flat[0], flat[numel // 2] = torch.iinfo(dtype).min, torch.iinfo(dtype).max
        return x
    if dtype.is_complex:
        real = values_for(torch.float32, shape, seed)
        imag = values_for(torch.float32, shape, seed + 1).flip(-1)
        return torch.complex(real, imag).to(dtype)
    x = (torch.randn(shape, generator=g) * 3).to(dtype)
    flat = x.view(-1)
    info = torch.finfo(dtype)
    specials = [-0.0, float("nan"), float("inf"), float("-inf"), info.tiny / 2, info.max,
                -info.max, float("nan")]
    for i, v in enumerate(specials):
        flat[(i * 7 + 1) % numel] = v
    if dtype == torch.float32:                      # a NaN with a payload
        flat.view(torch.int32)[(7 * 7 + 1) % numel] = 0x7fc01234
    return x


LAYOUTS = {
    # name: (base shape, view of the base to edit, the tensor sharing its storage)
    "contiguous": ((4, 5, 6), lambda a: a, lambda a: a[1:3]),
    "a.t()": ((5, 4), lambda a: a.t(), lambda a: a),
    "transpose(0,2)": ((6, 5, 4), lambda a: a.transpose(0, 2), lambda a: a),
    "offset a[1:]": ((5, 5, 6), lambda a: a[1:], lambda a: a[0]),
}
KINDS = ("Parameter", "requires_grad", "plain")
FLOAT_VALUES = {
    torch.float32: ["-2.5", "1e-45", "inf", "nan", "0.1"],
    torch.float16: ["65519", "-0.0", "nan", "0.1"],
    torch.bfloat16: ["3.14159", "-inf", "1e-30"],
    torch.int64: ["-9223372036854775808", "7", "3.0"],
    torch.bool: ["true", "False", "1", "0"],
    torch.complex64: ["2.5"],
    torch.float64: ["nan"],
}
MAIN_DTYPES = ("float32", "float16", "bfloat16", "int64", "bool")
ONCE_DTYPES = ("complex64", "float64")
VARIANTS = ("move", "insert", "insert --value", "delete")
DIMS = (0, 1, -1)
KEY, TIED, SHARER = "layer.weight", "tied.weight", "other.sharer"


def grad_ok(dtype):
    return dtype.is_floating_point or dtype.is_complex


@dataclass
class ColumnCase:
    number: int
    variant: str
    dtype: object           # a torch.dtype
    dim: int
    layout: str
    kind: str
    a: int = 0
    b: int = None
    value: str = None

    @property
    def op(self):
        return {"move": "move-column", "delete": "delete-column"}.get(self.variant,
                                                                       "insert-column")

    def build(self):
        """The checkpoint (a plain state dict) and the edited tensor."""
        shape, view, sharer_of = LAYOUTS[self.layout]
        base = values_for(self.dtype, shape, 1000 + self.number)
        w = view(base)
        if self.kind == "Parameter":
            w = nn.Parameter(w, requires_grad=grad_ok(self.dtype))
        elif self.kind == "requires_grad" and grad_ok(self.dtype):
            w = w.detach().requires_grad_(True)
        sd = collections.OrderedDict()
        sd["before"] = torch.arange(6.0)
        sd[KEY] = w
        sd[SHARER] = sharer_of(base)
        sd[TIED] = w                                    # the same object: tied
        sd["after"] = torch.tensor([[1, 2], [3, 4]], dtype=torch.int32)
        return sd, w

    def line(self):
        opts = []
        if self.dim != 1 or self.number % 2:            # dim 1: the default, also written
            opts.append(("--dim", self.dim))
        if self.value is not None:
            opts.append(("--value", self.value))
        args = [KEY, self.a] + ([self.b] if self.b is not None else [])
        return ak.edit_line(self.op, *args, options=opts)

    def label(self):
        name = str(self.dtype).removeprefix("torch.")
        return f"{self.line()} [{name}, {self.layout}, {self.kind}]"

    def fill(self):
        if self.value is None:
            return None
        t, reason = colck.fill_value(self.value, self.dtype)
        assert t is not None, f"(test bug) --value {self.value}: {reason}"
        return t

    def expected_key(self, w):
        return colck.reference(self.op, w, self.dim, self.a, self.b, self.fill())


def column_cases():
    cases, counter = [], itertools.count(1)
    choices = {  # index choices by size n along the dimension
        "move": lambda n, k: [(0, n - 1), (n - 1, 0), (1, n - 2), (n - 2, 1), (2, 0)][k % 5],
        "insert": lambda n, k: (([0, n, 2, 1])[k % 4], None),
        "delete": lambda n, k: (([0, n - 1, 2, 1])[k % 4], None),
    }

    def add(variant, dtype_name, dim, layout, k):
        dtype = getattr(torch, dtype_name)
        shape, view, _ = LAYOUTS[layout]
        n = view(torch.empty(shape)).shape[dim]
        a, b = choices[variant.split()[0]](n, k)
        value = None
        if variant == "insert --value":
            options = FLOAT_VALUES[dtype]
            value = options[k % len(options)]
        number = next(counter)
        cases.append(ColumnCase(number, variant, dtype, dim, layout, KINDS[number % 3],
                                a, b, value))

    k = 0
    for variant in VARIANTS:
        for dtype_name in MAIN_DTYPES:
            for dim in DIMS:
                for layout in LAYOUTS:
                    add(variant, dtype_name, dim, layout, k)
                    k += 1
        for i, dtype_name in enumerate(ONCE_DTYPES):     # once per edit each
            j = VARIANTS.index(variant) + i
            add(variant, dtype_name, DIMS[j % 3], list(LAYOUTS)[(j + 1) % 4], k)
            k += 1
    return cases


# --------------------------------------------------------------------------
# Running a case

class Work:
    """A case's input written into its own directory, apply run once."""

    def __init__(self, label, build, lines, out_name="out.pt", root=None):
        self.label, self._build, self.lines, self.out_name = label, build, lines, out_name
        self.root = root                # apply --root ROOT when given
        self._case = None

    @property
    def case(self):
        if self._case is None:
            d = ak.SESSION.new_dir(self.label)
            self.input = d / "in.pt"
            obj = self._build()
            torch.save(obj[0] if isinstance(obj, tuple) else obj, self.input)
            self._case = ak.Case(self.label, self.input, self.lines, out_name=self.out_name,
                                 root=self.root)
        return self._case

    def original(self):
        return torch.load(str(self.case.fixture), map_location="cpu")

    def inv(self):
        return self.case.inv()

    def success(self, warnings=None):
        """[] when apply exited 0 cleanly (no stdout, only the expected
        warnings, FILE untouched, only OUT written)."""
        return self.case.check_clean(warnings)

    def out(self):
        return self.case.out

    def failure(self, lineno, mention=()):
        inv = self.inv()
        edit = next(e for e in ak.parse_script("\n".join(self.lines)) if e.line == lineno)
        return inv.check_failure(where=f"{inv.script}:{lineno}", cols=edit.cols(),
                                 mention=mention)


def check_column_output(case, original, got):
    """Everything the matrix requires of torch.load(OUT) (original: the input
    as torch.load gives it)."""
    problems = []
    if list(got.keys()) != list(original.keys()):
        return [f"keys {list(got.keys())}, expected {list(original.keys())}"]
    w, new = original[KEY], got[KEY]
    problems += colck.facts_problems(w, new, KEY)
    want = case.expected_key(w)
    problems += colck.bit_problems(want, new, f"{KEY} vs the reference")
    problems += colck.own_storage_problems(KEY, new, cks.walk_tensors(got))
    rest = deep.diff(colck.without(original, {KEY}), colck.without(got, {KEY}))
    if rest:
        problems.append("the other tensors (tied key, sharer and the rest; first: the input) "
                        "differ:")
        problems += rest
    return problems


def column_check(case):
    work = Work(case.label(), case.build, [f"# case {case.number}", case.line()])

    def check():
        bad = work.success()
        if bad:
            return bad
        problems = check_column_output(case, work.original(), torch.load(str(work.out())))
        problems += ak.archive_problems(work.out(), work.input, repickled=True)
        return problems
    return check


# --------------------------------------------------------------------------
# Self-checks: the checks pass on a torch-made correct output, fail on broken ones

def correct_output(case, original):
    """What apply must write, made by torch: the key replaced by a new
    tensor with the reference's values, type and requires_grad."""
    out = copy.copy(original)
    w = original[KEY]
    new = case.expected_key(w.detach()).clone().contiguous()
    if type(w) is nn.Parameter:
        new = nn.Parameter(new, requires_grad=w.requires_grad)
    elif w.requires_grad:
        new.requires_grad_(True)
    out[KEY] = new
    return out


def roundtrip(tree):
    """torch.save then torch.load (what a file would give back)."""
    import io
    buf = io.BytesIO()
    torch.save(tree, buf)
    buf.seek(0)
    return torch.load(buf)


def _bump_first(t):
    u = t.detach().clone()
    flat = u.view(-1)
    if u.dtype == torch.bool:
        flat[0] = ~flat[0]
    elif u.is_floating_point() or u.is_complex():
        flat[0] = flat[0] + 1 if torch.isfinite(flat[0]) else 0.5
        if u.is_floating_point() and torch.equal(flat[0], t.detach().reshape(-1)[0]):
            flat[0] = 1.0
    else:
        flat[0] = flat[0] // 2 + 1
    return u


MUTATIONS = {
    "the edit not applied (OUT = FILE)": lambda case, orig, good: orig,
    "the tied key edited too (tie kept)": lambda case, orig, good: {
        **good, TIED: good[KEY]},
    "the result a view into a larger storage": lambda case, orig, good: {
        **good, KEY: _as_slice(good[KEY])},
    "the result tied to the sharer's storage": None,      # made in mutate()
    "Parameter turned plain tensor / requires_grad flipped": lambda case, orig, good: {
        **good, KEY: _flip_kind(good[KEY])},
    "the sharer changed in one element": lambda case, orig, good: {
        **good, SHARER: _bump_first(good[SHARER])},
    "one element of the result changed": lambda case, orig, good: {
        **good, KEY: _keep_kind(good[KEY], _bump_first(good[KEY]))},
    "the result's dtype changed": lambda case, orig, good: {
        **good, KEY: _keep_kind(good[KEY], good[KEY].detach().to(_other_dtype(good[KEY])))},
}


def _other_dtype(t):
    if t.is_complex():
        return torch.complex128 if t.dtype != torch.complex128 else torch.complex64
    return torch.float64 if t.dtype != torch.float64 else torch.float32


def _keep_kind(like, t):
    if type(like) is nn.Parameter:
        return nn.Parameter(t, requires_grad=like.requires_grad)
    return t.requires_grad_(True) if like.requires_grad else t


def _as_slice(t):
    big = torch.cat((t.detach().reshape(-1), t.detach().reshape(-1)[:3]))
    return _keep_kind(t, big[:t.numel()].view(t.shape))


def _flip_kind(t):
    if type(t) is nn.Parameter:
        return t.detach().clone()
    if t.requires_grad:
        return t.detach().clone()
    if grad_ok(t.dtype):
        return t.detach().clone().requires_grad_(True)
    return nn.Parameter(t.detach().clone(), requires_grad=False)


def mutate(name, case, original, good):
    if MUTATIONS[name] is not None:
        tree = MUTATIONS[name](case, original, good)
    else:
        # one storage holding the result, then the sharer's elements: the
        # sharer becomes a view into it (its values unchanged)
        new, sharer = good[KEY].detach(), good[SHARER]
        flat = torch.cat((new.reshape(-1), sharer.detach().reshape(-1)))
        tree = dict(good)
        tree[KEY] = _keep_kind(good[KEY], flat[:new.numel()].view(new.shape))
        tree[SHARER] = flat[new.numel():].view(sharer.shape)
    out = type(original)()
    for k in original:
        out[k] = tree[k]
    return out


def oracle_case_checks(tap, cases):
    def correct():
        problems = []
        for case in cases:
            sd, _ = case.build()
            original = roundtrip(sd)
            got = roundtrip(correct_output(case, original))
            bad = check_column_output(case, original, got)
            if bad:
                problems.append(f"{case.label()}: a correct output fails:")
                problems += bad[:5]
        return problems[:40]
    tap.add(f"oracle: the matrix check passes on torch-made correct outputs "
            f"({len(cases)} cases)", correct, needs_binary=False)

    def broken():
        problems = []
        sample = [c for c in cases if c.number % 7 == 0 or c.dtype in (torch.bool,
                                                                      torch.complex64)]
        for case in sample:
            sd, _ = case.build()
            original = roundtrip(sd)
            good = correct_output(case, original)
            for name in MUTATIONS:
                got = roundtrip(mutate(name, case, original, good))
                if not check_column_output(case, original, got):
                    problems.append(f"{case.label()}: '{name}' passes the check")
        return problems[:40]
    tap.add(f"oracle: the matrix check fails on {len(MUTATIONS)} kinds of broken output "
            f"(a sample of cases)", broken, needs_binary=False)

    def premises():
        problems = []
        for case in cases:
            sd, w = case.build()
            loaded = roundtrip(sd)
            lw = loaded[KEY]
            if lw is not loaded[TIED]:
                problems.append(f"{case.label()}: the tie is not one object after torch.load")
            if deep.storage_ident(lw) != deep.storage_ident(loaded[SHARER]):
                problems.append(f"{case.label()}: the key does not share the sharer's storage")
            if case.layout in ("a.t()", "transpose(0,2)") and lw.is_contiguous():
                problems.append(f"{case.label()}: the transposed tensor is contiguous")
            if case.layout == "offset a[1:]" and lw.storage_offset() == 0:
                problems.append(f"{case.label()}: the offset view has offset 0")
            if type(lw) is not (nn.Parameter if case.kind == "Parameter" else torch.Tensor):
                problems.append(f"{case.label()}: type {type(lw).__name__}")
            if bool(colck.bit_problems(lw, case.expected_key(lw), "x")) is (
                    case.variant == "move" and case.a == case.b):
                problems.append(f"{case.label()}: the edit changes nothing")
        return problems[:20]
    tap.add("oracle: every matrix input has the tie, the shared storage and the layout "
            "it claims (after torch.load)", premises, needs_binary=False)


# --------------------------------------------------------------------------
# move FROM == TO, --also, --value, quantized

def same_index_check(layout):
    case = ColumnCase(900, "move", torch.float32, 1, layout, "Parameter", 2, 2)
    work = Work(f"move-column FROM == TO ({layout})", case.build, [case.line()])

    def check():
        bad = work.success()
        if bad:
            return bad
        got = torch.load(str(work.out()))
        problems = deep.diff(work.original(), got)
        if not problems and got[KEY] is not got[TIED]:
            problems.append(f"{KEY} and {TIED} are no longer one object")
        return problems
    return work.label, check


def linear_model():
    """Linear(4, 6) ReLU Linear(6, 3) with small integer weights: every
    product and sum is exact in float32, in any order."""
    torch.manual_seed(11)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randint(-4, 5, p.shape).float())
    return model


def also_checks(tap):
    lines = ["# output rows of layer 0, with its bias and the next layer's inputs",
             "move-column 0.weight 1 4 --dim 0 --also 0.bias:0 --also 2.weight:1"]
    work = Work("--also: move-column 0.weight 1 4 --dim 0 --also 0.bias:0 --also 2.weight:1",
                lambda: linear_model().state_dict(), lines)
    edited = {"0.weight": 0, "0.bias": 0, "2.weight": 1}

    def values():
        bad = work.success()
        if bad:
            return bad
        orig, got = work.original(), torch.load(str(work.out()))
        problems = []
        for key, dim in edited.items():
            want = colck.reference("move-column", orig[key], dim, 1, 4)
            problems += colck.bit_problems(want, got[key], key)
            problems += colck.own_storage_problems(key, got[key], cks.walk_tensors(got))
        problems += deep.diff(colck.without(orig, set(edited)), colck.without(got, set(edited)))
        return problems
    tap.add(f"{work.label}: the three tensors equal the reference, the rest (2.bias, "
            f"_metadata) unchanged", values)

    def forward():
        bad = work.success()
        if bad:
            return bad
        old = linear_model()
        new = linear_model()
        try:
            new.load_state_dict(torch.load(str(work.out())), strict=True)
        except Exception as exc:
            return [f"load_state_dict(strict=True): {exc}"]
        x = torch.randint(-3, 4, (16, 4)).float()
        problems = []
        with torch.no_grad():
            hidden_old, hidden_new = old[0](x), new[0](x)
            want = colck.reference("move-column", hidden_old, -1, 1, 4)
            if not torch.equal(hidden_new, want):
                problems.append("the first layer's outputs are not the old ones permuted "
                                "(unit 1 moved to 4)")
            if torch.equal(hidden_new, hidden_old):
                problems.append("(premise) the permutation changed no hidden unit")
            if not torch.equal(new(x), old(x)):
                problems.append("the model's output changed (the next layer's input "
                                "columns were not permuted with the rows)")
        return problems
    tap.add(f"{work.label}: forward pass computes the permuted hidden units and the "
            f"same output", forward)

    def build_default_dim():
        g = torch.Generator().manual_seed(12)
        return {"a": torch.randn(4, 6, generator=g), "b": torch.randn(2, 3, 6, generator=g),
                "c": torch.randn(6, generator=g)}
    lines2 = ["delete-column a 2 --dim -1 --also b --also c"]
    work2 = Work("--also default D: delete-column a 2 --dim -1 --also b --also c",
                 build_default_dim, lines2)

    def default_dim():
        bad = work2.success()
        if bad:
            return bad
        orig, got = work2.original(), torch.load(str(work2.out()))
        problems = []
        for key in ("a", "b", "c"):
            want = colck.reference("delete-column", orig[key], -1, 2)
            problems += colck.bit_problems(want, got[key], f"{key} (dim -1 of its own ndim)")
        return problems
    tap.add(f"{work2.label}: D as written (-1) counts from each tensor's own end", default_dim)

    def build_value():
        g = torch.Generator().manual_seed(13)
        return {"f": torch.randn(3, 4, generator=g),
                "i": torch.randint(-9, 9, (3, 5), generator=g)}
    lines3 = ["insert-column f 3 --dim 0 --value 7 --also i:0"]
    work3 = Work("--also with --value: insert-column f 3 --dim 0 --value 7 --also i:0",
                 build_value, lines3)

    def with_value():
        bad = work3.success()
        if bad:
            return bad
        orig, got = work3.original(), torch.load(str(work3.out()))
        problems = []
        for key in ("f", "i"):
            fill, _ = colck.fill_value("7", orig[key].dtype)
            want = colck.reference("insert-column", orig[key], 0, 3, fill=fill)
            problems += colck.bit_problems(want, got[key], key)
        return problems
    tap.add(f"{work3.label}: the same X in each tensor's dtype", with_value)


def value_tensors():
    g = torch.Generator().manual_seed(21)
    x = torch.randn(3, 4, generator=g) * 10
    return {"f32": x.clone(), "f16": x.half(), "bf16": x.bfloat16(), "f64": x.double(),
            "i64": x.long(), "i8": x.to(torch.int8), "u8": x.abs().to(torch.uint8),
            "b": x > 0, "c64": torch.complex(x, -x), "extra": torch.arange(12).reshape(3, 4)}


VALUE_CASES = [  # (key, --value, the spec's verdict: True ok, False error)
    ("f16", "1e5", False), ("f16", "65519", True), ("f16", "65520", False),
    ("i64", "2.5", False), ("i64", "3.0", True), ("i64", "-4", True), ("i64", "nan", False),
    ("u8", "256", False), ("u8", "255", True), ("u8", "-1", False),
    ("i8", "-128", True), ("i8", "-129", False),
    ("b", "true", True), ("b", "FALSE", True), ("b", "1", True), ("b", "2", False),
    ("b", "1.0", True), ("b", "-0", True), ("b", "1e0", True), ("b", "0.5", False),
    ("b", "nan", False),
    ("f32", "nan", True), ("f32", "-inf", True), ("f32", "1e39", False), ("f32", "1e-45", True),
    ("bf16", "1e38", True), ("f64", "1e308", True), ("c64", "2.5", True),
    ("bf16", "-nan", True), ("f16", "-nan", True), ("f32", "-nan", True), ("f64", "-nan", True),
]


def value_checks(tap):
    def premise():
        problems = []
        tensors = value_tensors()
        for key, text, ok in VALUE_CASES:
            t, reason = colck.fill_value(text, tensors[key].dtype)
            if (t is not None) != ok:
                problems.append(f"{key} --value {text}: the oracle says "
                                f"{'ok' if t is not None else reason}, the listed verdict {ok}")
        return problems
    tap.add("oracle: --value verdicts (torch.tensor(X, dtype) and the spec's errors) match "
            "the listed cases", premise, needs_binary=False)

    for key, text, ok in VALUE_CASES:
        lines = ["delete-column extra 0 --dim 0", ak.edit_line("insert-column", key, 2,
                                                             options=[("--value", text)])]
        work = Work(f"--value {text} into {key}", value_tensors, lines)

        def check(work=work, key=key, text=text, ok=ok):
            if not ok:
                return work.failure(2)
            bad = work.success()
            if bad:
                return bad
            orig, got = work.original(), torch.load(str(work.out()))
            fill, _ = colck.fill_value(text, orig[key].dtype)
            # the inserted value's bits (a NaN's sign too) are torch's own
            problems = colck.bit_problems(colck.reference("insert-column", orig[key], 1, 2,
                                                          fill=fill), got[key], key,
                                          nan_bits=True)
            problems += colck.bit_problems(colck.reference("delete-column", orig["extra"], 0, 0),
                                           got["extra"], "extra (line 1)")
            changed = {key, "extra"}
            problems += deep.diff(colck.without(orig, changed), colck.without(got, changed))
            return problems
        verdict = "ok, the slice is torch.tensor(X, dtype)" if ok else \
            "exit 2 at SCRIPT:2:COL, nothing written"
        tap.add(f"insert-column {key} 2 --value {text} "
                f"({str(value_tensors()[key].dtype).removeprefix('torch.')}): {verdict}", check)


def quantized_tensors():
    g = torch.Generator().manual_seed(31)
    x = torch.randn(4, 5, generator=g)
    return {
        "ints": torch.arange(20).reshape(4, 5),
        "q8": torch.quantize_per_tensor(x, 0.05, 3, torch.qint8),
        "qu8": torch.quantize_per_tensor(x, 0.02, 128, torch.quint8),
        "pc": torch.quantize_per_channel(x, torch.tensor([0.1, 0.2, 0.05, 0.3], dtype=torch.double),
                                         torch.tensor([0, 1, -1, 2]), 0, torch.qint8),
        "q4": torch.quantize_per_tensor(torch.randn(8, generator=g), 0.25, 8, torch.quint4x2),
    }


def quantized_checks(tap):
    for line, key, op, dim, a, b in (
            ("move-column q8 0 3 --dim 0", "q8", "move-column", 0, 0, 3),
            ("delete-column qu8 1", "qu8", "delete-column", 1, 1, None),
            ("move-column pc 4 0 --dim 1", "pc", "move-column", 1, 4, 0)):
        work = Work(f"quantized: {line}", quantized_tensors, [line])

        def check(work=work, key=key, op=op, dim=dim, a=a, b=b):
            bad = work.success()
            if bad:
                return bad
            orig, got = work.original(), torch.load(str(work.out()))
            want = colck.reference_quantized(op, orig[key], dim, a, b)
            problems = deep.diff({key: want}, {key: got[key]})
            problems += deep.diff(colck.without(orig, {key}), colck.without(got, {key}))
            return problems
        tap.add(f"{work.label}: int values moved, quantization parameters kept, the rest "
                f"unchanged", check)


# --------------------------------------------------------------------------
# Validation errors

def error_tensors():
    g = torch.Generator().manual_seed(41)
    out = collections.OrderedDict()
    out["w"] = nn.Parameter(torch.randn(4, 5, generator=g))
    out["v"] = torch.randn(3, 5, generator=g)
    out["bias"] = torch.randn(4, generator=g)
    out["scalar"] = torch.tensor(2.0)
    out["note"] = "hello"
    out["count"] = 3
    out.update(quantized_tensors())
    return out


ERRORS = [
    # (label, failing line, mention)
    ("missing key", "move-column no.such.key 0 1", ["no.such.key"]),
    ("0-dim tensor", "delete-column scalar 0 --dim 0", ["scalar"]),
    ("0-dim tensor (default dim)", "move-column scalar 0 0", ["scalar"]),
    ("--dim out of range (2 of 2)", "move-column w 0 1 --dim 2", []),
    ("--dim out of range (-3 of 2)", "delete-column w 0 --dim -3", []),
    ("FROM out of range (5 of 5)", "move-column w 5 0", []),
    ("TO out of range (5 of 5)", "move-column w 0 5", []),
    ("FROM out of range along --dim 0 (4 of 4)", "move-column w 4 0 --dim 0", []),
    ("AT out of range (6 of 5)", "insert-column w 6", []),
    ("INDEX out of range (5 of 5)", "delete-column w 5", []),
    ("a non-tensor value (str)", "move-column note 0 1", ["note"]),
    ("a non-tensor value (int)", "delete-column count 0", ["count"]),
    ("--also with a different size along its dim", "move-column w 0 1 --dim 0 --also v:0", ["v"]),
    ("--also naming a missing key", "move-column w 0 1 --also nope", ["nope"]),
    ("--also naming KEY itself", "move-column w 0 1 --also w", []),
    ("--also twice the same key", "move-column w 0 1 --dim 0 --also bias:0 --also bias:0",
     ["bias"]),
    ("--also D out of range", "move-column w 0 1 --dim 0 --also bias:1", []),
    ("--also a non-tensor value", "move-column w 0 1 --also note", ["note"]),
    ("insert-column on a quantized tensor", "insert-column q8 0 --dim 0", ["q8"]),
    ("insert-column on a quantized tensor (quint8, --value)", "insert-column qu8 1 --value 0",
     ["qu8"]),
    ("move-column on quint4x2", "move-column q4 0 1 --dim 0", ["q4"]),
    ("delete-column on quint4x2", "delete-column q4 0 --dim 0", ["q4"]),
    ("per-channel quantized along its channel axis", "move-column pc 0 1 --dim 0", ["pc"]),
    ("--value on int64 not an integer", "insert-column ints 0 --value 2.5", []),
]


def error_checks(tap):
    def premise():
        problems = []
        obj = roundtrip(error_tensors())
        if cks.default_root(obj) != "":
            problems.append(f"the root is {cks.default_root(obj)!r}, expected the top level")
        for label, line, _ in ERRORS:
            edit = ak.parse_line(line)
            key = edit.args[0]
            t = obj.get(key)
            try:
                if not cks.is_tensor(t):
                    raise colck.ColumnError("not a tensor", key)
                if t.is_quantized and (edit.op == "insert-column" or t.dtype == torch.quint4x2
                                       or (t.qscheme() == torch.per_channel_affine and
                                           colck.norm_dim(int(edit.option("--dim", 1)), t.ndim)
                                           == t.q_per_channel_axis())):
                    raise colck.ColumnError("quantized", key)
                nums = [int(x) for x in edit.args[1:]]
                dim = int(edit.option("--dim", 1))
                fill = None
                if edit.option("--value") is not None:
                    fill, reason = colck.fill_value(edit.option("--value"), t.dtype)
                    if fill is None:
                        raise colck.ColumnError("value", reason)
                src = t.int_repr() if t.is_quantized else t
                colck.reference(edit.op, src.detach(), dim, *nums, fill=fill)
                seen = set()
                for also, d2 in edit.alsos():
                    u = obj.get(also)
                    if also == key or also in seen or not cks.is_tensor(u):
                        raise colck.ColumnError("also", also)
                    seen.add(also)
                    dd = colck.norm_dim(dim if d2 is None else d2, u.ndim)
                    if u.shape[dd] != t.shape[colck.norm_dim(dim, t.ndim)]:
                        raise colck.ColumnError("also size", also)
                problems.append(f"{label}: the oracle applies {line!r}")
            except colck.ColumnError:
                pass
        return problems
    tap.add("oracle: every error script's line is refused by the spec's rules "
            "(and the file's root is its top level)", premise, needs_binary=False)

    for label, line, mention in ERRORS:
        lines = ["move-column ints 0 4   # valid: nothing may be written anyway", line]
        work = Work(f"error: {label}", error_tensors, lines)
        tap.add(f"{label}: {line!r} exits 2 at SCRIPT:2:COL, FILE untouched, nothing written",
                lambda work=work, mention=mention: work.failure(2, mention))


# --------------------------------------------------------------------------
# drop

def drop_checkpoint():
    """A Lightning-style checkpoint: a model after two Adam steps, a scheduler,
    an EMA copy of the weights (a dict like the state dict, not it), a
    Namespace of hyper-parameters, a list of 12 items."""
    torch.manual_seed(51)
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(8, 5)).pow(2).mean().backward()
        opt.step()
        sched.step()
    return {
        "epoch": 2,
        "global_step": 2,
        "state_dict": model.state_dict(),
        "ema_state_dict": collections.OrderedDict(
            (k, v.detach().clone() * 0.5) for k, v in model.state_dict().items()),
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [sched.state_dict()],
        "hyper_parameters": argparse.Namespace(lr=1e-2, hidden=4, layers=[5, 4, 2]),
        "items": [torch.full((2,), float(i)) if i % 3 == 0 else i for i in range(12)],
    }


def nested_checkpoint():
    """The state dict two levels down, next to a note: apply --root
    wrapper.module."""
    ck = drop_checkpoint()
    return {"epoch": ck["epoch"], "wrapper": {"module": ck["state_dict"], "note": "kept"},
            "optimizer_states": ck["optimizer_states"]}


NESTED_ROOT = "wrapper.module"


def drop_model():
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))


def _drop_epoch(ck):
    del ck["epoch"]


def _drop_state(ck):
    ck["optimizer_states"][0]["state"].clear()


def _drop_items(ck):
    ck["items"] = [v for i, v in enumerate(ck["items"]) if not str(i).startswith("1")]


def _drop_attr(ck):
    del ck["hyper_parameters"].hidden


def _drop_ema_key(ck):
    del ck["ema_state_dict"]["2.bias"]


def _drop_note(ck):
    del ck["wrapper"]["note"]


DROPS = [  # (label, lines, the change in Python, input, apply --root)
    ("drop epoch (a top-level entry)", ["drop epoch"], _drop_epoch, drop_checkpoint, None),
    ("drop 'optimizer_states.0.state.*' (every parameter's state)",
     ["drop 'optimizer_states.0.state.*'"], _drop_state, drop_checkpoint, None),
    ("drop 'items.1*' (list items 1, 10, 11 at once: indices of the list before the edit)",
     ["drop 'items.1*'"], _drop_items, drop_checkpoint, None),
    ("drop hyper_parameters.hidden (an attribute of a Namespace)",
     ["drop hyper_parameters.hidden"], _drop_attr, drop_checkpoint, None),
    ("drop ema_state_dict.2.bias (a key with a dot in an EMA copy of the state dict, matched "
     "whole)", ["drop ema_state_dict.2.bias"], _drop_ema_key, drop_checkpoint, None),
    (f"drop wrapper.note (next to the state dict, --root {NESTED_ROOT})",
     ["drop wrapper.note"], _drop_note, nested_checkpoint, NESTED_ROOT),
]

# drop refused: the state dict's keys, the state dict, what holds it
# (decision 2: state-dict keys are removed with `delete`)
REFUSED_DROPS = [  # (label, PATH, input, apply --root)
    ("drop state_dict.2.bias (a key of the state dict)", "state_dict.2.bias",
     drop_checkpoint, None),
    ("drop 'state_dict.*' (every key of the state dict)", "state_dict.*", drop_checkpoint, None),
    ("drop state_dict (the state dict itself)", "state_dict", drop_checkpoint, None),
    ("drop 'state_*' (a glob naming the state dict)", "state_*", drop_checkpoint, None),
    ("drop '*' (every top-level entry, the state dict among them)", "*", drop_checkpoint, None),
    (f"drop wrapper (what holds the state dict, --root {NESTED_ROOT})", "wrapper",
     nested_checkpoint, NESTED_ROOT),
    (f"drop wrapper.module.0.weight (a key of the state dict, --root {NESTED_ROOT})",
     "wrapper.module.0.weight", nested_checkpoint, NESTED_ROOT),
]


def state_dict_refusal(path, root):
    """Decision 2 of issue 4: drop never removes entries of the state dict
    at root (a dotted path, not the top level) or anything holding it.
    ('is', root) when PATH reaches below the state dict, ('holds', the
    matched path) when it names the state dict or one of its ancestors;
    None when drop may go ahead.  PATH's components are globs (* ?); the
    state dict's path has no key with a dot."""
    assert root, "(test bug) a top-level state dict"
    comps, rcomps = path.split("."), root.split(".")
    if not all(fnmatch.fnmatchcase(r, c) for c, r in zip(comps, rcomps)):
        return None
    if len(comps) <= len(rcomps):
        return "holds", ".".join(rcomps[:len(comps)])
    return "is", root


def refusal_message(kind, named):
    return f"'{named}' {kind} the state dict: use delete for its keys"


def drop_checks(tap):
    for label, lines, change, build, root in DROPS:
        work = Work(label, build, lines, out_name="out.ckpt", root=root)

        def check(work=work, change=change):
            bad = work.success()
            if bad:
                return bad
            want = work.original()
            change(want)
            got = torch.load(str(work.out()))
            problems = deep.diff(want, got)
            return ["(first: the input changed in Python, second: torch.load(OUT))"] + problems \
                if problems else []
        tap.add(f"{label}: exit 0, OUT deep-equals the input without it", check)
        if change is _drop_state:
            def resume(work=work):
                bad = work.success()
                if bad:
                    return bad
                got = torch.load(str(work.out()))
                problems = []
                if got["optimizer_states"][0]["state"] != {}:
                    problems.append("state is not {}")
                model = drop_model()
                model.load_state_dict(got["state_dict"], strict=True)
                opt = torch.optim.Adam(model.parameters(), lr=1e-2)
                try:
                    opt.load_state_dict(got["optimizer_states"][0])
                    opt.zero_grad()
                    model(torch.randn(8, 5)).pow(2).mean().backward()
                    opt.step()
                except Exception as exc:
                    return [f"Adam resumed from OUT: {type(exc).__name__}: {exc}"]
                if len(opt.state) != len(list(model.parameters())):
                    problems.append("Adam has no fresh state after one step")
                return problems
            tap.add(f"{label}: torch.optim.Adam(...).load_state_dict(OUT's) works and steps",
                    resume)

    for label, path, build, root in REFUSED_DROPS:
        lines = ["drop epoch   # valid: nothing may be written anyway",
                 ak.edit_line("drop", path)]
        work = Work(f"refused: {label}", build, lines, out_name="out.ckpt", root=root)
        verdict = state_dict_refusal(path, root or cks.default_root(roundtrip(build())))
        assert verdict is not None, f"(test bug) {label}: decision 2 allows it"

        def refused(work=work, verdict=verdict):
            kind, named = verdict
            problems = work.failure(2)
            inv = work.inv()
            cols = ak.parse_script("\n".join(work.lines))[1].cols()
            rx = re.compile(re.escape(f"ckpt-surgeon: {inv.script}:2:") + r"(\d+): "
                            + re.escape(refusal_message(kind, named)))
            got = inv.run.stderr.splitlines()
            m = rx.fullmatch(got[0]) if len(got) == 1 else None
            if not m:
                problems.append(f"stderr is not exactly one line matching {rx.pattern!r}")
            elif int(m.group(1)) not in cols:
                problems.append(f"the error at column {m.group(1)}, expected one of "
                                f"{sorted(cols)}")
            if problems and not any("stderr:" in p for p in problems):
                problems += inv.run.describe()
            return problems
        tap.add(f"{label}: exit 2, the one line SCRIPT:2:COL: {refusal_message(*verdict)}; "
                f"FILE untouched, nothing written", refused)

    # a file that is a bare state dict: its top-level entries are its keys
    def bare_checkpoint():
        return drop_checkpoint()["state_dict"]
    for path in ("2.bias", "*.bias"):
        bare = Work(f"refused: drop {path!r} on a bare state dict", bare_checkpoint,
                    [ak.edit_line("drop", path)], out_name="out.ckpt")

        def bare_refused(work=bare):
            problems = work.failure(1)
            inv = work.inv()
            # the first key the glob matches (a key with dots spans components)
            pattern = ak.parse_script(work.lines[0])[0].args[0]
            named = next(k for k in work.original()
                         if fnmatch.fnmatchcase(k, pattern) and k.count(".") == 1)
            rx = re.compile(re.escape(f"ckpt-surgeon: {inv.script}:1:") + r"\d+: "
                            + re.escape(f"'{named}' is a state-dict key: use delete to "
                                        f"remove it"))
            got = inv.run.stderr.splitlines()
            if len(got) != 1 or not rx.fullmatch(got[0]):
                problems.append(f"stderr is not exactly one line matching {rx.pattern!r}")
                problems += inv.run.describe()
            return problems
        tap.add(f"{bare.label}: exit 2, the one line SCRIPT:1:COL: 'KEY' is a state-dict key: "
                f"use delete to remove it; FILE untouched, nothing written", bare_refused)

    delete = Work("delete 2.bias (how a state-dict key is removed)", drop_checkpoint,
                  ["delete 2.bias"], out_name="out.ckpt")
    tap.add(f"{delete.label}: exit 0, OUT as the apply oracle says (the state dict without "
            f"2.bias), the EMA copy's 2.bias kept",
            lambda: delete.success() or delete.case.check_deep() or (
                [] if "2.bias" in torch.load(str(delete.out()))["ema_state_dict"]
                else ["ema_state_dict lost 2.bias"]))

    for label, lines in (("drop matching nothing", ["drop epoch", "drop no_such_entry"]),
                         ("drop matching nothing below a match",
                          ["drop epoch", "drop 'optimizer_states.3.state.*'"]),
                         ("drop of an empty PATH", ["drop epoch", "drop ''"])):
        work = Work(label, drop_checkpoint, lines, out_name="out.ckpt")
        tap.add(f"{label}: exit 2 at SCRIPT:2:COL, FILE untouched, nothing written",
                lambda work=work: work.failure(2))

    def premise():
        problems = []
        for label, lines, change, build, root in DROPS:
            ck = build()
            before = copy.deepcopy(ck)
            change(ck)
            if not deep.diff(before, ck):
                problems.append(f"{label}: the Python change changes nothing")
            path = ak.parse_script("\n".join(lines))[0].args[0]
            if state_dict_refusal(path, root or cks.default_root(before)) is not None:
                problems.append(f"{label}: decision 2 refuses it")
        for label, path, build, root in REFUSED_DROPS:
            ck = roundtrip(build())
            root = root or cks.default_root(ck)
            if state_dict_refusal(path, root) is None:
                problems.append(f"{label}: decision 2 allows it")
            if not cks.is_tensor_mapping(cks.resolve(ck, root)):
                problems.append(f"{label}: {root!r} is not a state dict")
        for path, root, want in (("state_dict.2.bias", "state_dict", ("is", "state_dict")),
                                 ("state_*", "state_dict", ("holds", "state_dict")),
                                 ("w*.m?dule", "wrapper.module", ("holds", "wrapper.module")),
                                 ("wrapper", "wrapper.module", ("holds", "wrapper")),
                                 ("wrapper.note", "wrapper.module", None),
                                 ("ema_state_dict.2.bias", "state_dict", None),
                                 ("optimizer_states.0.state.*", "state_dict", None)):
            if state_dict_refusal(path, root) != want:
                problems.append(f"drop {path} with the state dict at {root}: "
                                f"{state_dict_refusal(path, root)}, expected {want}")
        ck = drop_checkpoint()
        if cks.default_root(roundtrip(ck)) != "state_dict":
            problems.append(f"the root is {cks.default_root(roundtrip(ck))!r}, not state_dict")
        _drop_items(ck)
        left = [v if isinstance(v, int) else int(v[0]) for v in ck["items"]]
        if left != [0, 2, 3, 4, 5, 6, 7, 8, 9]:
            problems.append(f"items after the drop: {ck['items']}")
        return problems
    tap.add("oracle: each drop's Python change changes the checkpoint and decision 2 allows "
            "it; decision 2 refuses each refused drop (is / holds the state dict, checked on "
            "hand cases) at a real state dict; the default root is state_dict", premise,
            needs_binary=False)


# --------------------------------------------------------------------------

def main(argv):
    global ak, deep, colck, nn, ORACLE_ONLY
    ORACLE_ONLY = argv[1:] == ["--oracle-only"]
    if len(argv) > 1 and not ORACLE_ONLY:
        print("\n".join(__doc__.strip().splitlines()[2:6]), file=sys.stderr)
        return 2
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    cks.require_torch(cks.fixtures_dir())       # torch only; no fixtures needed
    import applyck
    import colck as colck_module
    import deep as deep_module
    ak, deep, colck, nn = applyck, deep_module, colck_module, torch.nn
    torch.set_num_threads(1)
    session = ak.start_session()
    tap = ak.Tap()
    try:
        for description, check in colck.self_checks():
            tap.add(description, check, needs_binary=False)
        cases = column_cases()
        oracle_case_checks(tap, cases)
        if not ORACLE_ONLY:
            for case in cases:
                tap.add(f"{case.label()}: result == reference, own contiguous storage, type/"
                        f"dtype/requires_grad kept, tie and sharer unchanged, rest bit-identical",
                        column_check(case))
            for layout in ("offset a[1:]", "a.t()"):
                label, check = same_index_check(layout)
                tap.add(f"{label}: OUT deep-equals FILE (tie and shared storage kept)", check)
            also_checks(tap)
            value_checks(tap)
            quantized_checks(tap)
            error_checks(tap)
            drop_checks(tap)
        else:
            oracle_only_checks(tap)
        return tap.run()
    finally:
        session.close()


def oracle_only_checks(tap):
    """The premises of the binary checks, without the binary."""
    collector = ak.Tap()
    value_checks(collector)
    error_checks(collector)
    drop_checks(collector)
    for description, func, needs_binary in collector.checks:
        if not needs_binary:
            tap.add(description, func, needs_binary=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
