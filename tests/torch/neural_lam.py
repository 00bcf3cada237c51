"""Small models shaped like mllam/neural-lam's GraphLAM, before and after #208.

Three layouts of the same network (the same parameters, the same function):

* OldARModel      the flat ARModel/GraphLAM LightningModule of old
                  checkpoints: buffers `interior_mask_bool` (bool),
                  `per_var_std` (float) and the graph (`g2m_edge_index`,
                  int64, ...) at the top level, the grid MLP inside the
                  encoder GNN: `g2m_gnn.grid_mlp.*`;
* Issue48ARModel  the same flat model after the InteractionNet refactoring
                  (issue #48, ARModel.on_load_checkpoint): the grid MLP is a
                  sibling of the encoder, `encoding_grid_mlp.*`;
* ForecasterModule  the layout since #208: `interior_mask_bool` and
                  `per_var_std` stay on the module, everything else lives in
                  `forecaster.predictor.*` (encoding_grid_mlp included).

Names follow neural-lam (utils.make_mlp: Linear, SiLU, Linear, ...,
LayerNorm; InteractionNet with edge_mlp/aggr_mlp; embedders grid_, g2m_,
m2g_, mesh_, m2m_; processor a ModuleList; m2g_gnn; output_map without
LayerNorm); sizes are tiny.  `predict(grid_features)` computes the same
function in every layout, so a migrated checkpoint must predict bit for bit
what the old one did.

lightning_checkpoint() builds an old-layout Lightning-style checkpoint after
a few real AdamW steps.  migrate_like_neural_lam() is the logic of
neural_lam/migrations.py (rename_keys, then _prefix_flat_ar_model_keys),
the reference the ckpt-surgeon scripts are checked against.
"""

import argparse
import collections

import torch
from torch import nn

HIDDEN = 8
GRID_NODES, MESH_NODES = 12, 5
GRID_IN, STATE = 6, 3           # grid input features, predicted state variables
EDGE_FEATURES, MESH_FEATURES = 3, 2
PROCESSOR_LAYERS = 2
UNPREFIXED = ("interior_mask_bool", "per_var_std")


def make_mlp(blueprint, layer_norm=True):
    """neural_lam.utils.make_mlp: Linear (SiLU Linear)* [LayerNorm]."""
    layers = [nn.Linear(blueprint[0], blueprint[1])]
    for i in range(1, len(blueprint) - 1):
        layers.append(nn.SiLU())
        layers.append(nn.Linear(blueprint[i], blueprint[i + 1]))
    if layer_norm:
        layers.append(nn.LayerNorm(blueprint[-1]))
    return nn.Sequential(*layers)


def make_grid_mlp():
    """The grid MLP: Sequential Linear/SiLU/Linear."""
    return make_mlp([HIDDEN, HIDDEN, HIDDEN], layer_norm=False)


class InteractionNet(nn.Module):
    """Message passing from sender to receiver nodes along edges."""

    def __init__(self, with_grid_mlp=False):
        super().__init__()
        self.edge_mlp = make_mlp([3 * HIDDEN, HIDDEN, HIDDEN])
        self.aggr_mlp = make_mlp([2 * HIDDEN, HIDDEN, HIDDEN])
        if with_grid_mlp:               # before the refactoring of issue #48
            self.grid_mlp = make_grid_mlp()

    def forward(self, send_rep, rec_rep, edge_rep, edge_index):
        send, rec = edge_index
        edges = self.edge_mlp(torch.cat((send_rep[send], rec_rep[rec], edge_rep), dim=-1))
        aggregated = torch.zeros_like(rec_rep).index_add_(0, rec, edges)
        return rec_rep + self.aggr_mlp(torch.cat((rec_rep, aggregated), dim=-1))


