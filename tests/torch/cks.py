"""Shared helpers for ckpt-surgeon's torch oracle tests.

Three parts:

* the oracle: load a checkpoint with real torch (recording every storage's
  persistent id on the way) and compute what `ckpt-surgeon ls/show --json`
  must print for it, following docs/cli-contract.md;
* a TAP harness for automake's TAP driver;
* running the binary (CKS_BIN) and comparing its output with the oracle.

Environment:
  CKS_BIN            the ckpt-surgeon binary (default: <repo>/src/ckpt-surgeon)
  CKS_FIXTURES       the fixtures directory (default: <repo>/tests/fixtures,
                     where `make check` writes them)
  CKS_REQUIRE_TORCH  1: a missing torch is an error (Bail out!), not a skip

Everything expected is computed by torch at test time; the only exception is
the `<fixture>.expect.json` files of the torch-2.x-style fixtures that torch
1.13 cannot load, which fixtures.py computed with this same oracle from the
tensors it encoded.
"""

import collections
import json
import math
import os
import pickle
import shlex
import subprocess
import sys
import traceback
import types
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # fixture_models must be importable by torch.load

try:
    import torch
except Exception as exc:  # ImportError, or a broken installation
    torch = None
    TORCH_ERROR = f"import torch failed: {type(exc).__name__}: {exc}"
else:
    TORCH_ERROR = None

TIMEOUT = 60
SHOW_VALUES = 1000
ROOT_CANDIDATES = ("state_dict", "model_state_dict", "model", "module", "net", "ema")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
UNSUPPORTED_PREFIX = "unsupported-"
EXPECT_SUFFIX = ".expect.json"


# --------------------------------------------------------------------------
# Environment

def binary():
    return os.environ.get("CKS_BIN") or str(REPO / "src" / "ckpt-surgeon")


def binary_missing():
    """A reason why the binary cannot be run, or None."""
    path = binary()
    if not os.path.isfile(path):
        return f"binary not found: {path} (set CKS_BIN)"
    if not os.access(path, os.X_OK):
        return f"binary not executable: {path}"
    return None


def fixtures_dir():
    return Path(os.environ.get("CKS_FIXTURES") or REPO / "tests" / "fixtures")


def require_torch(outdir):
    """Skip (or bail out in CI) when torch or the fixtures are unavailable."""
    reason = TORCH_ERROR
    marker = Path(outdir) / "NO_TORCH"
    if reason is None and marker.exists():
        reason = marker.read_text().strip()
    if reason is None:
        return
    if os.environ.get("CKS_REQUIRE_TORCH") == "1":
        print("Bail out! torch is required (install python3-torch)")
        print(f"# {reason}")
        sys.exit(1)
    bar = "*" * 72
    print(f"{bar}\nSKIP: torch tests need python3-torch for /usr/bin/python3\n"
          f"      ({reason})\n{bar}", file=sys.stderr)
    print("1..0 # SKIP torch not available")
    sys.exit(0)


def setup():
    """Common start of every test program: torch present, fixtures ready.

    The fixtures are written by `make check` (tests/fixtures/.stamp), or by
    hand with `/usr/bin/python3 tests/torch/fixtures.py DIR`.
    """
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    outdir = fixtures_dir()
    require_torch(outdir)
    if not (outdir / ".stamp").exists():
        print(f"Bail out! no fixtures in {outdir}: run `make check`, or "
              f"/usr/bin/python3 tests/torch/fixtures.py {outdir}")
        sys.exit(1)
    return outdir


def checkpoint_files(outdir):
    """Every fixture file, sorted by name (sidecar .json files excluded)."""
    return sorted(p for p in Path(outdir).iterdir()
                  if p.is_file() and p.name.endswith(CHECKPOINT_SUFFIXES))


def is_unsupported(path):
    return Path(path).name.startswith(UNSUPPORTED_PREFIX)


def expect_file(path):
    return Path(f"{path}{EXPECT_SUFFIX}")


def find_fixture(name_or_path):
    """A fixture given by file name (in the fixtures dir) or by path."""
    path = Path(name_or_path)
    if path.exists():
        return path
    outdir = setup()
    candidate = outdir / name_or_path
    if candidate.exists():
        return candidate
    sys.exit(f"no such fixture: {name_or_path} (looked in {outdir})")


