#!/usr/bin/python3
"""Oracle tests of `ckpt-surgeon export SCRIPT -o OUT.py`: the generated
Python program against `ckpt-surgeon apply` and torch.

usage: test_export.py      run the checks, print TAP

Every script is run three ways on the same input: `apply SCRIPT IN -o
OUT_C`; `export SCRIPT -o mig.py` then `python3 mig.py IN OUT_PY`; and
mig.py imported, its migrate() called on the checkpoint as torch.load gives
it (the only Python route for the torch2-* fixtures under torch 1.13,
loaded through fixtures.py's emulation).  For each script:

* export exits 0 and writes an executable file that py_compile accepts
  (and pyflakes, when it is installed), with a `# SCRIPT:LINE: <the
  edit's line>` comment before each edit's call, and only the helpers the
  edits need;
* the program and apply agree: both succeed, torch.load(OUT_PY)
  deep-equals torch.load(OUT_C) (deep.py: types, order, values bitwise,
  _metadata, storage sharing) and they print the same warnings for the
  same lines; or both fail naming the same script line, with the same
  message; the same for migrate(), which must also leave a checkpoint it
  fails on as it was.

The scripts: every scenario and failure path of test_apply.py, the
neural-lam scripts in tests/scripts/, the column-edit matrix, --value,
quantized, --also and error cases of test_columns.py, its drops, the
optimizer layouts and scripts of test_optimizer.py, rename-regex patterns
on odd keys, and a few of this file's own (globs on non-ASCII keys, two
drops in one container, a drop before a column edit).  The column edits of
the matrix are also checked against the reference torch code directly
(colck.reference), whatever apply does.  Then export's own rules: stdout
without -o, -o with and without --force, never over SCRIPT, its errors;
and the program's: OUT exists, OUT is IN, --help.

A failure of apply that a Python run does not share (or the reverse) says
which side failed first; while the engine lacks an edit, its scripts fail
that way, naming the edit.

Set CKS_KEEP_TMP=1 to keep the working directory (its path is printed).
"""

import collections
import contextlib
import importlib.util
import io
import itertools
import os
import py_compile
import re
import subprocess
import sys
from pathlib import Path

import cks

torch = cks.torch
# imported after the torch check (they need torch)
ak = deep = colck = nl = ta = tc = to = None

PYTHON = os.environ.get("TORCH_PYTHON") or sys.executable
SCRIPTS = cks.REPO / "tests" / "scripts"
TIMEOUT = 300
TORCH2 = int(torch.__version__.split(".")[0]) >= 2 if torch else False
HELPERS = {"rename": "rename", "rename-prefix": "rename_prefix",
           "rename-regex": "rename_regex", "delete": "delete",
           "move-column": "move_column", "insert-column": "insert_column",
           "delete-column": "delete_column", "drop": "drop"}
_modules = itertools.count(1)


def python_env():
    """The program's environment: fixture_models (classes some fixtures
    pickle by reference) importable, as it must be for any torch.load."""
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=str(cks.HERE) + (os.pathsep + path if path else ""))


# --------------------------------------------------------------------------
# Outcomes: what a run did, in terms both sides share

class Outcome:
    """ok, or the failing script line (None: about the input) and message;
    the warnings as (line, text); stderr lines neither (a crash, say)."""

    def __init__(self, ok, line=None, message="", warnings=(), stray=(), where="", text=""):
        self.ok, self.line, self.message, self.where = ok, line, message, where
        self.warnings, self.stray, self.text = list(warnings), list(stray), text

    def summary(self):
        if self.ok:
            return "succeeded" + (f" with warnings on lines {[w[0] for w in self.warnings]}"
                                  if self.warnings else "")
        return f"failed {'at line ' + str(self.line) if self.line else 'on the input'}: " \
               f"{self.message}"


def c_outcome(run, script):
    """apply's or export's outcome: 'ckpt-surgeon: SCRIPT:LINE:COL: ...'."""
    lines = [ln for ln in run.stderr.splitlines() if ln]
    at = re.compile(re.escape(f"ckpt-surgeon: {script}:") + r"(\d+):\d+: (.*)")
    if run.returncode == 0:
        warnings, stray = [], []
        for ln in lines:
            m = at.fullmatch(ln)
            if m and m.group(2).startswith("warning: "):
                warnings.append((int(m.group(1)), m.group(2)[len("warning: "):]))
            else:
                stray.append(ln)
        return Outcome(True, warnings=warnings, stray=stray, text=run.stderr)
    first = lines[0] if lines else f"(exit {run.returncode}, no message)"
    m = at.fullmatch(first)
    if m:
        return Outcome(False, int(m.group(1)), m.group(2), text=run.stderr)
    m = re.fullmatch(r"ckpt-surgeon: (.*?): (.*)", first)
    return Outcome(False, None, m.group(2) if m else first, where=m.group(1) if m else "",
                   text=run.stderr)


def py_outcome(returncode, stderr, script, prog="mig.py"):
    """The program's: 'SCRIPT:LINE: warning: ...' on success, 'PROG:
    SCRIPT:LINE: ...' or 'PROG: IN: ...' on failure."""
    lines = [ln for ln in stderr.splitlines() if ln]
    warn = re.compile(re.escape(f"{script}:") + r"(\d+): warning: (.*)")
    if returncode == 0:
        warnings, stray = [], []
        for ln in lines:
            m = warn.fullmatch(ln)
            if m:
                warnings.append((int(m.group(1)), m.group(2)))
            else:
                stray.append(ln)
        return Outcome(True, warnings=warnings, stray=stray, text=stderr)
    first = lines[-1] if lines and lines[0].startswith("Traceback") else \
        lines[0] if lines else f"(exit {returncode}, no message)"
    m = re.fullmatch(re.escape(f"{prog}: {script}:") + r"(\d+): (.*)", first)
    if m:
        return Outcome(False, int(m.group(1)), m.group(2), text=stderr)
    m = re.fullmatch(re.escape(f"{prog}: ") + r"(.*?): (.*)", first)
    return Outcome(False, None, m.group(2) if m else first, where=m.group(1) if m else "",
                   text=stderr)


