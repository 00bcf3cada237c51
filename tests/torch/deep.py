"""Deep equality of two torch.load results, for ckpt-surgeon's apply tests.

    problems = deep.diff(expected, got)      # [] when equal

Two object trees are equal when they have

* the same Python types everywhere (dict is not OrderedDict, Parameter is not
  Tensor, a tensor subclass is not Tensor, np.float64 is not np.float32);
* the same dict keys in the same order, the same list/tuple lengths, equal
  nested values, equal attributes (`__dict__`) of objects, of tensors (tensor
  subclasses, Parameters with state) and of dicts (the `_metadata` of a state
  dict is an attribute of its OrderedDict);
* floats, numpy scalars and arrays equal bit for bit (NaN equals the same NaN,
  -0.0 differs from 0.0);
* tensors with the same dtype, shape, stride, storage offset, requires_grad,
  device, layout, neg/conj bits, bitwise equal values (quantized: the same
  qscheme and quantizer parameters and equal int_repr());
* the same storage sharing: the tensors, grouped by the storage they view,
  form the same groups (by path), and each group's storage has the same size
  and the same bytes (also the bytes no tensor shows, e.g. around a slice).

Object identity is not compared: a tensor stored twice may come back as one
object or as two tensors viewing one storage.  Each difference is one line
"PATH: what differs"; PATH uses the dotted paths of `ckpt-surgeon ls --all`,
`PATH[attr NAME]` for an attribute of a dict or tensor.

self_checks() lists pairs made different on purpose (and equal pairs), so
that a test program can prove the comparison fails when it must.
"""

import collections
import copy
import math
import struct
import types

import torch

try:
    import numpy as np
except ImportError:     # numpy comes with python3-torch; be safe anyway
    np = None

LIMIT = 60      # stop after this many differences


def _key(k):
    if isinstance(k, str):
        return k
    return repr(k)


def _join(path, key):
    key = _key(key)
    return key if path == "" else f"{path}.{key}"


def _here(path):
    return path or "<top>"


def _tname(value):
    t = type(value)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _float_bits(x):
    return struct.pack("<d", x)


def _short(value, n=80):
    text = repr(value)
    return text if len(text) <= n else text[:n] + "..."


def untyped_storage(t):
    """The UntypedStorage under t (tensor subclasses give a TypedStorage)."""
    s = t._storage()
    while isinstance(s, torch.storage.TypedStorage):
        s = s._untyped_storage if hasattr(s, "_untyped_storage") else s._storage
    return s


def storage_ident(t):
    """Identity of the memory a tensor views: the data pointer of its untyped
    storage, or the storage object itself for empty storages (data_ptr 0)."""
    s = untyped_storage(t)
    if s.nbytes() > 0:
        return ("ptr", s.data_ptr())
    return ("empty", s._cdata)


def storage_bytes(t):
    """The whole storage under t, as a uint8 tensor."""
    return torch.empty(0, dtype=torch.uint8).set_(untyped_storage(t))


def _raw(t):
    """t's visible elements as a flat uint8 tensor (bitwise comparison)."""
    x = t.detach()
    if type(x) is not torch.Tensor:
        x = x.as_subclass(torch.Tensor)
    x = x.resolve_neg().resolve_conj()
    if x.numel() == 0:
        return torch.empty(0, dtype=torch.uint8), 0
    size = x.element_size()
    return x.contiguous().reshape(-1).view(torch.uint8), size