# --------------------------------------------------------------------------
# Loading with torch, recording each storage's persistent id

class OracleError(Exception):
    """The oracle cannot describe this input (a fixture the rules don't cover)."""


@dataclass(frozen=True)
class Storage:
    """What a checkpoint's persistent id says about one storage."""
    key: str
    location: str
    dtype: str          # element type of the storage class; uint8 for UntypedStorage
    numel: int          # in elements of that type (bytes for UntypedStorage)
    element_size: int

    @property
    def nbytes(self):
        return self.numel * self.element_size


def dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def storage_id(tensor):
    """Identity of the storage under a tensor (stable while the tensor lives)."""
    return tensor._storage()._cdata


def _recording_pickle_module(storages, keepalive):
    """A pickle module for torch.load whose Unpickler records persistent ids.

    torch's _load assigns its own persistent_load function to the unpickler;
    the property below wraps it, so each returned storage is mapped to the
    (key, location, storage type, numel) that the file wrote for it.  This
    needs the pure-Python unpickler: the C one never looks the attribute up
    again after __init__.
    """

    class RecordingUnpickler(pickle._Unpickler):
        @property
        def persistent_load(self):
            return self._persistent_load

        @persistent_load.setter
        def persistent_load(self, load):
            def recording_load(pid):
                storage = load(pid)
                _, storage_type, key, location, numel = pid
                if storage_type is torch.UntypedStorage:
                    dtype = torch.uint8
                else:
                    dtype = storage_type.dtype
                if isinstance(location, bytes):
                    location = location.decode("ascii")
                keepalive.append(storage)  # cdata must not be reused
                storages.setdefault(
                    storage._storage._cdata,
                    Storage(str(key), location, dtype_name(dtype), int(numel),
                            torch._utils._element_size(dtype)))
                return storage
            self._persistent_load = recording_load

    module = types.ModuleType("cks_recording_pickle")
    module.__getattr__ = lambda name: getattr(pickle, name)  # everything else: pickle's
    module.Unpickler = RecordingUnpickler
    return module


@contextmanager
def patched(obj, name, value):
    """Temporarily set obj.name to value."""
    missing = object()
    old = getattr(obj, name, missing)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if old is missing:
            delattr(obj, name)
        else:
            setattr(obj, name, old)


class Checkpoint:
    """A loaded object tree plus the persistent-id facts of its storages."""

    def __init__(self, obj, storages, keepalive=()):
        self.obj = obj
        self.storages = storages        # storage_id -> Storage
        self._keepalive = list(keepalive)
        self.default_root = default_root(obj)
        self._all = None
        self._keys = None

    def storage(self, tensor):
        try:
            return self.storages[storage_id(tensor)]
        except KeyError:
            raise OracleError("tensor without a recorded persistent id") from None

    def all_tensors(self):
        if self._all is None:
            self._all = walk_tensors(self.obj)
        return self._all

    def storage_keys(self):
        """(path, storage key) for every tensor of all_tensors()."""
        if self._keys is None:
            self._keys = [(p, self.storage(t).key) for p, t in self.all_tensors()]
        return self._keys

    def root_entries(self, root=None):
        root = self.default_root if root is None else root
        container = resolve(self.obj, root)
        return [(k, v) for k, v in children(container) or () if is_tensor(v)]


def load_checkpoint(path):
    """torch.load(path) on the CPU, recording what each storage's pid said."""
    storages, keepalive = {}, []
    module = _recording_pickle_module(storages, keepalive)
    # torch 1.13's load() replaces any pickle_module argument by the module
    # `pickle` unless weights_only is set, so the module itself is swapped.
    with patched(torch.serialization, "pickle", module):
        obj = torch.load(str(path), map_location="cpu")
    if not storages and walk_tensors(obj):
        raise OracleError(f"{path}: no persistent ids recorded")
    return Checkpoint(obj, storages, keepalive)


# --------------------------------------------------------------------------
# The rules of docs/cli-contract.md, "Which tensors a command sees"

