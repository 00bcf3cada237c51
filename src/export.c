/* export: a script of edits as a standalone Python migration program. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"
#include "export.h"
#include "banned.h"

/*
 * The program is made of pieces of Python, kept below as arrays of lines:
 * the edits' machinery (py_core: the undo journal, finding the state dict,
 * naming paths), the helpers the edits call, and the command line
 * (py_main).  Only the pieces the script's edits need are written.  The
 * text is the program's own: keep it at 79 columns and in the style of
 * the rest (docstrings say what the edit does, in the words of
 * ckpt-surgeon-script(5)).
 */

static const char *const py_core[] = {
	"# --------------------------------------------------------------------"
	"-------",
	"# The edits, as ckpt-surgeon-script(5) defines them.  Only the "
	"helpers this",
	"# script's edits need are here.",
	"",
	"# The mappings ckpt-surgeon treats as dicts; any other class (a dict",
	"# subclass too) is an object whose attributes are its children.",
	"DICTS = (dict, collections.OrderedDict)",
	"",
	"",
	"class MigrationError(Exception):",
	"    \"\"\"An edit that cannot apply.  When an edit failed, line is "
	"its line in",
	"    the script and the message starts with SCRIPT:LINE.\"\"\"",
	"",
	"    def __init__(self, message, line=None):",
	"        if line is not None:",
	"            message = f\"{SCRIPT}:{line}: {message}\"",
	"        super().__init__(message)",
	"        self.line = line",
	"",
	"",
	"class Migration:",
	"    \"\"\"One run of the edits: the checkpoint, its state dict, an "
	"undo journal",
	"    and the warnings.",
	"",
	"    Each edit checks everything before it changes anything.  When an "
	"edit",
	"    fails, the journal puts back every dict and list the earlier "
	"edits",
	"    changed, so a failing script leaves the checkpoint as it was, as",
	"    `ckpt-surgeon apply` writes nothing then.  Warnings are printed "
	"to",
	"    stderr once every edit has applied.",
	"    \"\"\"",
	"",
	"    def __init__(self, checkpoint, root, match_optimizers=None):",
	"        self.checkpoint = checkpoint",
	"        self.root, self.state = find_state_dict(checkpoint, root)",
	"        self.warnings = []",
	"        self._saved = {}",
	"        self._match_optimizers = match_optimizers",
	"",
	"    def __enter__(self):",
	"        if type(self.state) not in DICTS:",
	"            raise MigrationError(",
	"                f\"the state dict at '{self.root}' is a \"",
	"                f\"{kind_name(self.state)}, not a dict: edits need a "
	"dict \"",
	"                f\"(see --root)\")",
	"        # each key's position before the first edit (delete drops "
	"some)",
	"        self.origin = list(range(len(self.state)))",
	"        # for the column edits: the optimizer states and which key is",
	"        # which parameter, decided once, before the first edit",
	"        self.optimizers = self._match_optimizers(self) \\",
	"            if self._match_optimizers else []",
	"        return self",
	"",
	"    def __exit__(self, kind, exc, traceback):",
	"        if kind is not None:",
	"            self.undo()",
	"            return False",
	"        for text in self.warnings:",
	"            print(text, file=sys.stderr)",
	"        return False",
	"",
	"    def fail(self, line, message):",
	"        raise MigrationError(message, line)",
	"",
	"    def warn(self, line, message):",
	"        self.warnings.append(f\"{SCRIPT}:{line}: warning: "
	"{message}\")",
	"",
	"    def save(self, container):",
	"        \"\"\"Remember what a dict or a list holds, before its first "
	"change.\"\"\"",
	"        if id(container) not in self._saved:",
	"            items = container.items() if isinstance(container, dict) "
	"\\",
	"                else container",
	"            self._saved[id(container)] = (container, list(items))",
	"",
	"    def undo(self):",
	"        for container, items in reversed(list(self._saved.values())):",
	"            if isinstance(container, dict):",
	"                container.clear()",
	"                container.update(items)",
	"            else:",
	"                container[:] = items",
	"        self._saved.clear()",
	"",
	"    def names(self):",
	"        \"\"\"The state dict's keys as the edits name them, in order: "
	"a str",
	"        key as it is; None for a key no script can name (not a str, "
	"or",
	"        holding a NUL character).\"\"\"",
	"        return [k if isinstance(k, str) and \"\\0\" not in k else "
	"None",
	"                for k in self.state]",
	"",
	"",
	"def find_state_dict(checkpoint, root):",
	"    \"\"\"(dotted path, state dict): the container at root (--root), "
	"or with",
	"    root None the mapping ckpt-surgeon picks: a Lightning "
	"checkpoint's",
	"    'state_dict'; else the checkpoint itself when it maps strings to",
	"    tensors (or is no dict); else the first of state_dict,",
	"    model_state_dict, model, module, net, ema mapping strings to "
	"tensors;",
	"    else the checkpoint itself.\"\"\"",
	"    if root is not None:",
	"        node = resolve(checkpoint, root)",
	"        if kind_name(node) not in (\"dict\", \"list\", \"tuple\", "
	"\"object\"):",
	"            raise MigrationError(",
	"                f\"--root '{root}' is a {kind_name(node)}, not a "
	"mapping\")",
	"        return root, node",
	"    if type(checkpoint) in DICTS:",
	"        state = checkpoint.get(\"state_dict\")",
	"        if type(state) in DICTS:",
	"            return \"state_dict\", state",
	"    if is_state_dict(checkpoint) or type(checkpoint) not in DICTS:",
	"        return \"\", checkpoint",
	"    for name in (\"state_dict\", \"model_state_dict\", \"model\", "
	"\"module\", \"net\",",
	"                 \"ema\"):",
	"        if is_state_dict(checkpoint.get(name)):",
	"            return name, checkpoint[name]",
	"    return \"\", checkpoint",
	"",
	"",
	"def is_state_dict(value):",
	"    \"\"\"A non-empty dict of str keys whose values are all tensors "
	"(those of",
	"    '_extra_state' keys excepted).\"\"\"",
	"    if type(value) not in DICTS or not value:",
	"        return False",
	"    return all(isinstance(k, str) and (is_tensor(v) or k == "
	"\"_extra_state\"",
	"                                       or "
	"k.endswith(\"._extra_state\"))",
	"               for k, v in value.items())",
	"",
	"",
	"def is_tensor(value):",
	"    \"\"\"A tensor as ckpt-surgeon sees one: a dense tensor, "
	"quantized or not,",
	"    a tensor subclass or an nn.Parameter.\"\"\"",
	"    return isinstance(value, torch.Tensor) and \\",
	"        value.layout == torch.strided and not value.is_meta",
	"",
	"",
	"def kind_name(value):",
	"    \"\"\"What a value is, in the words of ckpt-surgeon's "
	"messages.\"\"\"",
	"    if is_tensor(value):",
	"        return \"tensor\"",
	"    if type(value) in DICTS:",
	"        return \"dict\"",
	"    for kind in (type(None), bool, int, float, str, bytes, bytearray, "
	"tuple,",
	"                 list, set, frozenset):",
	"        if type(value) is kind:",
	"            return \"None\" if value is None else kind.__name__",
	"    if isinstance(value, type) or callable(value) and \\",
	"            hasattr(value, \"__qualname__\"):",
	"        return \"global\"",
	"    return \"object\"",
	"",
	"",
	"def key_name(key):",
	"    \"\"\"The path component that names a dict key: a str as it is, "
	"an int in",
	"    decimal, other keys as ckpt-surgeon writes them.\"\"\"",
	"    if isinstance(key, str):",
	"        return key",
	"    if isinstance(key, (bool, int)) or key is None:",
	"        return str(key)",
	"    if isinstance(key, float):",
	"        if math.isnan(key) or math.isinf(key):",
	"            return str(key)",
	"        for digits in range(1, 18):     # the shortest form that "
	"reads back",
	"            text = \"%.*g\" % (digits, key)",
	"            if float(text) == key:",
	"                break",
	"        return text if any(c in text for c in \".en\") else text + "
	"\".0\"",
	"    if isinstance(key, tuple):",
	"        inner = \", \".join(key_name(k) for k in key)",
	"        return f\"({inner},)\" if len(key) == 1 else f\"({inner})\"",
	"    if kind_name(key) == \"global\":",
	"        return f\"{key.__module__}.{key.__qualname__}\"",
	"    return f\"<{kind_name(key)}>\"",
	"",
	"",
	"def children(node):",
	"    \"\"\"(name, value, holder, key) for each child of node, named as "
	"in dotted",
	"    paths: dict items, list and tuple elements, an object's "
	"attributes (then",
	"    its items or elements when it is a dict or list subclass).  The "
	"child",
	"    is holder[key]; tensors have no children.\"\"\"",
	"    if type(node) in DICTS:",
	"        for key, value in node.items():",
	"            yield key_name(key), value, node, key",
	"    elif type(node) in (list, tuple):",
	"        for index, value in enumerate(node):",
	"            yield str(index), value, node, index",
	"    elif kind_name(node) == \"object\":",
	"        attributes = getattr(node, \"__dict__\", None)",
	"        if type(attributes) is dict:",
	"            for key, value in attributes.items():",
	"                yield key_name(key), value, attributes, key",
	"        if isinstance(node, dict):",
	"            for key, value in node.items():",
	"                yield key_name(key), value, node, key",
	"        elif isinstance(node, list):",
	"            for index, value in enumerate(node):",
	"                yield str(index), value, node, index",
	"",
	"",
	"def resolve(top, path):",
	"    \"\"\"The object at a dotted path from top ('' is top itself).  A "
	"key that",
	"    holds dots is matched whole: the longest name that fits "
	"wins.\"\"\"",
	"    node, at, depth = top, 0, 0",
	"    while path:",
	"        rest, best, depth = path[at:], None, depth + 1",
	"        if depth > 256:",
	"            raise MigrationError(f\"--root: path '{path}' is too "
	"deep\")",
	"        for name, value, _, _ in children(node):",
	"            if rest.startswith(name) and \\",
	"                    rest[len(name):len(name) + 1] in (\"\", \".\") "
	"and \\",
	"                    (best is None or len(name) > len(best[0])):",
	"                best = (name, value)",
	"        if best is None:",
	"            where = f\" in '{path[:at - 1]}'\" if at else \"\"",
	"            first = rest.split(\".\", 1)[0]",
	"            raise MigrationError(f\"--root: no entry "
	"'{first}'{where}\")",
	"        node, at = best[1], at + len(best[0])",
	"        if at == len(path):",
	"            break",
	"        at += 1",
	"    return node",
	NULL
};

