#!/usr/bin/python3
"""The interactive UI, driven through a real terminal (tmux), checked with torch.

usage: test_tui.py               run the checks, print TAP

A tmux server of its own (a private socket) runs `ckpt-surgeon FILE` in a
fixed-size window; keys go in with send-keys, screens come back with
capture-pane.  The session reproduces the neural-lam upgrade by hand:

* open an old flat-model Lightning checkpoint with --target the layout of
  the new ForecasterModule (as Python prints it); the header counts the
  differences torch's state dicts have;
* the diff screen lists the suggestions; Enter applies them one by one
  until nothing is missing, unexpected or mismatched;
* search finds the grid embedder; the column dialog moves an input
  feature; a `:` line moves another; undo and redo;
* save the script, export it as Python, write the checkpoint; quit.

Then torch checks the written checkpoint (it loads with strict=True into
the new model, each tensor the old one it comes from, the moved columns
moved as torch's index_select moves them) and `apply` of the saved script
gives the same tensors, as does the exported program.  Other checks: the
help screen comes from the key table, a bad `:` line is one error on the
status line and changes nothing, quitting with unsaved edits asks first,
the filter and sort keys, a resize, the ASCII fallback under LC_ALL=C,
and a file the UI cannot open is one error line and exit 2.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cks

torch = cks.torch
nl = None
TMUX = shutil.which("tmux")
WIDTH, HEIGHT = 150, 45


class Term:
    """One ckpt-surgeon under a private tmux server."""

    def __init__(self, workdir, argv, env=None):
        self.sock = str(workdir / "tmux.sock")
        self.done = workdir / "exit-status"
        environ = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "INPUTRC": "/dev/null",
                   "HOME": str(workdir), "TERM": "xterm-256color"}
        environ.update(env or {})
        inner = " ".join(f"{k}={shlex.quote(v)}" for k, v in environ.items())
        cmd = (f"env -i PATH=/usr/bin:/bin {inner} "
               f"{' '.join(shlex.quote(str(a)) for a in argv)}; "
               f"echo $? > {shlex.quote(str(self.done))}; sleep 600")
        self.tmux("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), cmd)

    def tmux(self, *args):
        return subprocess.run([TMUX, "-S", self.sock, "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=20)

    def keys(self, *keys, literal=False):
        for k in keys:
            self.tmux("send-keys", *(["-l"] if literal else []), "-t", "0", k)
            time.sleep(0.05)

    def type(self, text):
        self.keys(text, literal=True)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "0").stdout

    def wait(self, predicate, what, timeout=15):
        """Poll the screen until predicate(screen) holds; the screen, or
        raise with the last screen."""
        end = time.time() + timeout
        while True:
            s = self.screen()
            if predicate(s):
                return s
            if time.time() > end:
                raise Failure(f"timed out waiting for {what}", s)
            time.sleep(0.1)

    def wait_text(self, text, timeout=15):
        return self.wait(lambda s: text in s, repr(text), timeout)

    def status(self):
        lines = self.screen().rstrip("\n").split("\n")
        return lines[-1] if lines else ""

    def header(self):
        return self.screen().split("\n", 1)[0]

    def exit_status(self, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if self.done.exists() and self.done.read_text().strip():
                return int(self.done.read_text())
            time.sleep(0.1)
        return None

    def exit_problems(self):
        """[] when the program exited with status 0, else the problem."""
        got = self.exit_status()
        return [] if got == 0 else [f"exit status {got}, expected 0"]

    def close(self):
        self.tmux("kill-server")


class Failure(Exception):
    def __init__(self, message, screen=""):
        super().__init__(message)
        self.screen = screen

    def problems(self):
        return [str(self)] + [f"| {line}" for line in self.screen.rstrip().split("\n")]


def checked(func):
    """A check: its Failure becomes the problem list with the screen."""
    def run(*args):
        try:
            return func(*args) or []
        except Failure as exc:
            return exc.problems()
    run.__doc__ = func.__doc__
    return run


# --------------------------------------------------------------------------
# The neural-lam session

class Upgrade:
    """Everything the interactive upgrade made, done once."""

    def __init__(self, root):
        self.dir = root / "upgrade"
        self.dir.mkdir()
        torch.manual_seed(0)
        ck, _, _ = nl.lightning_checkpoint(nl.OldARModel)
        self.old = self.dir / "old.ckpt"
        torch.save(ck, self.old)
        new = nl.ForecasterModule().state_dict()
        self.target = self.dir / "new.layout"
        with open(self.target, "w") as f:
            for k, v in new.items():
                print(k, v.dtype, v.shape, file=f)
        self.want = new
        self.out = self.dir / "new.ckpt"
        self.script = self.dir / "upgrade.cks"
        self.program = self.dir / "upgrade.py"
        self.log = []           # (description, problems) of the steps
        self.term = None

    def step(self, what, func):
        try:
            func()
            self.log.append((what, []))
            return True
        except Failure as exc:
            self.log.append((what, exc.problems()))
            return False

    def run(self):
        old_sd = torch.load(self.old)["state_dict"]
        missing = [k for k in self.want if k not in old_sd]
        unexpected = [k for k in old_sd if k not in self.want]
        t = self.term = Term(self.dir, [cks.binary(), self.old, "--target", self.target])
        head = f"target: {len(missing)} missing, {len(unexpected)} unexpected, 0 mismatched"
        steps = [
            ("the header counts what torch's state dicts differ by",
             lambda: t.wait(lambda s: head in s.split("\n", 1)[0], head)),
            ("the diff screen shows diff's report and the two suggestions",
             lambda: (t.keys("D"), t.wait_text("2 suggested edits"),
                      t.wait_text(f"forecaster.predictor.*  {len(missing)} keys"),
                      t.wait_text("rename-prefix '' forecaster.predictor --except "
                                  "interior_mask_bool --except per_var_std"))),
            ("Enter applies the first; the rest are recounted",
             lambda: (t.keys("Enter"),
                      t.wait(lambda s: "target: 4 missing, 4 unexpected" in s, "4/4 left"))),
            ("Enter applies the second: the diff reaches zero",
             lambda: (t.keys("Enter"),
                      t.wait(lambda s: "target: 0 missing, 0 unexpected, 0 mismatched" in s,
                             "a clean diff"))),
            ("search finds the grid embedder's weight",
             lambda: (t.keys("q", "/"), t.type("grid_embedder.0.weight"), t.keys("Enter"),
                      t.wait(lambda s: s.rstrip("\n").split("\n")[-1].strip() ==
                             "forecaster.predictor.grid_embedder.0.weight",
                             "the selected path on the status line"))),
            ("the column dialog shows the shape and moves feature 4 to 1",
             lambda: (t.keys("m"),
                      t.wait(lambda s: s.rstrip("\n").split("\n")[-1].startswith(
                          "move-column forecaster.predictor.grid_embedder.0.weight "
                          "(float32 [8, 6]):"), "the dialog with the shape"),
                      t.type("4"), t.keys("Tab"), t.type("1"), t.keys("Enter"),
                      t.wait_text("move-column forecaster.predictor.grid_embedder.0.weight 4 1"))),
            ("a ':' line moves a column of another embedder",
             lambda: (t.keys(":"), t.type("move-column forecaster.predictor."
                                           "mesh_embedder.0.weight 1 0"),
                      t.keys("Enter"), t.wait_text("edits: 4 unsaved"))),
            ("undo and redo change the edit count",
             lambda: (t.keys("u"), t.wait_text("edits: 3 unsaved"), t.keys("C-r"),
                      t.wait_text("edits: 4 unsaved"))),
            ("save the script",
             lambda: (t.keys("S"), t.wait_text("save the script to:"), t.type(str(self.script)),
                      t.keys("Enter"), t.wait_text(f"saved the script to {self.script} (4 edits)"))),
            ("export it as Python",
             lambda: (t.keys("X"), t.type(str(self.program)), t.keys("Enter"),
                      t.wait_text(f"exported the edits as Python to {self.program} (4 edits)"))),
            ("write the checkpoint",
             lambda: (t.keys("w"), t.type(str(self.out)), t.keys("Enter"),
                      t.wait_text(f"wrote {self.out}"),
                      t.wait(lambda s: "unsaved" not in s.split("\n", 1)[0], "saved state"))),
            ("writing again over it asks first; n keeps the file",
             lambda: (t.keys("w"), t.type(str(self.out)), t.keys("Enter"),
                      t.wait_text("exists: replace it? (y/n)"), t.keys("n"),
                      t.wait_text("cancelled"))),
            ("q quits at once when nothing is unsaved (exit 0)",
             lambda: (t.keys("q"), self.expect_exit(0))),
        ]
        for what, func in steps:
            if not self.step(what, func):
                break
        t.close()

    def expect_exit(self, code):
        got = self.term.exit_status()
        if got != code:
            raise Failure(f"exit status {got}, expected {code}", self.term.screen())


UP = None


def upgrade():
    global UP
    if UP is None:
        UP = Upgrade(SESSION)
        UP.run()
    return UP


def step_check(index):
    def check():
        up = upgrade()
        if index >= len(up.log):
            return ["not reached: an earlier step failed"]
        return up.log[index][1]
    return check


def expected_result():
    """What the written checkpoint's state dict must hold, by torch."""
    up = upgrade()
    old = torch.load(up.old)["state_dict"]
    mapping = nl.migrate_like_neural_lam(old, 2)
    want = {new: old[k].clone() for k, new in mapping.items()}
    w = want["forecaster.predictor.grid_embedder.0.weight"]
    order = list(range(w.shape[1]))
    order.insert(1, order.pop(4))
    want["forecaster.predictor.grid_embedder.0.weight"] = w.index_select(1, torch.tensor(order))
    w = want["forecaster.predictor.mesh_embedder.0.weight"]
    order = list(range(w.shape[1]))
    order.insert(0, order.pop(1))
    want["forecaster.predictor.mesh_embedder.0.weight"] = w.index_select(1, torch.tensor(order))
    return want


