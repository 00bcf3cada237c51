#!/usr/bin/python3
"""Write the torch fixtures for ckpt-surgeon's oracle tests.

usage: fixtures.py OUTDIR      write every fixture into OUTDIR, then OUTDIR/.stamp
       fixtures.py --list      name and purpose of each fixture

Every file is written by real torch (torch.save) from deterministic data,
except the torch-2.x-style files (torch2-*), which torch 1.13 cannot write
or load: those are assembled here (a custom pickler, a zip built with
zipfile) and get a `<file>.expect.json` sidecar holding what ckpt-surgeon
must report, computed by cks.py's oracle from the tensors encoded.

Each loadable fixture is read back with torch.load and compared with what
was saved.  When torch cannot be imported, OUTDIR/NO_TORCH says why and the
script still exits 0.
"""

import argparse
import collections
import ctypes
import io
import json
import pickle
import pickletools
import sys
import types
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# torch, numpy, cks (the oracle) and fixture_models are imported by main(),
# so that a machine without torch still gets its NO_TORCH marker.
torch = np = cks = models = None

FIXTURES = []   # (file names, what they cover, writer)


def fixture(*names, covers):
    """Register a writer producing the given files in the output directory."""
    def register(writer):
        FIXTURES.append((names, covers, writer))
        return writer
    return register


# --------------------------------------------------------------------------
# Checking what was written

def archive_names(path):
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def data_pkl(path):
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/data.pkl"))
        return zf.read(name)


def opcodes(pickle_bytes):
    return {op.name for op, _, _ in pickletools.genops(pickle_bytes)}


def save_verified(obj, path, **kwargs):
    """torch.save, then torch.load (through the oracle's loader) and compare."""
    torch.save(obj, path, **kwargs)
    loaded = cks.load_checkpoint(path).obj
    cks.assert_same_tree(obj, loaded, path.name)
    return loaded


# --------------------------------------------------------------------------
# Building blocks