static const char *const py_glob[] = {
	"",
	"",
	"@functools.lru_cache(maxsize=None)",
	"def glob_regex(glob):",
	"    \"\"\"A glob as a regex over UTF-8 bytes: '*' any run of "
	"characters, dots",
	"    included, '?' one byte (ckpt-surgeon matches bytes, and a "
	"non-ASCII",
	"    character is several), anything else itself.\"\"\"",
	"    parts = []",
	"    for byte in glob.encode(\"utf-8\", \"surrogatepass\"):",
	"        char = bytes([byte])",
	"        parts.append(b\".*\" if char == b\"*\" else b\".\" if char == "
	"b\"?\"",
	"                     else re.escape(char))",
	"    return re.compile(b\"\".join(parts), re.DOTALL)",
	"",
	"",
	"def glob_match(glob, name):",
	"    \"\"\"Does glob match all of name?\"\"\"",
	"    return glob_regex(glob).fullmatch(",
	"        name.encode(\"utf-8\", \"surrogatepass\")) is not None",
	NULL
};

static const char *const py_renames[] = {
	"",
	"",
	"def module_of(key):",
	"    \"\"\"The module that directly holds a key: all before its last "
	"dot.\"\"\"",
	"    return key.rpartition(\".\")[0]",
	"",
	"",
	"def rename_keys(m, line, keys, plan, metadata_name):",
	"    \"\"\"Give the keys at the positions in plan ({position: new "
	"name}) their",
	"    new names, each keeping its place, and rename each _metadata "
	"entry",
	"    that metadata_name(entry) names anew (unless that name is taken).",
	"    Refused when two keys would share a name.\"\"\"",
	"    final = sorted((plan.get(i, key), i, i in plan)",
	"                   for i, key in enumerate(keys) if key is not None)",
	"    for (name, i, moved), (other, j, other_moved) in zip(final, "
	"final[1:]):",
	"        if name != other:",
	"            continue",
	"        if moved and other_moved:",
	"            m.fail(line, f\"'{keys[i]}' and '{keys[j]}' would both be "
	"named \"",
	"                         f\"'{name}'\")",
	"        m.fail(line, f\"'{keys[i if moved else j]}' would be renamed "
	"to \"",
	"                     f\"'{name}', which is already a key\")",
	"    if not plan:",
	"        return",
	"    metadata = getattr(m.state, \"__dict__\", {}).get(\"_metadata\")",
	"    if type(metadata) in DICTS:",
	"        entries = list(metadata)",
	"        taken = set(entries)",
	"        for i, entry in enumerate(entries):",
	"            if not isinstance(entry, str) or \"\\0\" in entry:",
	"                continue",
	"            new = metadata_name(entry)",
	"            if new is not None and new != entry and new not in taken:",
	"                taken.discard(entry)",
	"                taken.add(new)",
	"                entries[i] = new",
	"        if entries != list(metadata):",
	"            m.save(metadata)",
	"            values = list(metadata.values())",
	"            metadata.clear()",
	"            metadata.update(zip(entries, values))",
	"    m.save(m.state)",
	"    items = list(m.state.items())",
	"    m.state.clear()",
	"    for i, (key, value) in enumerate(items):",
	"        m.state[plan.get(i, key)] = value",
	"",
	"",
	"def moved_module(keys, plan):",
	"    \"\"\"For rename and rename-regex: a module's new _metadata name, "
	"which it",
	"    gets when every key it directly held moved to keys directly held "
	"by",
	"    one other module; else None.\"\"\"",
	"    held = collections.defaultdict(list)",
	"    for i, key in enumerate(keys):",
	"        if key is not None:",
	"            held[module_of(key)].append(i)",
	"",
	"    def new_name(module):",
	"        if not held.get(module) or any(i not in plan for i in "
	"held[module]):",
	"            return None",
	"        targets = {module_of(plan[i]) for i in held[module]}",
	"        return targets.pop() if len(targets) == 1 else None",
	"    return new_name",
	NULL
};

static const char *const py_rename[] = {
	"",
	"",
	"def rename(m, line, old, new):",
	"    \"\"\"rename OLD NEW: the key OLD becomes NEW, keeping its "
	"position.\"\"\"",
	"    keys = m.names()",
	"    if old not in keys:",
	"        m.fail(line, f\"no key '{old}' in the state dict\")",
	"    plan = {keys.index(old): new} if new != old else {}",
	"    rename_keys(m, line, keys, plan, moved_module(keys, plan))",
	NULL
};

static const char *const py_rename_prefix[] = {
	"",
	"",
	"def under_prefix(name, prefix):",
	"    \"\"\"Is name prefix itself or below it, in whole dotted "
	"components (every",
	"    name is below '')?\"\"\"",
	"    return not prefix or name == prefix or name.startswith(prefix + "
	"\".\")",
	"",
	"",
	"def prefixed_name(name, old, new):",
	"    \"\"\"What rename-prefix OLD NEW makes of a name under OLD.\"\"\"",
	"    if not old:",
	"        return f\"{new}.{name}\" if new and name else new + name",
	"    rest = name[len(old):]          # '' or '.more'",
	"    return new + rest if new else rest[1:]",
	"",
	"",
	"def rename_prefix(m, line, old, new, excepts=()):",
	"    \"\"\"rename-prefix OLD NEW [--except GLOB]...: every key that is "
	"OLD or",
	"    starts with OLD and a dot gets NEW for OLD ('' OLD: every key, "
	"joined",
	"    to NEW by a dot; '' NEW: the prefix goes), keeping its position; "
	"keys",
	"    matching an except glob stay.  The _metadata entries of OLD and "
	"of the",
	"    modules under it follow, but for a module that still directly "
	"holds",
	"    an excepted key.\"\"\"",
	"    keys = m.names()",
	"    plan, matched, kept = {}, 0, set()",
	"    for i, key in enumerate(keys):",
	"        if key is None or not under_prefix(key, old):",
	"            continue",
	"        if any(glob_match(glob, key) for glob in excepts):",
	"            kept.add(module_of(key))",
	"            continue",
	"        matched += 1",
	"        if prefixed_name(key, old, new) != key:",
	"            plan[i] = prefixed_name(key, old, new)",
	"    if not matched:",
	"        m.fail(line, f\"no key is '{old}' or starts with '{old}.'\" "
	"if old",
	"               else \"no key to rename\")",
	"",
	"    def metadata_name(module):",
	"        if under_prefix(module, old) and module not in kept:",
	"            return prefixed_name(module, old, new)",
	"        return None",
	"    rename_keys(m, line, keys, plan, metadata_name)",
	NULL
};

static const char *const py_rename_regex[] = {
	"",
	"",
	"def rename_regex(m, line, regex, replacement):",
	"    r\"\"\"rename-regex REGEX REPLACEMENT: every key the regex "
	"matches whole",
	"    becomes REPLACEMENT, in which \\0 is the whole key, \\1 to \\9 "
	"the groups",
	"    (empty when a group did not match) and \\\\ a backslash; other "
	"keys stay.",
	"    Renaming no key is a warning.",
	"",
	"    The script's POSIX extended regex is here in Python's syntax (the",
	"    comment above the call shows it as written); it is matched with",
	"    re.fullmatch against each key's UTF-8 bytes, as ckpt-surgeon "
	"matches",
	"    bytes.  Python and the C library agree on which keys match; where "
	"a",
	"    regex can give a group its text in more than one way they may not",
	"    agree on the group (with '(a*)*' on 'aa', the C library's \\1 is "
	"'aa',",
	"    Python's ''), so a regex whose groups can match one way only is "
	"the",
	"    safe kind.\"\"\"",
	"    pattern = re.compile(regex.encode(\"utf-8\", \"surrogatepass\"), "
	"re.DOTALL)",
	"    template = replacement.encode(\"utf-8\", \"surrogatepass\")",
	"    keys = m.names()",
	"    plan = {}",
	"    for i, key in enumerate(keys):",
	"        match = key is not None and \\",
	"            pattern.fullmatch(key.encode(\"utf-8\", "
	"\"surrogatepass\"))",
	"        if not match:",
	"            continue",
	"        # \\N: group N (b'' when it did not match); \\\\: a backslash",
	"        new = re.sub(rb\"\\\\([0-9\\\\])\", lambda ref: b\"\\\\\" if "
	"ref[1] == b\"\\\\\"",
	"                     else match.group(int(ref[1])) or b\"\", "
	"template)",
	"        try:",
	"            new = new.decode(\"utf-8\", \"surrogatepass\")",
	"        except UnicodeDecodeError:",
	"            m.fail(line, f\"the new name of '{key}' is not UTF-8 "
	"text\")",
	"        if new != key:",
	"            plan[i] = new",
	"    if not plan:",
	"        m.warn(line, \"rename-regex renames no key\")",
	"    rename_keys(m, line, keys, plan, moved_module(keys, plan))",
	NULL
};

static const char *const py_delete[] = {
	"",
	"",
	"def delete(m, line, glob):",
	"    \"\"\"delete GLOB: delete every key the glob matches (_metadata "
	"stays).\"\"\"",
	"    doomed = {key for key, name in zip(list(m.state), m.names())",
	"              if name is not None and glob_match(glob, name)}",
	"    if not doomed:",
	"        m.fail(line, f\"no key matches '{glob}'\")",
	"    m.save(m.state)",
	"    m.origin = [origin for origin, key in zip(m.origin, "
	"list(m.state))",
	"                if key not in doomed]",
	"    for key in doomed:",
	"        del m.state[key]",
	NULL
};