def graph(seed=7):
    """The static graph and constants (data, not learned)."""
    g = torch.Generator().manual_seed(seed)
    edges = lambda n, senders, receivers: torch.stack((
        torch.randint(0, senders, (n,), generator=g),
        torch.randint(0, receivers, (n,), generator=g)))
    # ARModel registers its buffers before BaseGraphModel loads the graph
    return {
        "interior_mask_bool": torch.arange(GRID_NODES) % 4 != 0,
        "per_var_std": torch.rand(STATE, generator=g) + 0.5,
        "g2m_edge_index": edges(14, GRID_NODES, MESH_NODES),
        "m2m_edge_index": edges(10, MESH_NODES, MESH_NODES),
        "m2g_edge_index": edges(14, MESH_NODES, GRID_NODES),
        "mesh_static_features": torch.randn(MESH_NODES, MESH_FEATURES, generator=g),
        "g2m_features": torch.randn(14, EDGE_FEATURES, generator=g),
        "m2m_features": torch.randn(10, EDGE_FEATURES, generator=g),
        "m2g_features": torch.randn(14, EDGE_FEATURES, generator=g),
    }


class GraphLAM(nn.Module):
    """The graph network; layout 'old', 'issue48' (flat modules holding the
    top-level buffers) or 'predictor' (the step predictor of #208)."""

    def __init__(self, layout, constants=None):
        super().__init__()
        assert layout in ("old", "issue48", "predictor"), layout
        self.layout = layout
        constants = constants or graph()
        for name, value in constants.items():
            if name in UNPREFIXED and layout == "predictor":
                continue
            self.register_buffer(name, value.clone())
        self.grid_embedder = make_mlp([GRID_IN, HIDDEN, HIDDEN])
        self.g2m_embedder = make_mlp([EDGE_FEATURES, HIDDEN, HIDDEN])
        self.m2g_embedder = make_mlp([EDGE_FEATURES, HIDDEN, HIDDEN])
        self.mesh_embedder = make_mlp([MESH_FEATURES, HIDDEN, HIDDEN])
        self.m2m_embedder = make_mlp([EDGE_FEATURES, HIDDEN, HIDDEN])
        self.g2m_gnn = InteractionNet(with_grid_mlp=layout == "old")
        if layout != "old":
            self.encoding_grid_mlp = make_grid_mlp()
        self.processor = nn.ModuleList(InteractionNet() for _ in range(PROCESSOR_LAYERS))
        self.m2g_gnn = InteractionNet()
        self.output_map = make_mlp([HIDDEN, HIDDEN, STATE], layer_norm=False)

    def step(self, grid_features):
        grid_emb = self.grid_embedder(grid_features)
        mesh_emb = self.mesh_embedder(self.mesh_static_features)
        g2m_emb = self.g2m_embedder(self.g2m_features)
        m2m_emb = self.m2m_embedder(self.m2m_features)
        m2g_emb = self.m2g_embedder(self.m2g_features)
        mesh_rep = self.g2m_gnn(grid_emb, mesh_emb, g2m_emb, self.g2m_edge_index)
        grid_mlp = self.g2m_gnn.grid_mlp if self.layout == "old" else self.encoding_grid_mlp
        grid_rep = grid_emb + grid_mlp(grid_emb)
        for layer in self.processor:
            mesh_rep = layer(mesh_rep, mesh_rep, m2m_emb, self.m2m_edge_index)
        grid_rep = self.m2g_gnn(mesh_rep, grid_rep, m2g_emb, self.m2g_edge_index)
        return self.output_map(grid_rep)


class OldARModel(GraphLAM):
    """The flat LightningModule of checkpoints saved before issue #48."""

    def __init__(self, constants=None):
        super().__init__("old", constants)

    def predict(self, grid_features):
        return self.step(grid_features) * self.per_var_std

    def loss(self, grid_features, target):
        error = (self.step(grid_features) - target) / self.per_var_std
        return error.pow(2)[self.interior_mask_bool].mean()


class Issue48ARModel(OldARModel):
    """The flat model after issue #48: encoding_grid_mlp beside g2m_gnn."""

    def __init__(self, constants=None):
        GraphLAM.__init__(self, "issue48", constants)


class ARForecaster(nn.Module):
    def __init__(self, predictor):
        super().__init__()
        self.predictor = predictor


