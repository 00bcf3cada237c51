"""Helpers for the tests of `ckpt-surgeon apply` (test_apply.py, test_neural_lam.py).

Four parts:

* the script language of docs/cli-contract.md: a lexer/parser for script
  lines (to read tests/scripts/*.cks and the canonical lines --dry-run
  prints) and the canonical quoting of arguments;
* the edit oracle: a small Python implementation of what each edit does to
  a state dict's keys and to its `_metadata` (rename, rename-prefix,
  rename-regex, delete); the column edits and drop are only parsed here
  (their oracle is colck.py);
* archive checks of an output file: CRCs, STORED records, data at 64-byte
  offsets (computed from the LOCAL headers), the folder name torch's writer
  would use, the record set, storage records matching the pickle's
  persistent ids, and the torch 2.x offset prediction when `.format_version`
  is written;
* running `apply` with snapshots of FILE and of OUT's directory, so every
  check can tell "FILE untouched, OUT absent or unchanged, no stray file".
"""

import collections
import hashlib
import io
import os
import pickle
import re
import struct
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import cks
import deep

torch = cks.torch

# --------------------------------------------------------------------------
# The script language

BLANKS = " \t"
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:")
_NO_BARE = frozenset(' \t\n\r\v\f"\'#')
EDITS = {               # name -> number of positional arguments
    "rename": 2,
    "rename-prefix": 2,
    "rename-regex": 2,
    "delete": 1,
    "move-column": 3,       # KEY FROM TO
    "insert-column": 2,     # KEY AT
    "delete-column": 2,     # KEY INDEX
    "drop": 1,              # PATH
}
OPTIONS = {             # name -> the options it takes, in canonical order
    "rename-prefix": ("--except",),
    "move-column": ("--dim", "--also"),
    "insert-column": ("--dim", "--value", "--also"),
    "delete-column": ("--dim", "--also"),
}
REPEATABLE = ("--except", "--also")


class ScriptError(Exception):
    def __init__(self, line, col, message):
        super().__init__(f"{line}:{col}: {message}")
        self.line, self.col, self.message = line, col, message


@dataclass
class Token:
    text: str
    col: int            # 1-based column (bytes) where the token starts
    quoted: bool        # any part of it was quoted


def lex(line, lineno=1):
    """Split one script line into tokens, following the contract's rules."""
    tokens, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in BLANKS:
            i += 1
        if i >= n or line[i] == "#":
            return tokens
        start, text, quoted = i, [], False
        while i < n and line[i] not in BLANKS and line[i] != "#":
            c = line[i]
            if c == "'":
                end = line.find("'", i + 1)
                if end < 0:
                    raise ScriptError(lineno, _col(line, i), "unterminated single quote")
                text.append(line[i + 1:end])
                i, quoted = end + 1, True
            elif c == '"':
                j, piece = i + 1, []
                while j < n and line[j] != '"':
                    if line[j] == "\\" and j + 1 < n and line[j + 1] in '"\\':
                        piece.append(line[j + 1])
                        j += 2
                    else:
                        piece.append(line[j])
                        j += 1
                if j >= n:
                    raise ScriptError(lineno, _col(line, i), "unterminated double quote")
                text.append("".join(piece))
                i, quoted = j + 1, True
            else:
                text.append(c)
                i += 1
        tokens.append(Token("".join(text), _col(line, start), quoted))


def _col(line, index):
    """1-based column in bytes of line[index]."""
    return len(line[:index].encode()) + 1


@dataclass
class Edit:
    op: str
    args: list                  # positional strings
    excepts: list = field(default_factory=list)
    line: int = 0
    col: int = 0                # of the edit's name
    arg_cols: list = field(default_factory=list)
    options: list = field(default_factory=list)     # [(name, value, col)] but --except

    def tokens(self):
        """The canonical token list: name, arguments, then options (in the
        order of OPTIONS, repeated ones in script order)."""
        out = [self.op, *self.args]
        for glob in self.excepts:
            out += ["--except", glob]
        for name in OPTIONS.get(self.op, ()):
            out += [tok for n, v, _ in self.options if n == name for tok in (n, v)]
        return out

    def option(self, name, default=None):
        """The value of a once-only option (--dim, --value), or default."""
        return next((v for n, v, _ in self.options if n == name), default)

    def alsos(self):
        """[(KEY, D or None)] of the --also options, in order."""
        return [split_also(v) for n, v, _ in self.options if n == "--also"]

    def canonical(self):
        return edit_line(self.op, *self.args, excepts=self.excepts)

    def cols(self):
        """Every column the edit's parts start at (errors may point at any)."""
        return {self.col, *self.arg_cols, *(c for _, _, c in self.options)}


def split_also(value):
    """--also KEY[:D]: split at the last ':' when a (possibly negative)
    decimal integer follows, else the whole value is the key (as the
    parser of src/script.h does for an unquoted word)."""
    key, sep, dim = value.rpartition(":")
    if sep and re.fullmatch(r"-?[0-9]+", dim):
        return key, int(dim)
    return value, None