static const char *const py_column[] = {
	"",
	"",
	"# One tensor a column edit changes: its position in the state dict, "
	"the",
	"# dimension (from 0), its shape before, the new slice's value "
	"(insert).",
	"Target = collections.namedtuple(\"Target\", \"position dim shape "
	"fill\")",
	"",
	"# The names of each column edit's first index, for messages.",
	"INDEX_NAME = {\"move\": \"FROM\", \"insert\": \"AT\", \"delete\": "
	"\"INDEX\"}",
	"",
	"PER_TENSOR = (torch.per_tensor_affine, torch.per_tensor_symmetric)",
	"",
	"",
	"def column_edit(m, line, op, key, where, dim, value, also):",
	"    \"\"\"A column edit: op 'move' (where is (FROM, TO)), 'insert' "
	"((AT,)) or",
	"    'delete' ((INDEX,)) of KEY along dim, and of each --also (key, "
	"its",
	"    dimension or None for dim).  Every tensor is checked first; then "
	"each",
	"    gets a new tensor, and the same edit is applied to its optimizer "
	"state",
	"    when it is certain which state is its own (else a warning).\"\"\"",
	"    keys, values = m.names(), list(m.state.values())",
	"    if key not in keys:",
	"        m.fail(line, f\"no key '{key}' in the state dict\")",
	"    first = column_target(m, line, op, keys, values, keys.index(key), "
	"dim,",
	"                          where, value)",
	"    targets, size = [first], first.shape[first.dim]",
	"    for other, other_dim in also:",
	"        if other not in keys:",
	"            m.fail(line, f\"--also: no key '{other}' in the state "
	"dict\")",
	"        if any(t.position == keys.index(other) for t in targets):",
	"            m.fail(line, f\"--also: '{other}' is already edited by "
	"this line\")",
	"        target = column_target(m, line, op, keys, values, "
	"keys.index(other),",
	"                               dim if other_dim is None else "
	"other_dim,",
	"                               where, value)",
	"        if target.shape[target.dim] != size:",
	"            m.fail(line, f\"--also: '{other}' has "
	"{target.shape[target.dim]} \"",
	"                         f\"along dimension {target.dim}, '{key}' has "
	"{size}\")",
	"        targets.append(target)",
	"    if op == \"move\" and where[0] == where[1]:",
	"        return                      # a column moved onto itself",
	"    for target in targets:",
	"        origin = m.origin[target.position]",
	"        lost = [path for path, _, _, params in m.optimizers",
	"                if is_floating(values[target.position]) and",
	"                origin in params and params[origin] is None]",
	"        if lost:",
	"            m.warn(line, f\"the optimizer state at '{lost[0]}' no "
	"longer \"",
	"                         f\"matches '{keys[target.position]}' (cannot "
	"tell \"",
	"                         f\"which of its entries belong to which "
	"parameter); \"",
	"                         f\"to reset it, add: drop "
	"'{lost[0]}.state.*'\")",
	"            break",
	"    m.save(m.state)",
	"    state_keys = list(m.state)",
	"    for target in targets:",
	"        m.state[state_keys[target.position]] = column_edited(",
	"            values[target.position], op, target.dim, where, "
	"target.fill)",
	"        for _, state, ids, params in m.optimizers:",
	"            parameter = params.get(m.origin[target.position])",
	"            entry = state.get(ids[parameter]) if parameter is not "
	"None \\",
	"                else None",
	"            for name, tensor in list(entry.items()) \\",
	"                    if type(entry) in DICTS else ():",
	"                if is_tensor(tensor) and tuple(tensor.shape) == "
	"target.shape:",
	"                    zero = torch.zeros((), dtype=tensor.dtype)  # new "
	"moments",
	"                    m.save(entry)",
	"                    entry[name] = column_edited(tensor, op, "
	"target.dim, where,",
	"                                                zero)",
	"",
	"",
	"def column_target(m, line, op, keys, values, position, dim, where, "
	"value):",
	"    \"\"\"The Target for the tensor at position, along dim (negative: "
	"from the",
	"    end), after checking that the edit can apply to it.\"\"\"",
	"    name, tensor = keys[position], values[position]",
	"    if not is_tensor(tensor):",
	"        m.fail(line, f\"'{name}' is a {kind_name(tensor)}, not a "
	"tensor\")",
	"    ndim = tensor.dim()",
	"    if ndim == 0:",
	"        m.fail(line, f\"'{name}' is a 0-dimensional tensor: it has no "
	"columns\")",
	"    if not -ndim <= dim < ndim:",
	"        m.fail(line, f\"dimension {dim} is out of range for '{name}', "
	"which \"",
	"                     f\"has {ndim}\")",
	"    dim %= ndim",
	"    if str(tensor.dtype) in (\"torch.quint4x2\", \"torch.quint2x4\"):",
	"        m.fail(line, f\"'{name}' is a packed quantized tensor (values "
	"share \"",
	"                     f\"bytes)\")",
	"    if tensor.is_quantized and op == \"insert\":",
	"        m.fail(line, f\"'{name}' is quantized: a new column would "
	"need \"",
	"                     f\"quantizing\")",
	"    if tensor.is_quantized and tensor.qscheme() not in PER_TENSOR and "
	"\\",
	"            tensor.q_per_channel_axis() == dim:",
	"        m.fail(line, f\"'{name}' is quantized per channel along that "
	"\"",
	"                     f\"dimension\")",
	"    n = tensor.shape[dim]",
	"    if where[0] > n or where[0] == n and op != \"insert\":",
	"        m.fail(line, f\"{INDEX_NAME[op]} {where[0]} is out of range: "
	"'{name}' \"",
	"                     f\"has {n} along dimension {dim}\")",
	"    if op == \"move\" and where[1] >= n:",
	"        m.fail(line, f\"TO {where[1]} is out of range: '{name}' has "
	"{n} along \"",
	"                     f\"dimension {dim}\")",
	"    fill = fill_value(m, line, value, tensor.dtype) if op == "
	"\"insert\" \\",
	"        else None",
	"    return Target(position, dim, tuple(tensor.shape), fill)",
	"",
	"",
	"def is_floating(value):",
	"    \"\"\"A floating-point or complex tensor (a parameter, or a float "
	"buffer).\"\"\"",
	"    return is_tensor(value) and (value.is_floating_point() or",
	"                                 value.is_complex())",
	"",
	"",
	"def fill_value(m, line, text, dtype):",
	"    \"\"\"--value X as written (0 when not given) as a 0-dim tensor "
	"of dtype,",
	"    converted as torch.tensor(X, dtype=dtype) converts it; refused "
	"when it",
	"    does not fit: a finite number that would be infinite, a "
	"non-integer or",
	"    out-of-range number for an integer dtype, anything but true, "
	"false or",
	"    a number equal to 1 or 0 for bool.\"\"\"",
	"    name = str(dtype).replace(\"torch.\", \"\")",
	"    if dtype == torch.bool:",
	"        if text.lower() in (\"true\", \"false\"):",
	"            return torch.tensor(text.lower() == \"true\")",
	"        try:",
	"            number = float(text)",
	"        except ValueError:",
	"            number = None",
	"        if number in (0.0, 1.0):",
	"            return torch.tensor(number == 1.0)",
	"        m.fail(line, f\"value '{text}' is not a bool (true, false, 1 "
	"or 0)\")",
	"    try:",
	"        number = float(text)",
	"    except ValueError:",
	"        m.fail(line, f\"value '{text}' is not a number\")",
	"    if dtype.is_complex or dtype.is_floating_point and \\",
	"            torch.empty((), dtype=dtype).element_size() > 1:",
	"        element = torch.tensor(complex(number, 0) if dtype.is_complex",
	"                               else number, dtype=dtype)",
	"        if math.isfinite(number) and torch.isinf(element).item():",
	"            m.fail(line, f\"value '{text}' does not fit {name}\")",
	"        return element",
	"    try:",
	"        limits = torch.iinfo(dtype)",
	"    except TypeError:",
	"        m.fail(line, f\"values of dtype {name} cannot be written\")",
	"    if re.fullmatch(r\"[+-]?[0-9]+\", text) and -2**63 <= int(text) < "
	"2**63:",
	"        integer = int(text)",
	"    elif not math.isfinite(number) or number != math.floor(number):",
	"        m.fail(line, f\"value '{text}' is not an integer ({name})\")",
	"    elif not -2.0**63 <= number < 2.0**63:",
	"        m.fail(line, f\"value '{text}' does not fit {name}\")",
	"    else:",
	"        integer = int(number)",
	"    if not limits.min <= integer <= limits.max:",
	"        m.fail(line, f\"value '{text}' does not fit {name}\")",
	"    return torch.tensor(integer, dtype=dtype)",
	"",
	"",
	"def column_edited(tensor, op, dim, where, fill):",
	"    \"\"\"A new tensor: tensor with the column edit applied along "
	"dim, as the",
	"    reference torch code does it; contiguous, with a storage of its "
	"own.",
	"    A Parameter stays a Parameter, a tensor subclass keeps its class "
	"and",
	"    attributes, a quantized tensor its quantizer (its integers move), "
	"and",
	"    requires_grad and the conj/neg bits are kept.\"\"\"",
	"    data = tensor.detach()",
	"    if type(data) is not torch.Tensor:",
	"        data = data.as_subclass(torch.Tensor)",
	"    if data.is_quantized:",
	"        data = data.int_repr()",
	"    conj, neg = data.is_conj(), data.is_neg()",
	"    if conj:",
	"        data = data.conj()          # the values as stored",
	"    if neg:",
	"        data = data._neg_view()",
	"    n, first = data.shape[dim], where[0]",
	"    with torch.no_grad():",
	"        if op == \"move\":",
	"            moved = data.narrow(dim, first, 1)",
	"            data = torch.cat((data.narrow(dim, 0, first),",
	"                              data.narrow(dim, first + 1, n - first - "
	"1)), dim)",
	"            to = where[1]",
	"            out = torch.cat((data.narrow(dim, 0, to), moved,",
	"                             data.narrow(dim, to, n - 1 - to)), dim)",
	"        elif op == \"insert\":",
	"            shape = list(data.shape)",
	"            shape[dim] = 1",
	"            out = torch.cat((data.narrow(dim, 0, first), "
	"fill.expand(shape),",
	"                             data.narrow(dim, first, n - first)), "
	"dim)",
	"        else:",
	"            out = torch.cat((data.narrow(dim, 0, first),",
	"                             data.narrow(dim, first + 1, n - first - "
	"1)), dim)",
	"        out = out.contiguous()",
	"    if tensor.is_quantized and tensor.qscheme() in PER_TENSOR:",
	"        out = torch._make_per_tensor_quantized_tensor(",
	"            out, tensor.q_scale(), tensor.q_zero_point())",
	"    elif tensor.is_quantized:",
	"        out = torch._make_per_channel_quantized_tensor(",
	"            out, tensor.q_per_channel_scales(),",
	"            tensor.q_per_channel_zero_points(), "
	"tensor.q_per_channel_axis())",
	"    if neg:",
	"        out = out._neg_view()",
	"    if conj:",
	"        out = out.conj()",
	"    if isinstance(tensor, torch.nn.Parameter):",
	"        new = torch.nn.Parameter(out, "
	"requires_grad=tensor.requires_grad)",
	"    else:",
	"        new = out if type(tensor) is torch.Tensor else \\",
	"            out.as_subclass(type(tensor))",
	"        new.requires_grad_(tensor.requires_grad)",
	"    new.__dict__.update(getattr(tensor, \"__dict__\", {}))",
	"    return new",
	"",
	"",
	"def match_optimizers(m):",
	"    \"\"\"The optimizer states at the top of the checkpoint, each as "
	"(dotted",
	"    path, state, parameter ids, params): each entry of Lightning's",
	"    optimizer_states, then optimizer, optimizer_state_dict and optim "
	"(the",
	"    first 8 holding a state dict and a param_groups list, those whose",
	"    param_groups list parameter numbers).  params maps the position "
	"of each",
	"    floating-point key of the state dict to its parameter index, or "
	"to None",
	"    when that cannot be told (see match_parameters); a key missing "
	"from it",
	"    is no parameter.\"\"\"",
	"    top, found = m.checkpoint, []",
	"    if type(top) not in DICTS:",
	"        return found",
	"    listed = top.get(\"optimizer_states\")",
	"    entries = [(f\"optimizer_states.{i}\", opt) for i, opt in",
	"               enumerate(listed if type(listed) is list else ())]",
	"    entries += [(name, top.get(name))",
	"                for name in (\"optimizer\", \"optimizer_state_dict\", "
	"\"optim\")]",
	"    looked = 0",
	"    for path, opt in entries:",
	"        state = opt.get(\"state\") if type(opt) in DICTS else None",
	"        groups = opt.get(\"param_groups\") if type(opt) in DICTS else "
	"None",
	"        if type(state) not in DICTS or type(groups) is not list or "
	"looked == 8:",
	"            continue",
	"        looked += 1",
	"        ids = []",
	"        for group in groups:",
	"            params = group.get(\"params\") if type(group) in DICTS "
	"else None",
	"            if type(params) is not list or \\",
	"                    any(type(p) is not int for p in params):",
	"                break",
	"            ids += params",
	"        else:",
	"            params = match_parameters(list(m.state.values()), state, "
	"ids)",
	"            found.append((path, state, ids, params))",
	"    return found",
	"",
	"",
	"def match_parameters(values, state, ids):",
	"    \"\"\"Which state-dict value each optimizer parameter is.  A "
	"model's",
	"    parameters are its state dict without the buffers, in order, so "
	"the",
	"    parameters are placed on the floating-point values in increasing",
	"    order, one each, a parameter with state tensors only on a value "
	"of",
	"    their shape.  A value is parameter i when every such placement "
	"puts i",
	"    on it; no parameter when none puts one on it; else (placements "
	"that",
	"    disagree, none at all, state tensors of two shapes) it cannot be "
	"told:",
	"    {position: i or None}, positions of no parameter left out.\"\"\"",
	"    candidates = [j for j, value in enumerate(values) if "
	"is_floating(value)]",
	"    unknown = dict.fromkeys(candidates)",
	"    wanted = []",
	"    for pid in ids:",
	"        entry = state.get(pid)",
	"        own = {tuple(v.shape) for v in entry.values()",
	"               if is_tensor(v) and v.dim() > 0} if type(entry) in "
	"DICTS \\",
	"            else set()",
	"        if len(own) > 1:",
	"            return unknown          # its state tensors disagree",
	"        wanted.append(own.pop() if own else None)",
	"    n, k = len(wanted), len(candidates)",
	"    if n > k or n + 1 > (1 << 26) // (k + 1):",
	"        return unknown",
	"    shapes = [tuple(values[j].shape) for j in candidates]",
	"",
	"    def fits(i, j):",
	"        return wanted[i] is None or wanted[i] == shapes[j]",
	"    # placements, counted up to 2: head[i][j] of parameters 0..i-1 on",
	"    # values 0..j-1; tail[i][j] of parameters i.. on values j..",
	"    head = [[1] * (k + 1)] + [[0] * (k + 1) for _ in range(n)]",
	"    for i in range(1, n + 1):",
	"        for j in range(1, k + 1):",
	"            head[i][j] = min(2, head[i][j - 1] +",
	"                             (head[i - 1][j - 1] if fits(i - 1, j - "
	"1) else 0))",
	"    tail = [[0] * (k + 1) for _ in range(n)] + [[1] * (k + 1)]",
	"    for i in reversed(range(n)):",
	"        for j in reversed(range(k)):",
	"            tail[i][j] = min(2, tail[i][j + 1] +",
	"                             (tail[i + 1][j + 1] if fits(i, j) else "
	"0))",
	"    if not tail[0][0]:",
	"        return unknown              # no placement at all",
	"    found = {}",
	"    for j in range(k):",
	"        on = [i for i in range(n)",
	"              if fits(i, j) and head[i][j] and tail[i + 1][j + 1]]",
	"        skipped = any(head[i][j] and tail[i][j + 1] for i in range(n "
	"+ 1))",
	"        if on:",
	"            found[candidates[j]] = on[0] if len(on) == 1 and not "
	"skipped \\",
	"                else None",
	"    return found",
	"",
	"",
	NULL
};

