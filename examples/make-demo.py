#!/usr/bin/python3
"""Write examples/demo.ckpt: a small, realistic PyTorch Lightning checkpoint.

usage: /usr/bin/python3 examples/make-demo.py [OUT]    (default: examples/demo.ckpt)

The file is a real torch.save of the dict Lightning's Trainer writes: the
model's state dict (keys prefixed `model.`), the Adam state after two real
optimisation steps, an LR scheduler, loop progress, a ModelCheckpoint
callback state and the hyper-parameters.  Everything is seeded, so running
the script again gives the same tensors.

Try it:
    ckpt-surgeon ls examples/demo.ckpt
    ckpt-surgeon ls examples/demo.ckpt --all
    ckpt-surgeon show examples/demo.ckpt model.encoder.mlp.0.weight
"""

import sys
from pathlib import Path

import torch
from torch import nn

HPARAMS = {
    "vocab_size": 32,
    "dim": 8,
    "hidden": 16,
    "n_blocks": 2,
    "n_classes": 4,
    "lr": 3e-3,
    "weight_decay": 0.0,
    "batch_size": 16,
}


class Block(nn.Module):
    """Pre-norm residual block."""

    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        return x + self.proj(self.norm(x))


class Encoder(nn.Module):
    def __init__(self, vocab_size, dim, hidden, n_blocks):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.SiLU(),
            nn.LayerNorm(hidden),
            nn.Linear(hidden, dim),
        )
        self.norm = nn.BatchNorm1d(dim)
        self.blocks = nn.ModuleList(Block(dim) for _ in range(n_blocks))

    def forward(self, tokens):
        x = self.embed(tokens).mean(dim=1)      # bag of tokens
        x = self.norm(self.mlp(x))
        for block in self.blocks:
            x = block(x)
        return x


class Classifier(nn.Module):
    def __init__(self, vocab_size, dim, hidden, n_blocks, n_classes, **_):
        super().__init__()
        self.encoder = Encoder(vocab_size, dim, hidden, n_blocks)
        self.heads = nn.ModuleDict({
            "label": nn.Linear(dim, n_classes),
            "score": nn.Linear(dim, 1),
        })

    def forward(self, tokens):
        x = self.encoder(tokens)
        return self.heads["label"](x), self.heads["score"](x).squeeze(-1)


class LitClassifier(nn.Module):
    """Stands in for a LightningModule: the network is its `model` attribute."""

    def __init__(self, hparams):
        super().__init__()
        self.model = Classifier(**hparams)

    def forward(self, tokens):
        return self.model(tokens)


def make_checkpoint():
    torch.manual_seed(20240229)
    lit = LitClassifier(HPARAMS)
    adam = torch.optim.Adam(lit.parameters(), lr=HPARAMS["lr"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(adam, T_max=10)

    for _ in range(2):                          # two real optimisation steps
        tokens = torch.randint(0, HPARAMS["vocab_size"], (HPARAMS["batch_size"], 5))
        labels = torch.randint(0, HPARAMS["n_classes"], (HPARAMS["batch_size"],))
        scores = torch.rand(HPARAMS["batch_size"])
        logits, predicted = lit(tokens)
        loss = (nn.functional.cross_entropy(logits, labels)
                + nn.functional.mse_loss(predicted, scores))
        adam.zero_grad()
        loss.backward()
        adam.step()
        sched.step()

    progress = {"ready": 2, "started": 2, "processed": 2, "completed": 2}
    monitor = "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min', 'every_n_train_steps': 0, 'every_n_epochs': 1, 'train_time_interval': None}"
    val_loss = torch.tensor(loss.item() * 1.1)
    return {
        "epoch": 1,
        "global_step": 2,
        "pytorch-lightning_version": "2.1.0",
        "state_dict": lit.state_dict(),
        "loops": {
            "fit_loop": {
                "state_dict": {},
                "epoch_loop.state_dict": {"_batches_that_stepped": 2},
                "epoch_progress": {"total": dict(progress), "current": dict(progress)},
            },
            "validate_loop": {"state_dict": {}},
            "test_loop": {"state_dict": {}},
            "predict_loop": {"state_dict": {}},
        },
        "callbacks": {
            monitor: {
                "monitor": "val_loss",
                "best_model_score": val_loss,
                "best_model_path": "checkpoints/epoch=1-step=2.ckpt",
                "current_score": val_loss,
                "dirpath": "checkpoints",
                "best_k_models": {"checkpoints/epoch=1-step=2.ckpt": val_loss},
                "kth_best_model_path": "checkpoints/epoch=1-step=2.ckpt",
                "kth_value": val_loss,
                "last_model_path": "",
            },
        },
        "optimizer_states": [adam.state_dict()],
        "lr_schedulers": [sched.state_dict()],
        "hparams_name": "kwargs",
        "hyper_parameters": dict(HPARAMS),
    }


def main(argv):
    if len(argv) > 2 or argv[1:2] in (["-h"], ["--help"]):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out = Path(argv[1]) if len(argv) == 2 else Path(__file__).resolve().parent / "demo.ckpt"
    torch.set_num_threads(1)                    # the same floating-point results everywhere
    torch.save(make_checkpoint(), out)
    print(f"wrote {out} ({out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