class _Diff:
    def __init__(self, limit):
        self.problems = []
        self.limit = limit
        self.seen = set()
        self.tensors = ([], [])     # (path, tensor) of each side

    def add(self, text):
        if len(self.problems) < self.limit:
            self.problems.append(text)
        elif len(self.problems) == self.limit:
            self.problems.append("... (more differences not shown)")

    def full(self):
        return len(self.problems) > self.limit

    # ------------------------------------------------------------------
    def value(self, a, b, path):
        if self.full():
            return
        if type(a) is not type(b):
            self.add(f"{_here(path)}: type {_tname(a)} != {_tname(b)}")
            return
        if isinstance(a, torch.Tensor):
            self.tensor(a, b, path)
            return
        if a is None or isinstance(a, (bool, int, str, bytes, bytearray)):
            if a != b:
                self.add(f"{_here(path)}: {_short(a)} != {_short(b)}")
            return
        if isinstance(a, float):
            if _float_bits(a) != _float_bits(b):
                self.add(f"{_here(path)}: {a!r} != {b!r}")
            return
        if isinstance(a, complex):
            if (_float_bits(a.real), _float_bits(a.imag)) != (_float_bits(b.real), _float_bits(b.imag)):
                self.add(f"{_here(path)}: {a!r} != {b!r}")
            return
        if np is not None and isinstance(a, np.ndarray):
            self.ndarray(a, b, path)
            return
        if np is not None and isinstance(a, np.generic):
            if a.dtype != b.dtype or a.tobytes() != b.tobytes():
                self.add(f"{_here(path)}: numpy {a.dtype} {a!r} != {b.dtype} {b!r}")
            return
        if isinstance(a, (torch.dtype, torch.device, torch.layout, torch.qscheme,
                          torch.memory_format)):
            if a != b:
                self.add(f"{_here(path)}: {a} != {b}")
            return
        if isinstance(a, (type, types.FunctionType, types.BuiltinFunctionType)):
            if a is not b:
                self.add(f"{_here(path)}: {a!r} is not {b!r}")
            return
        pair = (id(a), id(b))
        if pair in self.seen:
            return
        self.seen.add(pair)
        if isinstance(a, dict):
            self.mapping(a, b, path)
            self.attributes(a, b, path)
            return
        if isinstance(a, (list, tuple)):
            if len(a) != len(b):
                self.add(f"{_here(path)}: length {len(a)} != {len(b)}")
            for i, (x, y) in enumerate(zip(a, b)):
                self.value(x, y, _join(path, i))
            self.attributes(a, b, path)
            return
        if isinstance(a, (set, frozenset)):
            if a != b:
                self.add(f"{_here(path)}: {_short(sorted(map(repr, a)))} != {_short(sorted(map(repr, b)))}")
            return
        attrs_a, attrs_b = getattr(a, "__dict__", None), getattr(b, "__dict__", None)
        if isinstance(attrs_a, dict) and isinstance(attrs_b, dict):
            # Namespace, nn.Module, any object rebuilt from its __dict__
            self.mapping(attrs_a, attrs_b, path)
            return
        try:
            equal = a == b
            equal = bool(equal)
        except Exception as exc:
            self.add(f"{_here(path)}: cannot compare {_tname(a)}: {exc}")
            return
        if not equal:
            self.add(f"{_here(path)}: {_short(a)} != {_short(b)}")

    def mapping(self, a, b, path):
        ka, kb = list(a), list(b)
        sa, sb = set(ka), set(kb)
        for k in ka:
            if k not in sb:
                self.add(f"{_here(path)}: key {_key(k)!r} missing from the second")
        for k in kb:
            if k not in sa:
                self.add(f"{_here(path)}: unexpected key {_key(k)!r} in the second")
        common_a = [k for k in ka if k in sb]
        common_b = [k for k in kb if k in sa]
        if common_a != common_b:
            first = next(i for i, (x, y) in enumerate(zip(common_a, common_b)) if x != y)
            self.add(f"{_here(path)}: key order differs at position {first}: "
                     f"{_key(common_a[first])!r} vs {_key(common_b[first])!r}")
        for k in common_a:
            self.value(a[k], b[k], _join(path, k))

    def attributes(self, a, b, path):
        """Attributes set on a dict/list/tuple subclass instance (_metadata)."""
        attrs_a = getattr(a, "__dict__", None) or {}
        attrs_b = getattr(b, "__dict__", None) or {}
        if not attrs_a and not attrs_b:
            return
        for name in attrs_a:
            if name not in attrs_b:
                self.add(f"{_here(path)}: attribute {name!r} missing from the second")
        for name in attrs_b:
            if name not in attrs_a:
                self.add(f"{_here(path)}: unexpected attribute {name!r} in the second")
        for name in attrs_a:
            if name in attrs_b:
                self.value(attrs_a[name], attrs_b[name], f"{_here(path)}[attr {name}]")

    def ndarray(self, a, b, path):
        facts = lambda x: (x.dtype, x.shape)
        if facts(a) != facts(b):
            self.add(f"{_here(path)}: numpy array {facts(a)} != {facts(b)}")
            return
        if a.dtype == object:
            for i, (x, y) in enumerate(zip(a.reshape(-1), b.reshape(-1))):
                self.value(x, y, f"{path}[{i}]")
            return
        if np.ascontiguousarray(a).tobytes() != np.ascontiguousarray(b).tobytes():
            self.add(f"{_here(path)}: numpy array values differ")

    # ------------------------------------------------------------------
    def tensor(self, a, b, path):
        self.tensors[0].append((path, a))
        self.tensors[1].append((path, b))
        where = _here(path)

        def facts(t):
            return {"dtype": t.dtype, "shape": tuple(t.shape), "stride": t.stride(),
                    "storage_offset": t.storage_offset(), "requires_grad": t.requires_grad,
                    "device": t.device, "layout": t.layout, "quantized": t.is_quantized,
                    "neg": t.is_neg(), "conj": t.is_conj()}
        fa, fb = facts(a), facts(b)
        bad = [f"{k} {fa[k]} != {fb[k]}" for k in fa if fa[k] != fb[k]]
        if bad:
            self.add(f"{where}: tensor " + ", ".join(bad))
            return
        if a.is_quantized:
            if a.qscheme() != b.qscheme():
                self.add(f"{where}: qscheme {a.qscheme()} != {b.qscheme()}")
                return
            if a.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
                qa, qb = (a.q_scale(), a.q_zero_point()), (b.q_scale(), b.q_zero_point())
                if (_float_bits(qa[0]), qa[1]) != (_float_bits(qb[0]), qb[1]):
                    self.add(f"{where}: quantizer (scale, zero_point) {qa} != {qb}")
            else:
                for name in ("q_per_channel_scales", "q_per_channel_zero_points"):
                    x, y = getattr(a, name)(), getattr(b, name)()
                    if not (x.dtype == y.dtype and x.shape == y.shape
                            and torch.equal(_raw(x)[0], _raw(y)[0])):
                        self.add(f"{where}: {name} {x.tolist()} != {y.tolist()}")
                if a.q_per_channel_axis() != b.q_per_channel_axis():
                    self.add(f"{where}: q_per_channel_axis {a.q_per_channel_axis()} "
                             f"!= {b.q_per_channel_axis()}")
            self.values(a.int_repr(), b.int_repr(), where + " (int_repr)")
        else:
            self.values(a, b, where)
        attrs_a, attrs_b = getattr(a, "__dict__", {}), getattr(b, "__dict__", {})
        if attrs_a or attrs_b:
            self.mapping(attrs_a, attrs_b, f"{path}[attrs]")

    def values(self, a, b, where):
        ra, size = _raw(a)
        rb, _ = _raw(b)
        if torch.equal(ra, rb):
            return
        n = a.numel()
        per = (ra.reshape(n, size) != rb.reshape(n, size)).any(dim=1)
        bad = per.nonzero().reshape(-1)
        first = int(bad[0])
        flat_a = a.detach().reshape(-1) if not a.is_quantized else a.reshape(-1)
        flat_b = b.detach().reshape(-1) if not b.is_quantized else b.reshape(-1)
        self.add(f"{where}: values differ in {len(bad)} of {n} elements; first at flat "
                 f"index {first}: {flat_a[first].item()!r} != {flat_b[first].item()!r}")

    # ------------------------------------------------------------------
    def sharing(self):
        """Same partition into storage groups; same storage size and bytes."""
        def groups(pairs):
            by_storage = collections.OrderedDict()
            for path, t in pairs:
                by_storage.setdefault(storage_ident(t), []).append((path, t))
            member = {}
            for items in by_storage.values():
                paths = frozenset(p for p, _ in items)
                for p, _ in items:
                    member[p] = paths
            return list(by_storage.values()), member

        groups_a, member_a = groups(self.tensors[0])
        _, member_b = groups(self.tensors[1])
        reported = set()
        for path, _ in self.tensors[0]:
            if member_a[path] != member_b.get(path, member_a[path]):
                key = (member_a[path], member_b[path])
                if key in reported:
                    continue
                reported.add(key)
                others_a = sorted(member_a[path] - {path})
                others_b = sorted(member_b[path] - {path})
                self.add(f"{_here(path)}: storage sharing differs: shares with "
                         f"{others_a or 'nothing'} in the first, with "
                         f"{others_b or 'nothing'} in the second")
        tensors_b = dict(self.tensors[1])
        for items in groups_a:
            path, ta = items[0]
            tb = tensors_b[path]
            if member_a[path] != member_b[path]:
                continue
            sa, sb = storage_bytes(ta), storage_bytes(tb)
            if sa.numel() != sb.numel():
                self.add(f"{_here(path)}: storage size {sa.numel()} != {sb.numel()} bytes")
            elif not torch.equal(sa, sb):
                self.add(f"{_here(path)}: storage bytes differ (outside or inside the view)")