static const char *const py_move_column[] = {
	"",
	"",
	"def move_column(m, line, key, source, target, dim=1, also=()):",
	"    \"\"\"move-column KEY FROM TO [--dim D] [--also KEY[:D]]...: "
	"remove the",
	"    slice at index FROM along dimension D and insert it so that it "
	"sits at",
	"    index TO, as the reference does:",
	"        moved = w.narrow(D, FROM, 1)",
	"        w = torch.cat((w[..:FROM], w[FROM+1:..]), D)",
	"        w = torch.cat((w[..:TO], moved, w[TO:..]), D)\"\"\"",
	"    column_edit(m, line, \"move\", key, (source, target), dim, None, "
	"also)",
	NULL
};

static const char *const py_insert_column[] = {
	"",
	"",
	"def insert_column(m, line, key, index, dim=1, value=\"0\", also=()):",
	"    \"\"\"insert-column KEY AT [--dim D] [--value X] [--also "
	"KEY[:D]]...: insert",
	"    a new slice at index AT along dimension D, filled with X.\"\"\"",
	"    column_edit(m, line, \"insert\", key, (index,), dim, value, also)",
	NULL
};

static const char *const py_delete_column[] = {
	"",
	"",
	"def delete_column(m, line, key, index, dim=1, also=()):",
	"    \"\"\"delete-column KEY INDEX [--dim D] [--also KEY[:D]]...: "
	"remove the",
	"    slice at index INDEX along dimension D.\"\"\"",
	"    column_edit(m, line, \"delete\", key, (index,), dim, None, also)",
	NULL
};

static const char *const py_drop[] = {
	"",
	"",
	"def drop(m, line, path):",
	"    \"\"\"drop PATH: remove the entries at a dotted path from the top "
	"of the",
	"    checkpoint, outside the state dict: dict keys, list items, object",
	"    attributes.  Each component may be a glob ('*' any run of "
	"characters,",
	"    '?' one), and a key holding dots takes as many components.  "
	"Everything",
	"    found goes at once (list indices count in the list as it "
	"was).\"\"\"",
	"    if not path:",
	"        m.fail(line, \"drop needs a path\")",
	"    parts, found = path.split(\".\"), []",
	"",
	"    def visit(node, at, where, depth):",
	"        for name, value, holder, key in children(node):",
	"            width = name.count(\".\") + 1",
	"            if \"\\0\" in name or at + width > len(parts) or not "
	"glob_match(",
	"                    \".\".join(parts[at:at + width]), name):",
	"                continue",
	"            here = f\"{where}.{name}\" if where else name",
	"            if at + width < len(parts):",
	"                if value is m.state:",
	"                    m.fail(line, f\"'{here}' is the state dict: use "
	"delete \"",
	"                                 f\"for its keys\")",
	"                if depth < 256:",
	"                    visit(value, at + width, here, depth + 1)",
	"            elif m.root == here or m.root.startswith(here + \".\"):",
	"                m.fail(line, f\"'{here}' holds the state dict: use "
	"delete for \"",
	"                             f\"its keys\")",
	"            elif holder is m.state:",
	"                m.fail(line, f\"'{here}' is a state-dict key: use "
	"delete to \"",
	"                             f\"remove it\")",
	"            elif type(holder) is tuple:",
	"                m.fail(line, f\"'{here}' is in a tuple, which cannot "
	"lose \"",
	"                             f\"items\")",
	"            else:",
	"                found.append((holder, key))",
	"    visit(m.checkpoint, 0, \"\", 0)",
	"    if not found:",
	"        m.fail(line, f\"nothing at '{path}'\")",
	"    doomed = {}",
	"    for holder, key in found:",
	"        doomed.setdefault(id(holder), (holder, set()))[1].add(key)",
	"    for holder, keys in doomed.values():",
	"        m.save(holder)",
	"        if isinstance(holder, list):",
	"            holder[:] = [v for i, v in enumerate(holder) if i not in "
	"keys]",
	"        else:",
	"            for key in keys:",
	"                del holder[key]",
	NULL
};

