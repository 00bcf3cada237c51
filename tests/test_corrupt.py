#!/usr/bin/python3
"""Bad-input corpus for ckpt-surgeon, run as a TAP test (automake TAP driver).

usage: /usr/bin/python3 tests/test_corrupt.py [--keep DIR] [--only SUBSTRING] [--jobs N]

  --keep DIR        write the corpus into DIR (bases/, corpus/, MANIFEST.tsv:
                    file, case, allowed exits, recipe) and keep it
  --only SUBSTRING  run only the cases whose name contains SUBSTRING, e.g.
                    "craft/", "nested.pt/zip/", "flip", "truncate@120"

The project's hostile-input rule: a truncated, corrupt or crafted file makes
every command exit 2 with exactly one line on stderr,
`ckpt-surgeon: FILE: <message>` -- never a crash, a hang, a sanitizer report
or an unbounded allocation.  Exit 0 is fine when a mutation happens to leave
a valid file (a flipped byte inside tensor data, say).

Base checkpoints are written with real torch at test time (a nested state
dict with BatchNorms, a Lightning-style dict with Adam state and an
argparse.Namespace, tied weights plus strided views, a protocol-4 pickle)
plus examples/demo.ckpt.  From them, deterministically (seeded):

  truncate   every offset in the last 300 bytes, ~60 spread over the file,
             ~40 inside data.pkl
  flip       ~200 single-byte changes (xor 0xff or a random value), denser
             inside data.pkl and the central directory / end records
  zip        rebuilt or patched archives: missing records, records outside
             the folder, duplicate names, absurd counts/sizes/offsets,
             zip64 end records, local-header lengths, stored/deflated size
             lies, newline-bearing names, ...
  pkl        data.pkl rewritten (the zip stays valid): opcode-level patches
             of the real pickles (huge lengths and memo indices, numel,
             offsets, strides, unknown opcodes, protocol 6, ...) and
             hand-assembled pickles (tensor views past their storage,
             overflowing sizes, memo cycles, 100000-deep nesting, 10 MB of
             EMPTY_LIST, 5000 MARKs, a 1M-digit INT, ...)
  notckpt    empty file, directory, /dev/null, FIFO, text, bare pickle,
             legacy torch.save, safetensors-like, zips without a checkpoint

Every case runs `ls --all --json FILE`; when that exits 0 also
`show --json FILE KEY` (KEY = first listed tensor) and `layout FILE`.
ls reads only the directory and the pickle, so damage to a storage record
(data/0) may pass ls; those cases demand that show of a tensor over it fails.
Each run must exit 0 or 2 within 20 s (some cases demand exactly 0 or
exactly 2); exit 2 means exactly one stderr line starting with
`ckpt-surgeon: FILE: ` and a non-empty message; stderr never holds
"AddressSanitizer", "LeakSanitizer" or "runtime error:"; an "out of memory"
refusal of a small input counts as an unbounded allocation; on exit 0 the
--json output must be valid JSON and `bytes` must equal numel x element size.
Inputs a case says must load are also checked with torch.load.

TAP: one point per (case, command); the truncations and flips of each base
file are reported per (group, command), listing every failing file.  torch is
only imported by child processes (--make-bases, --torch-load): the runner
forks once per run and must stay small.

Environment:
  CKS_BIN            binary (default: <repo>/src/ckpt-surgeon)
  CKS_SRCDIR         source tree (default: the nearest ancestor directory of this
                     script holding configure.ac), for CKS_DEMO
  CKS_DEMO           demo checkpoint (default: examples/demo.ckpt in CKS_SRCDIR)
  CKS_SANITIZED=1    the binary is an ASan/UBSan build: no address-space limit
                     ("yes", as configure's $(enable_sanitizers) says, works too)
                     (otherwise each run gets RLIMIT_AS = 1 GiB)
  CKS_REQUIRE_TORCH  1: a missing torch is an error (Bail out!), not a skip
  CKS_SEED           seed of the random mutations (default 1729)
  CKS_JOBS           parallel runs (default: 2 x CPUs)
"""

import argparse
import collections
import concurrent.futures
import io
import json
import math
import os
import pickle
import pickletools
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The source tree: the nearest ancestor holding configure.ac (tests/ or tests/torch/).
REPO = next((d for d in HERE.parents if (d / "configure.ac").exists()), HERE.parent)
SRCDIR = Path(os.environ.get("CKS_SRCDIR") or REPO)
BIN = os.environ.get("CKS_BIN") or str(REPO / "src" / "ckpt-surgeon")
# "1" as documented; "yes" is what configure's $(enable_sanitizers) gives.
SANITIZED = os.environ.get("CKS_SANITIZED", "").lower() in ("1", "yes", "true")
SEED = int(os.environ.get("CKS_SEED") or 1729)
TIMEOUT = 20
AS_LIMIT = 1 << 30
SMALL_INPUT = 16 << 20    # "out of memory" on an input below this = unbounded allocation
SANITIZER_WORDS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")

ANY = frozenset((0, 2))
ERR = frozenset((2,))
OK = frozenset((0,))

# Element sizes by the dtype names ckpt-surgeon prints (cli-contract.md).
DTYPE_SIZE = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2,
    "complex128": 16, "complex64": 8, "complex32": 4,
    "int64": 8, "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "bool": 1,
    "uint16": 2, "uint32": 4, "uint64": 8,
    "quint8": 1, "qint8": 1, "qint32": 4,
    "float8_e5m2": 1, "float8_e4m3fn": 1, "float8_e5m2fnuz": 1,
    "float8_e4m3fnuz": 1, "float8_e8m0fnu": 1,
}


# --------------------------------------------------------------------------
# Zip reading (only what the mutations need to know where things are)

@dataclass
class ZEntry:
    name: bytes
    cd_pos: int        # offset of its central-directory entry
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    lho: int           # local header offset
    data_off: int      # from the LOCAL header
    local_nl: int
    local_xl: int


@dataclass
class ZInfo:
    size: int
    entries: list
    cd_off: int
    cd_size: int
    eocd: int
    loc: int           # zip64 locator offset or -1
    z64: int           # zip64 end record offset or -1

    def find(self, rel):
        for e in self.entries:
            if e.name.split(b"/", 1)[-1] == rel.encode():
                return e
        raise KeyError(rel)

    def payload(self, data, e):
        return data[e.data_off:e.data_off + e.csize]


def parse_zip(data):
    eocd = data.rfind(b"PK\x05\x06")
    if eocd < 0:
        raise ValueError("no EOCD")
    (_, _, _, _, count, cd_size, cd_off, _) = struct.unpack_from("<IHHHHIIH", data, eocd)
    loc = z64 = -1
    if eocd >= 20 and data[eocd - 20:eocd - 16] == b"PK\x06\x07":
        loc = eocd - 20
        z64 = struct.unpack_from("<Q", data, loc + 8)[0]
        (_, _, _, _, _, _, _, count, cd_size, cd_off) = struct.unpack_from(
            "<IQHHIIQQQQ", data, z64)
    entries = []
    pos = cd_off
    for _ in range(count):
        (sig, _, _, flags, method, _, _, crc, csize, usize, nl, xl, cl, _, _, _,
         lho) = struct.unpack_from("<IHHHHHHIIIHHHHHII", data, pos)
        assert sig == 0x02014B50, "bad central directory"
        name = data[pos + 46:pos + 46 + nl]
        extra = data[pos + 46 + nl:pos + 46 + nl + xl]
        if 0xFFFFFFFF in (csize, usize, lho):
            i = 0
            while i + 4 <= len(extra):
                hid, hl = struct.unpack_from("<HH", extra, i)
                if hid == 1:
                    vals = list(struct.unpack_from(f"<{hl // 8}Q", extra, i + 4))
                    if usize == 0xFFFFFFFF:
                        usize = vals.pop(0)
                    if csize == 0xFFFFFFFF:
                        csize = vals.pop(0)
                    if lho == 0xFFFFFFFF:
                        lho = vals.pop(0)
                i += 4 + hl
        lnl, lxl = struct.unpack_from("<HH", data, lho + 26)
        entries.append(ZEntry(name, pos, flags, method, crc, csize, usize, lho,
                              lho + 30 + lnl + lxl, lnl, lxl))
        pos += 46 + nl + xl + cl
    return ZInfo(len(data), entries, cd_off, cd_size, eocd, loc, z64)


# --------------------------------------------------------------------------
# Zip writing: the layout torch writes (64-byte aligned data via an "FB"
# extra field, stored, zip64 end records), with knobs for lying.

@dataclass
class Rec:
    name: object                 # str or bytes, the full name inside the zip
    data: bytes                  # uncompressed content
    method: int = 0              # 0 stored, 8 deflate, other = raw bytes as is
    cd_usize: int = None         # lie in the central directory
    cd_csize: int = None
    cd_extra: bytes = b""
    payload: bytes = None        # raw bytes written (default: data / deflate(data))


def deflate(data, level=6):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def build_zip(recs, zip64_end=True, align=64, comment=b""):
    out = bytearray()
    cd = bytearray()
    for r in recs:
        name = r.name.encode() if isinstance(r.name, str) else r.name
        if r.payload is not None:
            payload = r.payload
        elif r.method == 8:
            payload = deflate(r.data)
        else:
            payload = r.data
        crc = zlib.crc32(r.data) & 0xFFFFFFFF
        lho = len(out)
        if align:
            start = lho + 30 + len(name) + 4
            pad = (align - start % align) % align
            extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        else:
            extra = b""
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0800, r.method, 0, 0,
                           crc, len(payload), len(r.data), len(name), len(extra))
        out += name + extra + payload
        csize = len(payload) if r.cd_csize is None else r.cd_csize
        usize = len(r.data) if r.cd_usize is None else r.cd_usize
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, 0x0800,
                          r.method, 0, 0, crc, csize, usize, len(name),
                          len(r.cd_extra), 0, 0, 0, 0, lho)
        cd += name + r.cd_extra
    cd_off = len(out)
    out += cd
    n = len(recs)
    if zip64_end:
        z64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, n, n,
                           len(cd), cd_off)
        out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF),
                       min(n, 0xFFFF), len(cd), cd_off, len(comment)) + comment
    return bytes(out)