def same_tensors(got, want, what):
    problems = []
    if list(got) != list(want) and sorted(got) != sorted(want):
        problems.append(f"{what}: keys differ: {sorted(set(got) ^ set(want))[:6]}")
    for k, v in want.items():
        if k in got and not (got[k].dtype == v.dtype and torch.equal(got[k], v)):
            problems.append(f"{what}: {k} differs")
    return problems[:20]


def check_written():
    """The written checkpoint loads strictly into the new model, each
    tensor what torch computes from the old one."""
    up = upgrade()
    if not up.out.exists():
        return ["the checkpoint was not written"]
    loaded = torch.load(up.out)
    try:
        nl.ForecasterModule().load_state_dict(loaded["state_dict"], strict=True)
    except Exception as exc:
        return [f"load_state_dict(strict=True): {exc}"]
    return same_tensors(loaded["state_dict"], expected_result(), "written")


def check_script_replays():
    """apply of the saved script gives the same tensor bytes."""
    up = upgrade()
    if not up.script.exists():
        return ["the script was not saved"]
    out = up.dir / "replayed.ckpt"
    r = cks.run_cks("apply", up.script, up.old, "-o", out)
    if r.returncode != 0:
        return ["apply of the saved script failed"] + r.describe()
    got, want = torch.load(out), torch.load(up.out)
    problems = same_tensors(got["state_dict"], want["state_dict"], "replayed")
    text = up.script.read_text().splitlines()
    edits = [line for line in text if line and not line.startswith("#")]
    if len(edits) != 4:
        problems.append(f"the script holds {len(edits)} edits, expected 4: {edits}")
    return problems