static const char *const py_main[] = {
	"",
	"",
	"def main(argv=None):",
	"    parser = "
	"argparse.ArgumentParser(description=__doc__.split(\"\\n\\n\")[0])",
	"    parser.add_argument(\"input\", metavar=\"IN\", help=\"the "
	"checkpoint to read\")",
	"    parser.add_argument(\"output\", metavar=\"OUT\",",
	"                        help=\"where to write the migrated "
	"checkpoint\")",
	"    parser.add_argument(\"--force\", action=\"store_true\",",
	"                        help=\"replace OUT when it exists\")",
	"    args = parser.parse_args(argv)",
	"",
	"    def error(message, where=None):",
	"        where = f\"{where}: \" if where else \"\"",
	"        print(f\"{parser.prog}: {where}{message}\", file=sys.stderr)",
	"        return 2",
	"    if os.path.lexists(args.output) and not args.force:",
	"        return error(\"exists (use --force to replace it)\", "
	"args.output)",
	"    if os.path.exists(args.output) and os.path.exists(args.input) and "
	"\\",
	"            os.path.samefile(args.input, args.output):",
	"        return error(\"this is the input file: write to another "
	"file\",",
	"                     args.output)",
	"    try:",
	"        checkpoint = load(args.input)",
	"    except Exception as exc:",
	"        return error(f\"cannot load: {type(exc).__name__}: {exc}\", "
	"args.input)",
	"    try:",
	"        migrate(checkpoint)",
	"    except MigrationError as exc:",
	"        # an edit's message names its script line; others are about "
	"IN",
	"        return error(exc, args.input if exc.line is None else None)",
	"    try:",
	"        save(checkpoint, args.output)",
	"    except OSError as exc:",
	"        return error(f\"cannot write: {exc}\", args.output)",
	"    return 0",
	"",
	"",
	"def load(path):",
	"    \"\"\"torch.load on the CPU, unpickling everything "
	"(weights_only=False: a",
	"    Lightning checkpoint holds more than tensors) where torch has the",
	"    argument.\"\"\"",
	"    if \"weights_only\" in inspect.signature(torch.load).parameters:",
	"        return torch.load(path, map_location=\"cpu\", "
	"weights_only=False)",
	"    return torch.load(path, map_location=\"cpu\")",
	"",
	"",
	"def save(checkpoint, path):",
	"    \"\"\"torch.save into a new directory beside path, flushed to "
	"disk, then",
	"    renamed to path: an interrupted run leaves no half-written file, "
	"and",
	"    the archive inside is named after path, as torch names it.\"\"\"",
	"    directory = tempfile.mkdtemp(prefix=\".migrate-\",",
	"                                 "
	"dir=os.path.dirname(os.path.abspath(path)))",
	"    temporary = os.path.join(directory, os.path.basename(path))",
	"    try:",
	"        torch.save(checkpoint, temporary)",
	"        fd = os.open(temporary, os.O_RDONLY)",
	"        try:",
	"            os.fsync(fd)",
	"        finally:",
	"            os.close(fd)",
	"        os.replace(temporary, path)",
	"    finally:",
	"        if os.path.exists(temporary):",
	"            os.unlink(temporary)",
	"        os.rmdir(directory)",
	NULL
};

enum piece {
	PC_CORE,
	PC_GLOB,
	PC_RENAMES,
	PC_RENAME,
	PC_RENAME_PREFIX,
	PC_RENAME_REGEX,
	PC_DELETE,
	PC_COLUMN,
	PC_MOVE_COLUMN,
	PC_INSERT_COLUMN,
	PC_DELETE_COLUMN,
	PC_DROP,
	PC_MAIN,
	PC__COUNT
};

#define PIECE(p) (1u << (p))

/* Each piece, in the order the program holds them, and what it calls. */
static const struct piece_info {
	const char *const *lines;
	unsigned needs;		/* PIECE() bits */
} pieces[PC__COUNT] = {
	[PC_CORE] = { py_core, 0 },
	[PC_GLOB] = { py_glob, 0 },
	[PC_RENAMES] = { py_renames, 0 },
	[PC_RENAME] = { py_rename, PIECE(PC_RENAMES) },
	[PC_RENAME_PREFIX] = { py_rename_prefix,
			       PIECE(PC_RENAMES) | PIECE(PC_GLOB) },
	[PC_RENAME_REGEX] = { py_rename_regex, PIECE(PC_RENAMES) },
	[PC_DELETE] = { py_delete, PIECE(PC_GLOB) },
	[PC_COLUMN] = { py_column, 0 },
	[PC_MOVE_COLUMN] = { py_move_column, PIECE(PC_COLUMN) },
	[PC_INSERT_COLUMN] = { py_insert_column, PIECE(PC_COLUMN) },
	[PC_DELETE_COLUMN] = { py_delete_column, PIECE(PC_COLUMN) },
	[PC_DROP] = { py_drop, PIECE(PC_GLOB) },
	[PC_MAIN] = { py_main, 0 },
};

/* The Python function each edit becomes, and the piece defining it. */
static const struct {
	const char *helper;
	enum piece piece;
} helpers[EDIT__COUNT] = {
	[EDIT_RENAME] = { "rename", PC_RENAME },
	[EDIT_RENAME_PREFIX] = { "rename_prefix", PC_RENAME_PREFIX },
	[EDIT_RENAME_REGEX] = { "rename_regex", PC_RENAME_REGEX },
	[EDIT_DELETE] = { "delete", PC_DELETE },
	[EDIT_MOVE_COLUMN] = { "move_column", PC_MOVE_COLUMN },
	[EDIT_INSERT_COLUMN] = { "insert_column", PC_INSERT_COLUMN },
	[EDIT_DELETE_COLUMN] = { "delete_column", PC_DELETE_COLUMN },
	[EDIT_DROP] = { "drop", PC_DROP },
};

/* The modules the program imports, and the pieces that need each. */
static const struct {
	const char *name;
	unsigned pieces;	/* 0: always */
} imports[] = {
	{ "argparse", 0 },
	{ "collections", 0 },
	{ "functools", PIECE(PC_GLOB) },
	{ "inspect", 0 },
	{ "math", 0 },
	{ "os", 0 },
	{ "re", PIECE(PC_GLOB) | PIECE(PC_RENAME_REGEX) | PIECE(PC_COLUMN) },
	{ "sys", 0 },
	{ "tempfile", 0 },
};

/* Where a generated call's lines may run to, as PEP 8 says. */
#define PY_WIDTH 79


/* ---- text: Python literals, comments and docstrings ------------------- */

/*
 * One UTF-8 sequence at s (lone surrogates allowed: Python's pickle writes
 * them so): its length with *cp set, or 0 when s does not start with one.
 */
static size_t
utf8_next(const unsigned char *s, uint32_t *cp)
{
	unsigned char lo = 0x80, hi = 0xbf;
	uint32_t c = s[0];
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		lo = s[0] == 0xf0 ? 0x90 : 0x80;
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		/* a NUL (the string's end) is never in range */
		if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	*cp = c;
	return n;
}

/*
 * Code points a reader would not see as they are (controls, spaces that
 * are not ' ', zero-width and direction marks, surrogates): written as
 * escapes everywhere in the program, comments included.
 */
static bool
hidden(uint32_t cp)
{
	static const uint32_t ranges[][2] = {
		{ 0x00, 0x1f }, { 0x7f, 0xa0 }, { 0xad, 0xad },
		{ 0x34f, 0x34f }, { 0x61c, 0x61c }, { 0x115f, 0x1160 },
		{ 0x17b4, 0x17b5 }, { 0x180b, 0x180f }, { 0x2000, 0x200f },
		{ 0x2028, 0x202f }, { 0x205f, 0x206f }, { 0x3000, 0x3000 },
		{ 0x3164, 0x3164 }, { 0xd800, 0xdfff }, { 0xfe00, 0xfe0f },
		{ 0xfeff, 0xfeff }, { 0xffa0, 0xffa0 }, { 0xfff0, 0xfffb },
		{ 0xe0000, 0xe0fff },
	};
	size_t i;

	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (cp >= ranges[i][0] && cp <= ranges[i][1])
			return true;
	return false;
}

/* Python's escape for a code point: \n \r \t, \xNN, \uNNNN, \UNNNNNNNN. */
static int
add_escape(struct buf *out, uint32_t cp)
{
	if (cp == '\n' || cp == '\r' || cp == '\t')
		return buf_addstr(out, cp == '\n' ? "\\n" : cp == '\r' ? "\\r" :
				  "\\t");
	if (cp <= 0xff)
		return buf_addf(out, "\\x%02x", (unsigned)cp);
	if (cp <= 0xffff)
		return buf_addf(out, "\\u%04x", (unsigned)cp);
	return buf_addf(out, "\\U%08x", (unsigned)cp);
}

enum text_mode {
	TEXT_STR,	/* inside a str literal: escapes mean the characters */
	TEXT_DOC,	/* inside a """docstring""": escapes are shown */
	TEXT_COMMENT,	/* after '#': escapes are shown */
};

/*
 * Append s for mode, quote being the str literal's quote character.
 * Bytes that are not UTF-8 are shown as \xNN in comments and docstrings;
 * in a literal they are \udcNN when bad_ok (Python's surrogateescape, as
 * file names are decoded), else EILSEQ.
 */
static int
add_text(struct buf *out, const char *s, enum text_mode mode, char quote,
	 bool bad_ok)
{
	const unsigned char *p = (const unsigned char *)s;
	const char *shown = mode == TEXT_DOC ? "\\" : "";

	while (*p) {
		uint32_t cp;
		size_t n = utf8_next(p, &cp);
		int r;

		if (!n && mode != TEXT_STR)
			r = buf_addf(out, "%s\\x%02x", shown, *p);
		else if (!n && bad_ok)
			r = buf_addf(out, "\\udc%02x", *p);
		else if (!n)
			return errno = EILSEQ, -1;
		else if (hidden(cp))
			r = (mode == TEXT_DOC ? buf_addch(out, '\\') : 0) ||
			    add_escape(out, cp);
		else if (mode != TEXT_COMMENT && (cp == '\\' ||
			 cp == (uint32_t)quote))
			r = buf_addch(out, '\\') || buf_addch(out, (int)cp);
		else
			r = buf_add(out, p, n);
		if (r)
			return -1;
		p += n ? n : 1;
	}
	return 0;
}

/* Could s be written as r'...' (quote) and mean the same? */
static bool
raw_fits(const char *s, char quote)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), tail = 0;

	if (!strchr(s, '\\') || strchr(s, quote))
		return false;
	while (tail < len && s[len - 1 - tail] == '\\')
		tail++;
	if (tail % 2)		/* r'...\' would escape the quote */
		return false;
	while (*p) {
		uint32_t cp;
		size_t n = utf8_next(p, &cp);

		if (!n || hidden(cp))
			return false;
		p += n;
	}
	return true;
}

/*
 * s as a Python str literal: quoted like repr() quotes ('...', "..." when
 * s holds a single quote and no double one); r'...' when raw_ok and that
 * reads better (a regex).  Leaves out unchanged on error (EILSEQ: s is
 * not UTF-8 and bad_ok is false).
 */
static int
add_py_str(struct buf *out, const char *s, bool raw_ok, bool bad_ok)
{
	char quote = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
	size_t len = out->len;
	int r;

	if (raw_ok && raw_fits(s, quote))
		r = buf_addf(out, "r%c%s%c", quote, s, quote);
	else
		r = buf_addch(out, quote) || add_text(out, s, TEXT_STR, quote,
						      bad_ok) ||
		    buf_addch(out, quote);
	if (r && out->data) {
		out->len = len;
		out->data[len] = '\0';
	}
	return r ? -1 : 0;
}

