"""Classes that the torch fixtures pickle by reference.

A whole-module pickle (``torch.save(model)``) and a tensor subclass instance
record their class as ``GLOBAL 'fixture_models <Name>'``, so ``torch.load``
can only rebuild them when this module is importable under that name.  The
generator (fixtures.py) and the oracle tests (cks.py) both live in this
directory and put it on ``sys.path``.
"""

import torch
from torch import nn


class Calibrated(nn.Module):
    """A layer with non-tensor extra state (``<prefix>_extra_state``)."""

    def __init__(self, dim):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))
        self.note = "calibrated"

    def forward(self, x):
        return x * self.scale

    def get_extra_state(self):
        return {"note": self.note, "version": 2}

    def set_extra_state(self, state):
        self.note = state["note"]


class Block(nn.Module):
    """A small residual block: Linear + LayerNorm."""

    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return x + self.norm(self.proj(x))


class FixtureNet(nn.Module):
    """Nested modules covering the common state-dict shapes.

    Embedding, a Sequential MLP (Linear/SiLU/LayerNorm), BatchNorm1d (whose
    ``num_batches_tracked`` is a 0-dim int64 buffer), a ModuleDict of blocks,
    a ModuleDict of heads and a module with extra state.
    """

    def __init__(self, vocab=10, dim=4, hidden=6):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.SiLU(),
            nn.LayerNorm(hidden),
            nn.Linear(hidden, dim),
        )
        self.bn = nn.BatchNorm1d(dim)
        self.blocks = nn.ModuleDict({"first": Block(dim), "second": Block(dim)})
        self.calib = Calibrated(dim)
        self.heads = nn.ModuleDict({"cls": nn.Linear(dim, 3), "reg": nn.Linear(dim, 1)})

    def forward(self, idx):
        x = self.emb(idx)
        x = self.bn(self.mlp(x))
        for block in self.blocks.values():
            x = block(x)
        x = self.calib(x)
        return self.heads["cls"](x), self.heads["reg"](x)


class LitWrapper(nn.Module):
    """What a LightningModule looks like to state_dict(): keys prefixed ``model.``."""

    def __init__(self):
        super().__init__()
        self.model = FixtureNet()

    def forward(self, idx):
        return self.model(idx)


class TaggedTensor(torch.Tensor):
    """A tensor subclass with a Python attribute.

    torch pickles instances through ``torch._tensor._rebuild_from_type_v2``
    with ``new_type`` = this class and ``state`` = its ``__dict__``.
    """

    @staticmethod
    def tagged(data, tag):
        t = torch.Tensor._make_subclass(TaggedTensor, data)
        t.tag = tag
        return t
