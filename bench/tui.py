#!/usr/bin/python3
"""How the interactive UI feels on a 100,000-key checkpoint.

usage: /usr/bin/python3 bench/tui.py [--bin PATH] [--dir DIR] [--runs N]

Runs `ckpt-surgeon keys100k.pt` (bench/run.py's checkpoint: 100,000
tensors in 10,000 blocks of 10) in a private tmux server, 150x45, and
measures with a monotonic clock, polling the screen every 2 ms:
  - start: from launch to the first screen (the header on screen);
  - keys: from send-keys to the screen showing the result, for a cursor
    move (j), opening the blocks subtree (l: 10,000 rows), a page down,
    G (the last row), e (everything open: 110,000 rows), a search that
    walks the whole tree (/ then a key that is not there), and an edit
    (rename-prefix of all 100,000 keys: the session, the diff and the
    tree are rebuilt) and its undo.
Each figure is the median of N runs (default 5), with min and max.  The
2 ms polling and tmux's own round trip (about 1 ms) are included.
"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from run import make_keys  # noqa: E402


def tmux(sock, *args):
    return subprocess.run(["tmux", "-S", sock, "-f", "/dev/null", *args],
                          capture_output=True, text=True)


def screen(sock):
    return tmux(sock, "capture-pane", "-p", "-t", "0").stdout


def until(sock, pred, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = screen(sock)
        if pred(s):
            return time.monotonic()
        time.sleep(0.002)
    raise SystemExit(f"timed out; screen:\n{screen(sock)}")


def status(s):
    lines = s.rstrip("\n").split("\n")
    return lines[-1].strip() if lines else ""


def one_run(binary, ckpt, workdir):
    sock = os.path.join(workdir, "sock")
    try:
        return measure(sock, binary, ckpt)
    finally:
        tmux(sock, "kill-server")      # also when a wait timed out


def measure(sock, binary, ckpt):
    t0 = time.monotonic()
    tmux(sock, "new-session", "-d", "-x", "150", "-y", "45",
         f"env LANG=C.UTF-8 INPUTRC=/dev/null {shlex.quote(binary)} "
         f"{shlex.quote(ckpt)}; sleep 600")
    out = {"start": until(sock, lambda s: "keys100k.pt" in s) - t0}

    def key(name, keys, pred, literal=False):
        before = time.monotonic()
        for k in keys:
            tmux(sock, "send-keys", *(["-l"] if literal else []), "-t", "0", k)
        out[name] = until(sock, pred) - before

    key("j (next row)", ["j"], lambda s: status(s) == "blocks")
    key("l (open 10,000 rows)", ["l"], lambda s: "\u251c\u2500\u25b8 0 " in s)
    key("PgDn", ["NPage"], lambda s: status(s).startswith("blocks."))
    key("G (last row)", ["G"], lambda s: status(s) == "blocks.9999")
    key("g (first row)", ["g"], lambda s: status(s) == "blocks")
    key("e (open all: 110,000 rows)", ["e"],
        lambda s: "sub0" in s and status(s) == "blocks")
    tmux(sock, "send-keys", "-t", "0", "/")
    until(sock, lambda s: status(s).startswith("/"))
    tmux(sock, "send-keys", "-l", "-t", "0", "nothing-like-it")
    until(sock, lambda s: "nothing-like-it" in status(s))
    key("search the whole tree", ["Enter"],
        lambda s: "not found" in status(s))
    tmux(sock, "send-keys", "-t", "0", ":")
    tmux(sock, "send-keys", "-l", "-t", "0", "rename-prefix blocks b")
    until(sock, lambda s: "rename-prefix blocks b" in status(s))
    key("edit: rename-prefix of 100,000 keys", ["Enter"],
        lambda s: "edits: 1" in s)
    key("undo it", ["u"], lambda s: "edits: 0" in s)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/src/ckpt-surgeon")
    ap.add_argument("--dir", default="/tmp/cks-bench")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    keys = os.path.join(args.dir, "keys100k.pt")
    if not os.path.exists(keys):
        make_keys(keys, 100_000)
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            runs.append(one_run(os.path.abspath(args.bin), keys, d))
    print(f"# ckpt-surgeon TUI on keys100k.pt, {time.strftime('%Y-%m-%d')}, "
          f"{args.runs} runs\n")
    print("| action | median | min | max |")
    print("| --- | --- | --- | --- |")
    for name in runs[0]:
        v = [r[name] * 1000 for r in runs]
        print(f"| {name} | {statistics.median(v):.0f} ms | {min(v):.0f} ms | "
              f"{max(v):.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
