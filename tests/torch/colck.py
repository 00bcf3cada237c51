"""The column edits' oracle, for test_columns.py and test_optimizer.py.

Everything here is computed by torch at test time; nothing expected is typed:

* reference(): the reference torch code of docs/cli-contract.md and
  .issue4-spec.md, narrow/cat along the dimension (move, insert, delete);
  by_index() is an independent implementation (index lists and
  index_select) and user_reorder() the literal loop of the user's upgrade
  script (neural-lam issue 48), both only used to check reference();
* fill_value(): what --value X becomes in a dtype (torch.tensor(X, dtype)),
  or why it is an error;
* bit_problems(): bitwise equality with NaN equal to any NaN;
  own_storage_problems(): a new contiguous tensor with a storage of its own;
* optimizers() and correspondence(): the optimizer state dicts the spec
  looks at and its order-preserving assignments of parameters to state-dict
  tensors, all enumerated; a key is parameter i when every assignment puts
  i on it, and no parameter when none puts one on it; otherwise (assignments
  disagreeing, none at all, an inconsistent state) it cannot be told and an
  edit of it warns (per key, as src/optim.c decides);
* warning_regex(): the exact text of the optimizer warning.
"""

import itertools
import math
import re
from dataclasses import dataclass, field

import cks
import deep

torch = cks.torch

OPS = ("move-column", "insert-column", "delete-column")
OPTIMIZER_KEYS = ("optimizer", "optimizer_state_dict", "optim")