def check_export_runs():
    """The exported program, run by Python with torch, gives the same."""
    up = upgrade()
    if not up.program.exists():
        return ["the program was not exported"]
    out = up.dir / "exported.ckpt"
    r = subprocess.run([sys.executable, str(up.program), str(up.old), str(out)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return [f"the exported program failed: {r.stderr[-500:]}"]
    return same_tensors(torch.load(out)["state_dict"],
                        torch.load(up.out)["state_dict"], "exported")


# --------------------------------------------------------------------------
# Other behaviours, on the bundled demo

def demo_term(label, *args, env=None):
    d = SESSION / label
    d.mkdir()
    return d, Term(d, [cks.binary(), os.environ.get("CKS_DEMO") or
                       cks.REPO / "examples" / "demo.ckpt", *args], env=env)


@checked
def check_help_screen():
    """? shows every bound key with its command, from the key table."""
    _, t = demo_term("help")
    try:
        t.wait_text("demo.ckpt")
        t.keys("?")
        s = t.wait_text("Keys (")
        problems = []
        for label, command in (("/", "search"), ("u", "undo"), ("C-r", "redo"),
                               ("D", "diff"), ("w", "write"), ("q", "quit")):
            if not any(line.split()[:2] == [label, command] for line in s.split("\n")
                       if line.strip()):
                problems.append(f"no help line '{label} {command}'")
        t.keys("q")
        t.wait(lambda s: "Keys (" not in s, "back to the tree")
        return problems + (s.split("\n") if problems else [])
    finally:
        t.close()


@checked
def check_bad_line_and_quit():
    """A bad ':' line is one error on the status line and no edit; q with
    unsaved edits asks, n stays, y quits."""
    _, t = demo_term("quit")
    try:
        t.wait_text("edits: 0")
        t.keys(":")
        t.type("rename no.such.key x")
        t.keys("Enter")
        t.wait_text("session:1:8: no key 'no.such.key' in the state dict")
        if "edits: 0" not in t.header():
            raise Failure("an edit was recorded", t.screen())
        t.keys(":")
        t.type("rename-prefix model net")
        t.keys("Enter")
        t.wait_text("edits: 1 unsaved")
        t.keys("q")
        t.wait_text("1 unsaved edits")
        t.keys("n")
        t.wait_text("cancelled")
        t.keys("q")
        t.wait_text("quit anyway? (y/n)")
        t.keys("y")
        return t.exit_problems()
    finally:
        t.close()


@checked
def check_filter_sort_resize():
    """f shows only matching paths; s cycles the order; a resize redraws
    (and, narrower than 100 columns, puts the detail pane below)."""
    _, t = demo_term("filter")
    try:
        t.wait_text("demo.ckpt")
        t.keys("f")
        t.type("exp_avg_sq")
        t.keys("Enter")
        s = t.wait_text("filter 'exp_avg_sq'")
        body = s.split("\n")[1:-1]
        shown = [line for line in body if line.strip()]
        if not any("exp_avg_sq" in line for line in shown):
            raise Failure("no exp_avg_sq row under the filter", s)
        if any("exp_avg " in line for line in shown):
            raise Failure("an exp_avg row is shown under the filter", s)
        t.keys("f", "Enter", "s")
        t.wait_text("sorted by name")
        t.keys("s")
        t.wait_text("sorted by size")
        t.tmux("resize-window", "-t", "0", "-x", "90", "-y", "20")
        t.wait(lambda s: len(s.split("\n")[0].rstrip()) <= 90, "a 90-column header")
        # narrower than 100 columns: the detail pane goes below the tree
        t.wait(lambda s: any(line.strip() and set(line.strip()) <= set("\u2500-")
                             for line in s.split("\n")), "a rule above the pane below")
        t.keys("q")
        return t.exit_problems()
    finally:
        t.close()


@checked
def check_ascii_fallback():
    """Under LC_ALL=C the tree lines are ASCII."""
    _, t = demo_term("ascii", env={"LANG": "C", "LC_ALL": "C"})
    try:
        s = t.wait_text("state_dict")
        if not any(line.startswith("- state_dict") for line in s.split("\n")):
            raise Failure("no ASCII '- ' before the open state dict", s)
        if any(ord(c) > 127 for c in s):
            raise Failure("non-ASCII characters under LC_ALL=C", s)
        t.keys("q")
        return []
    finally:
        t.close()


@checked
def check_subtree_rename_and_target():
    """/ selects a subtree, R renames it at the prompt, t loads a target
    whose counts follow every edit and undo."""
    d, t = demo_term("subtree")
    try:
        demo = os.environ.get("CKS_DEMO") or cks.REPO / "examples" / "demo.ckpt"
        layout = cks.run_cks("layout", demo)
        target = d / "demo.layout"
        target.write_text(layout.stdout)
        encoder = [line for line in layout.stdout.splitlines()
                   if line.startswith("model.encoder.")]
        t.wait_text("edits: 0")
        t.keys("/")
        t.type("model.encoder")
        t.keys("Enter")
        t.wait(lambda s: s.rstrip("\n").split("\n")[-1].strip() == "model.encoder",
               "model.encoder selected")
        t.keys("R")
        t.wait_text(":rename-prefix model.encoder model.encoder")
        t.keys(*["BSpace"] * len("encoder"))
        t.type("enc")
        t.keys("Enter")
        t.wait_text(f"rename-prefix model.encoder model.enc: {len(encoder)} changed")
        t.keys("t")
        t.wait_text("target (checkpoint or layout file):")
        t.type(str(target))
        t.keys("Enter")
        n = len(encoder)
        t.wait_text(f"target: {n} missing, {n} unexpected, 0 mismatched")
        t.keys("u")
        t.wait_text("target: 0 missing, 0 unexpected, 0 mismatched")
        t.keys("q")
        return t.exit_problems()
    finally:
        t.close()


@checked
def check_script_option():
    """--script replays a script first; its edits are in the history and
    undo one by one.  A script that fails: one error line, exit 2."""
    d = SESSION / "script-opt"
    d.mkdir()
    good, bad = d / "good.cks", d / "bad.cks"
    good.write_text("rename-prefix model net\ndelete net.heads.score.bias\n")
    bad.write_text("rename-prefix model net\nrename nope x\n")
    demo = os.environ.get("CKS_DEMO") or cks.REPO / "examples" / "demo.ckpt"
    r = cks.run_cks(demo, "--script", bad)
    if r.returncode != 2 or r.stderr.strip() != f"ckpt-surgeon: {bad}:2:8: no key 'nope' in the state dict":
        return ["a failing --script: expected exit 2 and its line"] + r.describe()
    t = Term(d, [cks.binary(), demo, "--script", good])
    try:
        t.wait_text("edits: 2 unsaved")
        t.wait_text(f"replayed 2 edits of {good}")
        t.keys("u")
        t.wait_text("edits: 1 unsaved")
        t.keys("u")
        t.wait(lambda s: "edits: 0" in s.split("\n", 1)[0] and
               "unsaved" not in s.split("\n", 1)[0], "no edits, nothing unsaved")
        t.keys("q")
        return t.exit_problems()
    finally:
        t.close()


def check_no_color():
    """Colours on a colour terminal; none with NO_COLOR (reverse video
    marks the header and the selection instead)."""
    problems = []
    for label, env, want_color in (("color", {}, True),
                                   ("no-color", {"NO_COLOR": "1"}, False)):
        _, t = demo_term(label, env=env)
        try:
            t.wait_text("demo.ckpt")
            s = t.tmux("capture-pane", "-e", "-p", "-t", "0").stdout
            colored = any(f"\x1b[{c}m" in s for c in ("46", "47", "30")) or "\x1b[38" in s
            if colored != want_color:
                problems.append(f"{label}: colour codes {'missing' if want_color else 'present'}")
            if not want_color and "\x1b[1;7m" not in s and "\x1b[7m" not in s:
                problems.append("no-color: no reverse video for the header")
            t.keys("q")
        finally:
            t.close()
    return problems


@checked
def check_mouse():
    """A click selects the row under it, the wheel moves by three rows, a
    double click opens or closes (SGR mouse reports, as xterm sends them)."""
    _, t = demo_term("mouse", env={"TERM": "xterm-256color"})
    try:
        s = t.wait_text("state_dict")
        lines = s.split("\n")
        names = [line[2:].split()[0] if line[2:].strip() else "" for line in lines]
        t.type("\x1b[<0;5;4M\x1b[<0;5;4m")           # a click on screen row 4
        t.wait(lambda s: t.status().strip() == names[3], f"{names[3]} selected")
        t.type("\x1b[<65;5;4M\x1b[<65;5;4M")          # the wheel, two notches down
        t.wait(lambda s: t.status().strip() == names[9], f"{names[9]} selected")
        state = next(i for i, line in enumerate(lines) if "state_dict" in line)
        if "\u25be state_dict" not in lines[state]:
            raise Failure("the state dict does not start open", s)
        y = state + 1
        t.type(f"\x1b[<0;5;{y}M\x1b[<0;5;{y}m\x1b[<0;5;{y}M\x1b[<0;5;{y}m")
        t.wait(lambda s: "\u25b8 state_dict" in s.split("\n")[state],
               "the state dict closed by a double click")
        t.keys("q")
        return []
    finally:
        t.close()


def check_cannot_open():
    """A file the UI cannot open: one error line, exit 2, no screen."""
    d = SESSION / "bad"
    d.mkdir()
    bad = d / "bad.ckpt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    r = cks.run_cks(bad)
    if r.returncode != 2 or len(r.stderr.strip().split("\n")) != 1 or \
            not r.stderr.startswith(f"ckpt-surgeon: {bad}:"):
        return ["expected exit 2 and one error line"] + r.describe()
    return []


SESSION = None


def main(argv):
    global nl, SESSION
    cks.setup()
    import neural_lam
    nl = neural_lam
    tap = cks.Tap()
    if not TMUX:
        print("1..0 # SKIP tmux is not installed")
        return 0
    SESSION = Path(tempfile.mkdtemp(prefix="cks-tui-"))
    steps = ["the header counts what torch's state dicts differ by",
             "the diff screen shows diff's report and the two suggestions",
             "Enter applies the first; the rest are recounted",
             "Enter applies the second: the diff reaches zero",
             "search finds the grid embedder's weight",
             "the column dialog shows the shape and moves feature 4 to 1",
             "a ':' line moves a column of another embedder",
             "undo and redo change the edit count",
             "save the script", "export it as Python", "write the checkpoint",
             "writing again over it asks first; n keeps the file",
             "q quits at once when nothing is unsaved (exit 0)"]
    for i, what in enumerate(steps):
        tap.add(f"neural-lam by hand: {what}", step_check(i))
    tap.add("the written checkpoint loads strictly, every tensor as torch computes it",
            check_written)
    tap.add("apply of the saved script gives the same tensors", check_script_replays)
    tap.add("the exported program gives the same tensors", check_export_runs)
    tap.add("the help screen lists the key table", check_help_screen)
    tap.add("a bad ':' line; quitting with unsaved edits asks", check_bad_line_and_quit)
    tap.add("filter, sort and a resize", check_filter_sort_resize)
    tap.add("R renames a subtree, t loads a target that follows the edits",
            check_subtree_rename_and_target)
    tap.add("ASCII tree lines under LC_ALL=C", check_ascii_fallback)
    tap.add("--script replays first, its edits undoable", check_script_option)
    tap.add("colours, and none with NO_COLOR", check_no_color)
    tap.add("the mouse: click, wheel, double click", check_mouse)
    tap.add("a file it cannot open: one error line, exit 2", check_cannot_open)
    try:
        return tap.run()
    finally:
        shutil.rmtree(SESSION, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
