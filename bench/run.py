#!/usr/bin/python3
"""Benchmarks of ckpt-surgeon (results go into bench/RESULTS.md by hand).

usage: /usr/bin/python3 bench/run.py [--bin PATH] [--dir DIR] [--big-gib N]

Writes two checkpoints with real torch into DIR (default /tmp/cks-bench):
  big.pt       a state dict of N GiB (default 2) in 8 float32 tensors
  keys100k.pt  a state dict of 100,000 small tensors
then measures, with hyperfine (warm page cache, wall time) and strace:
  - `ls` and `ls --json` of both, against torch.load of the same file;
  - `show` (statistics over every element) of one 256 MiB tensor;
  - how many bytes `ls` reads from the file (it must read the pickle and
    the zip directory only, never tensor bytes);
  - peak memory (max RSS) of each command;
  - `apply` writing a new checkpoint: a rename on big.pt (re-pickled,
    every storage copied) against `cp` of the same file and torch's
    load-rename-save, a move-column on one 256 MiB tensor of it, and a
    rename-prefix of all 100,000 keys of keys100k.pt;
  - `diff` of keys100k.pt against its own layout file, against a layout
    with every key one level deeper (`net.` + key: 200,000 differences and
    the suggestion that fixes them), and against itself as a checkpoint.
Needs: hyperfine, strace, time (GNU), python3-torch.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import torch


def make_big(path, gib):
    n = int(gib * (1 << 30) // 4 // 8)
    torch.save({f"layer{i}.weight": torch.full((n,), float(i)) for i in range(8)},
               path)


def make_keys(path, count):
    torch.save({f"blocks.{i // 10}.sub{i % 10}.weight": torch.ones(4)
                for i in range(count)}, path)


def make_layout(path, count, prefix):
    """The layout of make_keys's checkpoint as Python prints it, every key
    under prefix (a model wrapped one level deeper)."""
    with open(path, "w") as f:
        for i in range(count):
            print(f"{prefix}blocks.{i // 10}.sub{i % 10}.weight", torch.float32,
                  torch.Size([4]), file=f)


def hyperfine(cmds, runs, ignore_failure=False):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(["hyperfine", "-N", "--warmup", "2", "--runs", str(runs),
                        *(["-i"] if ignore_failure else []),
                        "--export-json", out.name, *cmds],
                       check=True, stdout=subprocess.DEVNULL)
        return [(r["command"], r["median"], r["min"], r["max"])
                for r in json.load(open(out.name))["results"]]


def max_rss_kib(cmd):
    """Peak RSS of cmd, through GNU time: a child forked from this (large)
    process would report our own high-water mark from before its exec."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    return int(r.stderr.strip().splitlines()[-1])


def bytes_read(cmd):
    """Bytes returned by read/pread64 on regular files, per strace."""
    with tempfile.NamedTemporaryFile(mode="r", suffix=".strace") as log:
        subprocess.run(["strace", "-f", "-e", "trace=read,pread64", "-o", log.name,
                        *cmd], check=True, stdout=subprocess.DEVNULL)
        total = 0
        for line in log:
            m = re.search(r"(?:read|pread64)\((\d+),.*\)\s+=\s+(\d+)", line)
            if m:
                total += int(m.group(2))
        return total


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/src/ckpt-surgeon")
    ap.add_argument("--dir", default="/tmp/cks-bench")
    ap.add_argument("--big-gib", type=float, default=2.0)
    args = ap.parse_args()
    for tool in ("hyperfine", "strace", "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"run.py: {tool} is needed (apt-get install {tool})")
    binary = os.path.abspath(args.bin)
    os.makedirs(args.dir, exist_ok=True)
    big = os.path.join(args.dir, "big.pt")
    keys = os.path.join(args.dir, "keys100k.pt")
    if not os.path.exists(big):
        make_big(big, args.big_gib)
    if not os.path.exists(keys):
        make_keys(keys, 100_000)
    same = os.path.join(args.dir, "same.layout")
    moved = os.path.join(args.dir, "moved.layout")
    if not os.path.exists(same):
        make_layout(same, 100_000, "")
    if not os.path.exists(moved):
        make_layout(moved, 100_000, "net.")
    py = sys.executable
    load = "import sys, torch; torch.load(sys.argv[1])"
    resave = ("import sys, torch; c = torch.load(sys.argv[1]); "
              "c['first.weight'] = c.pop('layer0.weight'); torch.save(c, sys.argv[2])")
    scripts = {}
    for name, text in (("rename", "rename layer0.weight first.weight\n"),
                       ("column", "move-column layer3.weight 0 1000 --dim 0\n"),
                       ("prefix", "rename-prefix blocks b\n")):
        scripts[name] = os.path.join(args.dir, name + ".cks")
        with open(scripts[name], "w") as f:
            f.write(text)
    out = os.path.join(args.dir, "out.pt")

    print(f"# ckpt-surgeon benchmarks, {time.strftime('%Y-%m-%d')}")
    print(f"big.pt: {os.path.getsize(big) / 2**30:.2f} GiB, "
          f"keys100k.pt: {os.path.getsize(keys) / 2**20:.1f} MiB\n")
    print("| command | median | min | max | max RSS |")
    print("| --- | --- | --- | --- | --- |")
    cases = [
        ([binary, "ls", big], 20),
        ([binary, "ls", "--json", big], 20),
        ([binary, "show", big, "layer3.weight"], 5),
        ([py, "-c", load, big], 3),
        ([binary, "ls", keys], 10),
        ([binary, "ls", "--json", keys], 10),
        ([binary, "layout", keys], 10),
        ([binary, "show", keys, "blocks.5000.sub3.weight"], 10),
        ([py, "-c", load, keys], 3),
        (["cp", big, out], 5),
        ([binary, "apply", scripts["rename"], big, "-o", out, "--force"], 5),
        ([py, "-c", resave, big, out], 3),
        ([binary, "apply", scripts["column"], big, "-o", out, "--force"], 5),
        ([binary, "apply", scripts["prefix"], keys, "-o", out, "--force"], 5),
        ([binary, "diff", keys, same], 10),
        ([binary, "diff", keys, moved], 10),
        ([binary, "diff", keys, keys], 10),
    ]
    for cmd, runs in cases:
        (_, med, lo, hi), = hyperfine([shlex.join(cmd)], runs,
                                      ignore_failure=cmd[1] == "diff")
        rss = max_rss_kib(cmd)
        short = (binary, big, keys, py, out, same, moved, *scripts.values())
        name = " ".join(os.path.basename(c) if c in short else
                        "(python)" if c in (load, resave) else c for c in cmd)
        print(f"| `{name}` | {med * 1000:.1f} ms | {lo * 1000:.1f} ms | "
              f"{hi * 1000:.1f} ms | {rss / 1024:.1f} MiB |")
    print()
    for path in (big, keys):
        size = os.path.getsize(path)
        got = bytes_read([binary, "ls", path])
        print(f"- `ls {os.path.basename(path)}` read {got} bytes of a "
              f"{size}-byte file ({100 * got / size:.4f} %)")
    os.unlink(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