class ColumnError(Exception):
    """An edit the spec refuses (the kind says which rule)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


# --------------------------------------------------------------------------
# The reference torch code

def norm_dim(dim, ndim):
    """D as the spec normalises it (negative: from the end); ColumnError if
    out of range."""
    d = dim + ndim if dim < 0 else dim
    if not 0 <= d < ndim:
        raise ColumnError("dim", f"dimension {dim} out of range for {ndim} dimensions")
    return d


def check_indices(op, n, a, b=None):
    """The range rules: move 0 <= FROM, TO < n; insert 0 <= AT <= n;
    delete 0 <= INDEX < n."""
    limits = {"move-column": [(a, n), (b, n)], "insert-column": [(a, n + 1)],
              "delete-column": [(a, n)]}[op]
    for value, end in limits:
        if not 0 <= value < end:
            raise ColumnError("index", f"index {value} out of range (size {n})")


def reference(op, w, dim, a, b=None, fill=None):
    """The contract's reference Python, narrow/cat along dim.

    move:   moved = w.narrow(D, FROM, 1); w2 = cat(w[..:FROM], w[FROM+1:..]);
            out = cat(w2[..:TO], moved, w2[TO:..])
    insert: out = cat(w[..:AT], full_slice(fill), w[AT:..])   (fill: 0-dim, w's dtype)
    delete: out = cat(w[..:INDEX], w[INDEX+1:..])
    """
    if w.ndim == 0:
        raise ColumnError("0-dim", "a 0-dim tensor has no columns")
    d = norm_dim(dim, w.ndim)
    n = w.shape[d]
    check_indices(op, n, a, b)
    head = lambda t, k: t.narrow(d, 0, k)
    tail = lambda t, k: t.narrow(d, k, t.shape[d] - k)
    if op == "move-column":
        moved = w.narrow(d, a, 1)
        w2 = torch.cat((head(w, a), tail(w, a + 1)), d)
        return torch.cat((head(w2, b), moved, tail(w2, b)), d)
    if op == "insert-column":
        if fill is None:
            fill = torch.zeros((), dtype=w.dtype)
        shape = list(w.shape)
        shape[d] = 1
        piece = fill.to(w.dtype).reshape([1] * w.ndim).expand(shape)
        return torch.cat((head(w, a), piece, tail(w, a)), d)
    if op == "delete-column":
        return torch.cat((head(w, a), tail(w, a + 1)), d)
    raise ValueError(op)


def by_index(op, w, dim, a, b=None, fill=None):
    """reference() computed another way: an index list and index_select
    (insert: the filled slice appended, then selected into place)."""
    d = norm_dim(dim, w.ndim)
    n = w.shape[d]
    order = list(range(n))
    if op == "move-column":
        order.pop(a)
        order.insert(b, a)
        return w.index_select(d, torch.tensor(order, dtype=torch.long))
    if op == "delete-column":
        order.pop(a)
        return w.index_select(d, torch.tensor(order, dtype=torch.long))
    shape = list(w.shape)
    shape[d] = 1
    value = (torch.zeros((), dtype=w.dtype) if fill is None else fill).item()
    extra = torch.full(shape, value, dtype=w.dtype)
    order.insert(a, n)
    return torch.cat((w, extra), d).index_select(d, torch.tensor(order, dtype=torch.long))


def user_reorder(param_tensor, reorder):
    """The loop of the user's upgrade script (neural-lam issue 48), verbatim
    but for the names: reorder is {from_dim: to_dim}, applied in order."""
    for from_dim, to_dim in reorder.items():
        moved_vec = param_tensor[:, from_dim: (from_dim + 1)]
        param_tensor = torch.cat(
            (param_tensor[:, :from_dim], param_tensor[:, (from_dim + 1):]), dim=1)
        param_tensor = torch.cat(
            (param_tensor[:, :to_dim], moved_vec, param_tensor[:, to_dim:]), dim=1)
    return param_tensor


def reference_quantized(op, q, dim, a, b=None):
    """move/delete on a quantized tensor: the int values move, the
    quantization parameters stay."""
    ints = reference(op, q.int_repr(), dim, a, b)
    if q.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        return torch._make_per_tensor_quantized_tensor(ints, q.q_scale(), q.q_zero_point())
    return torch._make_per_channel_quantized_tensor(
        ints, q.q_per_channel_scales(), q.q_per_channel_zero_points(), q.q_per_channel_axis())


# --------------------------------------------------------------------------
# --value X

_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
                         r"|[+-]?(inf|infinity|nan)", re.IGNORECASE)


def fill_value(text, dtype):
    """(0-dim tensor of dtype, None), or (None, reason) when the spec makes
    --value text an error for dtype.  The value is torch.tensor(X, dtype)."""
    low = text.lower()
    if dtype == torch.bool:
        if low in ("true", "false"):
            return torch.tensor(low == "true"), None
        if _FLOAT_TEXT.fullmatch(text) and float(text) in (0.0, 1.0):
            return torch.tensor(float(text) == 1.0), None
        return None, "bool takes true/false or a number equal to 1 or 0"
    if low in ("true", "false") or not _FLOAT_TEXT.fullmatch(text):
        return None, "not a number"
    if dtype.is_floating_point or dtype.is_complex:
        x = float(text)
        t = torch.tensor(x, dtype=dtype)
        if math.isfinite(x) and not bool(torch.isfinite(t)):
            return None, "does not fit"
        return t, None
    try:
        x = int(text)
    except ValueError:
        f = float(text)
        if not math.isfinite(f) or not f.is_integer():
            return None, "not an integer value"
        x = int(f)
    info = torch.iinfo(dtype)
    if not info.min <= x <= info.max:
        return None, "out of the dtype's range"
    return torch.tensor(x, dtype=dtype), None


# --------------------------------------------------------------------------
# Comparing tensors

def plain(t):
    x = t.detach()
    if type(x) is not torch.Tensor:
        x = x.as_subclass(torch.Tensor)
    return x.resolve_neg().resolve_conj()


def bit_problems(want, got, what, nan_bits=False):
    """Same dtype and shape, bitwise equal values, except that a NaN equals
    any NaN (payload and sign agnostic; complex: per component) unless
    nan_bits."""
    if got.dtype != want.dtype or tuple(got.shape) != tuple(want.shape):
        return [f"{what}: {got.dtype} {list(got.shape)}, expected {want.dtype} {list(want.shape)}"]
    x, y = plain(want).contiguous(), plain(got).contiguous()
    if x.is_complex():
        x, y = torch.view_as_real(x), torch.view_as_real(y)
    if x.is_floating_point() and not nan_bits:
        nx, ny = torch.isnan(x), torch.isnan(y)
        if not torch.equal(nx, ny):
            first = int((nx != ny).reshape(-1).nonzero()[0])
            return [f"{what}: NaN positions differ; first at flat index {first}: "
                    f"{x.reshape(-1)[first].item()!r} expected, "
                    f"got {y.reshape(-1)[first].item()!r}"]
        x, y = x.masked_fill(nx, 0), y.masked_fill(ny, 0)
    rx, size = deep._raw(x)
    ry, _ = deep._raw(y)
    if torch.equal(rx, ry):
        return []
    n = x.numel()
    bad = (rx.reshape(n, size) != ry.reshape(n, size)).any(dim=1).nonzero().reshape(-1)
    first = int(bad[0])
    return [f"{what}: {len(bad)} of {n} elements differ (bitwise); first at flat index "
            f"{first}: {x.reshape(-1)[first].item()!r} expected, got "
            f"{y.reshape(-1)[first].item()!r}"]


def own_storage_problems(path, t, tree):
    """t (at path in the loaded tree, a list of (path, tensor)) is contiguous,
    at storage offset 0, alone on a storage of exactly its size."""
    problems = []
    if not t.is_contiguous():
        problems.append(f"{path}: not contiguous (stride {t.stride()})")
    if t.storage_offset() != 0:
        problems.append(f"{path}: storage offset {t.storage_offset()}, expected 0")
    nbytes = deep.untyped_storage(t).nbytes()
    if nbytes != t.numel() * t.element_size():
        problems.append(f"{path}: storage of {nbytes} bytes, expected exactly "
                        f"{t.numel() * t.element_size()} (numel x element size)")
    ident = deep.storage_ident(t)
    for other, u in tree:
        if other != path and deep.storage_ident(u) == ident:
            problems.append(f"{path}: shares its storage with {other}")
    return problems


def facts_problems(want, got, what):
    """Python type, dtype and requires_grad kept."""
    problems = []
    if type(got) is not type(want):
        problems.append(f"{what}: type {type(got).__name__}, expected {type(want).__name__}")
    if got.dtype != want.dtype:
        problems.append(f"{what}: dtype {got.dtype}, expected {want.dtype}")
    if got.requires_grad != want.requires_grad:
        problems.append(f"{what}: requires_grad {got.requires_grad}, expected {want.requires_grad}")
    return problems


def without(tree, keys):
    """A shallow copy of a dict-like state dict (same type and attributes)
    without keys, for comparing the untouched rest with deep.diff."""
    out = type(tree)()
    for k, v in tree.items():
        if k not in keys:
            out[k] = v
    if hasattr(tree, "__dict__"):
        out.__dict__.update(tree.__dict__)
    return out


# --------------------------------------------------------------------------
# Optimizer state: which dicts, and the order-preserving correspondence

def is_optimizer(value):
    return (isinstance(value, dict) and isinstance(value.get("state"), dict)
            and isinstance(value.get("param_groups"), list)
            and all(isinstance(g, dict) and isinstance(g.get("params"), list)
                    for g in value["param_groups"]))


def optimizers(top):
    """[(dotted path, optimizer state dict)] the spec looks at."""
    out = []
    if not isinstance(top, dict):
        return out
    states = top.get("optimizer_states")
    if isinstance(states, list):
        out += [(f"optimizer_states.{i}", o) for i, o in enumerate(states) if is_optimizer(o)]
    out += [(k, top[k]) for k in OPTIMIZER_KEYS if is_optimizer(top.get(k))]
    return out


NOT_A_PARAMETER = "not a parameter"   # a key no assignment gives a parameter


@dataclass
class Correspondence:
    """The spec's order-preserving assignments of the optimizer's parameters
    0..N-1 (group order) to the state dict's candidates, and what they say
    about each key (decision 1 of issue 4: correspondence per key)."""
    ids: list                       # parameter ids in group order
    candidates: list                # the candidate keys, in state-dict order
    assignments: list = field(default_factory=list)   # tuples: param i -> candidate index
    reason: str = ""                # why no assignment is looked at ('' : none)
    at: dict = field(default_factory=dict)  # candidate key -> i, NOT_A_PARAMETER or None

    @property
    def count(self):
        return len(self.assignments)

    def status(self, key):
        """The parameter position i that EVERY assignment gives key;
        NOT_A_PARAMETER when none gives it one (so also for a key that is no
        candidate: a non-floating tensor, not a tensor); None when that
        cannot be told (no assignment at all, assignments disagreeing about
        key, an inconsistent optimizer state): the spec's warning."""
        return self.at.get(key, NOT_A_PARAMETER)

    def param_id(self, key):
        """The optimizer's id of the parameter key is for sure, or None."""
        i = self.status(key)
        return None if i is None or i is NOT_A_PARAMETER else self.ids[i]

    @property
    def key_to_id(self):
        """{key: optimizer id} of every key determined to be a parameter."""
        return {k: self.ids[i] for k, i in self.at.items()
                if i is not None and i is not NOT_A_PARAMETER}

    @property
    def undetermined(self):
        return [k for k, i in self.at.items() if i is None]


MAX_ASSIGNMENTS = 100000


def _needs(opt):
    """(ids, need, reason): need[i] is the shape parameter i's state tensors
    share (ndim >= 1), None without state; reason says which parameter's
    state tensors disagree."""
    ids = [i for g in opt["param_groups"] for i in g["params"]]
    need = []
    for i in ids:
        state = opt["state"].get(i)
        shapes = {tuple(t.shape) for t in (state.values() if isinstance(state, dict) else ())
                  if cks.is_tensor(t) and t.ndim >= 1}
        if len(shapes) > 1:
            return ids, None, f"parameter {i}: state tensors of shapes {sorted(shapes)}"
        need.append(shapes.pop() if shapes else None)
    return ids, need, ""


def enumerate_assignments(need, shapes):
    """Every order-preserving one-to-one assignment of parameters (need:
    shape or None = any) to candidates (shapes), as tuples of candidate
    indices.  Plain enumeration with pruning; the fixtures are small."""
    n, m = len(need), len(shapes)
    out, chosen = [], []

    def place(i, start):
        if i == n:
            out.append(tuple(chosen))
            if len(out) > MAX_ASSIGNMENTS:
                raise RuntimeError(f"(test bug) over {MAX_ASSIGNMENTS} assignments")
            return
        for j in range(start, m - (n - i) + 1):
            if need[i] is None or need[i] == shapes[j]:
                chosen.append(j)
                place(i + 1, j + 1)
                chosen.pop()
    place(0, 0)
    return out


def per_key(assignments, m):
    """For each candidate index: the parameter position every assignment puts
    on it (never leaving it out), NOT_A_PARAMETER when every assignment
    leaves it out, None when they disagree or there is no assignment."""
    if not assignments:
        return [None] * m
    result = []
    for j in range(m):
        seen = {a.index(j) if j in a else NOT_A_PARAMETER for a in assignments}
        result.append(seen.pop() if len(seen) == 1 else None)
    return result


def per_key_by_counting(need, shapes):
    """per_key(enumerate_assignments(...)) computed another way, without
    listing the assignments: forward/backward counts capped at 2 (F(i, j):
    ways to place parameters [0, i) on candidates [0, j); B(i, j): [i, n) on
    [j, m)).  Parameter i can sit on j when F(i, j) and B(i + 1, j + 1) and
    it fits; j can be left out when F(i, j) and B(i, j + 1) for some i."""
    n, m = len(need), len(shapes)
    fits = lambda i, j: need[i] is None or need[i] == shapes[j]
    F = [[0] * (m + 1) for _ in range(n + 1)]
    B = [[0] * (m + 1) for _ in range(n + 1)]
    F[0] = [1] * (m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            F[i][j] = min(2, F[i][j - 1] + (F[i - 1][j - 1] if fits(i - 1, j - 1) else 0))
    B[n] = [1] * (m + 1)
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            B[i][j] = min(2, B[i][j + 1] + (B[i + 1][j + 1] if fits(i, j) else 0))
    if B[0][0] == 0:
        return [None] * m
    result = []
    for j in range(m):
        sits = {i for i in range(n) if fits(i, j) and F[i][j] and B[i + 1][j + 1]}
        skip = any(F[i][j] and B[i][j + 1] for i in range(n + 1))
        options = sits | ({NOT_A_PARAMETER} if skip else set())
        result.append(options.pop() if len(options) == 1 else None)
    return result


def correspondence(opt, state_dict):
    """The spec's assignments of optimizer parameters 0..N-1 (in group order)
    to the state dict's floating-point/complex tensors (in order): parameter
    i with state needs a candidate of its state tensors' shape (every state
    tensor with ndim >= 1; differing shapes: inconsistent, nothing is told);
    without state any candidate; order-preserving, one-to-one.  All of them
    are enumerated; a key is parameter i when every assignment puts i on it
    (Correspondence.status)."""
    cands = [(k, tuple(v.shape)) for k, v in state_dict.items()
             if cks.is_tensor(v) and (v.is_floating_point() or v.is_complex())]
    keys = [k for k, _ in cands]
    ids, need, reason = _needs(opt)
    result = Correspondence(ids, keys, reason=reason)
    if reason:
        result.at = {k: None for k in keys}
        return result
    result.assignments = enumerate_assignments(need, [s for _, s in cands])
    if not result.assignments:
        result.reason = "no assignment"
    result.at = dict(zip(keys, per_key(result.assignments, len(keys))))
    return result


def warning_text(path, key):
    """The warning of the spec after 'SCRIPT:LINE:COL: ' (without them)."""
    return (f"warning: the optimizer state at '{path}' no longer matches '{key}' (cannot tell "
            f"which of its entries belong to which parameter); to reset it, add: "
            f"drop '{path}.state.*'")


def warning_regex(script, line, path, key):
    """The whole stderr line of that warning; group 1 is COL."""
    return re.compile(re.escape(f"ckpt-surgeon: {script}:{line}:") + r"(\d+): "
                      + re.escape(warning_text(path, key)))


def suggested_drop(warning_line):
    """The `drop '...'` script line a warning suggests, or None."""
    m = re.search(r"to reset it, add: (drop .*)$", warning_line)
    return m.group(1) if m else None


# --------------------------------------------------------------------------
# Self-checks of this module (no binary needed)

def self_checks():
    """(description, check) pairs proving the oracles agree with each other
    and with torch, and that the comparisons fail when they must."""
    checks = []

    def reference_agrees():
        problems = []
        g = torch.Generator().manual_seed(5)
        for dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64,
                      torch.complex64, torch.int64, torch.bool, torch.uint8):
            base = torch.randn(4, 5, 6, generator=g) * 100
            if dtype == torch.complex64:
                w = torch.complex(base, -base)
            else:
                w = base.to(dtype)
            for layout, x in (("contiguous", w), ("transposed", w.transpose(0, 2)),
                              ("offset", w[1:])):
                for dim in (0, 1, 2, -1, -3):
                    n = x.shape[dim]
                    fill = torch.ones((), dtype=dtype)
                    cases = [("move-column", a, b, None) for a in range(n) for b in range(n)]
                    cases += [("insert-column", a, None, f) for a in range(n + 1)
                              for f in (None, fill)]
                    cases += [("delete-column", a, None, None) for a in range(n)]
                    for op, a, b, f in cases:
                        r = reference(op, x, dim, a, b, f)
                        i = by_index(op, x, dim, a, b, f)
                        if bit_problems(i, r, "x") or r.dtype != dtype:
                            problems.append(f"{op} {a} {b} {dtype} {layout} dim {dim}: "
                                            f"narrow/cat and index_select disagree")
                            break
        return problems[:10]
    checks.append(("colck: the narrow/cat reference agrees with index_select for every "
                   "FROM/TO/AT/INDEX, 8 dtypes, 3 layouts, 5 dims", reference_agrees))

    def user_script_agrees():
        g = torch.Generator().manual_seed(6)
        problems = []
        for cols, frm, to in ((52, 49, 34), (69, 66, 51), (5, 0, 4), (5, 4, 0)):
            w = torch.randn(8, cols, generator=g)
            want = user_reorder(w, {frm: to})
            for dim in (1, -1):
                problems += bit_problems(want, reference("move-column", w, dim, frm, to),
                                         f"move {frm}->{to} dim {dim}")
        w = torch.randn(8, 70, generator=g)
        if torch.equal(reference("move-column", w, 1, 66, 51), w):
            problems.append("move 66->51 changed nothing (test premise)")
        return problems
    checks.append(("colck: reference move == the user's issue-48 loop (49->34, 66->51, ends)",
                   user_script_agrees))

    def comparisons_fail():
        problems = []
        x = torch.tensor([1.0, -0.0, float("nan"), 2.0])
        y = x.clone()
        y[1] = 0.0
        if not bit_problems(x, y, "x"):
            problems.append("-0.0 vs 0.0 not found")
        z = x.clone()
        z.view(torch.int32)[2] = 0x7fc00001          # another NaN payload
        if bit_problems(x, z, "x"):
            problems.append("two NaNs with different payloads reported different")
        z[2] = 5.0
        if not bit_problems(x, z, "x"):
            problems.append("NaN vs a number not found")
        if not bit_problems(x, x.double(), "x"):
            problems.append("a dtype change not found")
        c = torch.complex(torch.tensor([1.0, float("nan")]), torch.tensor([-0.0, 2.0]))
        d = c.clone()
        d.real[0] = 1.0000001
        if not bit_problems(c, d, "c") or bit_problems(c, c.clone(), "c"):
            problems.append("complex comparison wrong")
        base = torch.arange(12.0)
        tree = [("a", base[2:]), ("b", base)]
        if not own_storage_problems("a", base[2:], tree):
            problems.append("an offset view sharing storage passed the own-storage check")
        fresh = base[2:].clone()
        if own_storage_problems("a", fresh, [("a", fresh), ("b", base)]):
            problems.append("a fresh clone failed the own-storage check")
        big = torch.arange(20.0)
        if not own_storage_problems("a", big[:12], [("a", big[:12])]):
            problems.append("a storage larger than the tensor passed")
        if not own_storage_problems("a", base.reshape(3, 4).t(), []):
            problems.append("a transposed tensor passed as contiguous")
        return problems
    checks.append(("colck: bitwise comparison (-0.0, NaN payloads, complex) and the "
                   "own-storage check fail when they must", comparisons_fail))

    def values():
        problems = []
        cases = [("1e5", torch.float16, False), ("65519", torch.float16, True),
                 ("65520", torch.float16, False), ("nan", torch.float32, True),
                 ("-inf", torch.bfloat16, True), ("1e39", torch.float32, False),
                 ("2.5", torch.int64, False), ("3.0", torch.int64, True),
                 ("256", torch.uint8, False), ("255", torch.uint8, True),
                 ("-1", torch.uint8, False), ("-129", torch.int8, False),
                 ("9223372036854775807", torch.int64, True),
                 ("9223372036854775808", torch.int64, False), ("nan", torch.int64, False),
                 ("true", torch.bool, True), ("TRUE", torch.bool, True), ("0", torch.bool, True),
                 ("2", torch.bool, False), ("2.5", torch.complex64, True)]
        for text, dtype, ok in cases:
            t, reason = fill_value(text, dtype)
            if (t is not None) != ok:
                problems.append(f"--value {text} for {dtype}: {'ok' if t is not None else reason},"
                                f" the spec says {'ok' if ok else 'error'}")
            elif t is not None and t.dtype != dtype:
                problems.append(f"--value {text}: dtype {t.dtype}")
        t, _ = fill_value("65519", torch.float16)
        if t is not None and t.item() != torch.finfo(torch.float16).max:
            problems.append("65519 does not round to float16's max")
        c, _ = fill_value("2.5", torch.complex64)
        if c is not None and (c.real.item(), c.imag.item()) != (2.5, 0.0):
            problems.append("complex --value: not (2.5, 0)")
        return problems
    checks.append(("colck: --value conversion rules (torch.tensor(X, dtype); does-not-fit, "
                   "integer, range and bool errors)", values))

    def assignment():
        problems = []
        st = lambda *shape: {"step": torch.tensor(1.0), "exp_avg": torch.zeros(shape),
                             "exp_avg_sq": torch.zeros(shape)}
        sd = {"a": torch.zeros(3, 4), "b": torch.zeros(3), "rm": torch.zeros(3),
              "n": torch.zeros((), dtype=torch.long), "c": torch.zeros(2, 3),
              "extra": torch.zeros(5)}
        opt = {"state": {0: st(3, 4), 1: st(3), 2: st(2, 3)},
               "param_groups": [{"params": [0, 1, 2]}]}
        # parameter 1 on b or on rm: two assignments, yet a and c are
        # parameters 0 and 2 in both; b and rm are not determined; extra
        # (no [5] parameter) is no parameter in either; n is no candidate
        r = correspondence(opt, sd)
        want = {"a": 0, "b": None, "rm": None, "c": 2, "extra": NOT_A_PARAMETER}
        got = {k: r.status(k) for k in want}
        if r.count != 2 or got != want or r.status("n") is not NOT_A_PARAMETER:
            problems.append(f">= 2 assignments: {r.count} assignments, per key {got}, "
                            f"expected 2 and {want}")
        if r.key_to_id != {"a": 0, "c": 2} or r.undetermined != ["b", "rm"]:
            problems.append(f"determined {r.key_to_id}, undetermined {r.undetermined}")
        # a key that always holds the same parameter but is left out by
        # another assignment is not determined
        one = {"state": {7: st(3)}, "param_groups": [{"params": [7]}]}
        r = correspondence(one, {"b": torch.zeros(3), "rm": torch.zeros(3)})
        if r.count != 2 or (r.status("b"), r.status("rm")) != (None, None):
            problems.append(f"b is parameter 0 or left out: {r.count}, {r.at}")
        # a unique assignment: every key told, ids as param_groups give them
        opt["state"].pop(1)
        sd.pop("rm")
        r = correspondence(opt, sd)
        if r.count != 1 or r.key_to_id != {"a": 0, "b": 1, "c": 2} or r.undetermined:
            problems.append(f"unique case: {r.count} {r.key_to_id}")
        # groups out of state-dict order: no assignment, nothing told
        opt["param_groups"] = [{"params": [0, 2]}, {"params": [1]}]
        opt["state"][1] = st(3)
        r = correspondence(opt, sd)
        if r.count != 0 or any(r.status(k) is not None for k in ("a", "b", "c", "extra")):
            problems.append(f"0 assignments: {r.count}, {r.at}")
        if r.status("n") is not NOT_A_PARAMETER:
            problems.append("a non-floating key is undetermined")
        # a parameter whose state tensors disagree: nothing told
        opt["param_groups"] = [{"params": [0, 1, 2]}]
        opt["state"][1] = {"exp_avg": torch.zeros(3), "exp_avg_sq": torch.zeros(4)}
        r = correspondence(opt, sd)
        if not r.reason or any(r.status(k) is not None for k in ("a", "b", "c")):
            problems.append(f"inconsistent state: {r.reason!r}, {r.at}")
        return problems
    checks.append(("colck: the optimizer correspondence per key: a key determined with >= 2 "
                   "assignments, undetermined keys (parameters disagreeing, sometimes left "
                   "out), never a parameter; 0 and 1 assignments; an inconsistent state",
                   assignment))

    def counting_agrees():
        g = torch.Generator().manual_seed(7)
        rand = lambda k: int(torch.randint(0, k, (), generator=g))
        problems, seen = [], {"determined with >= 2": 0, "undetermined": 0, "never": 0}
        for case in range(3000):
            shapes = [(rand(3),) for _ in range(rand(8))]
            need = [None if rand(4) == 0 else (rand(3),) for _ in range(rand(6))]
            found = enumerate_assignments(need, shapes)
            told = per_key(found, len(shapes))
            if per_key_by_counting(need, shapes) != told:
                problems.append(f"need {need}, candidates {shapes}: enumeration {told}, "
                                f"counting {per_key_by_counting(need, shapes)}")
            brute = [c for c in itertools.combinations(range(len(shapes)), len(need))
                     if all(n is None or n == shapes[j] for n, j in zip(need, c))]
            if brute != found:
                problems.append(f"need {need}, candidates {shapes}: pruned enumeration "
                                f"{found}, all combinations {brute}")
            if len(found) >= 2:
                seen["determined with >= 2"] += any(isinstance(t, int) for t in told)
                seen["undetermined"] += told.count(None) > 0
            seen["never"] += NOT_A_PARAMETER in told
        problems += [f"(premise) no random case with a key {k}" for k, v in seen.items() if not v]
        return problems[:10]
    checks.append(("colck: the per-key correspondence by enumeration equals all combinations "
                   "filtered and the forward/backward count (3000 random cases)",
                   counting_agrees))
    return checks