def parse_line(line, lineno=1):
    """One script line -> Edit, or None for a blank/comment line."""
    tokens = lex(line, lineno)
    if not tokens:
        return None
    name = tokens[0]
    if name.quoted or name.text not in EDITS:
        raise ScriptError(lineno, name.col, f"unknown edit {name.text!r}")
    edit = Edit(name.text, [], line=lineno, col=name.col)
    rest = tokens[1:]
    k = 0
    while k < len(rest):
        tok = rest[k]
        if not tok.quoted and tok.text.startswith("--"):
            option, _, value = tok.text.partition("=")
            if option not in OPTIONS.get(edit.op, ()):
                raise ScriptError(lineno, tok.col, f"unknown option {option}")
            col = tok.col + len(option) + 1
            if not value and "=" not in tok.text:
                k += 1
                if k >= len(rest):
                    raise ScriptError(lineno, tok.col, f"{option} needs a value")
                value, col = rest[k].text, rest[k].col
            if option == "--except":
                edit.excepts.append(value)
            else:
                if option not in REPEATABLE and edit.option(option) is not None:
                    raise ScriptError(lineno, tok.col, f"{option} given twice")
                edit.options.append((option, value, col))
        else:
            edit.args.append(tok.text)
            edit.arg_cols.append(tok.col)
        k += 1
    if len(edit.args) != EDITS[edit.op]:
        raise ScriptError(lineno, name.col,
                          f"{edit.op} takes {EDITS[edit.op]} arguments, got {len(edit.args)}")
    return edit


def parse_script(text):
    edits = []
    for lineno, line in enumerate(text.split("\n"), 1):
        edit = parse_line(line, lineno)
        if edit is not None:
            edits.append(edit)
    return edits


def bare_ok(arg):
    return bool(arg) and not any(c in _NO_BARE for c in arg) and not arg.startswith("--")


def quote(arg):
    """The canonical quoting: bare when possible, else single quotes, else
    double quotes with '"' and '\\' escaped."""
    if bare_ok(arg):
        return arg
    if "'" not in arg and "\n" not in arg:
        return f"'{arg}'"
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def edit_line(op, *args, excepts=(), options=()):
    """A script line for an edit, arguments quoted canonically; options:
    (name, value) pairs such as ("--dim", "0"), written in the given order."""
    parts = [op, *map(quote, map(str, args))]
    for glob in excepts:
        parts += ["--except", quote(glob)]
    for name, value in options:
        parts += [name, quote(str(value))]
    return " ".join(parts)


def check_canonical(printed, edit):
    """Problems if `printed` is not a canonical line of edit."""
    try:
        tokens = lex(printed)
    except ScriptError as exc:
        return [f"printed edit {printed!r} does not lex: {exc}"]
    got = [t.text for t in tokens]
    want = edit.tokens()
    if got != want:
        return [f"printed edit {printed!r} has tokens {got}, expected {want}"]
    # bare is only demanded for plain words: whether an argument with, e.g.,
    # a backslash or '|' is "possible" bare is the printer's choice
    if all(t and set(t) <= _PLAIN and not t.startswith("--") or t.startswith("--except")
           for t in want) and printed != " ".join(want):
        return [f"printed edit {printed!r} is not canonical, expected {' '.join(want)!r}"]
    return []


# --------------------------------------------------------------------------
# The edit oracle

class EditError(Exception):
    """An edit that cannot apply; kind in missing, collision, nothing, regex."""

    def __init__(self, kind, message, keys=()):
        super().__init__(message)
        self.kind, self.keys = kind, tuple(keys)


def glob_regex(glob):
    """'*' any run (dots included), '?' one character, the rest literal."""
    parts = []
    for c in glob:
        parts.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
    return re.compile("".join(parts), re.DOTALL)


def glob_match(glob, key):
    return glob_regex(glob).fullmatch(key) is not None


_CLASSES = {"[:digit:]": "0-9", "[:alpha:]": "A-Za-z", "[:alnum:]": "A-Za-z0-9",
            "[:upper:]": "A-Z", "[:lower:]": "a-z", "[:space:]": " \\t\\n\\r\\f\\v"}


def ere(regex):
    """A POSIX ERE as a Python regex (enough for the tests' regexes: the
    bracket classes above; no backslashes inside brackets)."""
    for name, chars in _CLASSES.items():
        regex = regex.replace(name, chars)
    try:
        return re.compile(regex, re.DOTALL)
    except re.error as exc:
        raise EditError("regex", f"invalid regex: {exc}") from None


def expand(replacement, match):
    r"""\0..\9 -> groups (unmatched: empty), \\ -> \, anything else literal."""
    out, i = [], 0
    while i < len(replacement):
        c = replacement[i]
        if c == "\\" and i + 1 < len(replacement):
            d = replacement[i + 1]
            if d.isdigit():
                group = int(d)
                if group <= match.re.groups:
                    out.append(match.group(group) or "")
                i += 2
                continue
            if d == "\\":
                out.append("\\")
                i += 2
                continue
        out.append(c)
        i += 1
    return "".join(out)


def parent(key):
    """The module that directly holds key ('' for a top-level key)."""
    return key.rsplit(".", 1)[0] if "." in key else ""


def _under(name, prefix):
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def _prefix_rename(name, old, new):
    rest = ("." + name if name else "") if old == "" else name[len(old):]
    if new == "":
        return rest[1:]
    return new + rest


@dataclass
class Step:
    """What one edit did: renames (old -> new) or deletions, in key order."""
    edit: Edit
    renames: list = field(default_factory=list)     # [(old, new)]
    deleted: list = field(default_factory=list)     # [key]
    warning: str = None

    def dry_run_lines(self):
        if self.deleted:
            return [f"  {k} (deleted)" for k in self.deleted]
        return [f"  {old} -> {new}" for old, new in self.renames]