def records_of(data):
    """(name, uncompressed bytes) of every entry, in central-directory order."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def rebuild(data, edit=None, **kw):
    """Rebuild an archive; edit(list of Rec) may change the records."""
    recs = [Rec(n, d) for n, d in records_of(data)]
    if edit:
        recs = edit(recs) or recs
    return build_zip(recs, **kw)


def folder_of(data):
    return records_of(data)[0][0].split("/", 1)[0]


def replace_record(data, rel, content, **kw):
    def edit(recs):
        for r in recs:
            if r.name.split("/", 1)[-1] == rel:
                r.data = content
        return recs
    return rebuild(data, edit, **kw)


def patch(data, pos, fmt, *values):
    b = bytearray(data)
    struct.pack_into(fmt, b, pos, *values)
    return bytes(b)


# --------------------------------------------------------------------------
# A tiny pickle assembler: exact control over every opcode.

class G:
    """GLOBAL module\\nname\\n"""
    def __init__(self, module, name):
        self.module, self.name = module, name


class Red:
    """callable + args + REDUCE (NEWOBJ with newobj=True)"""
    def __init__(self, fn, args, newobj=False, state=None):
        self.fn, self.args, self.newobj, self.state = fn, args, newobj, state


class PID:
    """persistent id + BINPERSID"""
    def __init__(self, pid):
        self.pid = pid


class OD:
    """collections.OrderedDict() + SETITEMS (+ BUILD {'_metadata': ...})"""
    def __init__(self, items, metadata=None):
        self.items, self.metadata = list(items), metadata


class Raw:
    """bytes inserted as they are"""
    def __init__(self, b):
        self.b = b


def _int_op(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    if -2**31 <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    enc = pickle.encode_long(v)
    if len(enc) < 256:
        return b"\x8a" + bytes([len(enc)]) + enc
    return b"\x8b" + struct.pack("<i", len(enc)) + enc


def _emit(v, out):
    if isinstance(v, Raw):
        out += v.b
    elif v is None:
        out += b"N"
    elif v is True:
        out += b"\x88"
    elif v is False:
        out += b"\x89"
    elif isinstance(v, int):
        out += _int_op(v)
    elif isinstance(v, float):
        out += b"G" + struct.pack(">d", v)
    elif isinstance(v, str):
        b = v.encode("utf-8", "surrogatepass")
        out += b"X" + struct.pack("<I", len(b)) + b
    elif isinstance(v, bytes):  # a str whose UTF-8 may be invalid
        out += b"X" + struct.pack("<I", len(v)) + v
    elif isinstance(v, tuple):
        if not v:
            out += b")"
        elif len(v) <= 3:
            for x in v:
                _emit(x, out)
            out += b"\x85\x86\x87"[len(v) - 1:len(v)]
        else:
            out += b"("
            for x in v:
                _emit(x, out)
            out += b"t"
    elif isinstance(v, list):
        out += b"]"
        if v:
            out += b"("
            for x in v:
                _emit(x, out)
            out += b"e"
    elif isinstance(v, dict):
        out += b"}"
        if v:
            out += b"("
            for k, x in v.items():
                _emit(k, out)
                _emit(x, out)
            out += b"u"
    elif isinstance(v, OD):
        out += b"ccollections\nOrderedDict\n)R"
        if v.items:
            out += b"("
            for k, x in v.items:
                _emit(k, out)
                _emit(x, out)
            out += b"u"
        if v.metadata is not None:
            _emit({"_metadata": v.metadata}, out)
            out += b"b"
    elif isinstance(v, G):
        out += b"c" + v.module.encode() + b"\n" + v.name.encode() + b"\n"
    elif isinstance(v, Red):
        _emit(v.fn, out)
        _emit(v.args, out)
        out += b"\x81" if v.newobj else b"R"
        if v.state is not None:
            _emit(v.state, out)
            out += b"b"
    elif isinstance(v, PID):
        _emit(v.pid, out)
        out += b"Q"
    else:
        raise TypeError(f"cannot assemble {type(v).__name__}")


def assemble(obj, proto=2):
    out = bytearray(b"\x80" + bytes([proto]))
    _emit(obj, out)
    out += b"."
    return bytes(out)


def storage_pid(key, numel, stype="FloatStorage", location="cpu", module="torch"):
    return PID(("storage", G(module, stype), key, location, numel))


def tensor(key, numel, size, stride=None, offset=0, stype="FloatStorage",
           fn="_rebuild_tensor_v2", pid=None, args=None):
    if stride is None:
        stride, acc = [], 1
        for d in reversed(size):
            stride.insert(0, acc)
            acc *= d
        stride = tuple(stride)
    if args is None:
        args = (pid or storage_pid(key, numel, stype), offset, tuple(size),
                tuple(stride), False, OD([]))
    return Red(G("torch._utils", fn), args)


def craft_archive(obj, storages, proto=2, folder="archive", pkl=None, version=b"3\n"):
    """A torch-layout zip: data.pkl, data/<k> for each storage, version."""
    recs = [Rec(f"{folder}/data.pkl", pkl if pkl is not None else assemble(obj, proto))]
    for k, b in storages.items():
        recs.append(Rec(f"{folder}/data/{k}", b))
    if version is not None:
        recs.append(Rec(f"{folder}/version", version))
    return build_zip(recs)


def f32(n, start=0.0):
    return struct.pack(f"<{n}f", *[start + i for i in range(n)])


# Template for hand-made checkpoints: a Lightning-like dict whose state dict
# has w (float32 3x4 over data/0) and b (float32 [3] over data/1).
def template(w=None, b=None, extra=None, storages=None):
    w = w if w is not None else tensor("0", 12, (3, 4))
    b = b if b is not None else tensor("1", 3, (3,))
    sd = OD([("layer.w", w), ("layer.b", b)], metadata=OD([("", {"version": 1})]))
    top = {"epoch": 3, "global_step": 120, "state_dict": sd}
    if extra:
        top.update(extra)
    st = {"0": f32(12), "1": f32(3, 100.0)}
    if storages is not None:
        st = storages
    return top, st


# --------------------------------------------------------------------------
# Opcode-level surgery on real pickles

def ops_of(pkl):
    """[(name, arg, pos, end)] for every opcode of a pickle."""
    ops = list(pickletools.genops(pkl))
    out = []
    for i, (op, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(pkl)
        out.append((op.name, arg, pos, end))
    return out


def splice(pkl, op, new):
    return pkl[:op[2]] + new + pkl[op[3]:]


INT_OPS = ("BININT", "BININT1", "BININT2", "LONG1", "LONG4", "INT", "LONG")
MEMO_OPS = ("BINPUT", "LONG_BINPUT", "MEMOIZE", "PUT")


def tensor_calls(ops):
    """For each BINPERSID followed by an offset, a size and a stride tuple:
    dict(numel=op, stype=op, offset=op, size=[ops], stride=[ops])."""
    found = []
    for j, op in enumerate(ops):
        if op[0] != "BINPERSID":
            continue
        k = j - 1
        while k >= 0 and ops[k][0] in MEMO_OPS:
            k -= 1
        if k < 5 or ops[k][0] != "TUPLE" or ops[k - 1][0] not in INT_OPS:
            continue
        call = {"numel": ops[k - 1], "stype": None}
        m = k - 1
        while m >= 0 and ops[m][0] not in ("GLOBAL", "STACK_GLOBAL", "BINGET", "LONG_BINGET"):
            m -= 1
        if m >= 0 and ops[m][0] == "GLOBAL":
            call["stype"] = ops[m]
        i = j + 1
        while i < len(ops) and ops[i][0] in MEMO_OPS:
            i += 1
        if i >= len(ops) or ops[i][0] not in INT_OPS:
            continue
        call["offset"] = ops[i]
        i += 1
        tuples = []
        for _ in range(2):
            ints = []
            if i < len(ops) and ops[i][0] == "MARK":
                i += 1
            while i < len(ops) and ops[i][0] in INT_OPS:
                ints.append(ops[i])
                i += 1
            if i >= len(ops) or ops[i][0] not in ("TUPLE", "TUPLE1", "TUPLE2",
                                                  "TUPLE3", "EMPTY_TUPLE"):
                break
            i += 1
            while i < len(ops) and ops[i][0] in MEMO_OPS:
                i += 1
            tuples.append(ints)
        if len(tuples) != 2:
            continue
        call["size"], call["stride"] = tuples
        found.append(call)
    return found


# --------------------------------------------------------------------------
# Cases

@dataclass
class Case:
    name: str                    # unique, e.g. "nested.pt/zip/eocd-count-ffff"
    recipe: str                  # how the input was made (for the report)
    data: bytes = None           # file content (kind "file")
    kind: str = "file"           # file | dir | fifo | path
    path: str = None             # for kind "path": used as is
    expect: frozenset = ANY      # allowed exit statuses of ls
    group: str = None            # bulk cases are reported per group
    show_expect: frozenset = None  # allowed exit statuses of show (default: ANY, OK if expect is OK)
    big_ok: bool = False         # "out of memory" is a legitimate answer
    cwd: str = None              # run from here (FILE relative to it)
    size: int = 0                # input size in bytes
    fname: str = None            # file name in the corpus directory
    file: str = None             # FILE as passed on the command line


class Corpus:
    """Writes each case to disk as it is made: the runner process must stay
    small, since every run forks it."""

    def __init__(self, cdir, only=None):
        self.cdir, self.only = cdir, only
        self.cases = []
        self.names = set()
        self.manifest = []

    def add(self, name, recipe, data=None, **kw):
        assert name not in self.names, name
        self.names.add(name)
        if self.only and self.only not in name:
            return
        case = Case(name, recipe, None, **kw)
        case.size = len(data) if data is not None else 0
        if case.kind == "path":
            case.file = case.path
        else:
            if case.fname is None:
                stem = re.sub(r"[^A-Za-z0-9._@=+-]+", "_", name)[:100]
                case.fname = f"{len(self.cases):05d}-{stem}"
            path = self.cdir / case.fname
            if case.kind == "dir":
                path.mkdir()
            elif case.kind == "fifo":
                os.mkfifo(path)
            else:
                path.write_bytes(data)
            if case.cwd:
                (self.cdir / "sub").mkdir(exist_ok=True)
                case.cwd = str(self.cdir)
            if case.file is None:
                case.file = str(path)
        self.cases.append(case)
        self.manifest.append(f"{case.file}\t{name}\t{sorted(case.expect)}\t{recipe}")


def zip_cases(c, base, data, folder, full):
    """Archive-level damage (full: also the cases that do not depend on the base)."""
    z = parse_zip(data)
    pkl = z.find("data.pkl")
    storages = [e for e in z.entries if b"/data/" in e.name]
    d0 = storages[0] if storages else pkl
    p = f"{base}/zip/"
    add = lambda name, recipe, d, expect=ERR, **kw: c.add(p + name, recipe, d, expect=expect, **kw)

    # controls: rewrites torch itself reads
    add("control-rebuilt", "re-laid-out by the test's own torch-style zip writer", rebuild(data), OK)
    add("control-classic-end", "rebuilt without zip64 end records", rebuild(data, zip64_end=False), OK)
    add("control-unaligned", "rebuilt without the 64-byte alignment padding",
        rebuild(data, align=0), OK)
    add("control-reversed", "records in reverse order",
        rebuild(data, lambda r: r[:1] + r[:0:-1]), OK)
    add("control-renamed-folder", "archive folder renamed to 'anything'",
        rebuild(data, lambda r: [Rec("anything/" + x.name.split("/", 1)[1], x.data) for x in r]), OK)
    add("control-2x-extras", "torch 2.x extra records (.format_version, byteorder, ...)",
        rebuild(data, lambda r: r[:1] + [Rec(f"{folder}/.format_version", b"1"),
                                         Rec(f"{folder}/.storage_alignment", b"64"),
                                         Rec(f"{folder}/byteorder", b"little")] + r[1:] +
                [Rec(f"{folder}/.data/serialization_id", b"0" * 40)]), OK)
    add("control-zipfile-stored", "repacked by Python zipfile (stored, unaligned)",
        _zipfile_repack(data, zipfile.ZIP_STORED), OK)
    add("deflated-all", "repacked by Python zipfile with DEFLATE (supported or refused)",
        _zipfile_repack(data, zipfile.ZIP_DEFLATED), ANY)

    # missing / misplaced / duplicated records
    rel = lambda r: r.name.split("/", 1)[-1]
    add("no-data.pkl", "rebuilt without data.pkl",
        rebuild(data, lambda r: [x for x in r if rel(x) != "data.pkl"]))
    add("no-version", "rebuilt without version",
        rebuild(data, lambda r: [x for x in r if rel(x) != "version"]))
    if storages:
        last = storages[-1].name.decode()
        add("no-data-N", f"rebuilt without {last}",
            rebuild(data, lambda r: [x for x in r if x.name != last]))
        add("data-N-short-4", f"{last} record 4 bytes shorter than its storage",
            rebuild(data, lambda r: [Rec(x.name, x.data[:-4] if x.name == last else x.data) for x in r]))
        add("data-N-long-4", f"{last} record 4 bytes longer than its storage",
            rebuild(data, lambda r: [Rec(x.name, x.data + b"\0\0\0\0" if x.name == last else x.data) for x in r]))
    add("outside-folder-last", "an extra record 'other/junk' after the others",
        rebuild(data, lambda r: r + [Rec("other/junk", b"junk")]))
    add("outside-folder-first", "an extra record 'other/junk' before the others",
        rebuild(data, lambda r: [Rec("other/junk", b"junk")] + r))
    add("no-folder", "every record at the archive root",
        rebuild(data, lambda r: [Rec(rel(x), x.data) for x in r]))
    add("nested-folder", "every record under a/b/",
        rebuild(data, lambda r: [Rec("a/b/" + rel(x), x.data) for x in r]))
    add("dup-data.pkl", "data.pkl twice (the copy holds None)",
        rebuild(data, lambda r: r + [Rec(f"{folder}/data.pkl", b"\x80\x02N.")]))
    if storages:
        add("dup-data-0", "the first storage record twice",
            rebuild(data, lambda r: r + [Rec(storages[0].name, b"")]))
    add("dup-version", "version twice", rebuild(data, lambda r: r + [Rec(f"{folder}/version", b"3\n")]))
    add("dir-entries", "directory entries 'F/' and 'F/data/' added",
        rebuild(data, lambda r: [Rec(f"{folder}/", b""), Rec(f"{folder}/data/", b"")] + r), ANY)
    add("only-dot-data-version", "version replaced by .data/version",
        rebuild(data, lambda r: [Rec(f"{folder}/.data/version", x.data) if rel(x) == "version" else x
                                 for x in r]), OK)
    if full:     # the same with every base: run once
        for tag, content in (("empty", b""), ("x", b"x\n"), ("zero", b"0\n"), ("huge", b"9" * 40 + b"\n"),
                             ("11", b"11\n"), ("long", b"3" + b" " * 5000)):
            add(f"version-{tag}", f"version record holds {content[:12]!r}",
                replace_record(data, "version", content), ANY)
        add("version-newline", "version record holds b'x\\ny' (a newline inside the message?)",
            replace_record(data, "version", b"x\ny"), ERR)
        add("byteorder-newline", "byteorder record holds b'lit\\ntle'",
            rebuild(data, lambda r: r + [Rec(f"{folder}/byteorder", b"lit\ntle")]), ERR)
        add("byteorder-big", "byteorder record says big",
            rebuild(data, lambda r: r + [Rec(f"{folder}/byteorder", b"big")]), ANY)
        add("name-newline-first", "first record named 'bad\\nname' (no folder; newline in the name)",
            rebuild(data, lambda r: [Rec("bad\nname", b"x")] + r), ERR)
        add("name-newline-outside", "an extra record 'other\\n/junk'",
            rebuild(data, lambda r: r + [Rec("other\n/junk", b"x")]), ERR)
        add("name-escape", "an extra record named 'F/\\x1b[2J\\x1b[31mred'",
            rebuild(data, lambda r: r + [Rec(f"{folder}/\x1b[2J\x1b[31mred", b"x")]), ANY)
    add("name-nul", "central-directory name of data.pkl with a NUL byte",
        patch(data, pkl.cd_pos + 46 + len(folder), "<B", 0))
    if full:
        add("empty-archive", "a valid zip with zero entries", build_zip([]))

    # end records
    e = z.eocd
    classic = rebuild(data, zip64_end=False)
    zc = parse_zip(classic)
    ec = zc.eocd
    add("eocd-count-ffff", "classic EOCD entry counts 0xffff (zip64 end records present)",
        patch(data, e + 8, "<HH", 0xFFFF, 0xFFFF), ANY)
    add("classic-count-ffff", "no zip64 records, EOCD entry counts 0xffff",
        patch(classic, ec + 8, "<HH", 0xFFFF, 0xFFFF))
    add("classic-count-plus1", "no zip64 records, EOCD counts one entry too many",
        patch(classic, ec + 8, "<HH", len(zc.entries) + 1, len(zc.entries) + 1))
    add("classic-count-minus1", "no zip64 records, EOCD counts one entry too few",
        patch(classic, ec + 8, "<HH", len(zc.entries) - 1, len(zc.entries) - 1), ANY)
    add("classic-count-0", "no zip64 records, EOCD counts 0 entries",
        patch(classic, ec + 8, "<HH", 0, 0))
    add("classic-disk-split", "EOCD count on this disk differs from the total",
        patch(classic, ec + 8, "<H", 1), ANY)
    add("classic-multidisk", "EOCD disk numbers 1",
        patch(classic, ec + 4, "<HH", 1, 1), ANY)
    add("classic-cd-size-ffffffff", "no zip64 records, EOCD cd size 0xffffffff",
        patch(classic, ec + 12, "<I", 0xFFFFFFFF))
    add("classic-cd-offset-ffffffff", "no zip64 records, EOCD cd offset 0xffffffff",
        patch(classic, ec + 16, "<I", 0xFFFFFFFF))
    add("classic-cd-offset-plus1", "EOCD cd offset off by one",
        patch(classic, ec + 16, "<I", zc.cd_off + 1))
    add("classic-cd-offset-0", "EOCD cd offset 0 (points at a local header)",
        patch(classic, ec + 16, "<I", 0))
    add("classic-cd-size-minus1", "EOCD cd size one byte short",
        patch(classic, ec + 12, "<I", zc.cd_size - 1), ANY)
    add("classic-comment-len", "EOCD comment length 0xffff, no comment",
        patch(classic, ec + 20, "<H", 0xFFFF), ANY)
    add("classic-comment-eocd", "a comment that itself holds a fake EOCD",
        classic[:ec + 20] + struct.pack("<H", 22) +
        struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0),
        ANY)
    add("eocd-cd-size-ffffffff", "classic EOCD cd size 0xffffffff (zip64 end records present)",
        patch(data, e + 12, "<I", 0xFFFFFFFF), ANY)
    add("eocd-cd-offset-ffffffff", "classic EOCD cd offset 0xffffffff (zip64 end records present)",
        patch(data, e + 16, "<I", 0xFFFFFFFF), ANY)
    if z.z64 >= 0:
        zz = z.z64
        add("z64-count-7fffffff", "zip64 end record entry counts 0x7fffffff",
            patch(data, zz + 24, "<QQ", 0x7FFFFFFF, 0x7FFFFFFF))
        add("z64-count-2^62", "zip64 end record claims 2**62 entries",
            patch(data, zz + 24, "<QQ", 2**62, 2**62))
        add("z64-count-2^64-1", "zip64 end record claims 2**64-1 entries",
            patch(data, zz + 24, "<QQ", 2**64 - 1, 2**64 - 1))
        add("z64-count-0", "zip64 end record claims 0 entries",
            patch(data, zz + 24, "<QQ", 0, 0))
        add("z64-cd-size-2^63", "zip64 cd size 2**63",
            patch(data, zz + 40, "<Q", 2**63))
        add("z64-cd-size-2^64-1", "zip64 cd size 2**64-1",
            patch(data, zz + 40, "<Q", 2**64 - 1))
        add("z64-cd-offset-2^64-1", "zip64 cd offset 2**64-1",
            patch(data, zz + 48, "<Q", 2**64 - 1))
        add("z64-cd-offset-wrap", "zip64 cd offset + size wrap around 2**64",
            patch(data, zz + 40, "<QQ", 2**64 - z.cd_off + 8, z.cd_off + 16))
        add("z64-record-size-0", "zip64 end record size field 0",
            patch(data, zz + 4, "<Q", 0))
        add("z64-record-size-huge", "zip64 end record size field 2**63",
            patch(data, zz + 4, "<Q", 2**63), ANY)
        add("z64-bad-signature", "zip64 end record signature broken",
            patch(data, zz, "<I", 0x06064B51))
        add("z64-disk", "zip64 end record disk numbers 0xffffffff",
            patch(data, zz + 16, "<II", 0xFFFFFFFF, 0xFFFFFFFF))
        add("loc-offset-2^64-1", "zip64 locator points at 2**64-1",
            patch(data, z.loc + 8, "<Q", 2**64 - 1))
        add("loc-offset-past-end", "zip64 locator points past the end",
            patch(data, z.loc + 8, "<Q", len(data) + 100))
        add("loc-offset-last-byte", "zip64 locator points at the last 10 bytes",
            patch(data, z.loc + 8, "<Q", len(data) - 10))
        add("loc-offset-self", "zip64 locator points at itself",
            patch(data, z.loc + 8, "<Q", z.loc))
        add("loc-offset-eocd", "zip64 locator points at the classic EOCD",
            patch(data, z.loc + 8, "<Q", z.eocd))
        add("loc-disks-0", "zip64 locator total disks 0", patch(data, z.loc + 16, "<I", 0), ANY)

    # central-directory entries
    add_pkl = add

    def add_rec(tag):
        # ls reads only the pickle and the directory: damage to a storage
        # record need not fail ls, but show of a tensor over it must fail.
        if tag == "data.pkl":
            return add_pkl
        return lambda name, recipe, d, expect=ERR, **kw: c.add(
            p + name, recipe, d, expect=ANY, show_expect=expect, **kw)

    for e_, tag in ((pkl, "data.pkl"), (d0, "data-0")):
        cp = e_.cd_pos
        add = add_rec(tag)
        unsup = ERR if tag == "data.pkl" else ANY   # show may say "stats unavailable"
        add(f"cd-{tag}-usize-plus1", f"central dir: {tag} uncompressed size + 1 (stored sizes differ)",
            patch(data, cp + 24, "<I", e_.usize + 1))
        add(f"cd-{tag}-csize-minus1", f"central dir: {tag} compressed size - 1 (stored sizes differ)",
            patch(data, cp + 20, "<I", max(e_.csize - 1, 0)) if e_.csize else
            patch(data, cp + 20, "<I", 1))
        add(f"cd-{tag}-sizes-ffffffff", f"central dir: {tag} sizes 0xffffffff, no zip64 extra",
            patch(data, cp + 20, "<II", 0xFFFFFFFF, 0xFFFFFFFF))
        add(f"cd-{tag}-sizes-huge", f"central dir: {tag} both sizes 0xfffffff0",
            patch(data, cp + 20, "<II", 0xFFFFFFF0, 0xFFFFFFF0))
        add(f"cd-{tag}-lho-ffffffff", f"central dir: {tag} local header offset 0xffffffff, no zip64 extra",
            patch(data, cp + 42, "<I", 0xFFFFFFFF))
        add(f"cd-{tag}-lho-past-end", f"central dir: {tag} local header offset past the end",
            patch(data, cp + 42, "<I", len(data) + 7))
        add(f"cd-{tag}-lho-eof-10", f"central dir: {tag} local header 10 bytes before the end",
            patch(data, cp + 42, "<I", len(data) - 10))
        other = z.entries[-1] if z.entries[-1] is not e_ else z.entries[0]
        add(f"cd-{tag}-lho-other", f"central dir: {tag} points at another record's local header",
            patch(data, cp + 42, "<I", other.lho))
        add(f"cd-{tag}-lho-plus1", f"central dir: {tag} local header offset + 1",
            patch(data, cp + 42, "<I", e_.lho + 1))
        add(f"cd-{tag}-method-99", f"central dir: {tag} compression method 99",
            patch(data, cp + 10, "<H", 99), unsup)
        add(f"cd-{tag}-method-12", f"central dir: {tag} compression method 12 (bzip2)",
            patch(data, cp + 10, "<H", 12), unsup)
        add(f"cd-{tag}-method-8", f"central dir: {tag} claims DEFLATE over stored bytes",
            patch(data, cp + 10, "<H", 8))
        add(f"cd-{tag}-encrypted", f"central dir: {tag} flags bit 0 (encrypted)",
            patch(data, cp + 8, "<H", 0x0809))
        add(f"cd-{tag}-crc", f"central dir: {tag} CRC wrong", patch(data, cp + 16, "<I", e_.crc ^ 1), ANY)
        add(f"cd-{tag}-name-len-ffff", f"central dir: {tag} name length 0xffff",
            patch(data, cp + 28, "<H", 0xFFFF))
        add(f"cd-{tag}-extra-len-ffff", f"central dir: {tag} extra length 0xffff",
            patch(data, cp + 30, "<H", 0xFFFF))
        add(f"cd-{tag}-comment-len-ffff", f"central dir: {tag} comment length 0xffff",
            patch(data, cp + 32, "<H", 0xFFFF))
        add(f"cd-{tag}-bad-sig", f"central dir: {tag} signature broken",
            patch(data, cp, "<I", 0x02014B51))
        add(f"local-{tag}-name-len-ffff", f"local header of {tag}: name length 0xffff",
            patch(data, e_.lho + 26, "<H", 0xFFFF))
        add(f"local-{tag}-extra-len-ffff", f"local header of {tag}: extra length 0xffff",
            patch(data, e_.lho + 28, "<H", 0xFFFF), ANY)
        add(f"local-{tag}-name-len-0", f"local header of {tag}: name length 0",
            patch(data, e_.lho + 26, "<H", 0))
        add(f"local-{tag}-bad-sig", f"local header of {tag}: signature broken",
            patch(data, e_.lho, "<I", 0x04034B51))
        add(f"local-{tag}-sizes-lie", f"local header of {tag}: sizes 0xffffffff (readers use the CD)",
            patch(data, e_.lho + 18, "<II", 0xFFFFFFFF, 0xFFFFFFFF), ANY)

    # size lies with the zip64 extra field, and deflate bombs (all rebuilt)
    def set_rec(rel_, **kw):
        def edit(recs):
            for r in recs:
                if rel(r) == rel_:
                    for k, v in kw.items():
                        setattr(r, k, v)
            return recs
        return edit

    target = rel(Rec(storages[0].name.decode(), b"")) if storages else "data.pkl"
    for rel_ in ("data.pkl", target):
        t = rel_.replace("/", "-")
        add = add_rec(rel_)
        add(f"stored-sizes-differ-{t}", f"{rel_} stored, central csize = usize - 4",
            rebuild(data, _lie_sizes(data, rel_, -4)))
        add(f"deflate-claims-4GiB-{t}", f"{rel_} deflated, central usize 0xfffffffe",
            rebuild(data, set_rec(rel_, method=8, cd_usize=0xFFFFFFFE)))
        add(f"deflate-claims-2^32-z64-{t}", f"{rel_} deflated, usize 2**32 via a zip64 extra",
            rebuild(data, set_rec(rel_, method=8, cd_usize=0xFFFFFFFF,
                                  cd_extra=struct.pack("<HHQ", 1, 8, 2**32))))
        add(f"deflate-claims-2^62-z64-{t}", f"{rel_} deflated, usize 2**62 via a zip64 extra",
            rebuild(data, set_rec(rel_, method=8, cd_usize=0xFFFFFFFF,
                                  cd_extra=struct.pack("<HHQ", 1, 8, 2**62))))
        add(f"z64-extra-short-{t}", f"{rel_} usize 0xffffffff with a 4-byte zip64 extra",
            rebuild(data, set_rec(rel_, cd_usize=0xFFFFFFFF,
                                  cd_extra=struct.pack("<HHI", 1, 4, 5))))
        add(f"z64-extra-overrun-{t}", f"{rel_} zip64 extra field length runs past the extra area",
            rebuild(data, set_rec(rel_, cd_usize=0xFFFFFFFF,
                                  cd_extra=struct.pack("<HHQ", 1, 200, 5))))
        add(f"z64-offset-huge-{t}", f"{rel_} local header offset 2**63 via a zip64 extra",
            _lho_z64(data, rel_, 2**63))
        add(f"deflate-garbage-{t}", f"{rel_} says DEFLATE but holds random bytes",
            rebuild(data, set_rec(rel_, method=8, payload=random.Random(rel_).randbytes(64))))
        add(f"deflate-truncated-{t}", f"{rel_} deflated, stream cut in half",
            rebuild(data, lambda r: _deflate_cut(r, rel_)))
        add(f"deflate-longer-{t}", f"{rel_} deflated, usize 3 bytes less than the stream inflates to",
            rebuild(data, lambda r: _deflate_usize(r, rel_, -3)))


def _zipfile_repack(data, method):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for n, d in records_of(data):
            z.writestr(zipfile.ZipInfo(n, (1980, 1, 1, 0, 0, 0)), d, compress_type=method)
    return out.getvalue()


def _lie_sizes(data, rel_, delta):
    def edit(recs):
        for r in recs:
            if r.name.split("/", 1)[-1] == rel_:
                r.cd_csize = max(len(r.data) + delta, 0)
        return recs
    return edit


def _lho_z64(data, rel_, value):
    """Rebuild, then point rel_'s central entry (lho 0xffffffff) at value via zip64 extra."""
    def edit(recs):
        for r in recs:
            if r.name.split("/", 1)[-1] == rel_:
                r.cd_extra = struct.pack("<HHQ", 1, 8, value)
        return recs
    out = rebuild(data, edit)
    z = parse_zip_noresolve(out)
    for pos, name in z:
        if name.split(b"/", 1)[-1] == rel_.encode():
            return patch(out, pos + 42, "<I", 0xFFFFFFFF)
    raise KeyError(rel_)