def is_tensor(value):
    return isinstance(value, torch.Tensor)


def key_str(key):
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise OracleError(f"dict key of unsupported type: {key!r}")


_OPAQUE = (type, types.FunctionType, types.BuiltinFunctionType,
           types.MethodType, types.ModuleType)


def children(value):
    """(name, child) pairs of a container, or None for a leaf.

    dicts by item, lists and tuples by index, objects with a __dict__ (e.g.
    argparse.Namespace, nn.Module) by vars(); tensors, sets, classes and
    everything else are leaves.
    """
    if is_tensor(value):
        return None
    if isinstance(value, dict):
        return [(key_str(k), v) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [(str(i), v) for i, v in enumerate(value)]
    if isinstance(value, _OPAQUE):
        return None
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict):
        return [(key_str(k), v) for k, v in attrs.items()]
    return None


def join(path, key):
    return key if path == "" else f"{path}.{key}"


def walk_tensors(top):
    """Every (full dotted path, tensor) of the tree, in --all order.

    A container reached a second time (same object) is not expanded again;
    a tensor is listed at every path where it appears.
    """
    found, seen = [], set()

    def visit(value, path):
        if is_tensor(value):
            found.append((path, value))
            return
        items = children(value)
        if items is None or id(value) in seen:
            return
        seen.add(id(value))
        for key, child in items:
            visit(child, join(path, key))

    visit(top, "")
    return found


def is_tensor_mapping(value):
    """A non-empty dict of str -> tensor (extra state entries excepted)."""
    if not isinstance(value, dict) or not value:
        return False
    for key, item in value.items():
        if not isinstance(key, str):
            return False
        if key == "_extra_state" or key.endswith("._extra_state"):
            continue
        if not is_tensor(item):
            return False
    return True


def default_root(top):
    if not isinstance(top, dict):
        return ""
    if "state_dict" in top and isinstance(top["state_dict"], dict):
        return "state_dict"
    if is_tensor_mapping(top):
        return ""
    for name in ROOT_CANDIDATES:
        if name in top and is_tensor_mapping(top[name]):
            return name
    return ""


def resolve(top, path):
    """The object at a dotted path; keys containing dots are matched whole.

    Raises KeyError when there is none.
    """
    if path == "":
        return top

    def descend(node, rest):
        items = children(node) or []
        matches = [(k, v) for k, v in items
                   if rest == k or rest.startswith(k + ".")]
        for key, child in sorted(matches, key=lambda kv: -len(kv[0])):
            if rest == key:
                return child
            try:
                return descend(child, rest[len(key) + 1:])
            except KeyError:
                pass
        raise KeyError(path)

    return descend(top, path)


# --------------------------------------------------------------------------
# Expected outputs

def tensor_entry(key, t):
    return {"key": key, "dtype": dtype_name(t.dtype), "shape": list(t.shape),
            "bytes": t.numel() * t.element_size()}


def expected_ls(ck, file, *, all=False, root=None):
    """What `ckpt-surgeon ls FILE --json [--all] [--root ROOT]` prints."""
    root = ck.default_root if root is None else root
    entries = ck.all_tensors() if all else ck.root_entries(root)
    tensors = [tensor_entry(k, t) for k, t in entries]
    return {"file": file, "format": "torch-zip", "root": root,
            "count": len(tensors),
            "total_bytes": sum(t["bytes"] for t in tensors),
            "tensors": tensors}


def _json_float(value):
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _plain(t):
    """The values a tensor stands for: dequantized, no subclass, no autograd."""
    if t.is_quantized:
        return t.dequantize()
    return t.detach().as_subclass(torch.Tensor)