/* ---- rename-regex: POSIX extended syntax to Python's -------------------- */

/* The translation of one regex. */
struct rx {
	const unsigned char *p;	/* what is left of the ERE */
	struct buf *out;
	size_t atom;		/* where the last atom starts in out */
	bool have_atom;		/* one was written since '(' or '|' */
	bool repeated;		/* and it already has a quantifier */
	size_t *open;		/* out offsets of the unclosed '(' */
	size_t nopen, alloc;
	struct ckerr *err;
};

/* The C locale's character classes, as byte ranges. */
static const struct {
	const char *name;
	unsigned char r[8];	/* lo, hi pairs */
	int n;			/* pairs */
} ere_classes[] = {
	{ "alpha", { 'A', 'Z', 'a', 'z' }, 2 },
	{ "digit", { '0', '9' }, 1 },
	{ "alnum", { '0', '9', 'A', 'Z', 'a', 'z' }, 3 },
	{ "upper", { 'A', 'Z' }, 1 },
	{ "lower", { 'a', 'z' }, 1 },
	{ "space", { '\t', '\r', ' ', ' ' }, 2 },
	{ "blank", { '\t', '\t', ' ', ' ' }, 2 },
	{ "punct", { '!', '/', ':', '@', '[', '`', '{', '~' }, 4 },
	{ "print", { ' ', '~' }, 1 },
	{ "graph", { '!', '~' }, 1 },
	{ "cntrl", { 0x00, 0x1f, 0x7f, 0x7f }, 2 },
	{ "xdigit", { '0', '9', 'A', 'F', 'a', 'f' }, 3 },
};

static int
rx_fail(struct rx *x, const char *why)
{
	return ckerr_set(x->err, CKERR_UNSUPPORTED, "%s", why);
}

static int
rx_nomem(struct rx *x)
{
	return ckerr_nomem(x->err);
}

/* A new atom starts here (what a following quantifier applies to). */
static void
rx_atom(struct rx *x)
{
	x->atom = x->out->len;
	x->have_atom = true;
	x->repeated = false;
}

/*
 * A quantifier on the last atom.  POSIX lets them stack ('a**', 'a+?'),
 * Python does not ('a+?' is lazy there): a second one wraps the first in
 * a group of its own.  Anchors get a group too (Python does not repeat
 * them bare).
 */
static int
rx_quantifier(struct rx *x, const char *q, size_t len)
{
	struct buf *o = x->out;
	const char *a;

	if (!x->have_atom)
		return rx_fail(x, "a quantifier with nothing to repeat");
	a = o->data + x->atom;
	if (x->repeated || *a == '^' || !strcmp(a, "\\Z") ||
	    !strncmp(a, "\\b", 2) || !strncmp(a, "\\B", 2) ||
	    !strncmp(a, "\\A", 2)) {
		if (buf_grow(o, 4) < 0)
			return rx_nomem(x);
		memmove(o->data + x->atom + 3, o->data + x->atom,
			o->len - x->atom + 1);
		memcpy(o->data + x->atom, "(?:", 3);
		o->len += 3;
		if (buf_addch(o, ')') < 0)
			return rx_nomem(x);
	}
	if (buf_add(o, q, len) < 0)
		return rx_nomem(x);
	x->repeated = true;
	return 0;
}

/* One byte of a bracket expression, as a Python class writes it. */
static int
class_byte(struct buf *out, unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z'))
		return buf_addch(out, c);
	return buf_addf(out, "\\x%02x", c);
}

static int
class_range(struct buf *out, unsigned char lo, unsigned char hi)
{
	if (class_byte(out, lo) < 0)
		return -1;
	if (lo == hi)
		return 0;
	return (hi > lo + 1 && buf_addch(out, '-') < 0) ||
	       class_byte(out, hi) < 0 ? -1 : 0;
}

/*
 * An element of a bracket expression that can end a range: a byte, or a
 * collating symbol [.c.] or equivalence class [=c=] of one byte (in the C
 * locale that is the byte).  -1 when it is neither.
 */
static int
rx_bracket_char(struct rx *x)
{
	const unsigned char *p = x->p;

	if (p[0] == '[' && (p[1] == '.' || p[1] == '=')) {
		if (!p[2] || p[3] != p[1] || p[4] != ']')
			return rx_fail(x, "a collating element of more than "
				       "one character");
		x->p += 5;
		return p[2];
	}
	x->p++;
	return p[0];
}

/* [...] (x->p just after '['): a Python class over the same bytes. */
static int
rx_bracket(struct rx *x)
{
	struct buf *o = x->out;
	bool first = true;

	rx_atom(x);
	if (buf_addch(o, '[') < 0 || (*x->p == '^' && buf_addch(o, '^') < 0))
		return rx_nomem(x);
	if (*x->p == '^')
		x->p++;
	for (;;) {
		int lo, hi;
		size_t i;

		if (!*x->p)
			return rx_fail(x, "an unterminated bracket expression");
		if (*x->p == ']' && !first) {
			x->p++;
			break;
		}
		first = false;
		if (x->p[0] == '[' && x->p[1] == ':') {
			const char *name = (const char *)x->p + 2;
			const char *end = strstr(name, ":]");

			for (i = 0; end && i < sizeof(ere_classes) /
			     sizeof(ere_classes[0]); i++)
				if (strlen(ere_classes[i].name) ==
				    (size_t)(end - name) &&
				    !strncmp(ere_classes[i].name, name,
					     (size_t)(end - name)))
					break;
			if (!end || i == sizeof(ere_classes) /
			    sizeof(ere_classes[0]))
				return rx_fail(x, "an unknown character class");
			for (lo = 0; lo < 2 * ere_classes[i].n; lo += 2)
				if (class_range(o, ere_classes[i].r[lo],
						ere_classes[i].r[lo + 1]) < 0)
					return rx_nomem(x);
			x->p = (const unsigned char *)end + 2;
			continue;
		}
		lo = rx_bracket_char(x);
		if (lo < 0)
			return -1;
		hi = lo;
		if (x->p[0] == '-' && x->p[1] && x->p[1] != ']') {
			x->p++;
			hi = rx_bracket_char(x);
			if (hi < 0)
				return -1;
			if (hi < lo)
				return rx_fail(x, "a range that ends before it "
					       "starts");
		}
		if (class_range(o, (unsigned char)lo, (unsigned char)hi) < 0)
			return rx_nomem(x);
	}
	return buf_addch(o, ']') < 0 ? rx_nomem(x) : 0;
}

/* An ordinary byte (x->p at it), escaped where Python would read it. */
static int
rx_literal(struct rx *x)
{
	const unsigned char *p = x->p;
	uint32_t cp;
	size_t n = *p >= 0x80 ? utf8_next(p, &cp) : 0;

	/*
	 * A whole UTF-8 character is written as it is, unless a quantifier
	 * follows: that applies to its last byte only, so bytes are escaped
	 */
	if (n > 1 && (!p[n] || !strchr("*+?{", p[n]))) {
		rx_atom(x);
		x->p += n;
		return buf_add(x->out, p, n) < 0 ? rx_nomem(x) : 0;
	}
	rx_atom(x);
	x->p++;
	if (*p < 0x20 || *p >= 0x7f)
		return buf_addf(x->out, "\\x%02x", *p) < 0 ? rx_nomem(x) : 0;
	if (strchr(".^$*+?{}[]\\|()", *p) &&
	    buf_addch(x->out, '\\') < 0)
		return rx_nomem(x);
	return buf_addch(x->out, *p) < 0 ? rx_nomem(x) : 0;
}

/* The GNU escapes Python writes differently (or not at all). */
static const struct {
	char c;
	const char *python;
} ere_escapes[] = {
	{ 'w', "\\w" }, { 'W', "\\W" }, { 's', "\\s" }, { 'S', "\\S" },
	{ 'b', "\\b" }, { 'B', "\\B" }, { '<', "\\b(?=\\w)" },
	{ '>', "\\b(?<=\\w)" }, { '`', "\\A" }, { '\'', "\\Z" },
};

/* A backslash and what follows it (x->p at the backslash). */
static int
rx_escape(struct rx *x)
{
	unsigned char c = x->p[1];
	size_t i;

	if (!c)
		return rx_fail(x, "a trailing backslash");
	x->p += 2;
	rx_atom(x);
	if (c >= '1' && c <= '9') {
		/*
		 * ckpt-surgeon compiles "^(" ERE ")$": \N names its group N,
		 * the script's group N - 1 (\1, the wrapping group, is
		 * refused by the C library: it is not closed yet)
		 */
		if (c == '1')
			return rx_fail(x, "a back reference to the whole "
				       "match");
		return buf_addf(x->out, "(?:\\%c)", c - 1) < 0 ? rx_nomem(x) :
		       0;
	}
	for (i = 0; i < sizeof(ere_escapes) / sizeof(ere_escapes[0]); i++)
		if (ere_escapes[i].c == (char)c)
			return buf_addstr(x->out, ere_escapes[i].python) < 0 ?
			       rx_nomem(x) : 0;
	x->p--;			/* any other: the character itself */
	return rx_literal(x);
}

static int
rx_open(struct rx *x)
{
	if (x->nopen == x->alloc) {
		size_t n = x->alloc ? 2 * x->alloc : 8;
		size_t *p = realloc(x->open, n * sizeof(*p));

		if (!p)
			return rx_nomem(x);
		x->open = p;
		x->alloc = n;
	}
	x->open[x->nopen++] = x->out->len;
	x->have_atom = false;
	return buf_addch(x->out, '(') < 0 ? rx_nomem(x) : 0;
}

static int
rx_close(struct rx *x)
{
	if (!x->nopen)
		return rx_fail(x, "an unmatched ')' (it would close the group "
			       "ckpt-surgeon puts around the regex)");
	x->atom = x->open[--x->nopen];
	x->have_atom = true;
	x->repeated = false;
	return buf_addch(x->out, ')') < 0 ? rx_nomem(x) : 0;
}

/* {m}, {m,}, {m,n}, {,n} (x->p at '{'): the text of the interval. */
static int
rx_interval(struct rx *x)
{
	const char *p = (const char *)x->p;
	size_t len = strspn(p + 1, "0123456789,") + 1, i, commas = 0;

	for (i = 1; i < len; i++)
		commas += p[i] == ',';
	if (p[len] != '}' || commas > 1)
		return rx_fail(x, "an interval that is not {m,n}");
	x->p += len + 1;
	return rx_quantifier(x, p, len + 1);
}

