"""The epoch end as hooks: their order, what each sees, and a user's hook inserted into a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leukodet import api
from leukodet.config import load_config
from leukodet.engine.hooks import Checkpoints, Hook, PreciseBatchNorm, Validate, default_hooks
from leukodet.engine.trainer import Trainer


def test_default_hooks_run_in_the_documented_order() -> None:
    names = [type(h).__name__ for h in default_hooks()]
    assert names == ["PreciseBatchNorm", "Validate", "ResultsLog", "Checkpoints", "Plots"]
    assert not PreciseBatchNorm.main_only and not Validate.main_only and Checkpoints.main_only


def test_an_inserted_hook_sees_each_epoch_after_validation(tmp_path: Path) -> None:
    data = api.synth(tmp_path / "data", images=8, seed=1, size=96, progress=False)
    sets = [f"data={data}", "model=test_tiny", "train.imgsz=96", "train.batch=4", "train.epochs=3"]
    sets += ["train.eval_every=2", "train.plots=false", f"out={tmp_path / 'run'}"]
    trainer = Trainer(load_config(None, sets), progress=False)
    seen: list[tuple[int, bool, bool]] = []

    class Record(Hook):
        def after_epoch(self, trainer: Any, end: Any) -> None:
            seen.append((trainer.epoch, bool(end.metrics), trainer.run.last.is_file()))

    trainer.hooks.insert(2, Record())  # after Validate, before the results and checkpoints
    summary = trainer.fit()
    # validated at epoch 2 (eval_every) and 3 (the last); last.pt is first written after epoch 1's hooks
    assert seen == [(1, False, False), (2, True, True), (3, True, True)]
    assert summary["epochs"] == 3 and len(trainer.rows) == 3 and "map50" in summary["metrics"]


def test_sparse_activity_counts_per_epoch_and_says_when_a_term_never_trained() -> None:
    from leukodet.engine.hooks import sparse_activity

    rows = [
        {"epoch": 1},
        {"train/n_pseudo": 0.0, "train/n_candidates": 2.5},
        {"train/n_pseudo": 0.5, "train/n_candidates": 0.0},
    ]
    fired = sparse_activity(rows, iters=10, method="sladet")
    assert fired["pseudo_labels_per_epoch"] == [None, 0, 5] and fired["triplet_candidates_per_epoch"] == [
        None,
        25,
        0,
    ]
    assert "note" not in fired
    silent = sparse_activity(rows[:2], iters=10, method="sladet")
    assert silent["note"] == "no pseudo-label was accepted in any epoch: the pseudo-label term never trained"
    assert "note" not in sparse_activity(rows[:2], iters=10, method="region")
    burn_in = sparse_activity(rows[:1], iters=10, method="region+pl")
    assert burn_in["note"] == "pseudo-labelling never ran (every epoch was burn-in)"
    no_triplet = sparse_activity(
        [{"train/n_pseudo": 1.0, "train/n_candidates": 0.0}], iters=4, method="sladet"
    )
    assert no_triplet["note"] == "no triplet candidate in any epoch: the triplet term never trained"