def tensor_stats(x):
    """stats of show --json; min/max/mean/std over finite elements only."""
    stats = {"count": x.numel(),
             "nan": int(torch.isnan(x).sum()),
             "inf": int(torch.isinf(x).sum())}
    if x.is_complex():
        x = x.to(torch.complex128)
        finite = x[torch.isfinite(x)]
        mean = finite.mean() if finite.numel() else None
        stats.update(
            min=None, max=None,
            mean=None if mean is None else [mean.real.item(), mean.imag.item()],
            std=finite.std().item() if finite.numel() >= 2 else None)
        return stats
    if x.is_floating_point():
        x = x.to(torch.float64)
        finite = x[torch.isfinite(x)]
        low = finite.min().item() if finite.numel() else None
        high = finite.max().item() if finite.numel() else None
    else:  # integer and bool: min/max stay integers, bool as 0/1
        x = x.to(torch.int64)
        low = int(x.min()) if x.numel() else None
        high = int(x.max()) if x.numel() else None
        finite = x.to(torch.float64)
    stats.update(min=low, max=high,
                 mean=finite.mean().item() if finite.numel() else None,
                 std=finite.std().item() if finite.numel() >= 2 else None)
    return stats


def tensor_preview(x, n):
    """The first n values of x.flatten() as show --json prints them."""
    flat = x.flatten()[:n]
    if x.is_complex():
        return [[_json_float(z.real), _json_float(z.imag)]
                for z in flat.to(torch.complex128).tolist()]
    if x.is_floating_point():
        return [_json_float(v) for v in flat.to(torch.float64).tolist()]
    return flat.tolist()  # ints stay ints, bools stay bools


def find_tensor(ck, key):
    """(full path, tensor) for show's KEY: a state-dict key, else a full path."""
    root = ck.default_root
    for k, t in ck.root_entries(root):
        if k == key:
            return join(root, k), t
    try:
        t = resolve(ck.obj, key)
    except KeyError:
        raise OracleError(f"no tensor {key!r}") from None
    if not is_tensor(t):
        raise OracleError(f"{key!r} is not a tensor")
    return key, t


def expected_show(ck, file, key, values=SHOW_VALUES):
    """What `ckpt-surgeon show FILE KEY --json --values N` prints."""
    path, t = find_tensor(ck, key)
    storage = ck.storage(t)
    x = _plain(t)
    return {
        "file": file, "key": key, "path": path,
        "dtype": dtype_name(t.dtype), "shape": list(t.shape),
        "stride": list(t.stride()), "storage_offset": t.storage_offset(),
        "numel": t.numel(), "bytes": t.numel() * t.element_size(),
        "requires_grad": bool(t.requires_grad),
        "storage": {"key": storage.key, "record": f"data/{storage.key}",
                    "dtype": storage.dtype, "numel": storage.numel,
                    "bytes": storage.nbytes, "location": storage.location},
        "shared_with": [p for p, k in ck.storage_keys()
                        if p != path and k == storage.key],
        "stats": tensor_stats(x),
        "preview": tensor_preview(x, values),
    }


def show_keys(ck):
    """The KEYs test_show tries: every state-dict key, then every other full
    path of --all that is not itself a state-dict key."""
    root = ck.default_root
    keys = [k for k, _ in ck.root_entries(root)]
    taken = set(keys) | {join(root, k) for k in keys}
    return keys + [p for p, _ in ck.all_tensors() if p not in taken]


def expectations(ck, values=SHOW_VALUES, show=True):
    """Everything test_ls/test_show compare for one file ("file" left empty)."""
    expected = {"ls": expected_ls(ck, ""), "ls_all": expected_ls(ck, "", all=True)}
    if show:
        expected["show"] = {key: expected_show(ck, "", key, values) for key in show_keys(ck)}
    return expected


def expectations_for(path, show=True):
    """From the .expect.json sidecar if there is one, else from torch.load."""
    sidecar = expect_file(path)
    if sidecar.exists():
        return json.loads(sidecar.read_text())
    return expectations(load_checkpoint(path), show=show)


def with_file(expected, file):
    return {**expected, "file": str(file)}


def is_quantized_dtype(name):
    return name.startswith(("qint", "quint"))


# --------------------------------------------------------------------------
# Comparing trees of tensors (generator checks, demo reproducibility)