int
export_regex(const char *ere, struct buf *out, struct ckerr *err)
{
	struct rx x;
	size_t len = out->len;
	int r = 0;

	memset(&x, 0, sizeof(x));
	x.p = (const unsigned char *)ere;
	x.out = out;
	x.err = err;
	while (*x.p && r == 0) {
		switch (*x.p) {
		case '(':
			x.p++;
			r = rx_open(&x);
			break;
		case ')':
			x.p++;
			r = rx_close(&x);
			break;
		case '|':
			x.p++;
			x.have_atom = false;
			r = buf_addch(out, '|') < 0 ? rx_nomem(&x) : 0;
			break;
		case '*':
		case '+':
		case '?':
			r = rx_quantifier(&x, (const char *)x.p++, 1);
			break;
		case '{':
			r = rx_interval(&x);
			break;
		case '^':
		case '$':
			/* anchors anywhere; $ is the very end, not before a
			 * final newline as Python's $ */
			rx_atom(&x);
			r = buf_addstr(out, *x.p++ == '^' ? "^" : "\\Z") < 0 ?
			    rx_nomem(&x) : 0;
			break;
		case '.':
			x.p++;
			rx_atom(&x);
			r = buf_addch(out, '.') < 0 ? rx_nomem(&x) : 0;
			break;
		case '[':
			x.p++;
			r = rx_bracket(&x);
			break;
		case '\\':
			r = rx_escape(&x);
			break;
		default:
			r = rx_literal(&x);
			break;
		}
	}
	if (r == 0 && x.nopen)
		r = rx_fail(&x, "an unterminated group");
	free(x.open);
	if (r < 0 && out->data) {
		out->len = len;
		out->data[len] = '\0';
	}
	return r;
}

/* ---- the program -------------------------------------------------------- */

/*
 * rename-regex's regex in Python's syntax, after the checks the engine
 * makes on any checkpoint (it compiles; the replacement's groups exist),
 * with the engine's messages.
 */
static int
python_regex(const struct edit *e, const char *sname, struct buf *out,
	     struct ckerr *err)
{
	struct ckerr why = CKERR_INIT;

	if (edit_check_regex(e, sname, err) < 0)
		return -1;
	if (export_regex(e->str[0], out, &why) < 0)
		return why.code == CKERR_NOMEM ? ckerr_nomem(err) :
		       script_fail_at(err, CKERR_UNSUPPORTED, sname,
				      e->str_pos[0], "cannot export regex '%s' "
				      "to Python: %s", e->str[0], why.msg);
	return 0;
}

/* The arguments of one call, as Python source. */
struct call {
	struct buf text;	/* the arguments, each NUL-terminated */
	size_t n;
};

/*
 * Between the items of a list argument (never in a literal: controls are
 * escaped there): ", " on one line, or a line break when it does not fit.
 */
#define ITEM_SEP '\x1f'