def agree(c, p, what):
    """Problems when p (a Python route) does not do what c (apply) did."""
    if c.ok and not p.ok:
        return [ak.Headline(f"apply succeeded, {what} {p.summary()}")] + \
            [f"  {ln}" for ln in p.text.splitlines()[-12:]]
    if not c.ok and p.ok:
        return [ak.Headline(f"apply {c.summary()}; {what} succeeded")] + \
            [f"  {ln}" for ln in c.text.splitlines()[:5]]
    problems = []
    if c.ok:
        if c.warnings != p.warnings:
            problems.append(f"warnings differ: apply {c.warnings}, {what} {p.warnings}")
        for ln in c.stray:
            problems.append(f"apply printed {ln!r}")
        for ln in p.stray:
            problems.append(f"{what} printed {ln!r}")
    elif c.line != p.line:
        problems.append(ak.Headline(f"apply {c.summary()}; {what} {p.summary()}"))
    return problems


# --------------------------------------------------------------------------
# One script, three ways

class Pair:
    """SCRIPT on IN: `apply`, `export` + `python3 mig.py IN OUT`, and
    migrate() imported; each run once, on first use.

    IN is a fixture file, or build() -> an object torch.save writes, or
    source: another Pair whose apply output is the input."""

    def __init__(self, label, lines=None, *, fixture=None, build=None, source=None,
                 script=None, root=None, out_name="out.pt"):
        self.label, self.root, self.out_name = label, root, out_name
        self._fixture, self._build, self._source = fixture, build, source
        self._script = Path(script) if script else None
        self.text = self._script.read_text() if script else \
            "".join(line + "\n" for line in lines)
        self._dir = self._export = self._apply = self._python = self._imported = None

    # -- setting up -------------------------------------------------------
    @property
    def dir(self):
        if self._dir is None:
            self._dir = ak.SESSION.new_dir(self.label)
            for sub in ("c", "py"):
                (self._dir / sub).mkdir()
        return self._dir

    @property
    def script(self):
        if self._script is None:
            self._script = self.dir / "edits.cks"
            self._script.write_text(self.text)
        return self._script

    @property
    def input(self):
        if self._fixture is None:
            if self._source is not None:
                if not self._source.c.ok:
                    raise SourceFailed(self._source)
                self._fixture = self._source.c_out
            else:
                self._fixture = self.dir / "in.pt"
                obj = self._build()
                torch.save(obj[0] if isinstance(obj, tuple) else obj, self._fixture)
        return self._fixture

    @property
    def torch2(self):
        """A torch 2.x file this torch can only read through the emulation."""
        return not TORCH2 and ak.is_torch2(self.input)

    def root_args(self):
        return [] if self.root is None else ["--root", self.root]

    def load(self, path):
        return ak.load(path, like=self.input)

    @property
    def program(self):
        return self.dir / "mig.py"

    @property
    def c_out(self):
        return self.dir / "c" / self.out_name

    @property
    def py_out(self):
        return self.dir / "py" / self.out_name

    # -- the runs -----------------------------------------------------------
    @property
    def export(self):
        if self._export is None:
            self._export = ak.run(["export", self.script, "-o", self.program,
                                   *self.root_args()])
        return self._export

    @property
    def exported(self):
        return self.export.returncode == 0 and self.program.is_file()

    @property
    def c(self):
        """apply's outcome."""
        if self._apply is None:
            run = ak.run(["apply", self.script, self.input, "-o", self.c_out, *self.root_args()])
            self._apply = c_outcome(run, self.script)
        return self._apply

    @property
    def python(self):
        """python3 mig.py IN OUT_PY's outcome."""
        if self._python is None:
            try:
                proc = subprocess.run([PYTHON, self.program, self.input, self.py_out],
                                      capture_output=True, timeout=TIMEOUT,
                                      stdin=subprocess.DEVNULL, cwd=self.dir,
                                      env=python_env())
                self._python = py_outcome(proc.returncode,
                                          proc.stderr.decode("utf-8", "replace"), self.script)
            except subprocess.TimeoutExpired:
                self._python = Outcome(False, None, f"timed out after {TIMEOUT} s")
        return self._python

    def imported(self):
        """(outcome, the checkpoint after migrate(), the module)."""
        if self._imported is None:
            module = import_program(self.program)
            ck = self.load(self.input)
            err = io.StringIO()
            try:
                with contextlib.redirect_stderr(err):
                    module.migrate(ck)
                outcome = py_outcome(0, err.getvalue(), self.script)
            except module.MigrationError as exc:
                text = str(exc)
                prefix = f"{self.script}:{exc.line}: "
                outcome = Outcome(False, exc.line, text[len(prefix):] if exc.line else text,
                                  text=text)
            self._imported = (outcome, ck, module)
        return self._imported

    # -- the checks ----------------------------------------------------------
    def check_program(self):
        """export exit 0; mig.py executable, compiling, one comment and call
        per edit, only the helpers the edits need."""
        if not self.exported:
            return [ak.Headline(f"export failed: {first_line(self.export.stderr)}")] + \
                self.export.describe()
        problems = []
        if self.export.stdout or self.export.stderr:
            problems.append("export printed something (with -o it prints nothing)")
        if not os.access(self.program, os.X_OK):
            problems.append(f"{self.program.name} is not executable "
                            f"(mode {self.program.stat().st_mode & 0o777:o})")
        try:
            py_compile.compile(str(self.program), cfile=str(self.dir / "mig.pyc"), doraise=True)
        except py_compile.PyCompileError as exc:
            return problems + [f"py_compile: {exc}"]
        source = self.program.read_text()
        if not source.startswith("#!/usr/bin/env python3\n"):
            problems.append("no #!/usr/bin/env python3 line")
        problems += lint_problems(source)
        problems += comment_problems(source, self.text, str(self.script))
        problems += helper_problems(source, edit_ops(self.text))
        return problems

    def check_cli(self):
        """python3 mig.py IN OUT agrees with apply."""
        if self.torch2:
            return []           # the TAP line says: checked through migrate() only
        return self._compare(lambda: self.python, "python3 mig.py",
                             lambda: self.load(self.py_out))

    def check_imported(self):
        """migrate() on the loaded input agrees with apply; on a failure the
        checkpoint is as it was."""
        def got():
            return self.imported()[1]
        problems = self._compare(lambda: self.imported()[0], "migrate()", got)
        outcome, ck, _ = self.imported() if self.exported else (None, None, None)
        if outcome is not None and not outcome.ok and not self.c.ok:
            left = deep.diff(self.load(self.input), ck)
            if left:
                problems += ["migrate() failed but changed the checkpoint:"] + left
        return problems

    def check_message(self):
        """On a failure both sides say the same after the position."""
        if not self.exported:
            return self.check_export_failure()
        c, p = self.c, self.python if not self.torch2 else self.imported()[0]
        if c.ok or p.ok:
            return [] if c.ok != p.ok else ["(both succeeded: nothing to compare)"]
        if c.message != p.message:
            return [f"apply says {c.message!r}", f"the program says {p.message!r}"]
        return []

    def check_export_failure(self):
        """A script export refuses: apply refuses it too, with the same line."""
        e = c_outcome(self.export, self.script)
        problems = []
        if e.ok:
            return ["(export succeeded)"]
        if self.program.exists():
            problems.append(f"export failed but wrote {self.program.name}")
        c = self.c
        if c.ok:
            problems.append(ak.Headline(f"export {e.summary()}, but apply succeeded"))
        elif (c.line, c.message) != (e.line, e.message):
            problems.append(f"export {e.summary()}; apply {c.summary()}")
        return problems

    def _compare(self, route, what, got):
        if not self.exported:
            return self.check_export_failure() if not c_outcome(self.export, self.script).ok \
                else [ak.Headline("export wrote no program")]
        p, c = route(), self.c
        problems = agree(c, p, what)
        if problems or not c.ok:
            return problems
        try:
            want = self.load(self.c_out)
        except Exception as exc:
            return [f"torch.load(apply's OUT) failed: {type(exc).__name__}: {exc}"]
        try:
            mine = got()
        except Exception as exc:
            return [f"torch.load({what}'s result) failed: {type(exc).__name__}: {exc}"]
        diff = deep.diff(want, mine)
        return [f"(first: apply's OUT, second: {what}'s)"] + diff if diff else []