def same_values(x, y):
    """Equal dtype-wise values, NaN equal to NaN, quantizer included."""
    if x.is_quantized or y.is_quantized:
        if not (x.is_quantized and y.is_quantized and x.qscheme() == y.qscheme()):
            return False
        if x.qscheme() == torch.per_tensor_affine:
            if (x.q_scale(), x.q_zero_point()) != (y.q_scale(), y.q_zero_point()):
                return False
        else:
            if not (torch.equal(x.q_per_channel_scales(), y.q_per_channel_scales())
                    and torch.equal(x.q_per_channel_zero_points(), y.q_per_channel_zero_points())
                    and x.q_per_channel_axis() == y.q_per_channel_axis()):
                return False
        return same_values(x.dequantize(), y.dequantize())
    x = _plain(x).resolve_neg().resolve_conj()
    y = _plain(y).resolve_neg().resolve_conj()
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    if x.is_complex():
        x, y = torch.view_as_real(x.contiguous()), torch.view_as_real(y.contiguous())
    if x.is_floating_point():
        nan = torch.isnan(x)
        return torch.equal(nan, torch.isnan(y)) and torch.equal(x[~nan], y[~nan])
    return torch.equal(x, y)


def sharing(tensors):
    """Paths grouped by storage: which tensors share memory."""
    groups = collections.defaultdict(list)
    for path, t in tensors:
        groups[storage_id(t)].append(path)
    return sorted(groups.values())


def assert_same_tree(saved, loaded, what):
    """Same tensor paths, metadata, values and storage sharing."""
    a, b = walk_tensors(saved), walk_tensors(loaded)
    if [p for p, _ in a] != [p for p, _ in b]:
        raise AssertionError(f"{what}: tensor paths differ:\n{[p for p, _ in a]}\n{[p for p, _ in b]}")
    for (path, x), (_, y) in zip(a, b):
        facts = lambda t: (type(t), t.dtype, tuple(t.shape), t.stride(),
                           t.storage_offset(), t.requires_grad)
        if facts(x) != facts(y):
            raise AssertionError(f"{what}: {path}: {facts(x)} != {facts(y)}")
        if not same_values(x, y):
            raise AssertionError(f"{what}: {path}: values differ")
    if sharing(a) != sharing(b):
        raise AssertionError(f"{what}: storage sharing differs")


# --------------------------------------------------------------------------
# Comparing JSON values

def _close(expected, got, tol):
    if tol is None:
        return expected == got
    rel, absolute = tol
    return math.isclose(expected, got, rel_tol=rel, abs_tol=absolute)


def compare(expected, got, where="", tol=lambda where: None):
    """Differences between expected and got JSON, as readable lines.

    Types are checked as JSON distinguishes them: an expected integer needs an
    integer, an expected float accepts any number, booleans are not numbers.
    tol(where) gives (rel, abs) for floats at that place, or None for exact.
    """
    here = where or "$"
    if isinstance(expected, bool):
        if got is not expected:
            return [f"{here}: expected {json.dumps(expected)}, got {json.dumps(got)}"]
        return []
    if isinstance(expected, int):
        if (not isinstance(got, int) or isinstance(got, bool)) or got != expected:
            return [f"{here}: expected integer {expected}, got {json.dumps(got)}"]
        return []
    if isinstance(expected, float):
        if (not isinstance(got, (int, float)) or isinstance(got, bool)
                or not _close(expected, got, tol(where))):
            return [f"{here}: expected {expected!r}, got {json.dumps(got)}"]
        return []
    if expected is None or isinstance(expected, str):
        if got != expected or type(got) is not type(expected):
            return [f"{here}: expected {json.dumps(expected)}, got {json.dumps(got)}"]
        return []
    if isinstance(expected, list):
        if not isinstance(got, list):
            return [f"{here}: expected a list, got {json.dumps(got)[:200]}"]
        problems = []
        if len(got) != len(expected):
            problems.append(f"{here}: expected {len(expected)} items, got {len(got)}")
        for i, (e, g) in enumerate(zip(expected, got)):
            problems += compare(e, g, f"{where}[{i}]", tol)
        return problems
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [f"{here}: expected an object, got {json.dumps(got)[:200]}"]
        problems = [f"{here}: missing member {k!r}" for k in expected if k not in got]
        problems += [f"{here}: unexpected member {k!r}" for k in got if k not in expected]
        for k in expected:
            if k in got:
                problems += compare(expected[k], got[k], join(where, k), tol)
        return problems
    raise TypeError(f"cannot compare {type(expected).__name__}")


