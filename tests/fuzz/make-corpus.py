#!/usr/bin/python3
"""Write the seed corpus of the fuzz targets (run once; the output is
committed).  Needs torch (Debian python3-torch, /usr/bin/python3).

    /usr/bin/python3 tests/fuzz/make-corpus.py tests/fuzz/corpus
"""
import argparse
import collections
import io
import os
import pickle
import sys
import zipfile

import torch


def small_checkpoints():
    torch.manual_seed(0)
    lin = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    a = torch.arange(12.0).reshape(3, 4)
    yield "state-dict", lin.state_dict(), {}
    yield "views", {"a": a, "t": a.t(), "s": a[1:, ::2], "tied": a,
                    "zero_dim": torch.tensor(7), "empty": torch.zeros(0)}, {}
    yield "dtypes", {str(d): torch.tensor([1, 0, 1], dtype=d) for d in (
        torch.float16, torch.bfloat16, torch.int8, torch.bool,
        torch.complex64)}, {}
    yield "quantized", {"q": torch.quantize_per_tensor(
        torch.arange(5.0), 0.5, 1, torch.quint4x2)}, {}
    opt = torch.optim.Adam(lin.parameters())
    lin(torch.randn(4, 3)).sum().backward()
    opt.step()
    yield "lightning", {"epoch": 1, "state_dict": lin.state_dict(),
                        "optimizer_states": [opt.state_dict()]}, {}
    yield "protocol4", lin.state_dict(), {"pickle_protocol": 4}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    out = ap.parse_args().out
    for sub in ("unpickle", "ckpt"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    for name, obj, kw in small_checkpoints():
        buf = io.BytesIO()
        torch.save(obj, buf, **kw)
        raw = buf.getvalue()
        with open(os.path.join(out, "ckpt", name + ".pt"), "wb") as f:
            f.write(raw)
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            pkl = z.read("archive/data.pkl")
        with open(os.path.join(out, "unpickle", name + ".pkl"), "wb") as f:
            f.write(pkl)
    plain = {"ints": [0, 255, 65535, -1, 2**31, -2**31 - 1, 2**70],
             "floats": [0.5, -1e300, float("inf")], "str": "h\u00e9llo",
             "bytes": b"\x00\xff", "nested": ((1,), [2], {3: 4}),
             "set": {1, 2}, "frozen": frozenset([3]), "none": None,
             "od": collections.OrderedDict(a=1), "bool": True}
    for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
        with open(os.path.join(out, "unpickle", f"plain-p{proto}.pkl"),
                  "wb") as f:
            f.write(pickle.dumps(plain, protocol=proto))
    return 0


if __name__ == "__main__":
    sys.exit(main())