def seeded(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


def trained_net(seed, steps=2):
    """A FixtureNet after a few forward passes in training mode (BatchNorm
    running statistics and num_batches_tracked move)."""
    seeded(seed)
    net = models.FixtureNet()
    for _ in range(steps):
        net(torch.randint(0, 10, (8,)))
    return net


def train(module, optimizer, steps, scheduler=None):
    """Real optimisation steps on random token batches."""
    for _ in range(steps):
        cls, reg = module(torch.randint(0, 10, (8,)))
        loss = cls.logsumexp(-1).mean() + reg.pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


def state_dict_of(seed):
    return trained_net(seed).state_dict()


def lightning_checkpoint(seed):
    """A Lightning-style checkpoint dict, as Trainer.save_checkpoint writes it."""
    seeded(seed)
    lit = models.LitWrapper()
    adam = torch.optim.Adam(lit.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(adam, step_size=2, gamma=0.5)
    train(lit, adam, 3, sched)
    best = torch.tensor(0.25)
    progress = {"ready": 4, "started": 4, "processed": 4, "completed": 3}
    return {
        "epoch": 3,
        "global_step": 12,
        "pytorch-lightning_version": "2.1.0",
        "state_dict": lit.state_dict(),
        "loops": {
            "fit_loop": {
                "state_dict": {},
                "epoch_loop.state_dict": {"_batches_that_stepped": 12},
                "epoch_progress": {"total": dict(progress), "current": dict(progress)},
            },
            "validate_loop": {"state_dict": {}, "batch_progress": {"total": dict(progress)}},
            "test_loop": {"state_dict": {}},
            "predict_loop": {"state_dict": {}},
        },
        "callbacks": {
            "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {
                "monitor": "val_loss",
                "best_model_score": best,
                "best_model_path": "/x/y.ckpt",
                "dirpath": "/x",
                "best_k_models": {"/x/y.ckpt": best},
            },
        },
        "optimizer_states": [adam.state_dict()],
        "lr_schedulers": [sched.state_dict()],
        "hparams_name": "hparams",
        "hyper_parameters": argparse.Namespace(
            lr=1e-3,
            layers=[4, 6, 4],
            name="fixture-net",
            beta=np.float64(0.9),
            seed=np.int64(1234),
            feature_mean=np.array([0.5, 1.5, 2.5], dtype=np.float32),
            class_weights=torch.tensor([1.0, 2.0, 0.5]),
        ),
    }


# Values with NaN, infinities, signed zero, subnormals and extremes.
_BIG = {"float64": 1e100, "float32": 1e30, "float16": 65504.0, "bfloat16": 1e38}
_TINY = {"float64": 5e-324, "float32": 1.4e-45, "float16": 6e-8, "bfloat16": 1e-40}
_INTS = {
    "int64": [[2**62, -2**62, 3 * 2**60, -7, 0, 123456789],
              [-1, 2**63 - 1, -2**62, 42, 2**40, -5]],
    "int32": [[-2**31, 2**31 - 1, 0, -7, 65536, 3], [1, -1, 100000, -2, 2**30, 9]],
    "int16": [[-32768, 32767, 0, -7, 1000, 3], [1, -1, 12345, -2, 256, 9]],
    "int8": [[-128, 127, 0, -7, 64, 3], [1, -1, 100, -2, -64, 9]],
    "uint8": [[0, 255, 1, 128, 7, 200], [3, 254, 17, 0, 99, 42]],
}
ALL_DTYPES = ("float64", "float32", "float16", "bfloat16", "complex128", "complex64",
              "int64", "int32", "int16", "int8", "uint8", "bool")


def interesting(name):
    """A 2x6 tensor of dtype `name` with the edge values that dtype has."""
    dtype = getattr(torch, name)
    nan, inf = float("nan"), float("inf")
    if name in _BIG:
        return torch.tensor([[0.0, -0.0, 1.5, -2.25, nan, inf],
                             [-inf, _BIG[name], _TINY[name], -7.0, 0.1, 3.0]], dtype=dtype)
    if name.startswith("complex"):
        return torch.tensor([[1 + 2j, complex(nan, 0), complex(inf, -1), -3.5 + 0.25j, 0j, complex(1, -inf)],
                             [complex(nan, nan), 2 - 2j, 1e10 + 1j, -0.5j, 7 + 0j, complex(-inf, inf)]],
                            dtype=dtype)
    if name == "bool":
        return torch.tensor([[True, False, True, True, False, False],
                             [False, False, True, False, True, True]])
    return torch.tensor(_INTS[name], dtype=dtype)


def ramp(name, n, scale=1):
    """n deterministic, well-conditioned values of dtype `name`."""
    dtype = getattr(torch, name)
    if name == "bool":
        return torch.arange(n) % 3 == 0
    offset = 0 if name == "uint8" else n // 2      # no negative unsigned values
    values = (torch.arange(n, dtype=torch.float64) - offset) * scale
    if name.startswith("complex"):
        return torch.complex(values, -values / 4).to(dtype)
    return values.to(dtype)


# --------------------------------------------------------------------------
# Fixtures written by torch.save

@fixture("state-dict.pt",
         covers="plain torch.save(model.state_dict()): Embedding, Sequential MLP, LayerNorm, "
                "BatchNorm1d (0-dim int64 num_batches_tracked), ModuleDicts, an _extra_state "
                "entry; OrderedDict + _metadata; root \"\"")
def _(out):
    save_verified(state_dict_of(1), out / "state-dict.pt")


@fixture("lightning.ckpt",
         covers="Lightning-style dict: state_dict (model.*), Adam optimizer_states after 3 steps, "
                "lr_schedulers, loops, callbacks with a 0-dim tensor (shared by two paths), "
                "argparse.Namespace hyper_parameters with numpy scalars/array and a tensor; "
                "root \"state_dict\"")
def _(out):
    save_verified(lightning_checkpoint(2), out / "lightning.ckpt")


@fixture("tied.pt",
         covers="tied weights: the same tensor object under two keys (BINGET), two detached "
                "tensors of one tied Parameter, a row view of a shared storage")
def _(out):
    seeded(3)
    emb = torch.nn.Embedding(6, 4)
    head = torch.nn.Linear(4, 6, bias=False)
    head.weight = emb.weight                     # tied: one Parameter
    proj = torch.nn.Linear(4, 4)
    sd = collections.OrderedDict()
    sd["emb.weight"] = emb.weight.detach()       # detached twice: two tensor
    sd["head.weight"] = head.weight.detach()     # objects, one storage
    sd["proj.weight"] = proj.weight.detach()
    sd["proj.bias"] = proj.bias.detach()
    sd["proj_alias.weight"] = sd["proj.weight"]  # the same object again
    sd["emb.first_row"] = sd["emb.weight"][0]    # a view into the shared storage
    save_verified(sd, out / "tied.pt")


@fixture("views.pt",
         covers="views: slice with storage offset (a[1:, ::2]), transpose, row, flat window, "
                "expand (stride 0), expanded 0-dim, 0-dim, empty zeros(0) and zeros(3, 0), "
                "empty view with offset")
def _(out):
    a = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    line = torch.tensor([0.5, -1.5, 2.5])
    sd = collections.OrderedDict(
        base=a,
        slice=a[1:, ::2],
        transposed=a.t(),
        row=a[2],
        column=a[:, 1:2],
        flat_window=a.view(-1)[5:9],
        empty_view=a[:, 4:],
        expanded=line.expand(4, 3),
        expanded_scalar=torch.tensor(2.0).expand(2, 3),
        scalar=torch.tensor(3.5),
        scalar_int=torch.tensor(7),
        empty=torch.zeros(0),
        empty_2d=torch.zeros(3, 0),
    )
    save_verified(sd, out / "views.pt")


@fixture("dtypes.pt",
         covers="every dtype torch 1.13 saves (float64..bool), 2-D with NaN/+inf/-inf, -0.0, "
                "subnormals, extremes, large int64 (2**62, 2**63-1); a transposed and a "
                "strided view of each")
def _(out):
    sd = collections.OrderedDict()
    for name in ALL_DTYPES:
        x = interesting(name)
        sd[f"{name}.values"] = x
        sd[f"{name}.transposed"] = x.t()
        sd[f"{name}.strided"] = x[:, ::2]
    save_verified(sd, out / "dtypes.pt")


@fixture("quantized.pt",
         covers="quantized tensors: qint8, quint8, qint32 per-tensor affine, quint4x2 and "
                "quint2x4 with 7 elements (packed storages), per-channel qint8 (scales and "
                "zero points are nested tensors), a transposed qint8")
def _(out):
    seeded(4)
    x = torch.randn(3, 4)
    q8 = torch.quantize_per_tensor(x, 0.05, 3, torch.qint8)
    sd = collections.OrderedDict(
        qint8=q8,
        quint8=torch.quantize_per_tensor(x, 0.02, 128, torch.quint8),
        qint32=torch.quantize_per_tensor(x, 1e-3, -5, torch.qint32),
        quint4x2=torch.quantize_per_tensor(torch.randn(7), 0.25, 8, torch.quint4x2),
        quint2x4=torch.quantize_per_tensor(torch.randn(7), 0.5, 2, torch.quint2x4),
        per_channel=torch.quantize_per_channel(
            torch.randn(3, 4), torch.tensor([0.1, 0.05, 0.2], dtype=torch.float64),
            torch.tensor([0, 1, -2]), 0, torch.qint8),
        qint8_transposed=q8.t(),
    )
    save_verified(sd, out / "quantized.pt")


@fixture("whole-module.pt",
         covers="torch.save(model): nn.Module objects (NEWOBJ + BUILD of __dict__), "
                "Parameters via _rebuild_parameter, GLOBAL fixture_models.FixtureNet; "
                "root \"\" with no direct tensors; --all paths like _modules.emb._parameters.weight")
def _(out):
    net = trained_net(5)
    loaded = save_verified(net, out / "whole-module.pt")
    assert type(loaded) is models.FixtureNet
    assert "_rebuild_parameter" in data_pkl(out / "whole-module.pt").decode("latin-1")


@fixture("parameters.pt",
         covers="nn.Parameter objects stored directly (requires_grad True and False) "
                "next to a plain tensor")
def _(out):
    seeded(6)
    sd = {
        "weight": torch.nn.Parameter(torch.randn(3, 2)),
        "bias": torch.nn.Parameter(torch.randn(3)),
        "frozen": torch.nn.Parameter(torch.randn(2), requires_grad=False),
        "running": torch.randn(2),
    }
    loaded = save_verified(sd, out / "parameters.pt")
    assert isinstance(loaded["frozen"], torch.nn.Parameter) and not loaded["frozen"].requires_grad


@fixture("tensor-subclass.pt",
         covers="tensor subclass instances (torch._tensor._rebuild_from_type_v2 with "
                "GLOBAL fixture_models.TaggedTensor and a __dict__ state)")
def _(out):
    seeded(7)
    sd = {
        "tagged": models.TaggedTensor.tagged(torch.randn(2, 3), "calibration"),
        "plain": torch.randn(3),
        "tagged_ids": models.TaggedTensor.tagged(torch.arange(4), "ids"),
    }
    loaded = save_verified(sd, out / "tensor-subclass.pt")
    assert loaded["tagged"].tag == "calibration"
    assert b"_rebuild_from_type_v2" in data_pkl(out / "tensor-subclass.pt")


def protocol_content(seed):
    seeded(seed)
    t1, t2, t3 = torch.randn(2), torch.arange(3), torch.randn(2, 2)
    return {
        "state_dict": state_dict_of(seed),
        "extras": [t1, (t2, {"deep": t3})],
        "meta": {
            "bytes": b"\x00\x01\xff",
            "bytearray": bytearray(b"ab"),
            "float": 0.5,
            "tuple": (1, "two", 3.0),
            "set": {1, 2},
            "frozenset": frozenset({3}),
            "big": 2**70,
            "negative": -5,
            "none": None,
            "flag": True,
            "text": "na\u00efve \u2713",
        },
    }


# What each protocol must show in data.pkl, so the fixture covers it.
PROTOCOL_OPCODES = {1: {"BINPERSID", "EMPTY_DICT"}, 3: {"PROTO", "SHORT_BINBYTES"},
                    4: {"FRAME", "STACK_GLOBAL", "MEMOIZE", "SHORT_BINUNICODE"},
                    5: {"FRAME", "BYTEARRAY8"}}


@fixture(*(f"protocol-{p}.pt" for p in PROTOCOL_OPCODES),
         covers="torch.save(pickle_protocol=1/3/4/5): no PROTO (1), SHORT_BINBYTES (3), "
                "FRAME/STACK_GLOBAL/MEMOIZE (4), BYTEARRAY8 (5); a state dict plus tensors "
                "in lists/tuples and non-tensor values (bytes, set, big int, unicode); "
                "no protocol 0: torch.save writes it but torch.load refuses it")
def _(out):
    for protocol, needed in PROTOCOL_OPCODES.items():
        path = out / f"protocol-{protocol}.pt"
        save_verified(protocol_content(8), path, pickle_protocol=protocol)
        ops = opcodes(data_pkl(path))
        assert needed <= ops, f"{path.name}: missing {needed - ops}"
        assert (protocol == 1) == ("PROTO" not in ops)
    # Protocol 0 writes each persistent id as str(tuple) (PERSID), which
    # torch.save accepts but torch.load refuses: nothing to test there.
    buf = io.BytesIO()
    torch.save({"a": torch.zeros(1)}, buf, pickle_protocol=0)
    buf.seek(0)
    try:
        torch.load(buf)
    except Exception:
        pass
    else:
        raise AssertionError("torch now loads pickle protocol 0: add a fixture")


@fixture("many-tensors.pt",
         covers="1100 tensors in one dict (two SETITEMS batches), 44 storages of 11 dtypes "
                "(string-sorted records 0, 1, 10, ...), memo > 255 (LONG_BINPUT/LONG_BINGET), "
                "views with offsets and repeated tensor objects")
def _(out):
    names = ("float32", "float16", "int64", "bfloat16", "int8", "float64", "bool",
             "int32", "uint8", "int16", "complex64")
    sd = collections.OrderedDict()
    base = None
    previous = []
    for i in range(1100):
        if i % 25 == 0:
            base = ramp(names[(i // 25) % len(names)], 30, scale=1 + (i // 25) % 3)
        key = f"blocks.{i // 10}.t{i % 10}"
        if i % 7 == 6:
            sd[key] = previous[-5]           # a repeated object: BINGET
        else:
            start = i % 25
            sd[key] = base[start:start + 3 + i % 4]
        previous.append(sd[key])
    path = out / "many-tensors.pt"
    save_verified(sd, path)
    ops = opcodes(data_pkl(path))
    assert {"LONG_BINPUT", "LONG_BINGET"} <= ops, ops
    setitems = sum(op.name == "SETITEMS" for op, _, _ in pickletools.genops(data_pkl(path)))
    assert setitems >= 2
    records = [n.split("/", 1)[1] for n in archive_names(path) if "/data/" in n]
    assert len(records) == 44 and records[:3] == ["data/0", "data/1", "data/10"], records[:3]


@fixture("root-model.pt",
         covers="root detection: {'model': state dict with an _extra_state entry, "
                "'optimizer': SGD momentum state, 'epoch': 3} -> root \"model\"")
def _(out):
    net = trained_net(9)
    sgd = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    train(net, sgd, 1)
    save_verified({"model": net.state_dict(), "optimizer": sgd.state_dict(), "epoch": 3},
                  out / "root-model.pt")


@fixture("root-model-state-dict.pt",
         covers="root detection: 'model' (a dict of strings, first in the file) does not "
                "qualify, 'model_state_dict' does -> root \"model_state_dict\"")
def _(out):
    net = trained_net(10)
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    train(net, adam, 1)
    save_verified({"model": {"arch": "fixture-net", "width": 4},
                   "model_state_dict": net.state_dict(),
                   "optimizer_state_dict": adam.state_dict(),
                   "epoch": 7, "loss": 0.5},
                  out / "root-model-state-dict.pt")


@fixture("root-net-ema.pt",
         covers="root detection by list order, not file order: 'ema' comes first in the file "
                "but 'net' wins; 'model' (one float value) and 'module' (empty) do not qualify; "
                "'net_alias' is the same dict object as 'net' (not expanded again by --all)")
def _(out):
    seeded(11)
    net = state_dict_of(11)
    ema = state_dict_of(12)
    save_verified({"ema": ema,
                   "model": {"w": torch.randn(2), "decay": 0.999},
                   "module": {},
                   "net": net,
                   "net_alias": net,
                   "step": 10},
                  out / "root-net-ema.pt")


@fixture("root-none.pt",
         covers="no entry qualifies -> root \"\" listing only the top-level tensor 'scale'; "
                "--root targets: a nested state dict, a list of tensors, a key with a dot "
                "('ema.shadow'), a dict with a non-tensor value")
def _(out):
    seeded(13)
    save_verified({"weights": state_dict_of(13),
                   "scale": torch.tensor(2.0),
                   "buffers": [torch.randn(3), torch.arange(4)],
                   "ema.shadow": state_dict_of(14),
                   "model": {"w": torch.randn(2, 2), "n": 3},
                   "step": 5},
                  out / "root-none.pt")


@fixture("bytesio.pt",
         covers="a state dict saved to io.BytesIO: archive folder 'archive/'")
def _(out):
    buf = io.BytesIO()
    sd = state_dict_of(15)
    torch.save(sd, buf)
    path = out / "bytesio.pt"
    path.write_bytes(buf.getvalue())
    cks.assert_same_tree(sd, cks.load_checkpoint(path).obj, path.name)
    assert all(n.startswith("archive/") for n in archive_names(path))


@fixture("my.ckpt.v1.pt",
         covers="a file name with dots: archive folder 'my.ckpt.v1/'")
def _(out):
    path = out / "my.ckpt.v1.pt"
    save_verified(state_dict_of(16), path)
    assert all(n.startswith("my.ckpt.v1/") for n in archive_names(path))


@fixture("deflated.ckpt",
         covers="lightning.ckpt repacked by Python zipfile with ZIP_DEFLATED records "
                "(unaligned, compressed; torch still loads it)")
def _(out):
    source = out / "lightning.ckpt"
    if not source.exists():
        save_verified(lightning_checkpoint(2), source)
    path = out / "deflated.ckpt"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            copy = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            copy.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(copy, zin.read(info))
    with zipfile.ZipFile(path) as zf:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
    cks.assert_same_tree(cks.load_checkpoint(source).obj, cks.load_checkpoint(path).obj, path.name)


def relocating_pickle_module(location):
    """A pickle module for torch.save that rewrites every storage location.

    torch's _save assigns its persistent_id function to the pickler; the
    property wraps it (pure-Python pickler: the C one binds it at __init__).
    """

    class RelocatingPickler(pickle._Pickler):
        @property
        def persistent_id(self):
            return self._persistent_id

        @persistent_id.setter
        def persistent_id(self, func):
            def relocate(obj):
                pid = func(obj)
                if pid is not None:
                    pid = (*pid[:3], location, *pid[4:])
                return pid
            self._persistent_id = relocate

    module = types.ModuleType("relocating_pickle")
    module.Pickler = RelocatingPickler
    module.Unpickler = pickle.Unpickler
    return module


@fixture("cuda-location.pt",
         covers="storage location strings 'cuda:0' (crafted pickle; torch.load(map_location="
                "'cpu') loads it); show reports location cuda:0")
def _(out):
    path = out / "cuda-location.pt"
    sd = state_dict_of(17)
    torch.save(sd, path, pickle_module=relocating_pickle_module("cuda:0"))
    ck = cks.load_checkpoint(path)
    cks.assert_same_tree(sd, ck.obj, path.name)
    assert {s.location for s in ck.storages.values()} == {"cuda:0"}


@fixture("unsupported-legacy.pt",
         covers="the legacy non-zip format (_use_new_zipfile_serialization=False): "
                "ckpt-surgeon does not read it yet and must exit 2")
def _(out):
    path = out / "unsupported-legacy.pt"
    sd = state_dict_of(18)
    torch.save(sd, path, _use_new_zipfile_serialization=False)
    assert not path.read_bytes().startswith(b"PK")
    cks.assert_same_tree(sd, torch.load(path, map_location="cpu"), path.name)


@fixture("odd-keys.pt",
         covers="keys the text outputs must quote: empty, space, tab, double and single "
                "quote, '#', backslash; non-ASCII and shell-ish keys printed bare")
def _(out):
    seeded(19)
    keys = ["plain.weight", "", "with space", "tab\there", 'quote"d', "apo'strophe",
            "hash#tag", "back\\slash", 'mixed "a\\b" c', "na\u00efve.w\u00e9ight",
            "semi;colon$dollar", "(paren)"]
    sd = collections.OrderedDict((k, torch.randn(2, i % 3 + 1)) for i, k in enumerate(keys))
    save_verified(sd, out / "odd-keys.pt")


# --------------------------------------------------------------------------
# torch-2.x-style fixtures, hand-assembled

def _stub_function(module, name):
    """A callable that pickles as GLOBAL 'module name' (never called)."""
    def stub(*args):
        raise RuntimeError(f"{module}.{name} is a pickling stub")
    stub.__module__, stub.__name__, stub.__qualname__ = module, name, name
    return stub


REBUILD_V3 = _stub_function("torch._utils", "_rebuild_tensor_v3")
REBUILD_PARAMETER_WITH_STATE = _stub_function("torch._utils", "_rebuild_parameter_with_state")
UNTYPED_IN_TORCH = type("UntypedStorage", (), {"__module__": "torch"})   # GLOBAL 'torch UntypedStorage'


class _StorageRef:
    """One storage as the 2.x pickler writes it (persistent_id makes the pid)."""

    def __init__(self, tensor, untyped, storage_class):
        storage = tensor._storage()
        self.ident = storage._cdata
        self.nbytes = storage.nbytes()
        self.data = ctypes.string_at(storage.data_ptr(), self.nbytes) if self.nbytes else b""
        self.storage_class = storage_class
        if untyped:
            self.dtype, self.numel = torch.uint8, self.nbytes
        else:
            self.dtype = tensor.dtype
            self.numel = self.nbytes // torch._utils._element_size(tensor.dtype)


class Torch2Pickler(pickle.Pickler):
    """Pickles tensors the way torch 2.x does (protocol 2).

    v3=True: _rebuild_tensor_v3(UntypedStorage pid with numel = bytes, ...,
    dtype); `torch_global(i)` tells for the i-th storage whether its class is
    written as 'torch UntypedStorage' rather than 'torch.storage UntypedStorage'.
    v3=False: _rebuild_tensor_v2 with the legacy <X>Storage classes.
    Both append the metadata argument {'neg': True} for negative views.
    Parameters with a __dict__ use _rebuild_parameter_with_state.
    """

    def __init__(self, file, *, v3=False, torch_global=lambda i: False):
        super().__init__(file, protocol=2)
        self.v3, self.torch_global = v3, torch_global
        self.refs = {}          # storage ident -> _StorageRef
        self.keys = {}          # storage ident -> key, in order of first pickling
        self.keepalive = []

    def _ref(self, t):
        ident = t._storage()._cdata
        if ident not in self.refs:
            if self.v3:
                storage_class = (UNTYPED_IN_TORCH if self.torch_global(len(self.refs))
                                 else torch.storage.UntypedStorage)
            else:
                storage_class = getattr(torch, torch.storage._dtype_to_storage_type_map()[t.dtype])
            self.refs[ident] = _StorageRef(t, self.v3, storage_class)
        return self.refs[ident]

    def persistent_id(self, obj):
        if not isinstance(obj, _StorageRef):
            return None
        key = self.keys.setdefault(obj.ident, str(len(self.keys)))
        return ("storage", obj.storage_class, key, "cpu", obj.numel)

    def reducer_override(self, obj):
        if isinstance(obj, torch.nn.Parameter):
            data = obj.detach()
            self.keepalive.append(data)
            state = dict(obj.__dict__)
            if state:
                return REBUILD_PARAMETER_WITH_STATE, (data, obj.requires_grad,
                                                      collections.OrderedDict(), state)
            return torch._utils._rebuild_parameter, (data, obj.requires_grad,
                                                     collections.OrderedDict())
        if not isinstance(obj, torch.Tensor):
            return NotImplemented
        assert type(obj) is torch.Tensor and not obj.is_quantized, type(obj)
        args = (self._ref(obj), obj.storage_offset(), tuple(obj.shape), obj.stride(),
                obj.requires_grad, collections.OrderedDict())
        metadata = ({"neg": True},) if obj.is_neg() else ()
        if self.v3:
            return REBUILD_V3, (*args, obj.dtype, *metadata)
        return torch._utils._rebuild_tensor_v2, (*args, *metadata)

    def storage_table(self):
        """storage ident -> cks.Storage, for the oracle."""
        return {ident: cks.Storage(self.keys[ident], "cpu", cks.dtype_name(ref.dtype),
                                   ref.numel, torch._utils._element_size(ref.dtype))
                for ident, ref in self.refs.items()}


def write_torch2(path, obj, **pickler_options):
    """Write obj as torch 2.x would (records in numeric order, 2.x extras).

    Returns the oracle's Checkpoint for the in-memory object.
    """
    buf = io.BytesIO()
    pickler = Torch2Pickler(buf, **pickler_options)
    with (cks.patched(torch._utils, "_rebuild_tensor_v3", REBUILD_V3),
          cks.patched(torch._utils, "_rebuild_parameter_with_state", REBUILD_PARAMETER_WITH_STATE),
          cks.patched(torch, "UntypedStorage", UNTYPED_IN_TORCH)):
        pickler.dump(obj)
    folder = path.name.rsplit(".", 1)[0]
    records = [("data.pkl", buf.getvalue()),
               (".format_version", b"1"),
               (".storage_alignment", b"64"),
               ("byteorder", sys.byteorder.encode())]
    by_key = {pickler.keys[ident]: ref for ident, ref in pickler.refs.items()}
    records += [(f"data/{key}", by_key[key].data) for key in sorted(by_key, key=int)]
    records.append(("version", b"3\n"))
    names_crc = zlib.crc32("".join(name for name, _ in records).encode())
    data_crc = 0
    for _, data in records:
        data_crc = zlib.crc32(data, data_crc)
    records.append((".data/serialization_id", f"{names_crc:020d}{data_crc:020d}".encode()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in records:
            zf.writestr(zipfile.ZipInfo(f"{folder}/{name}", date_time=(1980, 1, 1, 0, 0, 0)), data)
    return cks.Checkpoint(obj, pickler.storage_table(), pickler.keepalive)


def load_torch2(path):
    """Read a torch2-* fixture back with 1.13 primitives emulating the 2.x loader
    (used only to check that the writer encoded what it meant to)."""
    zf = zipfile.ZipFile(path)
    folder = zf.namelist()[0].split("/", 1)[0]
    storages = {}
    untyped_class = object()

    def persistent_load(pid):
        _, storage_type, key, location, numel = pid
        if key not in storages:
            data = zf.read(f"{folder}/data/{key}")
            dtype = torch.uint8 if storage_type is untyped_class else storage_type.dtype
            assert len(data) == numel * torch._utils._element_size(dtype), key
            raw = torch.tensor(list(data), dtype=torch.uint8)
            storages[key] = torch.storage.TypedStorage(wrap_storage=raw._storage(), dtype=dtype)
        return storages[key]

    def rebuild_v2(storage, offset, size, stride, requires_grad, hooks, metadata=None):
        t = torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)
        return torch._neg_view(t) if metadata and metadata.get("neg") else t

    def rebuild_v3(storage, offset, size, stride, requires_grad, hooks, dtype, metadata=None):
        t = torch.empty((0,), dtype=dtype).set_(storage._storage, offset, size, stride)
        t.requires_grad_(requires_grad)
        return torch._neg_view(t) if metadata and metadata.get("neg") else t

    def rebuild_parameter_with_state(data, requires_grad, hooks, state):
        param = torch.nn.Parameter(data, requires_grad)
        for name, value in state.items():
            setattr(param, name, value)
        return param

    replacements = {("torch._utils", "_rebuild_tensor_v2"): rebuild_v2,
                    ("torch._utils", "_rebuild_tensor_v3"): rebuild_v3,
                    ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter_with_state,
                    ("torch", "UntypedStorage"): untyped_class,
                    ("torch.storage", "UntypedStorage"): untyped_class}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in replacements:
                return replacements[module, name]
            if "Storage" in name:
                return torch.serialization.StorageType(name)
            return super().find_class(module, name)

        def persistent_load(self, pid):
            return persistent_load(pid)

    return Unpickler(io.BytesIO(zf.read(f"{folder}/data.pkl"))).load()


def write_expected(path, obj, **pickler_options):
    """Write a torch2-* fixture and its .expect.json; check both ways."""
    ck = write_torch2(path, obj, **pickler_options)
    try:
        torch.load(path, map_location="cpu")
    except Exception:
        pass
    else:
        raise AssertionError(f"{path.name}: torch 1.13 loads it; it should not")
    cks.assert_same_tree(obj, load_torch2(path), path.name)
    names = [n.split("/", 1)[1] for n in archive_names(path)]
    data = [n for n in names if n.startswith("data/")]
    assert data == sorted(data, key=lambda n: int(n[5:])), data
    expected = cks.expectations(ck)
    cks.expect_file(path).write_text(json.dumps(expected, indent=1, allow_nan=False) + "\n")


@fixture("torch2-v3.pt", "torch2-v3.pt.expect.json",
         covers="torch 2.x style: _rebuild_tensor_v3 with UntypedStorage pids (numel = bytes; "
                "'torch UntypedStorage' and 'torch.storage UntypedStorage' GLOBALs), dtype GLOBALs "
                "for 12 dtypes, views, a v3 negative view (8th arg), 0-dim and empty tensors; "
                ".format_version/.storage_alignment/byteorder/.data/serialization_id records, "
                "14 storages in numeric order")
def _(out):
    seeded(20)
    sd = collections.OrderedDict()
    for i, name in enumerate(ALL_DTYPES):
        sd[f"layers.{i}.weight"] = ramp(name, 6, scale=i + 1).reshape(2, 3)
    sd["layers.0.weight_t"] = sd["layers.0.weight"].t()
    sd["layers.2.row"] = sd["layers.2.weight"][1]
    sd["layers.1.neg"] = torch._neg_view(sd["layers.1.weight"])
    sd["scalar"] = torch.tensor(1.25, dtype=torch.float16)
    sd["empty"] = torch.zeros(0, dtype=torch.bfloat16)
    sd._metadata = collections.OrderedDict([("", {"version": 1})])
    write_expected(out / "torch2-v3.pt", sd, v3=True, torch_global=lambda i: i % 2 == 0)


@fixture("torch2-neg.pt", "torch2-neg.pt.expect.json",
         covers="torch 2.x style: _rebuild_tensor_v2 with a 7th metadata argument {'neg': True} "
                "(values read back are negated) on float, int and complex storages shared with "
                "their plain base tensors; Lightning-like root \"state_dict\"")
def _(out):
    seeded(21)
    base = torch.randn(2, 3)
    ints = torch.tensor([3, -4, 5, 2**40])
    cplx = torch.tensor([1 + 2j, -3 - 0.5j])
    sd = collections.OrderedDict(
        base=base,
        negated=torch._neg_view(base),
        negated_slice=torch._neg_view(base)[1:, ::2],
        ints_negated=torch._neg_view(ints),
        complex_negated=torch._neg_view(cplx),
        ints=ints,
    )
    write_expected(out / "torch2-neg.pt", {"epoch": 1, "state_dict": sd})


@fixture("torch2-param-state.pt", "torch2-param-state.pt.expect.json",
         covers="torch 2.x style: _rebuild_parameter_with_state (Parameters with Python "
                "attributes, requires_grad True and False) next to _rebuild_parameter and "
                "a plain tensor")
def _(out):
    seeded(22)
    weight = torch.nn.Parameter(torch.randn(3, 2))
    weight.tag = "w"
    weight.lr_scale = 0.5
    frozen = torch.nn.Parameter(torch.randn(2), requires_grad=False)
    frozen.note = "frozen"
    sd = {"weight": weight, "bias": torch.nn.Parameter(torch.randn(3)),
          "frozen": frozen, "buffer": torch.arange(3)}
    write_expected(out / "torch2-param-state.pt", sd)


# --------------------------------------------------------------------------

def written_files():
    return [name for names, _, _ in FIXTURES for name in names]


def main(argv):
    if argv[1:] == ["--list"]:
        for names, covers, _ in FIXTURES:
            print(f"{names[0]}: {covers}")
        return 0
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    outdir = Path(argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    for name in [".stamp", "NO_TORCH", *written_files()]:
        (outdir / name).unlink(missing_ok=True)

    global torch, np, cks, models
    try:
        import torch
        import numpy as np
        import cks
        import fixture_models as models
        if cks.torch is None:
            raise ImportError(cks.TORCH_ERROR)
    except Exception as exc:
        (outdir / "NO_TORCH").write_text(f"{type(exc).__name__}: {exc}\n")
        (outdir / ".stamp").touch()
        print(f"fixtures.py: torch unavailable ({exc}); wrote {outdir / 'NO_TORCH'}",
              file=sys.stderr)
        return 0

    torch.set_num_threads(1)    # the same floating-point results everywhere
    for names, _, writer in FIXTURES:
        writer(outdir)
        for name in names:
            assert (outdir / name).exists(), name
    (outdir / ".stamp").touch()
    total = sum((outdir / n).stat().st_size for n in written_files())
    print(f"fixtures.py: wrote {len(written_files())} files ({total} bytes) to {outdir}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