def show_tolerance(expected):
    """mean/std: rel 1e-9 (abs 1e-12); quantized: rel 1e-6 for every float."""
    quantized = is_quantized_dtype(expected["dtype"])

    def tol(where):
        if quantized and where.startswith(("stats.", "preview")):
            return (1e-6, 1e-12)
        if where.startswith(("stats.mean", "stats.std")):
            return (1e-9, 1e-12)
        return None
    return tol


# --------------------------------------------------------------------------
# The text formats: ls and layout lines

_NEEDS_QUOTES = frozenset(' \t\n\r\v\f"\'#\\')
_UNITS = ("KiB", "MiB", "GiB", "TiB")


def quote_key(key):
    """A key as the text outputs print it."""
    if key == "" or any(c in _NEEDS_QUOTES for c in key):
        return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return key


def human_size(nbytes):
    """The ' (X.Y KiB)' part of the total line, or '' below 1024 bytes."""
    if nbytes < 1024:
        return ""
    power = max(p for p in range(1, len(_UNITS) + 1) if 1024 ** p <= nbytes)
    return f" ({nbytes / 1024 ** power:.1f} {_UNITS[power - 1]})"


def numel_of(shape):
    return math.prod(shape)


def parse_tensor_line(line, key, with_bytes):
    """Check one `KEY DTYPE [d0, d1] [BYTES]` line; returns problems."""
    token = quote_key(key)
    if not (line.startswith(token) and line[len(token):len(token) + 1] in (" ", "\t")):
        return None, [f"line {line!r} does not start with key {token} and a blank"]
    try:
        fields = shlex.split(line)
    except ValueError as exc:
        return None, [f"line {line!r}: shlex: {exc}"]
    minimum = 4 if with_bytes else 3
    if len(fields) < minimum:
        return None, [f"line {line!r}: expected at least {minimum} fields"]
    got_key, dtype, rest = fields[0], fields[1], fields[2:]
    if with_bytes:
        shape_text, nbytes = " ".join(rest[:-1]), rest[-1]
    else:
        shape_text, nbytes = " ".join(rest), None
    try:
        shape = json.loads(shape_text)
        nbytes = None if nbytes is None else int(nbytes)
    except ValueError as exc:
        return None, [f"line {line!r}: cannot parse shape/bytes: {exc}"]
    return {"key": got_key, "dtype": dtype, "shape": shape, "bytes": nbytes}, []


def check_tensor_lines(lines, tensors, with_bytes):
    problems = []
    if len(lines) != len(tensors):
        problems.append(f"expected {len(tensors)} tensor lines, got {len(lines)}")
    for line, want in zip(lines, tensors):
        got, bad = parse_tensor_line(line, want["key"], with_bytes)
        problems += bad
        if got is None:
            continue
        expect = dict(want) if with_bytes else {**want, "bytes": None}
        problems += [f"line {line!r}: {p}" for p in compare(expect, got)]
    return problems


def check_ls_text(stdout, expected):
    """ls text output: one line per tensor, then the total line."""
    lines = stdout.splitlines()
    if not lines:
        return ["no output"]
    *body, total = lines
    problems = check_tensor_lines(body, expected["tensors"], with_bytes=True)
    elements = sum(numel_of(t["shape"]) for t in expected["tensors"])
    nbytes = expected["total_bytes"]
    want = f"total: {expected['count']} tensors, {elements} elements, {nbytes} bytes"
    suffix = human_size(nbytes)
    if total not in (want, want + suffix):
        optional = " (the part in parentheses is optional)" if suffix else ""
        problems.append(f"total line {total!r}, expected {want + suffix!r}{optional}")
    return problems


def check_layout_text(stdout, expected):
    """layout output: one `KEY DTYPE [d0, d1]` line per tensor, nothing else."""
    return check_tensor_lines(stdout.splitlines(), expected["tensors"], with_bytes=False)


# --------------------------------------------------------------------------
# Running the binary

class BinaryMissing(Exception):
    pass