def parse_zip_noresolve(data):
    """[(central entry offset, name)] without following local headers."""
    eocd = data.rfind(b"PK\x05\x06")
    (_, _, _, _, count, _, cd_off, _) = struct.unpack_from("<IHHHHIIH", data, eocd)
    out, pos = [], cd_off
    for _ in range(count):
        nl, xl, cl = struct.unpack_from("<HHH", data, pos + 28)
        out.append((pos, data[pos + 46:pos + 46 + nl]))
        pos += 46 + nl + xl + cl
    return out


def _deflate_cut(recs, rel_):
    for r in recs:
        if r.name.split("/", 1)[-1] == rel_:
            full = deflate(r.data)
            r.method, r.payload = 8, full[:max(1, len(full) // 2)]
    return recs


def _deflate_usize(recs, rel_, delta):
    for r in recs:
        if r.name.split("/", 1)[-1] == rel_:
            r.method = 8
            r.cd_usize = max(0, len(r.data) + delta)
    return recs


def pkl_patch_cases(c, base, data, folder):
    """Opcode-level patches of the real data.pkl; the archive stays valid."""
    pkl = records_dict(data)[f"{folder}/data.pkl"]
    ops = ops_of(pkl)
    p = f"{base}/pkl/"
    add = lambda name, recipe, newpkl, expect=ERR, **kw: c.add(
        p + name, recipe, replace_record(data, "data.pkl", newpkl), expect=expect, **kw)
    first = lambda names: next((o for o in ops if o[0] in names), None)

    add("empty", "data.pkl is empty", b"")
    add("proto-only", "data.pkl is just PROTO 2", b"\x80\x02")
    add("no-stop", "the final STOP removed", pkl[:-1])
    add("stop-early", "STOP right after PROTO (empty stack)", pkl[:2] + b"." + pkl[2:])
    add("trailing-garbage", "64 random bytes after STOP", pkl + random.Random(1).randbytes(64), ANY)
    add("proto-6", "PROTO 6", b"\x80\x06" + pkl[2:])
    add("proto-255", "PROTO 255", b"\x80\xff" + pkl[2:])
    add("proto-0-header", "PROTO 0 (then protocol-2 opcodes)", b"\x80\x00" + pkl[2:], ANY)
    for opbyte in (b"\xff", b"\x00", b"z", b"\x99"):
        add(f"unknown-op-{opbyte.hex()}-end", f"unknown opcode {opbyte!r} before STOP",
            pkl[:-1] + opbyte + b".")
        add(f"unknown-op-{opbyte.hex()}-start", f"unknown opcode {opbyte!r} after PROTO",
            pkl[:2] + opbyte + pkl[2:])
    add("marks-5000", "5000 MARKs after PROTO (never closed)", pkl[:2] + b"(" * 5000 + pkl[2:], ANY)
    add("marks-4096", "4096 MARKs after PROTO (never closed)", pkl[:2] + b"(" * 4096 + pkl[2:], ANY)

    u = first(("BINUNICODE",))
    if u:
        for n in (0x7FFFFFFF, 0xFFFFFFFF, len(pkl) - u[2] - 5, len(pkl) - u[2] - 4):
            add(f"binunicode-len-{n:x}", f"first BINUNICODE (byte {u[2]}) length {n:#x}",
                pkl[:u[2] + 1] + struct.pack("<I", n) + pkl[u[2] + 5:])
        body = pkl[u[2] + 5:u[3]]
        add("binunicode-bad-utf8", f"first BINUNICODE (byte {u[2]}) content made invalid UTF-8",
            pkl[:u[2] + 5] + b"\xff" * len(body) + pkl[u[3]:], ANY)
    su = first(("SHORT_BINUNICODE",))
    if su:
        add("short-binunicode-len-ff", f"first SHORT_BINUNICODE (byte {su[2]}) length 255",
            pkl[:su[2] + 1] + b"\xff" + pkl[su[2] + 2:], ANY)
    put = first(("BINPUT", "LONG_BINPUT", "MEMOIZE"))
    for idx in (0xFFFFFFF0, 0x7FFFFFFF, len(pkl), len(pkl) + 1):
        if put:
            add(f"long-binput-{idx:x}", f"first {put[0]} (byte {put[2]}) -> LONG_BINPUT {idx:#x}",
                splice(pkl, put, b"r" + struct.pack("<I", idx)), ANY)
    get = first(("BINGET", "LONG_BINGET"))
    if get:
        for idx in (0xFFFFFFF0, 0x7FFFFFFF):
            add(f"long-binget-{idx:x}", f"first {get[0]} (byte {get[2]}) -> LONG_BINGET {idx:#x}",
                splice(pkl, get, b"j" + struct.pack("<I", idx)))
        add("binget-unset", f"first {get[0]} (byte {get[2]}) -> BINGET 250 (never PUT)",
            splice(pkl, get, b"h\xfa"), ANY)
    add("long-binget-before-put", "LONG_BINGET 0xfffffff0 right after PROTO",
        pkl[:2] + b"j" + struct.pack("<I", 0xFFFFFFF0) + pkl[2:])
    add("frame-huge", "FRAME 2**64-1 after PROTO", pkl[:2] + b"\x95" + b"\xff" * 8 + pkl[2:])
    add("binbytes8-huge", "BINBYTES8 2**63 after PROTO", pkl[:2] + b"\x8e" + struct.pack("<Q", 2**63) + pkl[2:])
    add("binunicode8-huge", "BINUNICODE8 2**64-1 after PROTO", pkl[:2] + b"\x8d" + b"\xff" * 8 + pkl[2:])
    add("long4-huge", "LONG4 length 0x7fffffff after PROTO", pkl[:2] + b"\x8b" + struct.pack("<I", 0x7FFFFFFF) + pkl[2:])
    add("long4-negative", "LONG4 length -1 after PROTO", pkl[:2] + b"\x8b" + struct.pack("<i", -1) + pkl[2:])
    add("put-text-huge", "PUT 99999999999999999999999 after an EMPTY_LIST",
        pkl[:2] + b"]p99999999999999999999999\n0" + pkl[2:], ANY)
    add("get-text-negative", "GET -1 after PROTO", pkl[:2] + b"g-1\n" + pkl[2:])

    # tensor arguments, located in the real pickle
    calls = tensor_calls(ops)
    if not calls:
        return
    t = calls[0]
    numel = t["numel"][1]
    add("numel-2^60", f"first storage pid numel {numel} -> 2**60", splice(pkl, t["numel"], _int_op(2**60)))
    add("numel-2^64", f"first storage pid numel {numel} -> 2**64", splice(pkl, t["numel"], _int_op(2**64)))
    add("numel-wrap", f"first storage pid numel {numel} -> 2**62 (x4 bytes wraps to 0)",
        splice(pkl, t["numel"], _int_op(2**62)))
    add("numel-minus-1", f"first storage pid numel {numel} -> {numel - 1} (record 1 element too big)",
        splice(pkl, t["numel"], _int_op(numel - 1)))
    add("numel-plus-1", f"first storage pid numel {numel} -> {numel + 1}",
        splice(pkl, t["numel"], _int_op(numel + 1)))
    add("numel-negative", "first storage pid numel -> -1", splice(pkl, t["numel"], _int_op(-1)))
    add("numel-none", "first storage pid numel -> None", splice(pkl, t["numel"], b"N"))
    if t["stype"]:
        add("stype-unknown", "first storage type -> torch.NopeStorage",
            splice(pkl, t["stype"], b"ctorch\nNopeStorage\n"))
        add("stype-os-system", "first storage type -> os.system",
            splice(pkl, t["stype"], b"cos\nsystem\n"))
        add("stype-double", "first storage type -> DoubleStorage (record size now wrong)",
            splice(pkl, t["stype"], b"ctorch\nDoubleStorage\n"))
    big = next((x for x in calls if len(x["size"]) >= 1), None)
    if big:
        add("offset-past-end", f"storage offset -> numel {big['numel'][1]}",
            splice(pkl, big["offset"], _int_op(big["numel"][1])))
        add("offset-negative", "storage offset -> -1", splice(pkl, big["offset"], _int_op(-1)))
        add("offset-2^63-1", "storage offset -> 2**63-1", splice(pkl, big["offset"], _int_op(2**63 - 1)))
        add("size-1e12", "first dimension -> 10**12", splice(pkl, big["size"][0], _int_op(10**12)))
        add("size-negative", "first dimension -> -1", splice(pkl, big["size"][0], _int_op(-1)))
        add("stride-negative", "first stride -> -1", splice(pkl, big["stride"][0], _int_op(-1)))
        add("stride-2^62", "first stride -> 2**62", splice(pkl, big["stride"][0], _int_op(2**62)))
        add("stride-zero", "first stride -> 0 (an expand: valid)", splice(pkl, big["stride"][0], _int_op(0)), ANY)
        add("size-float", "first dimension -> 3.0", splice(pkl, big["size"][0], b"G" + struct.pack(">d", 3.0)), ANY)


def records_dict(data):
    return dict(records_of(data))


def craft_cases(c):
    """Hand-assembled pickles, packaged as torch-layout archives."""
    p = "craft/"

    def add(name, recipe, top=None, st=None, expect=ERR, pkl=None, **kw):
        if top is None and pkl is None:
            top, st = template()
        c.add(p + name, recipe, craft_archive(top, st if st is not None else {}, pkl=pkl),
              expect=expect, **kw)

    def with_w(name, recipe, w, expect=ERR, storages=None, **kw):
        top, st = template(w=w, storages=storages)
        add(name, recipe, top, st, expect, **kw)

    top, st = template()
    add("control-template", "the valid template: {'epoch','global_step','state_dict': w[3,4], b[3]}",
        top, st, OK)
    with_w("control-expand", "w = expand: size (3,4) stride (0,1) over 4 elements (valid)",
           tensor("0", 4, (3, 4), (0, 1)), OK, {"0": f32(4), "1": f32(3)})
    with_w("control-0dim", "w = 0-dim tensor over 1 element", tensor("0", 1, ()), OK,
           {"0": f32(1), "1": f32(3)})
    with_w("control-empty", "w = empty tensor (0, 4) over an empty storage", tensor("0", 0, (0, 4)), OK,
           {"0": b"", "1": f32(3)})
    with_w("control-cuda", "w on location 'cuda:0'", tensor("0", 12, (3, 4), pid=storage_pid("0", 12, location="cuda:0")),
           OK)

    # persistent ids
    with_w("numel-2^60", "storage numel 2**60 (record 48 bytes)", tensor("0", 2**60, (3, 4)))
    with_w("numel-wrap-f64", "DoubleStorage numel 2**61 (x8 = 2**64 wraps to 0) over an empty record",
           tensor("0", 2**61, (4,), stype="DoubleStorage"), storages={"0": b"", "1": f32(3)})
    with_w("numel-wrap-f32", "FloatStorage numel 2**62+1 (x4 wraps to 4) over a 4-byte record, size (2**62+1,)",
           tensor("0", 2**62 + 1, (2**62 + 1,)), storages={"0": f32(1), "1": f32(3)})
    with_w("numel-wrap-c128", "ComplexDoubleStorage numel 2**60 (x16 wraps to 0)",
           tensor("0", 2**60, (2,), stype="ComplexDoubleStorage"), storages={"0": b"", "1": f32(3)})
    with_w("numel-negative", "storage numel -1", tensor("0", -1, (3, 4)))
    with_w("numel-bigint", "storage numel 2**100", tensor("0", 2**100, (3, 4)))
    with_w("numel-str", "storage numel '12'", tensor("0", "12", (3, 4)), ANY)
    with_w("numel-float", "storage numel 12.0", tensor("0", 12.0, (3, 4)), ANY)
    with_w("record-short-4", "storage numel 12, record 44 bytes", tensor("0", 12, (3, 4)),
           storages={"0": f32(11), "1": f32(3)})
    with_w("record-long-4", "storage numel 12, record 52 bytes", tensor("0", 12, (3, 4)),
           storages={"0": f32(13), "1": f32(3)})
    with_w("key-missing", "storage key '7' (no data/7)", tensor("7", 12, (3, 4)))
    with_w("key-int", "storage key int 0", tensor(0, 12, (3, 4)), ANY)
    with_w("key-traversal", "storage key '../version'", tensor("../version", 12, (3, 4)), ANY)
    with_w("key-newline", "storage key '0\\nx' (no such record; newline in the message?)",
           tensor("0\nx", 12, (3, 4)))
    with_w("key-nul", "storage key '0\\x00' ", tensor("0\0", 12, (3, 4)), ANY)
    with_w("stype-unknown", "storage type torch.NopeStorage", tensor("0", 12, (3, 4), stype="NopeStorage"))
    with_w("stype-newline", "storage type 'Nope\\nStorage' (GLOBAL name with a newline is impossible; "
           "STACK_GLOBAL)", tensor("0", 12, (3, 4), pid=PID(("storage", Raw(
               b"X" + struct.pack("<I", 5) + b"torch" + b"X" + struct.pack("<I", 12) + b"Nope\nStorage\x93"),
               "0", "cpu", 12))))
    with_w("stype-not-global", "storage type is the string 'FloatStorage'",
           tensor("0", 12, (3, 4), pid=PID(("storage", "FloatStorage", "0", "cpu", 12))))
    with_w("location-int", "storage location 5", tensor("0", 12, (3, 4), pid=storage_pid("0", 12, location=5)), ANY)
    with_w("location-weird", "storage location 'weird:99'",
           tensor("0", 12, (3, 4), pid=storage_pid("0", 12, location="weird:99")), ANY)
    for n in (0, 1, 4, 6, 40):
        pid = ("storage", G("torch", "FloatStorage"), "0", "cpu", 12, None, 1)[:min(n, 7)] + (None,) * max(0, n - 7)
        with_w(f"pid-{n}-fields", f"storage persistent id with {n} fields",
               tensor("0", 12, (3, 4), pid=PID(pid)), ERR if n in (0, 1, 4) else ANY)
    with_w("pid-str", "persistent id is the string 'storage'", tensor("0", 12, (3, 4), pid=PID("storage")))
    with_w("pid-list", "persistent id is a list", tensor("0", 12, (3, 4), pid=PID(
        ["storage", G("torch", "FloatStorage"), "0", "cpu", 12])), ANY)
    with_w("pid-module", "persistent id ('module', ...)", tensor("0", 12, (3, 4), pid=PID(
        ("module", G("torch.nn", "Linear"), "x.py", "src"))))

    # tensor views
    with_w("size-1e12x1e12", "size (10**12, 10**12), contiguous strides, 12-element storage",
           tensor("0", 12, (10**12, 10**12)))
    with_w("size-1e12x1e12-expand", "size (10**12, 10**12), stride (0, 0): numel 10**24 overflows",
           tensor("0", 12, (10**12, 10**12), (0, 0)))
    with_w("size-1e9x1e9-expand", "size (10**9, 10**9), stride (0, 0) over 12 elements (valid for torch, 10**18 elements)",
           tensor("0", 12, (10**9, 10**9), (0, 0)), ANY)
    with_w("size-2^62-expand-f32", "size (2**62,), stride (0,): bytes = 2**64 overflows u64",
           tensor("0", 12, (2**62,), (0,)), ANY)
    with_w("size-2^60-expand-c128", "ComplexDouble size (2**60,) stride (0,): bytes = 2**64",
           tensor("0", 3, (2**60,), (0,), stype="ComplexDoubleStorage"), ANY)
    with_w("size-2^32x2^32-expand", "size (2**32+1, 2**32), stride (0, 0): numel wraps 2**64",
           tensor("0", 12, (2**32 + 1, 2**32), (0, 0)))
    with_w("stride-negative", "stride (4, -1)", tensor("0", 12, (3, 4), (4, -1)))
    with_w("stride-int64-min", "stride (-2**63, 1)", tensor("0", 12, (3, 4), (-2**63, 1)))
    with_w("stride-2^62", "size (3,) stride (2**62,)", tensor("0", 12, (3,), (2**62,)))
    with_w("stride-2^63", "size (2,) stride (2**63,) (not an int64)", tensor("0", 12, (2,), (2**63,)))
    with_w("stride-wrap", "size (2, 2) stride (2**63, 2**63) (sum wraps to 0)",
           tensor("0", 12, (2, 2), (2**63, 2**63)))
    with_w("stride-wrap2", "size (5,) stride (2**62) (4 x 2**62 = 2**64 wraps to 0)",
           tensor("0", 12, (5,), (2**62,)))
    with_w("offset-past-end", "offset 12 into a 12-element storage, size (3,4)", tensor("0", 12, (3, 4), offset=12))
    with_w("offset-past-end-0dim", "offset 12 into 12 elements, 0-dim", tensor("0", 12, (), offset=12))
    with_w("offset-past-end-empty", "offset 13 into 12 elements, size (0,)", tensor("0", 12, (0,), offset=13), ANY)
    with_w("offset-negative", "offset -1", tensor("0", 12, (3, 4), offset=-1))
    with_w("offset-2^63-1", "offset 2**63-1, size (1,)", tensor("0", 12, (1,), offset=2**63 - 1))
    with_w("offset-2^64-1", "offset 2**64-1, size (2,)", tensor("0", 12, (2,), offset=2**64 - 1))
    with_w("offset-one-too-far", "offset 1, size (3,4): last element one past the end",
           tensor("0", 12, (3, 4), offset=1))
    with_w("size-negative", "size (-1, 4)", tensor("0", 12, (-1, 4)))
    with_w("size-65-dims", "65 dimensions of 1", tensor("0", 12, (1,) * 65), ANY)
    with_w("size-1000-dims", "1000 dimensions of 1", tensor("0", 12, (1,) * 1000), ANY)
    with_w("size-stride-mismatch", "size (3,4) stride (1,)", tensor("0", 12, (3, 4), (1,)))
    with_w("size-int", "size 12 (not a tuple)", tensor("0", 12, (3, 4), args=(
        storage_pid("0", 12), 0, 12, (1,), False, OD([]))))
    with_w("size-none", "size None", tensor("0", 12, (3, 4), args=(storage_pid("0", 12), 0, None, None, False, OD([]))))
    with_w("size-bigint", "size (2**64,)", tensor("0", 12, (2**64,), (1,)))
    with_w("size-str", "size ('3', '4')", tensor("0", 12, (3, 4), args=(
        storage_pid("0", 12), 0, ("3", "4"), (4, 1), False, OD([]))))
    with_w("size-list", "size [3, 4] (a list)", tensor("0", 12, (3, 4), args=(
        storage_pid("0", 12), 0, [3, 4], [4, 1], False, OD([]))), ANY)
    with_w("args-0", "_rebuild_tensor_v2()", tensor("0", 12, (3, 4), args=()))
    with_w("args-3", "_rebuild_tensor_v2 with 3 arguments", tensor("0", 12, (3, 4), args=(storage_pid("0", 12), 0, (12,))))
    with_w("args-20", "_rebuild_tensor_v2 with 20 arguments",
           tensor("0", 12, (3, 4), args=(storage_pid("0", 12), 0, (3, 4), (4, 1)) + (None,) * 16))
    with_w("args-list", "REDUCE with a list of arguments", Red(G("torch._utils", "_rebuild_tensor_v2"), Raw(
        b"]" + b"(" + _asm(storage_pid("0", 12)) + b"K\x00" + _asm((3, 4)) + _asm((4, 1)) + b"\x89" + b"e")))
    with_w("args-storage-int", "first argument 5, not a storage", tensor("0", 12, (3, 4), args=(5, 0, (3, 4), (4, 1), False, OD([]))))
    with_w("args-storage-none", "first argument None", tensor("0", 12, (3, 4), args=(None, 0, (3, 4), (4, 1), False, OD([]))))
    with_w("v1-args", "_rebuild_tensor with 4 arguments (valid)",
           tensor("0", 12, (3, 4), fn="_rebuild_tensor", args=(storage_pid("0", 12), 0, (3, 4), (4, 1))), OK)
    with_w("v3-bad-dtype", "_rebuild_tensor_v3 with dtype torch.nope",
           tensor("0", 12, (3, 4), fn="_rebuild_tensor_v3", args=(
               storage_pid("0", 48, "UntypedStorage", module="torch.storage"), 0, (3, 4), (4, 1), False, OD([]),
               G("torch", "nope"))))
    with_w("v3-dtype-newline", "_rebuild_tensor_v3 with dtype torch.'float\\n32' (STACK_GLOBAL)",
           tensor("0", 12, (3, 4), fn="_rebuild_tensor_v3", args=(
               storage_pid("0", 48, "UntypedStorage", module="torch.storage"), 0, (3, 4), (4, 1), False, OD([]),
               Raw(_asm("torch") + _asm("float\n32") + b"\x93"))))
    with_w("v3-dtype-int", "_rebuild_tensor_v3 with dtype 7",
           tensor("0", 12, (3, 4), fn="_rebuild_tensor_v3", args=(
               storage_pid("0", 48, "UntypedStorage", module="torch.storage"), 0, (3, 4), (4, 1), False, OD([]), 7)))
    with_w("v3-f64-over-48-bytes", "_rebuild_tensor_v3 float64 (3,4) over a 48-byte untyped storage",
           tensor("0", 12, (3, 4), fn="_rebuild_tensor_v3", args=(
               storage_pid("0", 48, "UntypedStorage", module="torch.storage"), 0, (3, 4), (4, 1), False, OD([]),
               G("torch", "float64"))))
    with_w("v3-f8", "_rebuild_tensor_v3 float8_e4m3fn (3,4) over 12 untyped bytes (valid)",
           tensor("0", 12, (3, 4), fn="_rebuild_tensor_v3", args=(
               storage_pid("0", 12, "UntypedStorage", module="torch.storage"), 0, (3, 4), (4, 1), False, OD([]),
               G("torch", "float8_e4m3fn"))), ANY, storages={"0": bytes(range(12)), "1": f32(3)})
    with_w("qtensor-bad-qparams", "_rebuild_qtensor with quantizer params None",
           tensor("0", 12, (3, 4), fn="_rebuild_qtensor", args=(
               storage_pid("0", 12, "QInt8Storage"), 0, (3, 4), (4, 1), None, False, OD([]))), ANY,
           storages={"0": bytes(12), "1": f32(3)})
    with_w("qtensor-per-channel-bad", "_rebuild_qtensor per_channel with scales None and axis 99",
           tensor("0", 12, (3, 4), fn="_rebuild_qtensor", args=(
               storage_pid("0", 12, "QInt8Storage"), 0, (3, 4), (4, 1),
               (G("torch", "per_channel_affine"), None, None, 99), False, OD([]))), ANY,
           storages={"0": bytes(12), "1": f32(3)})
    with_w("qtensor-per-channel-short", "_rebuild_qtensor per_channel with 1 scale for 3 channels, axis 0",
           tensor("0", 12, (3, 4), fn="_rebuild_qtensor", args=(
               storage_pid("0", 12, "QInt8Storage"), 0, (3, 4), (4, 1),
               (G("torch", "per_channel_affine"), tensor("2", 1, (1,), stype="DoubleStorage"),
                tensor("3", 1, (1,), stype="LongStorage"), 0), False, OD([]))), ANY,
           storages={"0": bytes(12), "1": f32(3), "2": struct.pack("<d", 0.5), "3": struct.pack("<q", 0)})
    with_w("qtensor-axis-negative", "_rebuild_qtensor per_channel axis -5",
           tensor("0", 12, (3, 4), fn="_rebuild_qtensor", args=(
               storage_pid("0", 12, "QInt8Storage"), 0, (3, 4), (4, 1),
               (G("torch", "per_channel_affine"), tensor("2", 3, (3,), stype="DoubleStorage"),
                tensor("3", 3, (3,), stype="LongStorage"), -5), False, OD([]))), ANY,
           storages={"0": bytes(12), "1": f32(3), "2": struct.pack("<3d", 1, 1, 1), "3": bytes(24)})
    with_w("qtensor-per-channel-huge-axis", "_rebuild_qtensor per_channel, size (10**12, 1) stride (0, 1) "
           "over 12 bytes (an expand), 3 scales, axis 0",
           tensor("0", 12, (3, 4), fn="_rebuild_qtensor", args=(
               storage_pid("0", 12, "QInt8Storage"), 0, (10**12, 1), (0, 1),
               (G("torch", "per_channel_affine"), tensor("2", 3, (3,), stype="DoubleStorage"),
                tensor("3", 3, (3,), stype="LongStorage"), 0), False, OD([]))), ANY,
           storages={"0": bytes(12), "1": f32(3), "2": struct.pack("<3d", 1, 1, 1), "3": bytes(24)})
    with_w("qtensor-quint4x2", "_rebuild_qtensor per_tensor quint4x2 (3,4) over 6 bytes (valid)",
           tensor("0", 6, (3, 4), fn="_rebuild_qtensor", args=(
               storage_pid("0", 6, "QUInt4x2Storage"), 0, (3, 4), (4, 1),
               (G("torch", "per_tensor_affine"), 0.5, 1), False, OD([]))), ANY,
           storages={"0": bytes(range(6)), "1": f32(3)})
    with_w("qtensor-quint4x2-past-end", "_rebuild_qtensor quint4x2 (13,) over 6 bytes (12 values)",
           tensor("0", 6, (13,), fn="_rebuild_qtensor", args=(
               storage_pid("0", 6, "QUInt4x2Storage"), 0, (13,), (1,),
               (G("torch", "per_tensor_affine"), 0.5, 1), False, OD([]))),
           storages={"0": bytes(range(6)), "1": f32(3)})
    with_w("qtensor-scales-not-float", "_rebuild_qtensor per_channel scales are an int8 tensor",
           tensor("0", 12, (3, 4), fn="_rebuild_qtensor", args=(
               storage_pid("0", 12, "QInt8Storage"), 0, (3, 4), (4, 1),
               (G("torch", "per_channel_affine"), tensor("2", 3, (3,), stype="CharStorage"),
                tensor("3", 3, (3,), stype="CharStorage"), 0), False, OD([]))), ANY,
           storages={"0": bytes(12), "1": f32(3), "2": bytes(3), "3": bytes(3)})
    with_w("param-of-int", "_rebuild_parameter(5, True, OrderedDict())",
           Red(G("torch._utils", "_rebuild_parameter"), (5, True, OD([]))), ANY)
    with_w("param-no-args", "_rebuild_parameter()", Red(G("torch._utils", "_rebuild_parameter"), ()), ANY)
    nested = tensor("0", 12, (3, 4))
    for _ in range(300):
        nested = Red(G("torch._utils", "_rebuild_parameter"), (nested, True, OD([])))
    with_w("param-300-deep", "a Parameter of a Parameter ... 300 deep", nested, ANY)
    with_w("from-type-os-system", "_rebuild_from_type_v2(os.system, ...)",
           Red(G("torch._tensor", "_rebuild_from_type_v2"), (G("os", "system"), G("torch", "Tensor"), ("ls",), {})), ANY)
    with_w("from-type-bad-args", "_rebuild_from_type_v2 with the tensor args a list",
           Red(G("torch._tensor", "_rebuild_from_type_v2"), (G("torch._utils", "_rebuild_tensor_v2"),
                                                             G("torch", "Tensor"), [1, 2], None)), ANY)
    with_w("from-type-bad-inner", "_rebuild_from_type_v2 around a view past its storage",
           Red(G("torch._tensor", "_rebuild_from_type_v2"), (G("torch._utils", "_rebuild_tensor_v2"),
                                                             G("torch", "Tensor"),
                                                             (storage_pid("0", 12), 5, (3, 4), (4, 1), False, OD([])),
                                                             {})))
    top, st = template(b=tensor("0", 12, (3,), stype="LongStorage"))
    add("same-key-two-types", "two pids for key '0': FloatStorage then LongStorage", top, st, ANY)
    top, st = template(b=tensor("0", 24, (3,), stype="FloatStorage"))
    add("same-key-two-numels", "two pids for key '0': numel 12, then 24", top, st, ANY)
    top, st = template(w=tensor("0", 12, (3, 4), (4, 1), stype="HalfStorage"), storages={"0": f32(6), "1": f32(3)})
    add("half-control", "HalfStorage numel 12 over 24 bytes (valid)", top, st, OK)
    top, st = template(extra={"opt": {"state": {0: {"exp_avg": tensor("0", 12, (12,), (1,), offset=0)}}}})
    add("control-shared-view", "optimizer state views the same storage (valid)", top, st, OK)

    # object graphs
    cyc = Raw(b"]r" + struct.pack("<I", 11) + b"j" + struct.pack("<I", 11) + b"a")
    top, st = template(extra={"cycle": cyc})
    add("cycle-list", "a list appended to itself (memo), beside the state dict", top, st, ANY)
    dcyc = Raw(b"}r" + struct.pack("<I", 12) + _asm("self") + b"j" + struct.pack("<I", 12) + b"s")
    top, st = template(extra={"cycle": dcyc})
    add("cycle-dict", "a dict that holds itself under 'self'", top, st, ANY)
    ocyc = Raw(b"cargparse\nNamespace\n)\x81r" + struct.pack("<I", 13) + b"}" + _asm("me") + b"j" +
               struct.pack("<I", 13) + b"sb")
    top, st = template(extra={"hyper_parameters": ocyc})
    add("cycle-object", "an argparse.Namespace whose __dict__ holds itself", top, st, ANY)
    # the state dict containing itself: OrderedDict memoised, then set as its own value
    sdcyc = Raw(b"ccollections\nOrderedDict\n)Rr" + struct.pack("<I", 14) + b"(" +
                _asm("layer.w") + _asm(tensor("0", 12, (3, 4))) + _asm("loop") + b"j" +
                struct.pack("<I", 14) + b"u")
    add("cycle-state-dict", "the state dict holds itself under 'loop'",
        {"state_dict": sdcyc}, {"0": f32(12)}, ANY)
    tcyc = Raw(b"]r" + struct.pack("<I", 15) + b"j" + struct.pack("<I", 15) + b"\x85" +
               b"r" + struct.pack("<I", 16) + b"a0" + b"}" + b"j" + struct.pack("<I", 16) + b"K\x01s")
    top, st = template(extra={"cyclic_key": tcyc})
    add("cycle-dict-key", "a dict keyed by a tuple that contains a list that contains the tuple", top, st, ANY)
    top, st = template(extra={"deep": Raw(_deep_list_memo(100000))})
    add("deep-list-memo", "a list nested 100000 deep (built through the memo, small stack)", top, st, ANY)
    top, st = template(extra={"deep": Raw(b"]" * 100000 + b"a" * 99999)})
    add("deep-list-stack", "a list nested 100000 deep (100000 EMPTY_LISTs then APPENDs)", top, st, ANY)
    top, st = template(extra={"deep": Raw(b"K\x01" + b"\x85" * 100000)})
    add("deep-tuple", "a tuple nested 100000 deep (TUPLE1 x 100000)", top, st, ANY)
    deepd = Raw(b"}" + b"K\x00}" * 100000 + b"s" * 100000)
    top, st = template(extra={"deep": deepd})
    add("deep-dict", "a dict nested 100000 deep", top, st, ANY)
    deep_sd = Raw(_deep_state_dict(300))
    add("deep-state-dict", "a tensor 300 dicts deep inside state_dict",
        {"state_dict": deep_sd}, {"0": f32(12)}, ANY)
    add("deep-state-dict-newline-keys", "a tensor 300 dicts deep, every key 'm\\nN' (the path in a message?)",
        {"state_dict": Raw(_deep_state_dict(300, "m\n"))}, {"0": f32(12)}, ANY)
    key = Raw(b"K\x01" + b"\x85" * 200)
    top, st = template(extra={"deepkey": Raw(b"}" + key.b + b"K\x02s")})
    add("deep-tuple-key", "a dict keyed by a tuple nested 200 deep", top, st, ANY)
    add("marks-5000-nested", "5000 MARKs closed by 5000 TUPLEs around the value",
        *template(extra={"deep": Raw(b"(" * 5000 + b"K\x01" + b"t" * 5000)}), ANY)
    add("empty-list-10MB", "a pickle of 10 MB of EMPTY_LIST opcodes",
        pkl=b"\x80\x02" + b"]" * 10_000_000 + b".", st={}, expect=ANY, big_ok=True)
    add("empty-list-10MB-state", "10 MB of EMPTY_LIST on the stack below a valid checkpoint",
        pkl=b"\x80\x02" + b"]" * 10_000_000 + assemble(template()[0])[2:],
        st=template()[1], expect=ANY, big_ok=True)
    bomb = b"\x80\x02X" + struct.pack("<I", 64 << 20) + b"a" * (64 << 20) + b"."
    c.add(p + "deflate-bomb-pkl-64MiB", "data.pkl: a 64 MiB str, deflated (~64 KiB), honest sizes",
          build_zip([Rec("archive/data.pkl", bomb, method=8), Rec("archive/version", b"3\n")]),
          expect=ANY, big_ok=True)
    del bomb
    # Deflated records whose central directory claims ~4 GiB while the stream
    # holds 4.5 MB: the 1032:1 DEFLATE bound does not exclude the claim, so
    # only allocating as the data actually inflates keeps memory bounded.
    noise = random.Random(99).randbytes(4_500_000)
    top, st = template()
    c.add(p + "deflate-lie-4GiB-pkl", "data.pkl = template + 4.5 MB of noise after STOP, deflated; "
          "central usize 0xfffffff0 (true: 4.5 MB)",
          build_zip([Rec("archive/data.pkl", assemble(top) + noise, method=8, cd_usize=0xFFFFFFF0)] +
                    [Rec(f"archive/data/{k}", v) for k, v in st.items()] + [Rec("archive/version", b"3\n")]),
          expect=ERR)
    top, st = template(w=tensor("0", 2**30, (3, 4)))
    c.add(p + "deflate-lie-4GiB-storage", "data/0 declared as 2**30 floats (4 GiB); the record is 4.5 MB of noise, "
          "deflated, central usize 2**32 (zip64 extra): ls need not read it, show must fail without a 4 GiB buffer",
          build_zip([Rec("archive/data.pkl", assemble(top)),
                     Rec("archive/data/0", noise, method=8, cd_usize=0xFFFFFFFF,
                         cd_extra=struct.pack("<HHQ", 1, 8, 2**32)),
                     Rec("archive/data/1", st["1"]), Rec("archive/version", b"3\n")]),
          expect=ANY, show_expect=ERR)
    del noise
    add("int-text-1M-digits", "protocol-0 INT with 1,000,000 decimal digits as a value",
        *template(extra={"big": Raw(b"I" + b"7" * 1_000_000 + b"\n")}), ANY)
    add("long-text-1M-digits", "protocol-0 LONG with 1,000,000 decimal digits as a value",
        *template(extra={"big": Raw(b"L" + b"7" * 1_000_000 + b"L\n")}), ANY)
    add("int-text-100k-digits", "protocol-0 INT with 100,000 decimal digits as a value",
        *template(extra={"big": Raw(b"I" + b"7" * 100_000 + b"\n")}), ANY)
    add("long1-255", "LONG1 with 255 bytes as a value",
        *template(extra={"big": Raw(b"\x8a\xff" + b"\x7f" * 255)}), OK)
    add("float-text", "protocol-0 FLOATs: nan, inf, 1e99999, junk",
        *template(extra={"f": Raw(b"(Fnan\nFinf\nF1e99999\nF-0.0\nl")}), ANY)
    add("float-text-junk", "protocol-0 FLOAT 'x1'", *template(extra={"f": Raw(b"Fx1\n")}), ANY)
    add("string-escapes", "protocol-0 STRINGs with odd escapes",
        *template(extra={"s": Raw(b"(S'\\\\'\nS'\\x'\nS'\\'\nS'\\777'\nS'\\x4'\nl")}), ANY)
    add("string-unquoted", "protocol-0 STRING without quotes", *template(extra={"s": Raw(b"Sabc\n")}), ANY)
    add("unicode-escapes", "protocol-0 UNICODE with \\U00110000 and a cut \\u12",
        *template(extra={"s": Raw(b"(V\\U00110000\nV\\u12\nl")}), ANY)
    add("stack-global-ints", "STACK_GLOBAL of two ints",
        *template(extra={"g": Raw(b"K\x01K\x02\x93")}), ANY)
    add("build-on-int", "BUILD on an int", *template(extra={"b": Raw(b"K\x01}b")}), ANY)
    add("setitems-odd", "SETITEMS with an odd count", *template(extra={"d": Raw(b"}(K\x01u")}), ANY)
    add("setitem-on-list", "SETITEM on a list", *template(extra={"d": Raw(b"]K\x01K\x02s")}), ANY)
    add("append-on-dict", "APPEND on a dict", *template(extra={"d": Raw(b"}K\x01a")}), ANY)
    add("dict-key-list", "a dict keyed by a list (unhashable in Python)",
        *template(extra={"d": Raw(b"}]K\x01s")}), ANY)
    add("dict-key-invalid-utf8", "a state-dict key whose BINUNICODE is invalid UTF-8",
        *template(extra={"state_dict": OD([(b"bad\xff\xfekey", tensor("0", 12, (3, 4)))])}), ANY)
    add("dict-key-controls", "a state-dict key with a newline, quotes, backslash and ESC (valid)",
        *template(extra={"state_dict": OD([("a\nb\"c\\d\x1b[31m", tensor("0", 12, (3, 4)))])}), OK)
    add("dict-key-dash", "a state-dict key starting with '-' (valid)",
        *template(extra={"state_dict": OD([("--json", tensor("0", 12, (3, 4)))])}), OK)
    add("dict-key-empty", "a state-dict key '' (valid)",
        *template(extra={"state_dict": OD([("", tensor("0", 12, (3, 4)))])}), OK)
    add("dict-key-nul", "a state-dict key 'a\\x00b'",
        *template(extra={"state_dict": OD([("a\0b", tensor("0", 12, (3, 4)))])}), ANY)
    add("dict-key-dots", "keys 'a.b' and 'a' -> {'b'} colliding as paths",
        *template(extra={"state_dict": OD([("a.b", tensor("0", 12, (3, 4))),
                                           ("a", {"b": tensor("1", 3, (3,))})])}), ANY)
    add("od-items-not-pairs", "OrderedDict([(1, 2, 3)])",
        *template(extra={"d": Red(G("collections", "OrderedDict"), ([(1, 2, 3)],))}), ANY)
    add("codecs-encode-bad", "_codecs.encode('\\u20ac', 'latin1')",
        *template(extra={"d": Red(G("_codecs", "encode"), ("\u20ac", "latin1"))}), ANY)
    add("newobj-ex", "NEWOBJ_EX with a non-dict kwargs", *template(extra={"d": Raw(b"cargparse\nNamespace\n)K\x01\x92")}), ANY)
    add("inst-obj", "protocol-0 INST and OBJ", *template(extra={"d": Raw(b"(iargparse\nNamespace\n(cargparse\nNamespace\no")}), ANY)
    add("obj-empty", "OBJ with an empty MARK", *template(extra={"d": Raw(b"(o")}), ANY)
    add("pop-mark-underflow", "POP_MARK without a MARK", *template(extra={"d": Raw(b"1")}), ANY)
    add("ext1", "EXT1 (copyreg extension)", *template(extra={"d": Raw(b"\x82\x01")}), ANY)
    add("next-buffer", "NEXT_BUFFER", *template(extra={"d": Raw(b"\x97")}), ANY)
    add("persid-text", "protocol-0 PERSID 'storage'", *template(extra={"d": Raw(b"Pstorage\n")}), ANY)
    add("top-none", "data.pkl is None", pkl=assemble(None), st={}, expect=ANY)
    add("top-int", "data.pkl is 7", pkl=assemble(7), st={}, expect=ANY)
    add("top-tensor", "data.pkl is a bare tensor (valid)", pkl=assemble(tensor("0", 12, (3, 4))),
        st={"0": f32(12)}, expect=OK)
    add("top-list", "data.pkl is a list of tensors (valid)",
        pkl=assemble([tensor("0", 12, (3, 4)), tensor("0", 12, (4, 3), (1, 4))]), st={"0": f32(12)}, expect=OK)
    add("many-tensors", "20000 tensors over one storage (valid)",
        pkl=assemble(OD([(f"t{i}", tensor("0", 12, (3, 4))) for i in range(20000)])),
        st={"0": f32(12)}, expect=OK)
    add("many-storages-missing", "5000 distinct storage keys, records missing",
        pkl=assemble(OD([(f"t{i}", tensor(str(i), 1, (1,))) for i in range(5000)])), st={"0": f32(1)})


def _asm(v):
    out = bytearray()
    _emit(v, out)
    return bytes(out)


def _deep_list_memo(n):
    """L0 = [L1], L1 = [L2], ...: memo-driven so the stack stays small."""
    base = 800000
    out = bytearray(b"]r" + struct.pack("<I", base))
    for i in range(1, n):
        out += b"]r" + struct.pack("<I", base + i)      # push L_i, memo it
        out += b"a"                                     # L_{i-1}.append(L_i)
        out += b"0"                                     # drop L_{i-1}
        out += b"j" + struct.pack("<I", base + i)      # push L_i
    out += b"0j" + struct.pack("<I", base)            # leave L0
    return bytes(out)


def _deep_state_dict(n, prefix="m"):
    out = bytearray()
    for i in range(n):
        out += b"}" + _asm(f"{prefix}{i}")
    out += _asm(tensor("0", 12, (3, 4)))
    out += b"s" * n
    return bytes(out)


def not_checkpoint_cases(c, workdir, legacy):
    p = "notckpt/"
    add = lambda name, recipe, data=None, expect=ERR, **kw: c.add(p + name, recipe, data, expect=expect, **kw)
    add("legacy", "torch.save(..., _use_new_zipfile_serialization=False)", legacy, ANY)
    add("legacy-truncated", "the legacy file cut in half", legacy[:len(legacy) // 2])
    add("empty-file", "a 0-byte file", b"")
    add("directory", "a directory", kind="dir")
    add("dev-null", "/dev/null", kind="path", path="/dev/null")
    add("fifo", "a FIFO nobody writes to (must not block)", kind="fifo")
    add("missing", "a path that does not exist", kind="path", path=str(workdir / "does-not-exist.pt"))
    add("text", "a text file", b"hello, this is not a checkpoint\n" * 10)
    add("one-byte", "one byte 'P'", b"P")
    add("pk-only", "just 'PK\\x03\\x04'", b"PK\x03\x04")
    add("pk-junk", "'PK\\x03\\x04' + 4 KiB of random bytes", b"PK\x03\x04" + random.Random(7).randbytes(4096))
    add("eocd-only", "an empty zip (EOCD only)", b"PK\x05\x06" + bytes(18))
    add("random-64k", "64 KiB of random bytes", random.Random(8).randbytes(65536))
    add("bare-pickle", "pickle.dumps({'a': 1}, protocol=2)", pickle.dumps({"a": 1}, protocol=2))
    add("bare-pickle-p5", "pickle.dumps([1, 2], protocol=5)", pickle.dumps([1, 2], protocol=5))
    add("pytorch1", "'PYTORCH1' + junk", b"PYTORCH1" + bytes(100))
    add("tar", "a tar archive", _tar_bytes())
    add("gzip", "a gzip stream", _gzip_bytes())
    st_hdr = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    add("safetensors", "a safetensors file", struct.pack("<Q", len(st_hdr)) + st_hdr + bytes(8), ANY)
    add("safetensors-huge-header", "a safetensors header length 2**63",
        struct.pack("<Q", 2**63) + st_hdr + bytes(8))
    add("safetensors-header-past-end", "a safetensors header length past the end",
        struct.pack("<Q", len(st_hdr) + 100) + st_hdr)
    add("safetensors-bad-json", "a safetensors-like header that is not JSON",
        struct.pack("<Q", 9) + b"{not json" + bytes(8), ANY)
    add("zip-unrelated-root", "a zip with readme.txt and img/a.png", _plain_zip(
        [("readme.txt", b"hi"), ("img/a.png", b"\x89PNG")]))
    add("zip-unrelated-folder", "a zip with stuff/readme.txt and stuff/x.bin", _plain_zip(
        [("stuff/readme.txt", b"hi"), ("stuff/x.bin", bytes(100))]))
    add("zip-torchscript-like", "a zip with F/constants.pkl and F/version", _plain_zip(
        [("m/constants.pkl", pickle.dumps((), 2)), ("m/version", b"3\n")]))
    add("weird name: ü", "a text file with a space, colon and non-ASCII in its name", b"no\n",
        fname="weird name: \u00fc.pt")
    add("relative-path", "a text file passed as a relative path with '..'", b"no\n",
        fname="rel.pt", file="./sub/../rel.pt", cwd=True)


def _tar_bytes():
    import tarfile
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        info = tarfile.TarInfo("pickle")
        info.size = 3
        t.addfile(info, io.BytesIO(b"abc"))
    return out.getvalue()


def _gzip_bytes():
    import gzip
    return gzip.compress(b"not a checkpoint" * 10, mtime=0)


def _plain_zip(items):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, d in items:
            z.writestr(zipfile.ZipInfo(n, (1980, 1, 1, 0, 0, 0)), d)
    return out.getvalue()


def bulk_cases(c, base, data, rng):
    z = parse_zip(data)
    pkl = z.find("data.pkl")
    n = len(data)
    ps, pe = pkl.data_off, pkl.data_off + pkl.csize

    offsets = set(range(max(0, n - 300), n))
    offsets |= {i * n // 60 for i in range(60)}
    offsets |= {ps + i * (pe - ps) // 40 for i in range(40)}
    offsets |= {ps, ps + 1, pe - 1}
    for off in sorted(o for o in offsets if 0 <= o < n):
        c.add(f"{base}/truncate@{off}", f"{base} truncated to {off} of {n} bytes",
              data[:off], expect=ERR, group=f"{base}/truncate ({'tail' if off >= n - 300 else 'body'})")

    cd_start = z.cd_off
    flips = set()
    while len(flips) < 200:
        r = rng.random()
        if r < 0.35:
            pos = rng.randrange(ps, pe)
        elif r < 0.65:
            pos = rng.randrange(cd_start, n)
        else:
            pos = rng.randrange(n)
        if rng.random() < 0.5:
            val = data[pos] ^ 0xFF
        else:
            val = rng.randrange(256)
            if val == data[pos]:
                val ^= 0x55
        flips.add((pos, val))
    for pos, val in sorted(flips):
        where = ("data.pkl" if ps <= pos < pe else "central dir/end" if pos >= cd_start else "body")
        b = bytearray(data)
        b[pos] = val
        c.add(f"{base}/flip@{pos}={val:02x}", f"{base}: byte {pos} ({where}) {data[pos]:#04x} -> {val:#04x}",
              bytes(b), expect=ANY, group=f"{base}/flip")


# --------------------------------------------------------------------------
# Base checkpoints (real torch)

BASE_NAMES = ("nested.pt", "lightning.ckpt", "tied.pt", "proto4.pt")


def make_bases(torch, outdir):
    from torch import nn
    torch.manual_seed(0)
    bases = {}

    def save(name, obj, **kw):
        path = outdir / name
        torch.save(obj, str(path), **kw)
        bases[name] = path.read_bytes()

    nested = nn.Sequential(
        nn.Linear(4, 6), nn.BatchNorm1d(6),
        nn.Sequential(nn.Linear(6, 3), nn.Sequential(nn.BatchNorm1d(3), nn.Linear(3, 2))))
    nested.train()
    nested(torch.randn(5, 4))          # running stats and num_batches_tracked
    save("nested.pt", nested.state_dict())

    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(8, 3)).sum().backward()
        opt.step()
    sd = collections.OrderedDict(("model." + k, v) for k, v in model.state_dict().items())
    sd._metadata = collections.OrderedDict(("model." + k if k else "model", v)
                                           for k, v in model.state_dict()._metadata.items())
    save("lightning.ckpt", {
        "epoch": 2, "global_step": 40, "pytorch-lightning_version": "2.1.0",
        "state_dict": sd,
        "loops": {"fit_loop": {"epoch_progress": {"total": {"ready": 3, "completed": 2}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}":
                      {"best_model_score": torch.tensor(0.25), "best_model_path": "/tmp/x.ckpt"}},
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [{"step_size": 10, "gamma": 0.5, "last_epoch": 2}],
        "hparams_name": "hparams",
        "hyper_parameters": argparse.Namespace(lr=1e-3, layers=[3, 4, 2], name="tiny"),
    })

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.head = nn.Linear(4, 10)
            self.head.weight = self.emb.weight
    tied = Tied()
    tsd = tied.state_dict()
    a = torch.arange(12.0).reshape(3, 4)
    tsd["view_t"] = a.t()
    tsd["view_slice"] = a[1:, ::2]
    tsd["a"] = a
    tsd["ints"] = torch.arange(6, dtype=torch.int64)[::2]
    save("tied.pt", tsd)

    save("proto4.pt", nested.state_dict(), pickle_protocol=4)
    save("legacy.pt", nested.state_dict(), _use_new_zipfile_serialization=False)
    return bases


# --------------------------------------------------------------------------
# Running

@dataclass
class Run:
    label: str
    argv: list
    rc: int = None
    out: bytes = b""
    err: bytes = b""
    secs: float = 0.0
    timed_out: bool = False
    problems: list = field(default_factory=list)


def limits():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if not SANITIZED:
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def run_bin(argv, cwd=None):
    r = Run("", argv)
    t0 = time.monotonic()
    try:
        p = subprocess.run([BIN] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT, preexec_fn=limits, cwd=cwd)
        r.rc, r.out, r.err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        r.timed_out = True
        r.out, r.err = e.stdout or b"", e.stderr or b""
    except OSError as e:      # the binary vanished (a rebuild in progress?)
        r.rc, r.err = 127, f"cannot run {BIN}: {e}\n".encode()
    r.secs = time.monotonic() - t0
    return r


def signame(rc):
    try:
        return signal.Signals(-rc).name
    except ValueError:
        return f"signal {-rc}"


def check_common(case, r, expect, input_size):
    p = r.problems
    if r.timed_out:
        p.append(f"hang: still running after {TIMEOUT} s (killed)")
    elif r.rc < 0:
        p.append(f"crash: killed by {signame(r.rc)}")
    elif r.rc not in (0, 2):
        p.append(f"exit status {r.rc} (only 0 or 2 are allowed)")
    elif r.rc not in expect:
        p.append(f"exit status {r.rc}, expected {' or '.join(map(str, sorted(expect)))}")
    for w in SANITIZER_WORDS:
        if w.encode() in r.err:
            p.append(f"sanitizer report on stderr ({w})")
    if r.rc == 2 and not r.timed_out:
        prefix = b"ckpt-surgeon: " + os.fsencode(case.file) + b": "
        body = r.err[:-1] if r.err.endswith(b"\n") else None
        if body is None or b"\n" in body or b"\r" in body:
            nl = r.err.endswith(b"\n")
            n = r.err.count(b"\n") + (0 if nl else 1)
            p.append(f"stderr is not exactly one line ({n} lines, "
                     f"{'with' if nl else 'no'} final newline)")
        elif not body.startswith(prefix):
            p.append(f"stderr does not start with {prefix!r}")
        elif not body[len(prefix):].strip():
            p.append("empty error message")
        if (b"out of memory" in r.err or b"Cannot allocate memory" in r.err) and \
                not case.big_ok and input_size < SMALL_INPUT:
            p.append(f"'out of memory' on a {input_size}-byte input: an unbounded allocation "
                     f"(caught by the {'sanitizer' if SANITIZED else '1 GiB RLIMIT_AS'})")


def parse_json(r):
    try:
        return json.loads(r.out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        r.problems.append(f"stdout is not valid UTF-8 JSON: {type(e).__name__}: {str(e)[:200]}")
        return None


def check_tensor_bytes(r, tensors):
    for t in tensors:
        try:
            numel = math.prod(t["shape"])
            size = DTYPE_SIZE.get(t["dtype"])
            if size is not None and t["bytes"] != numel * size:
                r.problems.append(f"tensor {t['key']!r}: bytes {t['bytes']} != numel {numel} x {size} "
                                  f"({t['dtype']}, shape {t['shape']}): overflow?")
                return
        except (KeyError, TypeError) as e:
            r.problems.append(f"malformed tensor entry {str(t)[:200]}: {e}")
            return


def run_case(case):
    size = case.size
    runs = []
    cwd = case.cwd
    r = run_bin(["ls", "--all", "--json", case.file], cwd)
    r.label = "ls --all --json"
    check_common(case, r, case.expect, size)
    runs.append(r)
    if r.rc != 0 or r.timed_out:
        return runs
    doc = parse_json(r)
    key = None
    if isinstance(doc, dict):
        if doc.get("file") != case.file:
            r.problems.append(f"\"file\" is {doc.get('file')!r}, not {case.file!r}")
        tensors = doc.get("tensors")
        if not isinstance(tensors, list) or doc.get("count") != len(tensors):
            r.problems.append("\"count\" does not match the \"tensors\" list")
        else:
            check_tensor_bytes(r, tensors)
            if tensors:
                key = tensors[0].get("key")
    sub_expect = OK if case.expect == OK else ANY
    if case.show_expect and not (isinstance(key, str) and "\0" not in key):
        r.problems.append("harness: this case needs a first tensor to show, ls listed none")
    if isinstance(key, str) and "\0" not in key:
        s = run_bin(["show", "--json", "--", case.file, key], cwd)
        s.label = "show --json"
        check_common(case, s, case.show_expect or sub_expect, size)
        if s.rc == 0 and not s.timed_out:
            sd = parse_json(s)
            if isinstance(sd, dict):
                want = tensors[0]
                if sd.get("shape") != want.get("shape") or sd.get("dtype") != want.get("dtype"):
                    s.problems.append(f"show says {sd.get('dtype')} {sd.get('shape')}, ls said "
                                      f"{want.get('dtype')} {want.get('shape')}")
        runs.append(s)
    lay = run_bin(["layout", case.file], cwd)
    lay.label = "layout"
    check_common(case, lay, sub_expect, size)
    runs.append(lay)
    return runs


# --------------------------------------------------------------------------
# Main

def tap_escape(s):
    return s.replace("#", "\\#").replace("\n", "\\n")


def show_bytes(b, limit=1500):
    s = b.decode("utf-8", "backslashreplace")
    # no raw control characters (a crafted name may hold terminal escapes) in the log
    s = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", s)
    if len(s) > limit:
        s = s[:limit] + f"... [{len(b)} bytes]"
    return s


def describe(case, r):
    lines = [f"case: {case.name}", f"input: {case.recipe}",
             f"file: {case.file}" + (f" (cwd {case.cwd})" if case.cwd else ""),
             f"command: ckpt-surgeon {' '.join(map(repr_arg, r.argv))}",
             f"exit: {'timeout' if r.timed_out else r.rc} after {r.secs:.2f} s"]
    lines += [f"problem: {x}" for x in r.problems]
    if r.err:
        lines.append("stderr:")
        lines += ["  " + x for x in show_bytes(r.err).splitlines()[:25]]
    if r.problems and r.out and any("JSON" in x or "bytes" in x for x in r.problems):
        lines.append("stdout: " + show_bytes(r.out, 400).replace("\n", "\\n"))
    return lines


def repr_arg(a):
    return a if re.fullmatch(r"[\w./@=+:,-]+", a) else repr(a)


def bail(msg, extra=()):
    print(f"Bail out! {msg}")
    for x in extra:
        print(f"# {x}")
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", metavar="DIR", help="write the corpus into DIR and keep it")
    ap.add_argument("--only", metavar="SUBSTRING", help="run only cases whose name contains SUBSTRING")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("CKS_JOBS") or 0),
                    help="parallel runs (default 2 x CPUs)")
    ap.add_argument("--make-bases", metavar="DIR", help=argparse.SUPPRESS)
    ap.add_argument("--torch-load", metavar="LIST", help=argparse.SUPPRESS)
    args = ap.parse_args()
    t_start = time.monotonic()
    if args.make_bases:
        return helper_make_bases(Path(args.make_bases))
    if args.torch_load:
        return helper_torch_load(Path(args.torch_load))

    if args.keep:
        workdir = Path(args.keep).resolve()
        if workdir.exists() and any(workdir.iterdir()):
            if not (workdir / "MANIFEST.tsv").exists() and not (workdir / "corpus").is_dir():
                bail(f"--keep {workdir}: not empty and not an earlier corpus; refusing to delete it")
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        tmp = None
    else:
        tmp = tempfile.TemporaryDirectory(prefix="cks-corrupt-")
        workdir = Path(tmp.name)
    try:
        return run_all(args, workdir, t_start)
    finally:
        if tmp:
            # FIFOs and directories are plain entries: rmtree copes
            tmp.cleanup()


def import_torch():
    # tests/torch/ (the oracle tests) would be found as a namespace package
    # "torch" when the real one is missing: never look in this directory.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    import torch
    if not hasattr(torch, "save"):
        raise ImportError(f"'torch' at {list(getattr(torch, '__path__', []))} is not PyTorch")
    return torch


def helper_make_bases(outdir):
    """Child process: write the base checkpoints (exit 77: no torch)."""
    try:
        torch = import_torch()
    except Exception as exc:
        print(f"import torch failed: {type(exc).__name__}: {exc}")
        return 77
    import warnings
    warnings.filterwarnings("ignore")
    make_bases(torch, outdir)
    return 0


def helper_torch_load(listfile):
    """Child process: torch.load every file listed; print the failures as JSON lines."""
    torch = import_torch()
    import warnings
    warnings.filterwarnings("ignore")
    for path in listfile.read_text().splitlines():
        try:
            torch.load(path, map_location="cpu")
        except Exception as e:
            print(json.dumps({"path": path, "error": f"{type(e).__name__}: {str(e)[:300]}"}))
    return 0


def run_all(args, workdir, t_start):
    # torch lives in child processes: forking the runs from a process that
    # has torch loaded costs more than the runs themselves.
    basedir = workdir / "bases"
    basedir.mkdir()
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--make-bases", str(basedir)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode == 77:
        reason = p.stdout.strip()
        if os.environ.get("CKS_REQUIRE_TORCH") == "1":
            bail("torch is required", [reason, f"python: {sys.executable}"])
        bar = "*" * 72
        print(f"{bar}\n*** SKIP: test_corrupt.py needs torch ({reason}).\n"
              f"*** The bad-input corpus was NOT run.  Install python3-torch or run with\n"
              f"*** /usr/bin/python3; set CKS_REQUIRE_TORCH=1 to make this an error.\n{bar}",
              file=sys.stderr)
        print("1..0 # SKIP torch not available")
        return 0
    if p.returncode != 0:
        bail("could not write the base checkpoints with torch", (p.stdout + p.stderr).splitlines()[-30:])
    if not (os.path.isfile(BIN) and os.access(BIN, os.X_OK)):
        bail(f"binary not found or not executable: {BIN} (set CKS_BIN)")
    print(f"# binary: {BIN}{' (sanitized: no RLIMIT_AS)' if SANITIZED else f' (RLIMIT_AS {AS_LIMIT >> 20} MiB)'}")
    print(f"# seed: {SEED}; corpus: {workdir}")
    bases = {name: (basedir / name).read_bytes() for name in BASE_NAMES}
    demo = Path(os.environ.get("CKS_DEMO") or SRCDIR / "examples" / "demo.ckpt")
    if not demo.is_absolute():
        demo = SRCDIR / demo
    if demo.is_file():
        bases["demo.ckpt"] = demo.read_bytes()
    else:
        print(f"# note: no demo checkpoint at {demo}; running without it")

    cdir = workdir / "corpus"
    cdir.mkdir()
    c = Corpus(cdir, args.only)
    harness_problems = []
    for name, data in bases.items():
        folder = folder_of(data)
        c.add(f"{name}/control", f"{name} as torch.save wrote it", data, expect=OK)
        try:
            bulk_cases(c, name, data, random.Random(f"{SEED}/{name}"))
            zip_cases(c, name, data, folder, full=name == BASE_NAMES[0])
            pkl_patch_cases(c, name, data, folder)
        except Exception:
            harness_problems.append(f"generating cases for {name}:\n{traceback.format_exc()}")
    try:
        craft_cases(c)
    except Exception:
        harness_problems.append(f"generating crafted cases:\n{traceback.format_exc()}")
    not_checkpoint_cases(c, workdir, (basedir / "legacy.pt").read_bytes())

    cases = c.cases
    del bases, data
    if args.keep:
        (workdir / "MANIFEST.tsv").write_text("\n".join(c.manifest) + "\n")
    t_gen = time.monotonic() - t_start
    print(f"# {len(cases)} cases generated in {t_gen:.1f} s")

    # Cases that must load: torch must agree, or the expectation is wrong.
    must_load = {case.file: case for case in cases if case.expect == OK and case.kind == "file"}
    (workdir / "must-load.list").write_text("".join(f + "\n" for f in must_load))
    checker = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--torch-load",
                                str(workdir / "must-load.list")],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    jobs = args.jobs or 2 * (os.cpu_count() or 2)
    t_run = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(run_case, cases))
    t_run = time.monotonic() - t_run
    out, _ = checker.communicate()
    for line in out.splitlines():
        bad = json.loads(line)
        harness_problems.append(f"{must_load[bad['path']].name}: expected loadable, but torch.load says "
                                f"{bad['error']}")
    if checker.returncode:
        harness_problems.append(f"the torch.load checker exited {checker.returncode}")
    print(f"# {len(must_load) - len(out.splitlines())} of {len(must_load)} must-load inputs confirmed by torch.load")

    # Assemble TAP points: one per (case, command), bulk groups per (group, command).
    points = []     # (ok, description, diag lines)
    for msg in harness_problems:
        points.append((False, "harness: corpus generation", msg.splitlines()))
    groups = collections.OrderedDict()
    nruns = 0
    for case, runs in zip(cases, results):
        nruns += len(runs)
        for r in runs:
            if case.group:
                groups.setdefault((case.group, r.label), []).append((case, r))
            else:
                points.append((not r.problems, f"{case.name} {r.label}",
                               describe(case, r) if r.problems else []))
    for (g, label), items in groups.items():
        bad = [(cs, r) for cs, r in items if r.problems]
        diag = []
        for cs, r in bad[:8]:
            diag += describe(cs, r) + [""]
        if len(bad) > 8:
            diag.append(f"... and {len(bad) - 8} more failing files in this group:")
            diag += ["  " + cs.name + ": " + "; ".join(r.problems) for cs, r in bad[8:60]]
        exits = collections.Counter("T" if r.timed_out else r.rc for _, r in items)
        points.append((not bad, f"{g} {label} ({len(items)} files; exits {dict(sorted(exits.items(), key=str))})",
                       diag))

    print(f"1..{len(points)}")
    failed = 0
    for n, (ok, desc, diag) in enumerate(points, 1):
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {n} - {tap_escape(desc)}")
        for line in diag:
            print(f"# {line}")
    slow = sorted((r for runs in results for r in runs), key=lambda r: -r.secs)[:5]
    for r in slow:
        print(f"# slow run: {r.secs:.2f} s: ckpt-surgeon {' '.join(map(repr_arg, r.argv))}")
    print(f"# {len(cases)} cases, {nruns} runs, {failed} failing checks of {len(points)}; "
          f"generation {t_gen:.1f} s, runs {t_run:.1f} s ({jobs} jobs), total {time.monotonic() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