class SourceFailed(Exception):
    def __init__(self, pair):
        super().__init__(f"its input could not be made: {pair.label}: {pair.c.summary()}")


def first_line(text):
    return (text.splitlines() or ["(nothing on stderr)"])[0]


def import_program(path):
    name = f"cks_export_{next(_modules)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------
# What the program's text must hold

def edits_of(text):
    """(line number, tokens) of each edit line of a script."""
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        tokens = ak.lex(line.rstrip("\r"), number)
        if tokens:
            out.append((number, tokens))
    return out


def edit_ops(text):
    return {tokens[0].text for _, tokens in edits_of(text)}


_OPTION_ORDER = ("--dim", "--value", "--except", "--also")


def normalised(tokens):
    """An edit's words as the canonical line has them: the name, the
    arguments, then --dim, --value, each --except, each --also as two words
    (in their order within each option)."""
    name, args, options, k = tokens[0].text, [], collections.defaultdict(list), 1
    while k < len(tokens):
        tok = tokens[k]
        if not tok.quoted and tok.text.startswith("--"):
            opt, eq, value = tok.text.partition("=")
            if not eq:
                k += 1
                value = tokens[k].text
            options[opt].append(value)
        else:
            args.append(tok.text)
        k += 1
    words = [name, *args]
    for opt in _OPTION_ORDER:
        for value in options[opt]:
            words += [opt, value]
    return words