@dataclass
class Run:
    argv: list
    returncode: int
    stdout: str
    stderr: str

    def describe(self):
        """Diagnostics for a failed check."""
        shown = " ".join(shlex.quote(a) for a in self.argv)
        lines = [f"command: {shown}", f"exit status: {self.returncode}"]
        if self.returncode < 0:
            lines.append(f"killed by signal {-self.returncode}")
        for name, text in (("stderr", self.stderr), ("stdout", self.stdout)):
            text = text.rstrip("\n")
            if text:
                cut = text.splitlines()
                lines.append(f"{name}:")
                lines += [f"  {line}" for line in cut[:12]]
                if len(cut) > 12:
                    lines.append(f"  ... ({len(cut) - 12} more lines)")
        return lines


def run_cks(*args, cwd=None):
    """Run the binary with args (in cwd); never raises for the program's
    failures."""
    missing = binary_missing()
    if missing:
        raise BinaryMissing(missing)
    argv = [binary(), *map(str, args)]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode("utf-8", "replace")
        err = (exc.stderr or b"").decode("utf-8", "replace")
        return Run(argv, -9, out, err + f"\n(timed out after {TIMEOUT} s)")
    return Run(argv, proc.returncode,
               proc.stdout.decode("utf-8", "replace"),
               proc.stderr.decode("utf-8", "replace"))


def json_output(run):
    """(parsed stdout, problems) for a command that must succeed with JSON."""
    if run.returncode != 0:
        return None, ["expected exit status 0"] + run.describe()
    try:
        return json.loads(run.stdout), []
    except ValueError as exc:
        return None, [f"stdout is not JSON: {exc}"] + run.describe()


def check_json(args, expected, tol=lambda where: None):
    run = run_cks(*args)
    got, problems = json_output(run)
    if got is None:
        return problems
    problems = compare(expected, got, tol=tol)
    if problems:
        problems.append(f"command: {' '.join(shlex.quote(str(a)) for a in run.argv)}")
    return problems


def check_error(args, file):
    """Exit 2 and exactly one stderr line `ckpt-surgeon: FILE: ...`."""
    run = run_cks(*args)
    problems = []
    if run.returncode != 2:
        problems.append(f"expected exit status 2, got {run.returncode}")
    lines = run.stderr.splitlines()
    prefix = f"ckpt-surgeon: {file}: "
    if len(lines) != 1 or not lines[0].startswith(prefix) or len(lines[0]) == len(prefix):
        problems.append(f"expected one stderr line starting with {prefix!r}")
    return problems + run.describe() if problems else []


# --------------------------------------------------------------------------
# TAP

def _tap_text(text):
    return text.replace("#", "\\#").replace("\n", " ")


class Headline(str):
    """A problem that also goes into the TAP description (apply failed: ...)."""


class Tap:
    """Collects checks, then runs them printing TAP for automake's driver.

    A check is a function returning a list of problems (empty = ok).  Checks
    that need the binary all fail with "binary not found" when it is missing.
    The first Headline problem is appended to the not-ok line.
    """

    def __init__(self):
        self.checks = []

    def add(self, description, func, *, needs_binary=True):
        self.checks.append((description, func, needs_binary))

    def run(self):
        print(f"1..{len(self.checks)}", flush=True)
        missing = binary_missing()
        failed = 0
        for number, (description, func, needs_binary) in enumerate(self.checks, 1):
            if needs_binary and missing:
                problems, description = [missing], f"{description}: {missing}"
            else:
                try:
                    problems = func() or []
                except BinaryMissing as exc:
                    problems, description = [str(exc)], f"{description}: {exc}"
                except Exception:
                    problems = ["the check itself failed:"] + traceback.format_exc().splitlines()
            heads = [p for p in problems if isinstance(p, Headline)]
            if heads:
                description = f"{description}: {heads[0]}"
            status = "not ok" if problems else "ok"
            failed += bool(problems)
            print(f"{status} {number} - {_tap_text(description)}")
            for line in problems[:40]:
                print(f"# {line}")
            if len(problems) > 40:
                print(f"# ... {len(problems) - 40} more problems")
            sys.stdout.flush()
        return 1 if failed else 0


def print_json(value):
    print(json.dumps(value, indent=1, ensure_ascii=False))