def edit_keys(keys, metadata, edit):
    """Apply one edit to a key list and a _metadata OrderedDict (or None).

    Returns (new keys, new metadata, Step); raises EditError.
    """
    step = Step(edit)
    op, args = edit.op, edit.args
    blocked = set()         # modules whose entries rename-prefix must keep
    if op == "delete":
        rx = glob_regex(args[0])
        step.deleted = [k for k in keys if rx.fullmatch(k)]
        if not step.deleted:
            raise EditError("nothing", f"delete {args[0]!r} matches no key")
        gone = set(step.deleted)
        return [k for k in keys if k not in gone], metadata, step
    if op == "rename":
        old, new = args
        if old not in keys:
            raise EditError("missing", f"no key {old!r}", [old])
        mapping = {old: new}
    elif op == "rename-prefix":
        old, new = args
        excepts = [glob_regex(g) for g in edit.excepts]
        mapping = {}
        for k in keys:
            if not _under(k, old):
                continue
            if any(rx.fullmatch(k) for rx in excepts):
                blocked.add(parent(k))
                continue
            mapping[k] = _prefix_rename(k, old, new)
        if not mapping:
            raise EditError("nothing", f"rename-prefix {old!r} renames no key")
    elif op == "rename-regex":
        rx = ere(args[0])
        mapping = {}
        for k in keys:
            m = rx.fullmatch(k)
            if m:
                new = expand(args[1], m)
                if new != k:
                    mapping[k] = new
        if not mapping:
            step.warning = "renames no key"
    else:
        raise ValueError(op)

    # collisions: two keys equal after the edit (every colliding pair is
    # collected; an error message may name any one of them)
    owner, pairs = {}, []
    for k in keys:
        nk = mapping.get(k, k)
        if nk in owner:
            pairs.append((owner[nk], k))
        else:
            owner[nk] = k
    if pairs:
        a, b = pairs[0]
        error = EditError("collision", f"{a!r} and {b!r} both become {mapping.get(b, b)!r}",
                          [a, b])
        error.pairs = pairs
        raise error
    new_keys = [mapping.get(k, k) for k in keys]
    step.renames = [(k, mapping[k]) for k in keys if k in mapping]

    if metadata is None:
        return new_keys, None, step
    entries = list(metadata.items())
    renamed = {}
    if op == "rename-prefix":
        old, new = args
        for name, _ in entries:
            if _under(name, old) and name not in blocked:
                renamed[name] = _prefix_rename(name, old, new)
    else:
        for name, _ in entries:
            held = [k for k in keys if parent(k) == name]
            if not held or not all(k in mapping for k in held):
                continue
            targets = {parent(mapping[k]) for k in held}
            if len(targets) != 1:
                continue
            target = targets.pop()
            if target != name and target not in metadata:
                renamed[name] = target
    # an entry is only renamed onto a name that has no entry (ASSUMPTION for
    # rename-prefix; the stated rule for rename/rename-regex): e.g.
    # `rename-prefix model ""` keeps a Lightning root entry "" and the entry
    # "model" stays as it was
    changed = True
    while changed:          # dropping a rename makes its entry stay: repeat
        changed = False
        staying = {name for name, _ in entries if name not in renamed}
        taken = set()
        for name, _ in entries:
            if name in renamed:
                if renamed[name] in staying or renamed[name] in taken:
                    del renamed[name]
                    changed = True
                else:
                    taken.add(renamed[name])
    new_meta = collections.OrderedDict()
    for name, value in entries:
        new_meta[renamed.get(name, name)] = value
    return new_keys, new_meta, step


def apply_edits(container, edits):
    """(container after the edits, steps, origin): the container has the same
    type and attributes, its values are the original objects; origin maps
    each new key to its original key.  Raises EditError with .edit set to
    the failing edit."""
    keys = list(container.keys())
    metadata = getattr(container, "_metadata", None)
    if metadata is not None:
        metadata = collections.OrderedDict(metadata)
    origin = {k: k for k in keys}       # current key -> original key
    steps = []
    for edit in edits:
        try:
            new_keys, metadata, step = edit_keys(keys, metadata, edit)
        except EditError as exc:
            exc.edit = edit
            raise
        renamed, deleted = dict(step.renames), set(step.deleted)
        origin = {renamed.get(k, k): origin[k] for k in keys if k not in deleted}
        keys = new_keys
        steps.append(step)
    out = type(container)()
    for k in keys:
        out[k] = container[origin[k]]
    if hasattr(container, "__dict__"):
        out.__dict__.update(container.__dict__)
        if metadata is not None:
            out._metadata = metadata
    return out, steps, origin


def replace_root(top, root, new):
    """top with the container at dotted path root replaced by new (root must
    be '' or a chain of dict keys, longest match first as cks.resolve does)."""
    if root == "":
        return new
    node, rest = top, root
    while True:
        keys = sorted((k for k in node if isinstance(k, str)
                       and (rest == k or rest.startswith(k + "."))), key=len, reverse=True)
        if not keys:
            raise KeyError(root)
        k = keys[0]
        if rest == k:
            node[k] = new
            return top
        node, rest = node[k], rest[len(k) + 1:]


# --------------------------------------------------------------------------
# Reading archives