static int
call_arg(struct call *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
call_arg(struct call *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vaddf(&c->text, fmt, ap);
	va_end(ap);
	if (r == 0 && buf_add(&c->text, "", 1) == 0) {
		c->n++;
		return 0;
	}
	return -1;
}

/* An argument of the script as a Python str literal, appended to lit. */
static int
add_arg_literal(struct buf *lit, const char *s, bool raw_ok,
		const char *sname, struct edit_pos pos, struct ckerr *err)
{
	if (add_py_str(lit, s, raw_ok, false) == 0)
		return 0;
	if (errno != EILSEQ)
		return ckerr_nomem(err);
	return script_fail_at(err, CKERR_UNSUPPORTED, sname, pos, "cannot "
			      "export '%s' to Python: it is not UTF-8 text", s);
}

/* A str argument, or a keyword=str one (kw NULL: positional). */
static int
call_str(struct call *c, const char *kw, const char *s, bool raw_ok,
	 const char *sname, struct edit_pos pos, struct ckerr *err)
{
	struct buf lit = BUF_INIT;
	int r;

	if (add_arg_literal(&lit, s, raw_ok, sname, pos, err) < 0) {
		buf_release(&lit);
		return -1;
	}
	r = kw ? call_arg(c, "%s=%s", kw, lit.data) :
		 call_arg(c, "%s", lit.data);
	buf_release(&lit);
	return r < 0 ? ckerr_nomem(err) : 0;
}

/* Close the list literal lit and make it the call's next argument. */
static int
call_list_end(struct call *c, struct buf *lit, struct ckerr *err)
{
	int r = buf_addch(lit, ']') < 0 ? -1 : call_arg(c, "%s", lit->data);

	buf_release(lit);
	return r < 0 ? ckerr_nomem(err) : 0;
}

/* A list of str arguments: excepts=['a', 'b']. */
static int
call_list(struct call *c, const char *kw, char *const *v,
	  const struct edit_pos *pos, size_t n, const char *sname,
	  struct ckerr *err)
{
	struct buf lit = BUF_INIT;
	size_t i;

	if (buf_addf(&lit, "%s=[", kw) < 0)
		goto nomem;
	for (i = 0; i < n; i++) {
		if (i && buf_addch(&lit, ITEM_SEP) < 0)
			goto nomem;
		if (add_arg_literal(&lit, v[i], false, sname, pos[i],
				    err) < 0) {
			buf_release(&lit);
			return -1;
		}
	}
	return call_list_end(c, &lit, err);
nomem:
	buf_release(&lit);
	return ckerr_nomem(err);
}

/* also=[('key', 0), ('other', None)] */
static int
call_also(struct call *c, const struct edit *e, const char *sname,
	  struct ckerr *err)
{
	struct buf lit = BUF_INIT;
	size_t i;

	if (buf_addstr(&lit, "also=[") < 0)
		goto nomem;
	for (i = 0; i < e->nalso; i++) {
		const struct edit_also *a = &e->also[i];

		if ((i && buf_addch(&lit, ITEM_SEP) < 0) ||
		    buf_addch(&lit, '(') < 0)
			goto nomem;
		if (add_arg_literal(&lit, a->key, false, sname, a->pos,
				    err) < 0) {
			buf_release(&lit);
			return -1;
		}
		if ((a->dim_set ? buf_addf(&lit, ", %" PRId64 ")", a->dim) :
		     buf_addstr(&lit, ", None)")) < 0)
			goto nomem;
	}
	return call_list_end(c, &lit, err);
nomem:
	buf_release(&lit);
	return ckerr_nomem(err);
}

/* The arguments of the helper call for e, after (m, LINE). */
static int
call_args(struct call *c, const struct edit *e, const char *sname,
	  struct ckerr *err)
{
	struct buf rx = BUF_INIT;
	int r;

	switch (e->op) {
	case EDIT_RENAME_REGEX:
		if (python_regex(e, sname, &rx, err) < 0) {
			buf_release(&rx);
			return -1;
		}
		r = call_str(c, NULL, rx.data ? rx.data : "", true, sname,
			     e->str_pos[0], err);
		buf_release(&rx);
		return r < 0 ? -1 : call_str(c, NULL, e->str[1], true, sname,
					     e->str_pos[1], err);
	case EDIT_RENAME:
	case EDIT_RENAME_PREFIX:
		if (call_str(c, NULL, e->str[0], false, sname, e->str_pos[0],
			     err) < 0 ||
		    call_str(c, NULL, e->str[1], false, sname, e->str_pos[1],
			     err) < 0)
			return -1;
		if (e->op == EDIT_RENAME_PREFIX && e->nexcept)
			return call_list(c, "excepts", e->except, e->except_pos,
					 e->nexcept, sname, err);
		return 0;
	case EDIT_DELETE:
	case EDIT_DROP:
		return call_str(c, NULL, e->str[0], false, sname, e->str_pos[0],
				err);
	case EDIT_MOVE_COLUMN:
	case EDIT_INSERT_COLUMN:
	case EDIT_DELETE_COLUMN:
		if (call_str(c, NULL, e->str[0], false, sname, e->str_pos[0],
			     err) < 0 ||
		    call_arg(c, "%" PRId64, e->num[0]) < 0 ||
		    (e->op == EDIT_MOVE_COLUMN &&
		     call_arg(c, "%" PRId64, e->num[1]) < 0) ||
		    (e->dim_set && call_arg(c, "dim=%" PRId64, e->dim) < 0))
			return ckerr_isset(err) ? -1 : ckerr_nomem(err);
		if (e->op == EDIT_INSERT_COLUMN && e->value &&
		    call_str(c, "value", e->value, false, sname, e->value_pos,
			     err) < 0)
			return -1;
		return e->nalso ? call_also(c, e, sname, err) : 0;
	default:
		return script_fail_at(err, CKERR_UNSUPPORTED, sname, e->pos,
				      "cannot export %s to Python",
				      edit_name(e->op));
	}
}

/* An argument's width on one line (list items joined by ", "). */
static size_t
arg_width(const char *a)
{
	size_t n = 0;

	for (; *a; a++)
		n += *a == ITEM_SEP ? 2 : 1;
	return n;
}

/*
 * An argument at column col; a list that does not fit gets an item a
 * line, under its first item.  Returns the column after it.
 */
static int
add_arg(struct buf *out, const char *a, size_t col, size_t *end)
{
	size_t under = col + strcspn(a, "[") + 1;
	bool broken = col + arg_width(a) >= PY_WIDTH;

	for (; *a; a++) {
		int r;

		if (*a != ITEM_SEP) {
			r = buf_addch(out, *a);
			col++;
		} else if (broken) {
			r = buf_addf(out, ",\n%*s", (int)under, "");
			col = under;
		} else {
			r = buf_addstr(out, ", ");
			col += 2;
		}
		if (r < 0)
			return -1;
	}
	*end = col;
	return 0;
}

/*
 * "        name(a, b, c)\n" when it fits in PY_WIDTH columns, else the
 * arguments on lines of their own, indented, as many a line as fit.
 */
static int
add_call(struct buf *out, const char *name, const struct call *c)
{
	size_t i, col, width = 8 + strlen(name) + 2;	/* "name(" ")" */
	const char *a;
	int r;

	for (i = 0, a = c->text.data; i < c->n; i++, a += strlen(a) + 1)
		width += arg_width(a) + (i ? 2 : 0);
	r = buf_addf(out, "        %s(%s", name,
		     width <= PY_WIDTH ? "" : "\n            ");
	col = width <= PY_WIDTH ? 9 + strlen(name) : 12;
	for (i = 0, a = c->text.data; i < c->n && !r; i++, a += strlen(a) + 1) {
		if (i && width > PY_WIDTH && col > 12 &&
		    col + 2 + arg_width(a) >= PY_WIDTH) {
			r = buf_addstr(out, ",\n            ");
			col = 12;
		} else if (i) {
			r = buf_addstr(out, ", ");
			col += 2;
		}
		r = r || add_arg(out, a, col, &col);
	}
	return r || buf_addstr(out, ")\n") ? -1 : 0;
}

/* "        # SCRIPT:LINE: <the edit's line>" */
static int
add_edit_comment(struct buf *out, const struct edit *e, const char *sname)
{
	struct buf line = BUF_INIT;
	int r;

	if (buf_addstr(out, "        # ") < 0 ||
	    add_text(out, sname, TEXT_COMMENT, 0, true) < 0 ||
	    buf_addf(out, ":%u: ", e->pos.line) < 0)
		return -1;
	if (edit_print(e, &line) < 0) {
		/* an argument holds a newline: no line can show it */
		buf_release(&line);
		if (errno != EINVAL)
			return -1;
		return buf_addf(out, "%s (an argument holds a newline)\n",
				edit_name(e->op));
	}
	r = add_text(out, line.data ? line.data : "", TEXT_COMMENT, 0, true) ||
	    buf_addch(out, '\n');
	buf_release(&line);
	return r ? -1 : 0;
}

static int
add_lines(struct buf *out, const char *const *lines)
{
	for (; *lines; lines++)
		if (buf_addstr(out, *lines) < 0 || buf_addch(out, '\n') < 0)
			return -1;
	return 0;
}

/* Where the lines of docstrings end. */
#define DOC_WIDTH 72

/*
 * Append text (docstring text, escaped already) word-wrapped: a line
 * breaks at a space before DOC_WIDTH columns and the next one starts with
 * indent spaces; col is the column out is at.
 */
static int
add_wrapped(struct buf *out, const char *text, size_t indent, size_t col)
{
	size_t gap = 0;		/* the spaces before this word, as written */
	bool first = true;

	while (*text) {
		size_t word = strcspn(text, " ");
		int r = 0;

		if (!first && col + gap + word > DOC_WIDTH) {
			r = buf_addf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else if (!first) {
			r = buf_addf(out, "%*s", (int)gap, "");
			col += gap;
		}
		if (r < 0 || buf_add(out, text, word) < 0)
			return -1;
		col += word;
		text += word;
		gap = strspn(text, " ");
		text += gap;
		first = false;
	}
	return 0;
}

/* Docstring text: fmt's %s are names, which are escaped as a docstring
 * needs. */
static int
doc_text(struct buf *out, const char *fmt, const char *a, const char *b)
{
	const char *names[2] = { a, b }, *p;
	int n = 0;

	for (p = fmt; *p; p++) {
		if (p[0] == '%' && p[1] == 's' && n < 2) {
			if (add_text(out, names[n++], TEXT_DOC, '"', true) < 0)
				return -1;
			p++;
		} else if (buf_addch(out, *p) < 0) {
			return -1;
		}
	}
	return 0;
}

/* A docstring paragraph, wrapped. */
static int
add_paragraph(struct buf *out, size_t indent, size_t col, const char *fmt,
	      const char *a, const char *b)
{
	struct buf text = BUF_INIT;
	int r = doc_text(&text, fmt, a, b) < 0 ||
		add_wrapped(out, text.data ? text.data : "", indent, col) < 0;

	buf_release(&text);
	return r ? -1 : 0;
}

static bool
has_column_edit(const struct script *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (helpers[s->edits[i].op].piece >= PC_MOVE_COLUMN &&
		    helpers[s->edits[i].op].piece <= PC_DELETE_COLUMN)
			return true;
	return false;
}

/* The docstring's last paragraph: how the program is used. */
#define USE_TAIL \
	"writes.  Or import it and call migrate(checkpoint) on a checkpoint " \
	"already loaded (say in a LightningModule's on_load_checkpoint " \
	"hook): it changes the dict in place.  It needs only torch (1.13 or " \
	"2.x)."
#define USE "to write to OUT the checkpoint IN with the edits applied: " \
	"torch.load(OUT) then equals what `ckpt-surgeon apply %s IN -o OUT` " \
	USE_TAIL
#define USE_ROOT "to write to OUT the checkpoint IN with the edits " \
	"applied: torch.load(OUT) then equals what `ckpt-surgeon apply %s IN " \
	"-o OUT --root %s` " USE_TAIL

/* #!, the module docstring, the imports, SCRIPT and ROOT. */
static int
add_header(struct buf *out, const struct script *s, const char *sname,
	   const char *root, const char *version, unsigned used)
{
	char what[128];
	size_t i;
	int r;

	snprintf(what, sizeof(what), "Generated by ckpt-surgeon %s from %%s "
		 "(%zu edit%s).  Run it as", version, s->n,
		 s->n == 1 ? "" : "s");
	r = buf_addstr(out, "#!/usr/bin/env python3\n\"\"\"") ||
	    add_paragraph(out, 0, 3, "Migrate a PyTorch checkpoint as the "
			  "ckpt-surgeon script %s does.", sname, NULL) ||
	    buf_addstr(out, "\n\n") || add_paragraph(out, 0, 0, what, sname,
						     NULL) ||
	    buf_addstr(out, "\n\n    python3 THIS_FILE IN OUT [--force]\n\n") ||
	    add_paragraph(out, 0, 0, root ? USE_ROOT : USE, sname, root) ||
	    buf_addstr(out, "\n\"\"\"\n\n");
	for (i = 0; i < sizeof(imports) / sizeof(imports[0]) && !r; i++)
		if (!imports[i].pieces || (imports[i].pieces & used))
			r = buf_addf(out, "import %s\n", imports[i].name);
	r = r || buf_addstr(out, "\nimport torch\n\n# The script the edits "
			    "come from, for messages.\nSCRIPT = ") ||
	    add_py_str(out, sname, false, true) ||
	    buf_addstr(out, "\n# Where the state dict is: a dotted path from "
		       "the top of the checkpoint\n# (--root), or None for "
		       "the mapping ckpt-surgeon picks (see\n# "
		       "find_state_dict).\nROOT = ");
	if (root)
		r = r || add_py_str(out, root, false, true);
	else
		r = r || buf_addstr(out, "None");
	return r || buf_addstr(out, "\n") ? -1 : 0;
}

/* def migrate(checkpoint): one commented call per edit. */
static int
add_migrate(struct buf *out, const struct script *s, const char *sname,
	    struct ckerr *err)
{
	struct call c;
	size_t i;
	int r;

	if (buf_addstr(out, "\n\ndef migrate(checkpoint):\n    \"\"\"") < 0)
		return ckerr_nomem(err);
	if (!s->n) {
		r = add_paragraph(out, 4, 7, "%s holds no edit: checkpoint "
				  "stays as it is.  The state dict is still "
				  "looked for, as `ckpt-surgeon apply` looks "
				  "for it.", sname, NULL) ||
		    buf_addstr(out, "\"\"\"\n    find_state_dict(checkpoint, "
			       "ROOT)\n");
		return r ? ckerr_nomem(err) : 0;
	}
	r = add_paragraph(out, 4, 7, "Apply the edits of %s to checkpoint (a "
			  "dict torch.load returned), in place.  All or "
			  "nothing: an edit that cannot apply raises "
			  "MigrationError, naming its script line, and "
			  "checkpoint stays as it was.", sname, NULL) ||
	    buf_addf(out, "\n    \"\"\"\n    with Migration(checkpoint, "
		     "ROOT%s) as m:\n", has_column_edit(s) ?
		     ", match_optimizers" : "");
	if (r)
		return ckerr_nomem(err);
	for (i = 0; i < s->n; i++) {
		const struct edit *e = &s->edits[i];

		memset(&c, 0, sizeof(c));
		if (call_arg(&c, "m") < 0 ||
		    call_arg(&c, "%u", e->pos.line) < 0) {
			buf_release(&c.text);
			return ckerr_nomem(err);
		}
		if (call_args(&c, e, sname, err) < 0) {
			buf_release(&c.text);
			return -1;
		}
		r = add_edit_comment(out, e, sname) ||
		    add_call(out, helpers[e->op].helper, &c);
		buf_release(&c.text);
		if (r)
			return ckerr_nomem(err);
	}
	return 0;
}

int
export_python(const struct script *s, const char *root_override,
	      const char *tool_version, struct buf *out, struct ckerr *err)
{
	const char *sname = s->name ? s->name : "script";
	struct buf prog = BUF_INIT, body = BUF_INIT;
	unsigned used = PIECE(PC_CORE) | PIECE(PC_MAIN), more;
	size_t i;
	int p, r = -1;

	for (i = 0; i < s->n; i++) {
		enum edit_op op = s->edits[i].op;

		if ((unsigned)op >= EDIT__COUNT || !helpers[op].helper)
			return script_fail_at(err, CKERR_UNSUPPORTED, sname,
				       s->edits[i].pos, "cannot export %s to "
				       "Python", edit_name(op));
		used |= PIECE(helpers[op].piece);
	}
	for (;;) {		/* and the pieces those call */
		more = used;
		for (p = 0; p < PC__COUNT; p++)
			if (used & PIECE(p))
				more |= pieces[p].needs;
		if (more == used)
			break;
		used = more;
	}
	/* migrate() first: it can fail on a script problem */
	if (add_migrate(&body, s, sname, err) < 0)
		goto out;
	if (add_header(&prog, s, sname, root_override, tool_version,
		       used) < 0 ||
	    buf_add(&prog, body.data ? body.data : "", body.len) < 0) {
		ckerr_nomem(err);
		goto out;
	}
	for (p = 0; p < PC__COUNT; p++)
		if ((used & PIECE(p)) &&
		    (buf_addstr(&prog, "\n\n") < 0 ||
		     add_lines(&prog, pieces[p].lines) < 0)) {
			ckerr_nomem(err);
			goto out;
		}
	if (buf_addstr(&prog, "\n\nif __name__ == \"__main__\":\n"
		       "    sys.exit(main())\n") < 0 ||
	    buf_add(out, prog.data, prog.len) < 0) {
		ckerr_nomem(err);
		goto out;
	}
	r = 0;
out:
	buf_release(&prog);
	buf_release(&body);
	return r;
}
