"""The run folder: ``config.yaml``, ``results.csv``, ``weights/{best,last}.pt`` and plots, written atomically."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

from ..records.files import atomic_write_bytes, atomic_write_text

__all__ = ["RunDir", "ensure_new_run", "resume_config"]

log = logging.getLogger(__name__)


class RunDir:
    """Paths and writers of one training run (``--out DIR`` is this folder itself, never suffixed)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.weights = self.root / "weights"

    @property
    def last(self) -> Path:
        return self.weights / "last.pt"

    @property
    def best(self) -> Path:
        return self.weights / "best.pt"

    @property
    def results_csv(self) -> Path:
        return self.root / "results.csv"

    def write_config(self, text: str) -> None:
        atomic_write_text(self.root / "config.yaml", text)

    def write_results(self, rows: list[dict[str, Any]]) -> None:
        """Rewrite ``results.csv`` with one row per finished epoch."""
        if not rows:
            return
        keys: list[str] = []
        for row in rows:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        atomic_write_text(self.results_csv, buf.getvalue())

    def read_results(self) -> list[dict[str, Any]]:
        if not self.results_csv.is_file():
            return []
        with self.results_csv.open(newline="") as fh:
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(fh)]

    def write_plots(self, rows: list[dict[str, Any]], pr: dict[str, Any] | None = None) -> None:
        """``results.png`` (loss terms and metrics per epoch) and, when given, ``pr_curve.png``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        keys = [k for k in rows[0] if k != "epoch" and isinstance(rows[0][k], (int, float))] if rows else []
        if keys:
            fig, axes = plt.subplots(1, len(keys), figsize=(3 * len(keys), 2.6), squeeze=False)
            epochs = [r["epoch"] for r in rows]
            for ax, key in zip(axes[0], keys):
                ax.plot(epochs, [r.get(key, float("nan")) for r in rows], marker=".")
                ax.set_title(key, fontsize=9)
                ax.set_xlabel("epoch", fontsize=8)
            fig.tight_layout()
            self._save(fig, "results.png")
        if pr is not None:
            fig, ax = plt.subplots(figsize=(4.5, 4))
            if not pr:
                ax.text(0.5, 0.5, "no detection of a\nground-truth class yet", ha="center", va="center")
            for name, curve in pr.items():
                ax.plot(curve["recall"], curve["precision"], label=name)
            ax.set_xlabel("recall")
            ax.set_ylabel("precision")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
            if pr:
                ax.legend(fontsize=6)
            fig.tight_layout()
            self._save(fig, "pr_curve.png")

    def _save(self, fig: Any, name: str) -> None:
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        atomic_write_bytes(self.root / name, buf.getvalue())


def _number(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def finished_epochs(run: Path) -> int:
    """Epochs a run folder has finished (rows of its ``results.csv``; 0 for a new folder)."""
    csv = Path(run) / "results.csv"
    return max(len(csv.read_text().splitlines()) - 1, 0) if csv.is_file() else 0


def resumable(run: Path) -> bool:
    """A run folder holding a ``last.pt`` and its ``config.yaml``: ``resume`` continues it."""
    return (Path(run) / "weights" / "last.pt").is_file() and (Path(run) / "config.yaml").is_file()


def train_seconds(run: Path) -> float:
    """Training wall-clock: the sum of the epochs' ``seconds`` in ``results.csv`` (resumed chunks included)."""
    import csv

    with open(Path(run) / "results.csv", newline="") as f:
        return round(sum(float(row["seconds"]) for row in csv.DictReader(f)), 1)


def ensure_new_run(out: Path) -> None:
    """A new run must not overwrite another run's weights (use --resume to continue it)."""
    from ..records.diagnostics import DataError

    if (out / "weights" / "last.pt").exists():
        raise DataError(
            f"{out}: already holds a run (weights/last.pt); pass --resume or choose another --out"
        )


def resume_config(out: Path, overrides: list[str] | None) -> Any:
    """The run config of the run folder ``out`` (its ``config.yaml`` with ``overrides``), writing into ``out``
    whatever ``config.yaml`` says: a copied or moved run folder resumes where it is now."""
    from ..config import apply_overrides, load_config
    from ..records.diagnostics import DataError

    config_path = out / "config.yaml"
    if not config_path.is_file():
        raise DataError(f"{config_path}: nothing to resume (no config.yaml in the run folder)")
    cfg = load_config(config_path, overrides)
    if Path(cfg.out).resolve() != out.resolve():
        log.info("resuming in %s (its config.yaml names %s: a copied or moved run)", out, cfg.out)
        cfg = apply_overrides(cfg, {"out": str(out)})
    return cfg