def shown(word):
    """A word as a comment shows it: control characters as escapes."""
    return "".join(c if ord(c) >= 0x20 and ord(c) != 0x7f else
                   {"\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(c, f"\\x{ord(c):02x}")
                   for c in word)


def comment_problems(source, text, script):
    """A '# SCRIPT:LINE: <canonical line>' comment per edit, in order, each
    followed by the call of the edit's helper with (m, LINE, ...)."""
    problems = []
    lines = source.split("\n")
    prefix = f"        # {script}:"
    comments = [(i, ln) for i, ln in enumerate(lines) if ln.startswith(prefix)]
    edits = edits_of(text)
    if len(comments) != len(edits):
        return [f"{len(comments)} edit comments, the script has {len(edits)} edits"]
    for (i, comment), (number, tokens) in zip(comments, edits):
        head = f"{prefix}{number}: "
        if not comment.startswith(head):
            problems.append(f"comment {comment.strip()!r} does not start with {head.strip()!r}")
            continue
        try:
            words = [t.text for t in ak.lex(comment[len(head):])]
        except ak.ScriptError as exc:
            problems.append(f"line {number}: the comment does not lex: {exc}")
            continue
        want = [shown(w) for w in normalised(tokens)]
        if words != want:
            problems.append(f"line {number}: the comment's words {words}, expected {want}")
        call = "".join(ln.strip() for ln in itertools.takewhile(
            lambda ln: not ln.strip().startswith("#") and ln.strip(), lines[i + 1:]))
        helper = HELPERS.get(tokens[0].text, "?")
        if not call.startswith(f"{helper}(m,{number},") and \
                not call.startswith(f"{helper}(m, {number},"):
            problems.append(f"line {number}: the comment is not followed by "
                            f"{helper}(m, {number}, ...): {call[:60]!r}")
    return problems


def lint_problems(source):
    """pyflakes' complaints (an undefined name, an unused import), when
    pyflakes is there to ask; a program is checked whole, helpers that
    its edits do not call included."""
    try:
        import pyflakes.api
        import pyflakes.reporter
    except ImportError:
        return []
    out = io.StringIO()
    pyflakes.api.check(source, "mig.py", pyflakes.reporter.Reporter(out, out))
    return [f"pyflakes: {ln}" for ln in out.getvalue().splitlines()]


def helper_problems(source, ops):
    """Each used edit's helper is defined, no other edit's."""
    problems = []
    for op, helper in HELPERS.items():
        defined = f"\ndef {helper}(m, line" in source
        if op in ops and not defined:
            problems.append(f"{op} is used but def {helper}(...) is missing")
        if op not in ops and defined:
            problems.append(f"def {helper}(...) is written but no edit is {op}")
    globbing = ops & {"delete", "rename-prefix", "drop"}
    if bool(globbing) != ("\ndef glob_match(" in source):
        problems.append("glob_match() is " + ("missing" if globbing else
                                              "written though no edit uses globs"))
    columns = ops & {"move-column", "insert-column", "delete-column"}
    if bool(columns) != ("\ndef column_edit(" in source):
        problems.append("column_edit() is " + ("missing" if columns else
                                               "written though no edit is a column edit"))
    return problems


def add_pair(tap, pair, *, fails=False):
    """The TAP lines of one Pair (fails: both sides must fail on it)."""
    label = pair.label
    tap.add(f"{label}: export exits 0; the program is executable, compiles, has a "
            f"'# SCRIPT:LINE: edit' comment and a call per edit, only the helpers it uses",
            pair.check_program)
    if fails:
        def both_fail(route):
            def check():
                problems = route()
                if not problems and pair.c.ok:
                    problems = [ak.Headline("apply succeeded (test premise: the script fails)")]
                return problems
            return check
        tap.add(f"{label}: python3 mig.py IN OUT fails like apply, naming the same script line",
                both_fail(pair.check_cli))
        tap.add(f"{label}: migrate() raises naming that line and leaves the checkpoint "
                f"unchanged", both_fail(pair.check_imported))
        tap.add(f"{label}: the same message after SCRIPT:LINE", pair.check_message)
        return
    how = ("(torch 1.13 cannot load torch 2.x files: through migrate() only)"
           if not TORCH2 and pair._fixture is not None and ak.is_torch2(pair._fixture)
           else "deep-equals apply's OUT, the same warnings")
    tap.add(f"{label}: python3 mig.py IN OUT {how}", pair.check_cli)
    tap.add(f"{label}: migrate() on the loaded checkpoint, in place, equals apply's OUT "
            f"(the same warnings)", pair.check_imported)


def add_export_failure(tap, pair):
    """A script export itself refuses (it cannot parse, or no checkpoint can
    take it): the same message as apply's, nothing written."""
    def check():
        e = c_outcome(pair.export, pair.script)
        if e.ok:
            return [ak.Headline("export succeeded (test premise: it refuses the script)")]
        if pair.export.returncode != 2:
            return [f"export exit status {pair.export.returncode}, expected 2"]
        return pair.check_export_failure()
    tap.add(f"{pair.label}: export exits 2 with apply's message (SCRIPT:LINE:COL), writes "
            f"nothing", check)


# --------------------------------------------------------------------------
# The scripts

def apply_scenarios(tap, fx):
    """test_apply.py's scenarios (every edit kind on the fixtures) and its
    failure paths."""
    for case, _ in ta.scenarios(fx):
        add_pair(tap, Pair(f"apply scenario: {case.label}", case.text.splitlines(),
                           fixture=case.fixture, root=case.root))
    for label, name, lines, lineno, cols, mention in ta.SCRIPT_ERRORS:
        pair = Pair(f"apply failure: {label}", lines, fixture=fx / name)
        if cols == "edit" and label != "invalid regex":
            add_pair(tap, pair, fails=True)
        else:       # a script that no checkpoint takes: export refuses it
            add_export_failure(tap, pair)
    add_pair(tap, Pair("empty script (comments only)", ta.EMPTY_SCRIPT,
                       fixture=fx / "lightning.ckpt"))
    bad_root = Pair("--root naming nothing", ["rename-prefix mlp ffn"],
                    fixture=fx / "state-dict.pt", root="nosuchroot")
    add_pair(tap, bad_root, fails=True)
    tap.add(f"{bad_root.label}: both name --root's 'nosuchroot' (no script line)",
            lambda: [] if bad_root.c.line is None and "nosuchroot" in bad_root.c.message and
            bad_root.python.line is None and "nosuchroot" in bad_root.python.message else
            [f"apply: {bad_root.c.summary()}", f"program: {bad_root.python.summary()}"])

    add_pair(tap, Pair("--root naming a list (the state dict must be a dict)",
                       ["rename-prefix mlp ffn"], fixture=fx / "lightning.ckpt",
                       root="optimizer_states"), fails=True)
    weights = Pair("--root weights baked into the program (root-none.pt)",
                   ["rename-prefix '' w"], fixture=fx / "root-none.pt", root="weights")
    add_pair(tap, weights)

    def baked():
        if not weights.exported:
            return weights.check_program()
        source = weights.program.read_text()
        problems = [] if "\nROOT = 'weights'\n" in source else ["no ROOT = 'weights' line"]
        # the same program with ROOT = None finds another state dict: --root mattered
        module = import_program(weights.program)
        ck = weights.load(weights.input)
        if module.find_state_dict(ck, None)[0] == "weights":
            problems.append("(test premise) the default root is 'weights' already")
        return problems
    tap.add(f"{weights.label}: ROOT = 'weights' in the program, which the default "
            f"detection would not pick", baked)


def neural_lam_scripts(tap):
    """tests/scripts/*.cks on checkpoints they are written for."""
    def old_checkpoint():
        return nl.lightning_checkpoint()[0]
    full = Pair("neural-lam-208.cks on an old neural-lam checkpoint",
                script=SCRIPTS / "neural-lam-208.cks", build=old_checkpoint,
                out_name="graph_lam-new.ckpt")
    add_pair(tap, full)
    fixed = Pair("neural-lam-issue48.cks on an old neural-lam checkpoint",
                 script=SCRIPTS / "neural-lam-issue48.cks", build=old_checkpoint,
                 out_name="graph_lam-48.ckpt")
    add_pair(tap, fixed)
    add_pair(tap, Pair("neural-lam-208.cks on its own output", script=SCRIPTS /
                       "neural-lam-208.cks", source=full), fails=True)
    add_pair(tap, Pair("neural-lam-issue48.cks on its own output", script=SCRIPTS /
                       "neural-lam-issue48.cks", source=fixed), fails=True)
    add_pair(tap, Pair("neural-lam-208.cks's second edit alone on an issue-48-fixed checkpoint",
                       [ak.edit_line("rename-prefix", "", "forecaster.predictor",
                                     excepts=("interior_mask_bool", "per_var_std"))],
                       source=fixed))
    for layout in (to.LIGHTNING, to.PLAIN, to.LIGHTNING_AFFINE, to.LIGHTNING_GROUPS,
                   to.PLAIN_GROUPS):
        add_pair(tap, Pair(f"neural-lam-reorder.cks on a {layout.name} checkpoint "
                           f"(test_optimizer.py's)", script=SCRIPTS / "neural-lam-reorder.cks",
                           build=layout.make, out_name="reordered.ckpt"))


def optimizer_scripts(tap):
    """test_optimizer.py's scripts: moments edited with their keys, or the
    warning when it cannot be told which are whose."""
    L, G, A = to.LIGHTNING, to.LIGHTNING_GROUPS, to.LIGHTNING_AFFINE
    cases = [
        ("insert-column --value 0.5 and delete-column", L,
         [f"insert-column {to.PREV} 10 --value 0.5", f"delete-column {to.CUR} 3"]),
        ("insert-column and delete-column (the resume proof's)", L, to.INSERT_DELETE_PROOF),
        ("--also with parameters", L, ["move-column head.weight 0 2 --dim 0 --also head.bias:0"]),
        ("a float buffer no assignment makes a parameter", L,
         ["move-column norm.running_mean 0 3 --dim 0"]),
        ("an int64 buffer, no assignment", G, ["move-column grid_index 0 5"]),
        ("keys the assignments disagree about (warnings)", A, to.UNDETERMINED_LINES),
        ("determined and undetermined keys in one script", A, to.MIXED_LINES),
        ("insert-column with 2 parameter groups (the warning)", G,
         [f"insert-column {to.PREV} 52"]),
        # decided before the first edit: a drop of the moments before the
        # edit leaves nothing to edit; after it, the edited moments go
        ("drop the moments, then a column edit", L,
         ["drop 'optimizer_states.0.state.*'", f"move-column {to.PREV} 49 34"]),
        ("a column edit, then drop the moments", L,
         [f"move-column {to.PREV} 49 34", "drop 'optimizer_states.0.state.*'"]),
        ("a key renamed, then edited (matched by its place)", L,
         [f"rename {to.PREV} prev.weight", "move-column prev.weight 49 34",
          f"delete {to.CUR.replace('.0.weight', '.2.bias')}",
          f"move-column {to.CUR} 66 51"]),
        ("the same key edited twice", L,
         [f"move-column {to.PREV} 49 34", f"insert-column {to.PREV} 0 --value -1"]),
    ]
    for label, layout, lines in cases:
        add_pair(tap, Pair(f"optimizer: {label} ({layout.name})", lines, build=layout.make,
                           out_name="out.ckpt"))


def column_matrix(tap):
    """test_columns.py's matrix (every column edit x dtype x --dim x layout x
    Parameter/requires_grad/plain), one script a dtype: each case's tensors
    under their own prefix.  Also checked against the reference torch code,
    apart from apply."""
    groups = collections.defaultdict(list)
    for case in tc.column_cases():
        groups[str(case.dtype).replace("torch.", "")].append(case)
    for dtype, cases in groups.items():
        def build(cases=cases):
            sd = collections.OrderedDict()
            for case in cases:
                part, _ = case.build()
                for key, value in part.items():
                    sd[f"c{case.number}.{key}"] = value
            return sd
        lines = [case.line().replace(tc.KEY, f"c{case.number}.{tc.KEY}", 1) for case in cases]
        pair = Pair(f"column matrix, {dtype}: {len(cases)} edits", lines, build=build)
        add_pair(tap, pair)

        def reference(pair=pair, cases=cases):
            if not pair.exported:
                return pair.check_program()
            outcome, got, _ = pair.imported()
            if not outcome.ok:
                return [ak.Headline(f"migrate() {outcome.summary()}")]
            original = torch.load(str(pair.input))
            problems = []
            for case in cases:
                key = f"c{case.number}.{tc.KEY}"
                want = case.expected_key(original[key])
                problems += colck.bit_problems(want, got[key], key)
                problems += colck.own_storage_problems(key, got[key], cks.walk_tensors(got))
                for k in (f"c{case.number}.{tc.TIED}", f"c{case.number}.{tc.SHARER}"):
                    problems += colck.bit_problems(original[k], got[k], f"{k} (unchanged)")
                if type(got[key]) is not type(original[key]) or \
                        got[key].requires_grad != original[key].requires_grad:
                    problems.append(f"{key}: {type(got[key]).__name__} requires_grad="
                                    f"{got[key].requires_grad}, was "
                                    f"{type(original[key]).__name__} "
                                    f"{original[key].requires_grad}")
            return problems[:40]
        tap.add(f"{pair.label}: migrate()'s tensors equal the reference torch code bitwise, "
                f"new contiguous storages, ties and sharers unchanged, type and "
                f"requires_grad kept", reference)


def column_scripts(tap):
    """test_columns.py's --value, quantized, --also and error cases, and its
    drops."""
    good = [(k, v) for k, v, ok in tc.VALUE_CASES if ok]
    add_pair(tap, Pair(f"--value: the {len(good)} values that fit, one line each",
                       [ak.edit_line("insert-column", key, 2, options=[("--value", text)])
                        for key, text in good], build=tc.value_tensors))
    for key, text, ok in tc.VALUE_CASES:
        if not ok:
            add_pair(tap, Pair(f"--value {text} into {key} (does not fit)",
                               ["delete-column extra 0 --dim 0",
                                ak.edit_line("insert-column", key, 2,
                                             options=[("--value", text)])],
                               build=tc.value_tensors), fails=True)
    add_pair(tap, Pair("quantized move and delete",
                       ["move-column q8 0 3 --dim 0", "delete-column qu8 1",
                        "move-column pc 4 0 --dim 1"], build=tc.quantized_tensors))
    add_pair(tap, Pair("--also: output rows with the bias and the next layer's inputs",
                       ["move-column 0.weight 1 4 --dim 0 --also 0.bias:0 --also 2.weight:1",
                        "delete-column 2.weight 5 --dim -1 --also 0.weight:0 --also 0.bias",
                        "insert-column 0.weight 0 --dim 0 --value 3 --also 0.bias:0 "
                        "--also 2.weight:-1"],
                       build=lambda: tc.linear_model().state_dict()))
    add_pair(tap, Pair("move-column FROM == TO changes nothing (tied and shared kept)",
                       [f"move-column {tc.KEY} 2 2 --dim 0"],
                       build=lambda: tc.column_cases()[0].build()[0]))
    for label, line, _ in tc.ERRORS:
        add_pair(tap, Pair(f"column error: {label}",
                           ["move-column ints 0 4   # valid: nothing may be written anyway",
                            line], build=tc.error_tensors), fails=True)
    for label, lines, _, build, root in tc.DROPS:
        add_pair(tap, Pair(label, lines, build=build, root=root, out_name="out.ckpt"))
    for label, path, build, root in tc.REFUSED_DROPS:
        add_pair(tap, Pair(f"refused: {label}", ["drop epoch", ak.edit_line("drop", path)],
                           build=build, root=root, out_name="out.ckpt"), fails=True)
    for path in ("2.bias", "*.bias"):
        add_pair(tap, Pair(f"refused: drop {path!r} on a bare state dict",
                           [ak.edit_line("drop", path)],
                           build=lambda: tc.drop_checkpoint()["state_dict"]), fails=True)
    for label, lines in (("drop matching nothing", ["drop epoch", "drop no_such_entry"]),
                         ("drop matching nothing below a match",
                          ["drop epoch", "drop 'optimizer_states.3.state.*'"]),
                         ("drop of an empty PATH", ["drop epoch", "drop ''"])):
        add_pair(tap, Pair(label, lines, build=tc.drop_checkpoint, out_name="out.ckpt"),
                 fails=True)
    add_pair(tap, Pair("drop of a tuple item refused", ["drop 'optimizer_states.0."
                                                        "param_groups.0.betas.0'"],
                       build=tc.drop_checkpoint, out_name="out.ckpt"), fails=True)


def odd_keys():
    """A state dict of keys with dots, digits, non-ASCII letters, spaces
    and regex characters."""
    names = ["enc.w", "enc.0.w", "encoder.w", "mlp.0.weight", "mlp.12.bias",
             "blocks.3.attn.w", "layers.10.ffn.1.weight", "a-b", "a_b", "AB", "Ab", "a\\b",
             "a]b", "a[b", "a^b", "a$b", "a{1}", "a+b", "(a)", "a|b", "é", "éé", "aé", "é.w",
             "日本.w", "ab.w", "a b", "w.bias", "_x", "x_", "ab", "abb", "aab"]
    g = torch.Generator().manual_seed(61)
    return collections.OrderedDict((n, torch.randn(2, generator=g)) for n in names)


REGEXES = [  # (regex, replacement): POSIX EREs as people and the docs write them
    (r"mlp\.([0-9]+)\.(weight|bias)", r"ffn.\1.\2"),
    (r"([^.]+)\.(.*)", r"\2.\1"),
    (r"(enc|encoder)\.(.*)", r"new_\1.\2"),
    (r"[[:alpha:]_]+", r"\0.plain"),
    (r"[[:upper:]][[:lower:]]*", r"cap.\0"),
    (r"a[]\[^${}()|+]b", r"odd.\0"),
    (r"a\\b", r"back\\slash"),
    (r"(é+)|(aé)", r"[\1][\2]"),
    (r"..\.w", r"two-bytes.\0"),
    (r"layers\.([0-9]+)\..*\.(weight|bias)", r"L\1.\2"),
    (r"(a*)(b*)", r"\2\1.swapped"),
    (r"\w+\.w", r"\0\\x"),
    (r"(a+)?b", r"grouped.\0"),
    (r"a{1}[(]?b", r"interval.\0"),
]


def regex_scripts(tap):
    """rename-regex on odd keys: the translated regex renames what the C
    library's does, groups included."""
    for regex, replacement in REGEXES:
        add_pair(tap, Pair(f"rename-regex {regex!r} {replacement!r} on odd keys",
                           [ak.edit_line("rename-regex", regex, replacement)], build=odd_keys))
    # patterns the C library would need exponential memory for: refused
    # by apply, so by export too, with the same message
    for regex in (r"a+?b", r"((a{100}){100}){100}"):
        add_export_failure(tap, Pair(f"rename-regex {regex!r}: refused (repetitions)",
                                     [ak.edit_line("rename-regex", regex, "x")],
                                     build=odd_keys))
    add_pair(tap, Pair("globs on non-ASCII keys: '?' is one byte, '*' any",
                       ["delete '??.w'", "rename-prefix é x --except '*b*'",
                        "delete 'a?'", "rename-prefix '' p --except '日*'"], build=odd_keys))


def own_scripts(tap):
    """Edits together, and what the engine may get wrong."""
    def containers():
        return {"state_dict": collections.OrderedDict(w=torch.ones(2)),
                "extra": {"a": 1, "b": 2, "c": 3, "d": 4}, "items": [10, 11, 12, 13, 14]}
    add_pair(tap, Pair("two drops in one dict and one list (each sees the previous one's "
                       "result)", ["drop extra.a", "drop extra.b", "drop items.0",
                                   "drop items.1"], build=containers))
    add_pair(tap, Pair("drop 'extra.*' then drop extra.a, which the first removed",
                       ["drop 'extra.*'", "drop extra.a"], build=containers), fails=True)
    def zeros():
        return {dt: torch.zeros(2, 2, dtype=getattr(torch, dt))
                for dt in ("bfloat16", "float16", "float32", "float64", "int64")}
    add_pair(tap, Pair("--value edge cases: -nan (torch.tensor(-nan, dtype=bfloat16) is "
                       "0x7fc0), beyond the range, below INT64_MIN by one",
                       ["insert-column bfloat16 0 --value -nan",
                        "insert-column float16 0 --value -nan",
                        "insert-column bfloat16 0 --value 3.3895313892515355e38",
                        "insert-column float16 0 --value 65519.99",
                        "insert-column float32 0 --value 1e400",
                        "insert-column float64 0 --value -1e400",
                        "insert-column int64 0 --value -9223372036854775809",
                        "insert-column int64 0 --value 1e18"], build=zeros))
    add_pair(tap, Pair("a failing last line: nothing changes (all or nothing)",
                       ["rename w v", "drop extra.a", "delete nope"], build=containers),
             fails=True)


# --------------------------------------------------------------------------
# export's own rules, and the program's command line

def export_rules(tap, fx):
    d = None

    def setup():
        nonlocal d
        if d is None:
            d = ak.SESSION.new_dir("export-rules")
            (d / "fix.cks").write_text("rename-prefix mlp ffn\n")
        return d

    def run(*args):
        return ak.run(["export", *args])

    def stdout_equals_file():
        base = setup()
        out = base / "stdout.py"
        to_file, to_stdout = run(base / "fix.cks", "-o", out), run(base / "fix.cks")
        if to_file.returncode or to_stdout.returncode:
            return ["export failed"] + to_file.describe() + to_stdout.describe()
        return [] if out.read_text() == to_stdout.stdout else \
            ["the program on stdout differs from the one written with -o"]
    tap.add("export without -o prints the program that -o writes", stdout_equals_file)

    def existing(force):
        def check():
            base = setup()
            out = base / f"existing-{force}.py"
            out.write_text("precious\n")
            r = run(base / "fix.cks", "-o", out, *(["--force"] if force else []))
            stray = [p.name for p in base.iterdir() if p.name.endswith(".tmp")]
            problems = [f"stray temporary files {stray}"] if stray else []
            if force:
                if r.returncode != 0 or "def migrate" not in out.read_text():
                    problems += ["--force did not replace OUT"] + r.describe()
            elif r.returncode != 2 or out.read_text() != "precious\n" or \
                    f"ckpt-surgeon: {out}: exists" not in r.stderr:
                problems += ["an existing OUT without --force: expected exit 2, "
                             "'OUT: exists ...', OUT unchanged"] + r.describe()
            return problems
        return check
    tap.add("export -o OUT over an existing OUT: exit 2, OUT unchanged, no stray file",
            existing(False))
    tap.add("export -o OUT --force replaces OUT, no stray file", existing(True))

    def over_script():
        base = setup()
        script = base / "self.cks"
        script.write_text("rename-prefix mlp ffn\n")
        r = run(script, "-o", script, "--force")
        problems = [] if r.returncode == 2 and script.read_text() == "rename-prefix mlp ffn\n" \
            else ["export -o SCRIPT --force: expected exit 2, SCRIPT unchanged"] + r.describe()
        link = base / "link.py"
        link.symlink_to(script.name)
        r = run(script, "-o", link, "--force")
        if r.returncode != 2 or script.read_text() != "rename-prefix mlp ffn\n":
            problems += ["export -o a symlink to SCRIPT --force: expected exit 2"] + r.describe()
        return problems
    tap.add("export -o SCRIPT (or a link to it), even with --force: exit 2, SCRIPT unchanged",
            over_script)

    def errors():
        base = setup()
        problems = []
        r = run(base / "nope.cks", "-o", base / "nope.py")
        if r.returncode != 2 or f"ckpt-surgeon: {base / 'nope.cks'}:" not in r.stderr or \
                (base / "nope.py").exists():
            problems += ["a missing SCRIPT: expected exit 2 naming it, nothing written"] + \
                r.describe()
        bad = base / "bad.cks"
        bad.write_text("rename a b\n  frobnicate x\n")
        r = run(bad, "-o", base / "bad.py")
        if r.returncode != 2 or not r.stderr.startswith(f"ckpt-surgeon: {bad}:2:3: ") or \
                (base / "bad.py").exists():
            problems += ["a script that does not parse: expected exit 2 at SCRIPT:2:3, "
                         "nothing written"] + r.describe()
        latin = base / "latin1.cks"
        latin.write_bytes(b"rename a b\ndelete 'caf\xe9'\n")
        r = run(latin, "-o", base / "latin1.py")
        if r.returncode != 2 or not r.stderr.startswith(f"ckpt-surgeon: {latin}:2:8: ") or \
                "UTF-8" not in r.stderr or (base / "latin1.py").exists():
            problems += ["an argument that is not UTF-8: expected exit 2 at SCRIPT:2:8 "
                         "saying so, nothing written"] + r.describe()
        r = run(base / "fix.cks", "-o", base / "no-such-dir" / "x.py")
        if r.returncode != 2 or (base / "no-such-dir").exists():
            problems += ["-o in a missing directory: expected exit 2"] + r.describe()
        return problems
    tap.add("export errors: a missing SCRIPT, a line that does not parse (SCRIPT:LINE:COL), "
            "an argument that is not UTF-8, OUT in a missing directory: exit 2, nothing "
            "written", errors)

    def program_cli():
        base = setup()
        program = base / "cli.py"
        r = run(base / "fix.cks", "-o", program)
        if r.returncode:
            return ["export failed"] + r.describe()
        src = fx / "state-dict.pt"
        problems = []

        def py(*args):
            return subprocess.run([PYTHON, program, *map(str, args)], capture_output=True,
                                  text=True, timeout=TIMEOUT, cwd=base, env=python_env())
        h = py("--help")
        if h.returncode != 0 or "IN" not in h.stdout or "OUT" not in h.stdout or \
                "--force" not in h.stdout:
            problems.append(f"--help: exit {h.returncode}, {h.stdout[:200]!r}")
        out = base / "exists.pt"
        out.write_bytes(b"precious")
        p = py(src, out)
        if p.returncode != 2 or out.read_bytes() != b"precious" or "exists" not in p.stderr:
            problems.append(f"OUT exists without --force: exit {p.returncode}, "
                            f"{p.stderr.strip()!r}, OUT {'unchanged' if out.read_bytes() == b'precious' else 'changed'}")
        p = py(src, out, "--force")
        if p.returncode != 0 or "ffn.0.weight" not in torch.load(str(out)):
            problems.append(f"--force: exit {p.returncode}, {p.stderr.strip()!r}")
        copy = base / "in.pt"
        copy.write_bytes(src.read_bytes())
        p = py(copy, copy, "--force")
        if p.returncode != 2 or copy.read_bytes() != src.read_bytes():
            problems.append(f"OUT == IN: exit {p.returncode}, IN "
                            f"{'unchanged' if copy.read_bytes() == src.read_bytes() else 'changed'}")
        stray = [x.name for x in base.iterdir() if x.name.startswith(".migrate-")]
        if stray:
            problems.append(f"stray temporary directories {stray}")
        return problems
    tap.add("the program: --help; OUT exists (exit 2, unchanged) unless --force; OUT == IN "
            "refused; no stray temporary file", program_cli)


# --------------------------------------------------------------------------

def main(argv):
    global ak, deep, colck, nl, ta, tc, to
    if len(argv) > 1:
        print("\n".join(__doc__.strip().splitlines()[2:3]), file=sys.stderr)
        return 2
    fx = cks.setup()
    import applyck
    import colck as colck_module
    import deep as deep_module
    import neural_lam
    import test_apply
    import test_columns
    import test_optimizer
    ak, deep, colck, nl = applyck, deep_module, colck_module, neural_lam
    ta, tc, to = test_apply, test_columns, test_optimizer
    # the other test programs import these after their own torch check
    ta.ak, ta.deep, ta.FIXTURES = ak, deep, fx
    tc.ak, tc.deep, tc.colck, tc.nn = ak, deep, colck, torch.nn
    to.ak, to.deep, to.colck, to.nl, to.nn = ak, deep, colck, nl, torch.nn
    torch.set_num_threads(1)
    session = ak.start_session()
    tap = ak.Tap()
    try:
        apply_scenarios(tap, fx)
        neural_lam_scripts(tap)
        optimizer_scripts(tap)
        column_matrix(tap)
        column_scripts(tap)
        regex_scripts(tap)
        own_scripts(tap)
        export_rules(tap, fx)
        return tap.run()
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