def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class _Anything:
    """Stands for every object of a pickle read only for its persistent ids."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Anything()

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass


@dataclass(frozen=True)
class Pid:
    key: str
    storage_type: str       # class name, e.g. FloatStorage, UntypedStorage
    location: str
    numel: int


def read_pids(pickle_bytes):
    """Every persistent id of a data.pkl, in pickle order (repeats included).
    Nothing is imported or executed."""
    pids, classes = [], {}

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) not in classes:
                classes[module, name] = type(name, (_Anything,), {"_global": (module, name)})
            return classes[module, name]

        def persistent_load(self, pid):
            _, storage_type, key, location, numel = pid
            name = getattr(storage_type, "_global", (None, str(storage_type)))[1]
            decode = lambda v: v.decode("ascii") if isinstance(v, bytes) else v
            pids.append(Pid(str(decode(key)), name, decode(location), int(numel)))
            return _Anything()

    Reader(io.BytesIO(pickle_bytes)).load()
    return pids


def element_size(storage_type):
    import torch
    if storage_type == "UntypedStorage":
        return 1
    return torch._utils._element_size(torch.serialization.StorageType(storage_type).dtype)


def first_seen(pids):
    """Storage keys in order of first appearance, with the first pid of each."""
    out = collections.OrderedDict()
    for pid in pids:
        out.setdefault(pid.key, pid)
    return out


@dataclass
class Archive:
    path: Path
    folder: str
    records: dict            # name inside the folder -> bytes
    infos: dict              # name inside the folder -> ZipInfo
    data_offset: dict        # name inside the folder -> offset of its data
    problems: list           # structural problems found while reading

    @property
    def pickle(self):
        return self.records.get("data.pkl")


def read_archive(path):
    """Read every record; structural problems are collected, not raised."""
    path = Path(path)
    raw = path.read_bytes()
    problems = []
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        bad = zf.testzip()
        if bad is not None:
            problems.append(f"zipfile.testzip(): bad CRC or data in {bad!r}")
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            dups = sorted({n for n in names if names.count(n) > 1})
            problems.append(f"duplicate entries {dups}")
        folder = names[0].split("/", 1)[0] if names and "/" in names[0] else None
        if folder is None:
            problems.append(f"first entry {names[:1]} is not in a folder")
        records, by_name, offsets = {}, {}, {}
        for info in infos:
            name = info.filename
            if folder is None or not name.startswith(folder + "/") or name.endswith("/"):
                problems.append(f"entry {name!r} is not a record under the folder {folder!r}/")
                continue
            rel = name[len(folder) + 1:]
            if info.compress_type != zipfile.ZIP_STORED:
                problems.append(f"{rel}: compression method {info.compress_type}, expected STORED (0)")
            if info.compress_size != info.file_size:
                problems.append(f"{rel}: compressed size {info.compress_size} != size {info.file_size}")
            off = info.header_offset
            if raw[off:off + 4] != b"PK\x03\x04":
                problems.append(f"{rel}: no local header at offset {off}")
                continue
            (method,) = struct.unpack_from("<H", raw, off + 8)
            nlen, elen = struct.unpack_from("<HH", raw, off + 26)
            local_name = raw[off + 30:off + 30 + nlen]
            if local_name != name.encode():
                problems.append(f"{rel}: local header names {local_name!r}")
            if method != 0:
                problems.append(f"{rel}: local header method {method}, expected STORED (0)")
            data_off = off + 30 + nlen + elen
            offsets[rel] = data_off
            if data_off % 64:
                problems.append(f"{rel}: data at offset {data_off}, not a multiple of 64 "
                                f"(local header at {off}, name {nlen} + extra {elen} bytes)")
            try:
                records[rel] = zf.read(info)
            except Exception as exc:
                problems.append(f"{rel}: cannot read: {exc}")
                continue
            if info.compress_type == zipfile.ZIP_STORED and \
                    raw[data_off:data_off + info.file_size] != records[rel]:
                problems.append(f"{rel}: bytes at the local data offset {data_off} are not "
                                f"the record's")
            by_name[rel] = info
    return Archive(path, folder, records, by_name, offsets, problems)


def torch_folder(out_name):
    """The archive folder torch's writer uses for a file name (torch-format 1.2)."""
    base = re.split(r"[/\\]", str(out_name))[-1]
    return base[:base.rindex(".")] if "." in base else base


TORCH2_RECORDS = (".format_version", ".storage_alignment", "byteorder")
OPTIONAL_IF_INPUT = (".data/serialization_id", ".data/version")