class ForecasterModule(nn.Module):
    """The LightningModule since #208."""

    def __init__(self, constants=None):
        super().__init__()
        constants = constants or graph()
        for name in UNPREFIXED:
            self.register_buffer(name, constants[name].clone())
        self.forecaster = ARForecaster(GraphLAM("predictor", constants))

    def predict(self, grid_features):
        return self.forecaster.predictor.step(grid_features) * self.per_var_std

    def loss(self, grid_features, target):
        error = (self.forecaster.predictor.step(grid_features) - target) / self.per_var_std
        return error.pow(2)[self.interior_mask_bool].mean()


def batch(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(GRID_NODES, GRID_IN, generator=g), torch.randn(GRID_NODES, STATE, generator=g)


def train(model, optimizer, scheduler, steps, seed=100):
    for i in range(steps):
        x, y = batch(seed + i)
        loss = model.loss(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


def lightning_checkpoint(model_class=OldARModel, seed=0, steps=3):
    """(checkpoint dict, model, optimizer) as Trainer.save_checkpoint would
    save a flat neural-lam model after a few AdamW steps."""
    torch.manual_seed(seed)
    model = model_class()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    train(model, optimizer, scheduler, steps)
    progress = {"ready": steps, "started": steps, "processed": steps, "completed": steps}
    checkpoint = {
        "epoch": 1,
        "global_step": steps,
        "pytorch-lightning_version": "2.0.9",
        "state_dict": model.state_dict(),
        "loops": {
            "fit_loop": {
                "state_dict": {},
                "epoch_loop.state_dict": {"_batches_that_stepped": steps},
                "epoch_loop.batch_progress": {"total": dict(progress), "current": dict(progress)},
                "epoch_progress": {"total": dict(progress), "current": dict(progress)},
            },
            "validate_loop": {"state_dict": {}},
            "test_loop": {"state_dict": {}},
            "predict_loop": {"state_dict": {}},
        },
        "callbacks": {
            "ModelCheckpoint{'monitor': 'val_mean_loss', 'mode': 'min', 'every_n_train_steps': 0, "
            "'every_n_epochs': 1, 'train_time_interval': None}": {
                "monitor": "val_mean_loss",
                "best_model_score": torch.tensor(0.4375),
                "best_model_path": "saved_models/graph_lam-4x8/min_val_loss.ckpt",
                "current_score": torch.tensor(0.4375),
                "dirpath": "saved_models/graph_lam-4x8",
            },
        },
        "optimizer_states": [optimizer.state_dict()],
        "lr_schedulers": [scheduler.state_dict()],
        "hparams_name": "kwargs",
        "hyper_parameters": {
            "args": argparse.Namespace(
                model="graph_lam", graph="multiscale", hidden_dim=HIDDEN, hidden_layers=1,
                processor_layers=PROCESSOR_LAYERS, mesh_aggr="sum", lr=1e-3, loss="wmse",
                restore_opt=False, n_example_pred=1, output_std=False,
                val_steps_to_log=[1, 3], metrics_watch=[], var_leads_metrics_watch={},
            ),
        },
    }
    return checkpoint, model, optimizer


def migrate_like_neural_lam(state_dict, to_version=2):
    """neural_lam/migrations.py's two migrations, as that file does them:
    version 1 rename_keys('g2m_gnn.grid_mlp', 'encoding_grid_mlp'), version 2
    _prefix_flat_ar_model_keys.  Returns {old key: new key}."""
    names = collections.OrderedDict((k, k) for k in state_dict)      # new -> old
    old_prefix, new_prefix = "g2m_gnn.grid_mlp", "encoding_grid_mlp"
    for key in [k for k in names if k.startswith(old_prefix)]:
        names[new_prefix + key[len(old_prefix):]] = names.pop(key)
    if to_version >= 2:
        for key in [k for k in names if not k.startswith("forecaster.") and k not in UNPREFIXED]:
            names[f"forecaster.predictor.{key}"] = names.pop(key)
    return {old: new for new, old in names.items()}