def diff(a, b, limit=LIMIT):
    """Differences between two loaded checkpoints, as readable lines."""
    d = _Diff(limit)
    d.value(a, b, "")
    if not d.full():
        d.sharing()
    return d.problems


# --------------------------------------------------------------------------
# Self-checks: pairs made different on purpose

def _replace(mapping, key, value):
    """A copy of mapping (same type, same attributes) with one value replaced."""
    new = type(mapping)()
    for k, v in mapping.items():
        new[k] = value if k == key else v
    if hasattr(mapping, "__dict__"):
        new.__dict__.update(copy.copy(mapping.__dict__))
    return new


def _bump(t):
    """A copy of t with its first element changed to the next float."""
    u = t.detach().clone()
    flat = u.view(-1)
    flat[0] = torch.nextafter(flat[0], torch.tensor(math.inf, dtype=u.dtype))
    return u


def self_checks(load, fixtures_dir):
    """(description, check) pairs; check() returns problems ([] = ok).

    load(path) is torch.load; fixtures_dir holds state-dict.pt, tied.pt,
    views.pt, parameters.pt, lightning.ckpt, quantized.pt, tensor-subclass.pt.
    """
    fx = lambda name: load(fixtures_dir / name)

    def must_differ(make, *expect):
        """make() -> (a, b); the diff must be non-empty and mention each of expect."""
        def check():
            a, b = make()
            problems = diff(a, b)
            if not problems:
                return ["the comparison found no difference"]
            text = "\n".join(problems)
            missing = [e for e in expect if e not in text]
            if missing:
                return [f"the differences do not mention {missing}:"] + problems
            return []
        return check

    def must_equal(make):
        def check():
            a, b = make()
            problems = diff(a, b)
            return ["equal trees reported different:"] + problems if problems else []
        return check

    checks = []
    for name in ("state-dict.pt", "lightning.ckpt", "tied.pt", "views.pt", "dtypes.pt",
                 "quantized.pt", "tensor-subclass.pt", "whole-module.pt", "protocol-5.pt",
                 "many-tensors.pt"):
        checks.append((f"deep: two loads of {name} are equal",
                       must_equal(lambda name=name: (fx(name), fx(name)))))

    def changed_value():
        a, b = fx("state-dict.pt"), fx("state-dict.pt")
        return a, _replace(b, "mlp.0.weight", _bump(b["mlp.0.weight"]))
    checks.append(("deep: a value changed by one ulp is found",
                   must_differ(changed_value, "mlp.0.weight", "values differ")))

    def negative_zero():
        a, b = fx("dtypes.pt"), fx("dtypes.pt")
        x = b["float32.values"].clone()
        assert x[0, 1].item() == 0.0 and math.copysign(1, x[0, 1].item()) < 0
        x[0, 1] = 0.0
        return a, _replace(b, "float32.values", x)
    checks.append(("deep: -0.0 vs 0.0 is found (bitwise values)",
                   must_differ(negative_zero, "float32.values")))

    def nan_equal():
        return fx("dtypes.pt"), fx("dtypes.pt")
    checks.append(("deep: NaN equals NaN (dtypes.pt has NaN in every float dtype)",
                   must_equal(nan_equal)))

    def broken_tie():
        a, b = fx("tied.pt"), fx("tied.pt")
        return a, _replace(b, "head.weight", b["head.weight"].clone())
    checks.append(("deep: a tie broken by clone() is found",
                   must_differ(broken_tie, "head.weight", "sharing")))

    def contiguous():
        a, b = fx("views.pt"), fx("views.pt")
        return a, _replace(b, "transposed", b["transposed"].contiguous())
    checks.append(("deep: a stride changed by contiguous() is found",
                   must_differ(contiguous, "transposed", "stride")))

    def offset():
        a, b = fx("views.pt"), fx("views.pt")
        base = b["base"]
        moved = torch.empty(0).set_(base._storage(), 0, b["row"].shape, b["row"].stride())
        return a, _replace(b, "row", moved)
    checks.append(("deep: a storage offset changed (same storage) is found",
                   must_differ(offset, "row", "storage_offset")))

    def hidden_bytes():
        x = torch.arange(4.0)
        y = x.clone()
        y[0] = 99.0                      # outside the view x[1:]
        return {"s": x[1:]}, {"s": y[1:]}
    checks.append(("deep: storage bytes outside every view are compared too",
                   must_differ(hidden_bytes, "s", "storage bytes")))

    def metadata_entry():
        a, b = fx("state-dict.pt"), fx("state-dict.pt")
        b._metadata = copy.copy(b._metadata)
        del b._metadata["bn"]
        return a, b
    checks.append(("deep: a dropped _metadata entry is found",
                   must_differ(metadata_entry, "_metadata", "'bn'")))

    def metadata_version():
        a, b = fx("lightning.ckpt"), fx("lightning.ckpt")
        sd = b["state_dict"]
        sd._metadata = copy.deepcopy(sd._metadata)
        sd._metadata["model.bn"]["version"] = 1
        return a, b
    checks.append(("deep: a changed _metadata version is found",
                   must_differ(metadata_version, "state_dict[attr _metadata].model.bn.version")))

    def metadata_missing():
        a, b = fx("state-dict.pt"), fx("state-dict.pt")
        del b._metadata
        return a, b
    checks.append(("deep: a missing _metadata attribute is found",
                   must_differ(metadata_missing, "_metadata")))

    def metadata_order():
        a, b = fx("state-dict.pt"), fx("state-dict.pt")
        items = list(b._metadata.items())
        b._metadata = collections.OrderedDict(items[1:] + items[:1])
        return a, b
    checks.append(("deep: a reordered _metadata is found",
                   must_differ(metadata_order, "_metadata", "order")))

    def turned_ordered():
        a, b = fx("parameters.pt"), fx("parameters.pt")
        assert type(b) is dict
        return a, collections.OrderedDict(b)
    checks.append(("deep: a dict turned OrderedDict is found",
                   must_differ(turned_ordered, "OrderedDict")))

    def param_to_tensor():
        a, b = fx("parameters.pt"), fx("parameters.pt")
        return a, _replace(b, "weight", b["weight"].detach())
    checks.append(("deep: a Parameter turned Tensor is found",
                   must_differ(param_to_tensor, "weight", "Parameter")))

    def requires_grad():
        a, b = fx("parameters.pt"), fx("parameters.pt")
        return a, _replace(b, "running", b["running"].clone().requires_grad_(True))
    checks.append(("deep: requires_grad changed is found",
                   must_differ(requires_grad, "running", "requires_grad")))

    def key_order():
        a, b = fx("state-dict.pt"), fx("state-dict.pt")
        items = list(b.items())
        new = type(b)(items[1:2] + items[:1] + items[2:])
        new._metadata = b._metadata
        return a, new
    checks.append(("deep: swapped key order is found",
                   must_differ(key_order, "order")))

    def missing_key():
        a, b = fx("state-dict.pt"), fx("state-dict.pt")
        del b["bn.num_batches_tracked"]
        return a, b
    checks.append(("deep: a missing key is found",
                   must_differ(missing_key, "bn.num_batches_tracked")))

    def dtype_changed():
        a, b = fx("state-dict.pt"), fx("state-dict.pt")
        return a, _replace(b, "emb.weight", b["emb.weight"].double())
    checks.append(("deep: a dtype change is found", must_differ(dtype_changed, "dtype")))

    def quantizer():
        a, b = fx("quantized.pt"), fx("quantized.pt")
        q = b["qint8"]
        other = torch._make_per_tensor_quantized_tensor(q.int_repr(), q.q_scale() * 2,
                                                        q.q_zero_point())
        return a, _replace(b, "qint8", other)
    checks.append(("deep: a changed quantizer scale (same int_repr) is found",
                   must_differ(quantizer, "qint8", "scale")))

    def per_channel():
        a, b = fx("quantized.pt"), fx("quantized.pt")
        q = b["per_channel"]
        other = torch._make_per_channel_quantized_tensor(
            q.int_repr(), q.q_per_channel_scales(),
            q.q_per_channel_zero_points() + 1, q.q_per_channel_axis())
        return a, _replace(b, "per_channel", other)
    checks.append(("deep: changed per-channel zero points are found",
                   must_differ(per_channel, "per_channel", "zero_points")))

    def int_repr():
        a, b = fx("quantized.pt"), fx("quantized.pt")
        q = b["quint8"]
        r = q.int_repr().clone()
        r.view(-1)[3] += 1
        other = torch._make_per_tensor_quantized_tensor(r, q.q_scale(), q.q_zero_point())
        return a, _replace(b, "quint8", other)
    checks.append(("deep: a changed quantized value is found",
                   must_differ(int_repr, "quint8", "int_repr")))

    def subclass():
        a, b = fx("tensor-subclass.pt"), fx("tensor-subclass.pt")
        return a, _replace(b, "tagged", b["tagged"].as_subclass(torch.Tensor))
    checks.append(("deep: a tensor subclass turned Tensor is found",
                   must_differ(subclass, "tagged", "TaggedTensor")))

    def subclass_attr():
        a, b = fx("tensor-subclass.pt"), fx("tensor-subclass.pt")
        b["tagged"].tag = "other"
        return a, b
    checks.append(("deep: a tensor subclass attribute change is found",
                   must_differ(subclass_attr, "tagged[attrs].tag")))

    def numpy_scalar():
        a, b = fx("lightning.ckpt"), fx("lightning.ckpt")
        b["hyper_parameters"].beta = np.float32(b["hyper_parameters"].beta)
        return a, b
    checks.append(("deep: np.float64 turned np.float32 (in a Namespace) is found",
                   must_differ(numpy_scalar, "hyper_parameters.beta")))

    def numpy_array():
        a, b = fx("lightning.ckpt"), fx("lightning.ckpt")
        arr = b["hyper_parameters"].feature_mean.copy()
        arr[1] = np.nextafter(arr[1], np.float32(10))
        b["hyper_parameters"].feature_mean = arr
        return a, b
    checks.append(("deep: a numpy array value change is found",
                   must_differ(numpy_array, "hyper_parameters.feature_mean")))

    def namespace():
        a, b = fx("lightning.ckpt"), fx("lightning.ckpt")
        b["hyper_parameters"].layers = [4, 6, 5]
        return a, b
    checks.append(("deep: a changed list inside a Namespace is found",
                   must_differ(namespace, "hyper_parameters.layers.2")))

    def optimizer_moment():
        a, b = fx("lightning.ckpt"), fx("lightning.ckpt")
        state = b["optimizer_states"][0]["state"][0]
        state["exp_avg_sq"] = _bump(state["exp_avg_sq"])
        return a, b
    checks.append(("deep: a changed Adam moment is found",
                   must_differ(optimizer_moment, "optimizer_states.0.state.0.exp_avg_sq")))

    def python_float():
        a, b = fx("lightning.ckpt"), fx("lightning.ckpt")
        group = b["optimizer_states"][0]["param_groups"][0]
        group["lr"] = math.nextafter(group["lr"], 1.0)
        return a, b
    checks.append(("deep: a Python float changed by one ulp is found",
                   must_differ(python_float, "optimizer_states.0.param_groups.0.lr")))

    def tuple_list():
        a, b = fx("lightning.ckpt"), fx("lightning.ckpt")
        group = b["optimizer_states"][0]["param_groups"][0]
        group["betas"] = list(group["betas"])
        return a, b
    checks.append(("deep: a tuple turned list is found",
                   must_differ(tuple_list, "betas")))

    def module_attr():
        a, b = fx("whole-module.pt"), fx("whole-module.pt")
        b.bn.momentum = 0.2
        return a, b
    checks.append(("deep: an attribute of a pickled nn.Module is found",
                   must_differ(module_attr, "bn.momentum")))

    def many_tie():
        a, b = fx("many-tensors.pt"), fx("many-tensors.pt")
        key = "blocks.0.t6"         # a repeated object: shares with blocks.0.t1
        return a, _replace(b, key, b[key].clone())
    checks.append(("deep: a repeated tensor object replaced by a copy is found",
                   must_differ(many_tie, "blocks.0.t6", "sharing")))

    return checks