def archive_problems(out, source, *, repickled=None):
    """Problems of an output archive, compared with its input archive.

    repickled: True when data.pkl must differ from the input's (storages then
    numbered 0..N-1 in pickle order), False when it must be byte-identical
    (then every record must be too), None: no expectation.
    """
    a = read_archive(out)
    problems = list(a.problems)
    src = read_archive(source)
    want = torch_folder(Path(out).name)
    if a.folder != want:
        problems.append(f"archive folder {a.folder!r}, expected {want!r} (from the name "
                        f"{Path(out).name!r})")
    for required in ("data.pkl", "version"):
        if required not in a.records:
            problems.append(f"no {required} record")
    if "version" in a.records:
        text = a.records["version"].decode("latin-1").strip()
        if not text.isdigit() or not 1 <= int(text) <= 10:
            problems.append(f"version record {a.records['version']!r} is not 1..10")
    for name in TORCH2_RECORDS:
        if name in src.records and name not in a.records:
            problems.append(f"the input's {name} record was dropped")
        elif name not in src.records and name in a.records:
            problems.append(f"{name} record written, but the input has none")
        elif name in a.records and a.records[name] != src.records[name]:
            problems.append(f"{name} is {a.records[name]!r}, the input's is {src.records[name]!r}")
    if a.pickle is None:
        return problems
    try:
        pids = read_pids(a.pickle)
    except Exception as exc:
        return problems + [f"data.pkl cannot be read: {type(exc).__name__}: {exc}"]
    storages = first_seen(pids)
    stored = {n[5:] for n in a.records if n.startswith("data/")}
    allowed = {"data.pkl", "version", *TORCH2_RECORDS,
               *(n for n in OPTIONAL_IF_INPUT if n in src.records)}
    for name in a.records:
        if name not in allowed and not name.startswith("data/"):
            problems.append(f"unexpected record {name!r}")
    if stored != set(storages):
        extra = sorted(stored - set(storages), key=_numeric)
        missing = sorted(set(storages) - stored, key=_numeric)
        if extra:
            problems.append(f"storage records no persistent id uses: {['data/' + k for k in extra]}")
        if missing:
            problems.append(f"persistent ids without a record: {['data/' + k for k in missing]}")
    for key, pid in storages.items():
        record = a.records.get(f"data/{key}")
        if record is None:
            continue
        try:
            nbytes = pid.numel * element_size(pid.storage_type)
        except Exception:
            problems.append(f"data/{key}: unknown storage type {pid.storage_type}")
            continue
        if len(record) != nbytes:
            problems.append(f"data/{key}: {len(record)} bytes, the pid says {pid.numel} x "
                            f"{pid.storage_type} = {nbytes}")
    if repickled is False:
        if a.pickle != src.pickle:
            problems.append("data.pkl differs from the input's")
        for name, data in src.records.items():
            if (name.startswith("data/") or name == "version") and a.records.get(name) != data:
                problems.append(f"record {name} differs from the input's")
    if repickled is True:
        if a.pickle == src.pickle:
            problems.append("data.pkl is byte-identical to the input's: it was not re-pickled")
        keys = list(storages)
        if keys != [str(i) for i in range(len(keys))]:
            problems.append(f"storage keys in pickle order are {keys[:12]}"
                            f"{'...' if len(keys) > 12 else ''}, expected 0..{len(keys) - 1}")
    if ".format_version" in a.records:
        problems += offset_prediction_problems(a, storages)
    return problems


def _numeric(key):
    return (0, int(key)) if key.isdigit() else (1, key)


def offset_prediction_problems(a, storages):
    """torch 2.x with config.load.calculate_storage_offsets predicts each
    storage's data offset from the previous one (torch/serialization.py
    _get_offset, torch-format.md 1.8); a file that has `.format_version`
    must match the prediction."""
    align_text = a.records.get(".storage_alignment", b"64").decode("latin-1")
    try:
        alignment = int(align_text)
    except ValueError:
        return [f".storage_alignment {align_text!r} is not a number"]
    current = None
    for key, pid in storages.items():
        name = f"data/{key}"
        if name not in a.data_offset:
            return []
        nbytes = pid.numel * element_size(pid.storage_type)
        actual = a.data_offset[name]
        if current is None:
            if key != "0":
                return [f".format_version is written but the first storage in the pickle "
                        f"is {key!r}, not '0' (torch 2.x asserts key '0')"]
            predicted, header = actual, a.infos[name].header_offset
        else:
            full = f"{a.folder}/{name}".encode()
            start = current + 30 + len(full) + 4
            if nbytes >= 0xFFFFFFFF or current >= 0xFFFFFFFF:
                start += 4 + (16 if nbytes >= 0xFFFFFFFF else 0) + (8 if current >= 0xFFFFFFFF else 0)
            predicted, header = start + (alignment - start % alignment) % alignment, current
        if predicted != actual:
            return [f".format_version is written, but {name} starts at {actual} where torch "
                    f"2.x calculate_storage_offsets predicts {predicted} (storages must follow "
                    f"each other in pickle order with torch's header/padding/descriptor sizes)"]
        current = predicted + nbytes
        if nbytes > 0:
            current += 24 if header >= 0xFFFFFFFF or nbytes >= 0xFFFFFFFF else 16
    return []


# --------------------------------------------------------------------------
# Running apply

# The TAP harness and the runner are cks's.
Headline = cks.Headline
Tap = cks.Tap


def run(args, cwd=None):
    """Run the binary with the list args, in cwd."""
    return cks.run_cks(*args, cwd=cwd)


def snapshot(directory):
    """name -> what it is, for every entry of a directory (None: no directory)."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    out = {}
    for entry in sorted(directory.iterdir()):
        if entry.is_symlink():
            out[entry.name] = ("symlink", os.readlink(entry))
        elif entry.is_file():
            out[entry.name] = ("file", sha256(entry), entry.stat().st_ino)
        else:
            out[entry.name] = ("dir",)
    return out


def snapshot_diff(before, after, what):
    if before == after:
        return []
    if before is None or after is None:
        return [f"{what}: {'created' if before is None else 'removed'}"]
    problems = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            problems.append(f"{what}: {name!r} disappeared")
        elif name not in before:
            problems.append(f"{what}: stray new entry {name!r}")
        elif before[name] != after[name]:
            problems.append(f"{what}: {name!r} changed ({before[name][0]})")
    return problems


def _lines(text):
    return [line for line in text.splitlines() if line]


def apply_failed(run_):
    first = (_lines(run_.stderr) or [f"exit status {run_.returncode}, no message"])[0]
    return [Headline(f"apply failed: {first}")] + run_.describe()


@dataclass
class Invocation:
    """One run of apply, with what was true before it."""
    args: list
    file: Path
    out: Path
    script: str             # as given on the command line
    cwd: Path = None
    watch: tuple = ()       # directories that must not change (besides OUT's)
    run: cks.Run = None
    file_sha: str = None
    out_dir_before: dict = None
    watch_before: dict = None

    def execute(self):
        file = self.file if self.cwd is None or self.file.is_absolute() else self.cwd / self.file
        self.file_sha = sha256(file) if file.exists() else None
        self._file = file
        out = self.out if self.cwd is None or self.out is None or self.out.is_absolute() \
            else self.cwd / self.out
        self._out = out
        self.out_dir_before = snapshot(out.parent) if out is not None else None
        self.watch_before = {d: snapshot(d) for d in self.watch}
        self.run = run(self.args, self.cwd)
        return self

    def untouched(self):
        problems = []
        if self.file_sha is not None:
            now = sha256(self._file) if self._file.exists() else None
            if now != self.file_sha:
                problems.append(f"FILE {self._file} was modified or removed")
        for d, before in self.watch_before.items():
            problems += snapshot_diff(before, snapshot(d), f"directory {d}")
        return problems

    def check_success(self, *, dry_run=False, warnings=None, script_prefix=None):
        """exit 0; no stdout (unless dry-run); stderr only the expected warnings
        (warnings: {line: allowed columns}); FILE untouched; OUT's directory
        gained exactly OUT (dry-run: nothing)."""
        r = self.run
        if r.returncode != 0:
            return apply_failed(r)
        problems = []
        if r.stdout and not dry_run:
            problems.append("stdout is not empty")
        problems += check_warnings(r.stderr, script_prefix or self.script, warnings or {},
                                   required=not dry_run)
        problems += self.untouched()
        if self._out is not None:
            after = snapshot(self._out.parent)
            before = dict(self.out_dir_before or {})
            if dry_run:
                problems += snapshot_diff(before, after, "OUT's directory (dry run)")
            else:
                if self._out.is_symlink() or not self._out.is_file():
                    problems.append(f"OUT {self._out} is not a regular file")
                before.pop(self._out.name, None)
                after = dict(after or {})
                after.pop(self._out.name, None)
                problems += snapshot_diff(before, after, "OUT's directory")
        return problems + r.describe() if problems else []

    def check_failure(self, where=None, cols=None, mention=()):
        """exit 2; stderr lines all 'ckpt-surgeon: ...'; one of them starts
        with 'ckpt-surgeon: WHERE:' (WHERE = SCRIPT:LINE, then :COL with COL
        in cols when given, or a path); every string of mention appears;
        FILE untouched, OUT's directory unchanged (OUT itself included)."""
        r = self.run
        problems = []
        if r.returncode != 2:
            problems.append(f"expected exit status 2, got {r.returncode}")
        lines = _lines(r.stderr)
        if not lines:
            problems.append("no error message on stderr")
        for line in lines:
            if not line.startswith("ckpt-surgeon: "):
                problems.append(f"stderr line {line!r} does not start with 'ckpt-surgeon: '")
        if where is not None and lines:
            problems += _check_where(lines, where, cols)
        for text in mention:
            if text not in r.stderr:
                problems.append(f"the message does not mention {text!r}")
        problems += self.untouched()
        if self._out is not None:
            problems += snapshot_diff(self.out_dir_before, snapshot(self._out.parent),
                                      "OUT's directory")
        return problems + r.describe() if problems else []


def _check_where(lines, where, cols):
    prefix = f"ckpt-surgeon: {where}:"
    hits = [line for line in lines if line.startswith(prefix)]
    if not hits:
        return [f"no stderr line starts with {prefix!r}"]
    if cols is None:
        return []
    for line in hits:
        m = re.match(r"(\d+): \S", line[len(prefix):])
        if m and int(m.group(1)) in cols:
            return []
    return [f"no stderr line starts with {prefix}COL: with COL in {sorted(cols)} "
            f"(the column of the edit or of its offending argument)"]


_WARNING = re.compile(r"(\d+):(\d+): warning: \S")


def check_warnings(stderr, script, expected, required=True):
    """Every stderr line is 'ckpt-surgeon: SCRIPT:LINE:COL: warning: ...';
    the warned lines are exactly expected's keys, each COL in its set
    (required=False: they may also be missing)."""
    problems, seen = [], set()
    prefix = f"ckpt-surgeon: {script}:"
    for line in _lines(stderr):
        m = _WARNING.match(line[len(prefix):]) if line.startswith(prefix) else None
        if not m:
            problems.append(f"unexpected stderr line {line!r} (only "
                            f"'{prefix}LINE:COL: warning: ...' is allowed)")
            continue
        lineno, col = int(m.group(1)), int(m.group(2))
        if lineno not in expected:
            problems.append(f"unexpected warning for line {lineno}: {line!r}")
        elif col not in expected[lineno]:
            problems.append(f"warning column {col}, expected one of {sorted(expected[lineno])}")
        seen.add(lineno)
    for lineno in expected:
        if lineno not in seen and required:
            problems.append(f"no warning for script line {lineno}")
    return problems


# --------------------------------------------------------------------------
# Cases: loading, one apply run shared by several TAP lines, models

_fixtures_module = None


def is_torch2(path):
    return Path(path).name.startswith("torch2-")


def load_torch2(path):
    """fixtures.py's emulation of the torch 2.x loader (torch 1.13 cannot
    load the torch2-* fixtures nor what apply writes from them)."""
    global _fixtures_module
    if _fixtures_module is None:
        import fixtures
        fixtures.torch, fixtures.cks = torch, cks
        _fixtures_module = fixtures
    return _fixtures_module.load_torch2(path)


def load(path, like=None):
    """torch.load on the CPU; the 2.x emulation for torch2-* inputs."""
    if is_torch2(like or path):
        return load_torch2(path)
    return torch.load(str(path), map_location="cpu")


# --------------------------------------------------------------------------
# Cases: one apply run, shared by several TAP lines

class Session:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="cks-apply-"))
        self.count = 0

    def new_dir(self, label):
        self.count += 1
        slug = "".join(c if c.isalnum() else "-" for c in label)[:40].strip("-")
        d = self.dir / f"{self.count:03d}-{slug}"
        d.mkdir()
        return d

    def close(self):
        if os.environ.get("CKS_KEEP_TMP") == "1":
            print(f"# working directory kept: {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


SESSION = None


def start_session():
    global SESSION
    SESSION = Session()
    return SESSION


class Case:
    """`apply SCRIPT FIXTURE -o OUT [flags]` run once, on first use."""

    def __init__(self, label, fixture, lines=None, *, script=None, out_name="out.pt",
                 flags=(), root=None, dry_run=False, with_out=True):
        """lines: the script's lines; or script: an existing script file."""
        self.label, self.fixture = label, Path(fixture)
        self.script = Path(script) if script is not None else None
        self.text = self.script.read_text() if script is not None else \
            "".join(line + "\n" for line in lines)
        self.out_name, self.flags, self.root = out_name, list(flags), root
        self.dry_run, self.with_out = dry_run, with_out
        self._inv = self._loaded = self._expected = None

    @property
    def edits(self):
        return parse_script(self.text)

    def inv(self):
        if self._inv is None:
            d = SESSION.new_dir(self.label)
            script = self.script
            if script is None:
                script = d / "edits.cks"
                script.write_text(self.text)
            (d / "out").mkdir()
            self.out = d / "out" / self.out_name
            args = ["apply", script, self.fixture]
            if self.with_out:
                args += ["-o", self.out]
            if self.dry_run:
                args.append("--dry-run")
            if self.root is not None:
                args += ["--root", self.root]
            args += self.flags
            out = self.out if self.with_out else d / "out" / "none"
            self._inv = Invocation(args, self.fixture, out, str(script),
                                   watch=(self.fixture.parent, d)).execute()
        return self._inv

    def failed(self):
        """[] when apply succeeded, else the 'apply failed' diagnostics."""
        inv = self.inv()
        return [] if inv.run.returncode == 0 else apply_failed(inv.run)

    def loaded(self):
        if self._loaded is None:
            self._loaded = load(self.out, like=self.fixture)
        return self._loaded

    def expected(self):
        """(expected tree, steps, origin): the input with the oracle's edits."""
        if self._expected is None:
            obj = load(self.fixture)
            root = cks.default_root(obj) if self.root is None else self.root
            if not self.edits:
                # no edit: the checkpoint as it is, whatever its root holds
                self._expected = (obj, [], {}, root)
                return self._expected
            container = cks.resolve(obj, root)
            new, steps, origin = apply_edits(container, self.edits)
            self._expected = (replace_root(obj, root, new), steps, origin, root)
        return self._expected

    # checks --------------------------------------------------------------
    def check_clean(self, warnings=None):
        return self.inv().check_success(dry_run=self.dry_run, warnings=warnings)

    def check_deep(self):
        bad = self.failed()
        if bad:
            return bad
        expected = self.expected()[0]
        try:
            got = self.loaded()
        except Exception as exc:
            return [f"torch.load(OUT) failed: {type(exc).__name__}: {exc}"]
        problems = deep.diff(expected, got)
        return ["(first: the input with the oracle's edits, second: torch.load(OUT))"] + problems \
            if problems else []

    def check_archive(self, repickled):
        bad = self.failed()
        return bad or archive_problems(self.out, self.fixture, repickled=repickled)

    def check_keys(self):
        bad = self.failed()
        if bad:
            return bad
        expected, _, _, root = self.expected()
        want = list(cks.resolve(expected, root).keys())
        got = list(cks.resolve(self.loaded(), root).keys())
        if got == want:
            return []
        problems = [f"state-dict keys differ: {len(got)} keys, expected {len(want)}"]
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                problems.append(f"first difference at position {i}: {g!r}, expected {w!r}")
                break
        missing = [k for k in want if k not in set(got)]
        extra = [k for k in got if k not in set(want)]
        if missing:
            problems.append(f"missing: {missing[:10]}")
        if extra:
            problems.append(f"unexpected: {extra[:10]}")
        return problems

    def check_metadata(self, expect_entries=()):
        """_metadata equals the oracle's; expect_entries: (name, version)
        pairs that must be in it (e.g. a moved BatchNorm with version 2)."""
        bad = self.failed()
        if bad:
            return bad
        expected, _, _, root = self.expected()
        want = getattr(cks.resolve(expected, root), "_metadata", None)
        got = getattr(cks.resolve(self.loaded(), root), "_metadata", None)
        problems = []
        if want is None or got is None:
            if (want is None) != (got is None):
                problems.append(f"_metadata {'present' if got is not None else 'missing'} in OUT, "
                                f"expected {'none' if want is None else 'one'}")
            return problems
        if list(got.items()) != list(want.items()):
            problems.append("_metadata differs from the rules' result:")
            for name in want:
                if name not in got:
                    problems.append(f"  missing entry {name!r}: {want[name]}")
            for name in got:
                if name not in want:
                    problems.append(f"  unexpected entry {name!r}: {got[name]}")
            for name in want:
                if name in got and got[name] != want[name]:
                    problems.append(f"  entry {name!r}: {got[name]}, expected {want[name]}")
            if set(got) == set(want):
                problems.append(f"  order: {list(got)}")
                problems.append(f"  expected: {list(want)}")
        for name, version in expect_entries:
            entry = got.get(name)
            if not entry or entry.get("version") != version:
                problems.append(f"_metadata[{name!r}] is {entry}, expected version {version}")
            if name not in want:
                problems.append(f"(test bug: the oracle has no entry {name!r})")
        return problems


def add_case_checks(tap, case, *, repickled, warnings=None, keys=True, metadata=(),
                    model=None):
    """The standard TAP lines for a successful apply."""
    label = case.label
    tap.add(f"{label}: exit 0, no stdout, FILE untouched, no stray file",
            lambda: case.check_clean(warnings))
    if keys:
        tap.add(f"{label}: state-dict keys in the oracle's order", case.check_keys)
    if metadata is not None:
        shown = ", ".join(f"{n or '<root>'} v{v}" for n, v in metadata)
        tap.add(f"{label}: _metadata as the rules say{' (' + shown + ')' if shown else ''}",
                lambda: case.check_metadata(metadata))
    tap.add(f"{label}: torch.load(OUT) deep-equals the expected checkpoint (types, order, "
            f"values, _metadata, storage sharing)", case.check_deep)
    tap.add(f"{label}: archive (CRCs, STORED, 64-byte aligned data, folder, records"
            f"{', data.pkl re-pickled, storages renumbered 0..N-1' if repickled else ''})",
            lambda: case.check_archive(repickled))
    if model is not None:
        tap.add(f"{label}: load_state_dict(strict=True) into a model with the new names",
                lambda: check_model_load(case, model))


# --------------------------------------------------------------------------
# Models with new names

def relocate(root, old, new):
    """Move the submodule at dotted path old to new (plain nn.Module
    containers are created on the way); old '' wraps the whole model."""
    nn = torch.nn
    if old == "":
        holder = nn.Module()
        relocate_into(holder, new, root)
        return holder
    *path, name = old.split(".")
    owner = root.get_submodule(".".join(path)) if path else root
    module = owner._modules.pop(name)
    relocate_into(root, new, module)
    return root


def relocate_into(root, path, module):
    nn = torch.nn
    *parts, name = path.split(".")
    node = root
    for part in parts:
        if part not in node._modules:
            node.add_module(part, nn.Module())
        node = node._modules[part]
    node.add_module(name, module)


def drop(root, path):
    *parts, name = path.split(".")
    owner = root.get_submodule(".".join(parts)) if parts else root
    del owner._modules[name]
    return root


def expected_dry_run(case):
    """The exact stdout of --dry-run for case's script (oracle)."""
    _, steps, _, _ = case.expected()
    return [(step.edit, step.dry_run_lines()) for step in steps]


def check_dry_run(case):
    inv = case.inv()
    _, steps, _, _ = case.expected()
    warnings = {s.edit.line: s.edit.cols() for s in steps if s.warning}
    problems = inv.check_success(dry_run=True, warnings=warnings)
    if inv.run.returncode != 0:
        return problems
    if case.with_out and case.out.exists():
        problems.append(f"--dry-run created OUT {case.out}")
    want = expected_dry_run(case)
    got = inv.run.stdout.splitlines()
    i = 0
    for edit, changes in want:
        prefix = f"{inv.script}:{edit.line}: "
        if i >= len(got):
            problems.append(f"stdout ends before the line for script line {edit.line}")
            break
        if not got[i].startswith(prefix):
            problems.append(f"stdout line {i + 1} {got[i]!r} does not start with {prefix!r}")
        else:
            problems += check_canonical(got[i][len(prefix):], edit)
        i += 1
        for change in changes:
            if i >= len(got) or got[i] != change:
                problems.append(f"stdout line {i + 1}: {got[i] if i < len(got) else None!r}, "
                                f"expected {change!r}")
                break
            i += 1
        else:
            continue
        break
    if not problems and i != len(got):
        problems.append(f"extra stdout lines: {got[i:i + 5]}")
    if problems:
        expected_text = []
        for edit, changes in want:
            expected_text.append(f"{inv.script}:{edit.line}: {edit.canonical()}")
            expected_text += changes
        problems.append("expected stdout:")
        problems += [f"  {line}" for line in expected_text[:30]]
        problems += inv.run.describe()
    return problems


def check_model_load(case, build):
    """build() -> a module whose state_dict keys are the new names; load
    OUT's state dict into it with strict=True; every tensor must then equal
    the input's tensor under its old name."""
    bad = case.failed()
    if bad:
        return bad
    expected, _, origin, root = case.expected()
    got_root = cks.resolve(case.loaded(), root)
    model = build()
    try:
        model.load_state_dict(got_root, strict=True)
    except Exception as exc:
        return [f"load_state_dict(strict=True) failed: {exc}".replace("\n", " ")]
    problems = []
    source = cks.resolve(load(case.fixture), root)
    for key, value in model.state_dict().items():
        old = origin.get(key)
        if old is None:
            problems.append(f"{key}: not a key of the edited state dict")
            continue
        want = source[old]
        if cks.is_tensor(want):
            if not (want.dtype == value.dtype and want.shape == value.shape
                    and torch.equal(deep._raw(want)[0], deep._raw(value)[0])):
                problems.append(f"{key}: differs from the input's {old}")
        elif want != value:
            problems.append(f"{key}: {value!r} differs from the input's {old}: {want!r}")
    return problems


