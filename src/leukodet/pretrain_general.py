"""``leukodet pretrain --stage general``: the recipe behind ``general-n``, the bundled product model for labs.

``general-n`` starts from ``synth-n`` (the synthetic stage's output in the same folder, else the bundled one) and
is fine-tuned on the synthetic corpus together with the **training** splits of real data sets whose licence
allows it (BCCD: MIT); their validation splits validate. Its classes are the synthetic corpus's: the 14 LLD classes, ``RBC``,
``Platelet`` and the generic ``WBC`` (parent of the 14 types, :mod:`leukodet.model.hierarchy`), so a real data
set's untyped white cells train the ``WBC`` class while the synthetic fields keep the types alive. Real class
names are mapped onto that vocabulary by :data:`REAL_NAMES` (``Platelets`` → ``Platelet``).

What never enters training: any ``test`` split (kept on disk for the card's figures), and BCDD, the project's
cross-lab check (a BCDD folder given as training data is refused). The augmentation is chosen for another lab's
fields rather than BCCD's: HED stain jitter, defocus blur and JPEG round trips on top of the colour and scale
jitter, and Reinhard colour normalisation (:data:`GeneralSettings.overrides`); the card scores BCDD, never
trained on, with no fine-tuning.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from .records.files import atomic_write_text

__all__ = [
    "GENERAL_AUGMENT",
    "GENERAL_SETTINGS",
    "REAL_NAMES",
    "GeneralSettings",
    "prepare_real",
    "general_corpus",
    "pretrain_general",
]

REAL_NAMES: dict[str, str] = {"Platelets": "Platelet", "WBC": "WBC", "RBC": "RBC"}
"""Real data sets' class names → the synthetic corpus's (BCCD says ``Platelets``)."""

REAL_LICENCES: dict[str, str] = {"bccd": "MIT (BCCD_Dataset, Shenggan 2017)"}


GENERAL_AUGMENT: tuple[str, ...] = (
    "augment.hed=0.08",
    "augment.hsv_h=0.05",
    "augment.hsv_s=0.8",
    "augment.scale=0.5",
    "augment.blur=0.3",
    "augment.jpeg=0.3",
)
"""Augmentation for other labs' stains, cameras and magnifications: HED stain jitter σ 0.08, hue ±0.05,
saturation ±0.8, scale ±0.5 (the paper's 0.9 halved), defocus blur and JPEG round trips (p 0.3 each)."""


@dataclass(frozen=True)
class GeneralSettings:
    """One setting of the general stage (fine-tuning from ``synth-n``)."""

    name: str = "general-n"
    start: str = "synth-n"
    """The start: ``synth-n`` means the synthetic stage's ``<out>/synth-n.pt`` if present, else the bundled one."""
    domains: tuple[str, ...] = ("HCM_100x_C2",)
    """Synthetic domains kept beside the real data: the demo's 100x domain, so the 14 types stay alive. Run 4
    (docs/models.md) mixed in more synthetic fields and lost accuracy on real ones within the CPU budget."""
    imgsz: int = 416
    epochs: int = 30
    batch: int = 16
    seed: int = 0
    device: str = "cpu"
    overrides: tuple[str, ...] = (
        *GENERAL_AUGMENT,
        "train.stain_norm=reinhard",
        "train.plots=false",
        "train.finetune_lr=1.0",
        "train.eval_every=2",
    )
    """:data:`GENERAL_AUGMENT`; Reinhard colour normalisation (its reference fitted on the training fields,
    stored in the checkpoint and applied to every field predicted; its effect on BCDD is not established: runs
    7/9 and 8/10 disagree in sign, docs/models.md); the full LR (``train.finetune_lr=1``: at the
    fine-tune default of 0.1 × a first run learned nothing of BCCD, since synth-n is a start, not a model of real
    fields); the default class-loss settings (the synthetic stage's ``CLASS_OVERRIDES`` — class gain 1.5
    unscaled, every class group weighted the same — cost BCDD WBC AP50 0.848 → 0.542 and BCCD 0.961 → 0.927 in
    runs 6 and 7, docs/models.md)."""


GENERAL_SETTINGS: dict[str, GeneralSettings] = {
    "cpu": GeneralSettings(),
    "gpu": GeneralSettings(epochs=80, batch=32, imgsz=640, device="cuda"),
}


def prepare_real(name: str, source: Path, dest: Path) -> Path:
    """Convert one real data set to COCO under ``dest`` with the corpus's class names; returns its data.yaml.

    Raises:
        ValueError: for BCDD (the cross-lab check), a class that has no corpus name, or no train split.
    """
    from .records.io import write_dataset
    from .records.schema import Dataset
    from .records.sources import load_source

    _refuse_bcdd(name, source)
    done = dest / "data.yaml"
    if done.is_file():
        return done
    ds, _ = load_source(source)
    unknown = [c for c in ds.classes if c not in REAL_NAMES]
    if unknown:
        raise ValueError(
            f"{source}: class {', '.join(map(repr, unknown))} has no name in the general vocabulary "
            f"(known: {', '.join(REAL_NAMES)})"
        )
    if "train" not in ds.splits:
        raise ValueError(f"{source}: no train split")
    renamed = Dataset(list(ds.records), [REAL_NAMES[c] for c in ds.classes], ds.attributes)
    return write_dataset(renamed, dest, "coco")


def general_corpus(out: Path, corpus: Path, real: dict[str, Path], s: GeneralSettings) -> Path:
    """``out/data.yaml``: the synthetic corpus's domains in ``s.domains`` plus every real set's train and val
    splits (their test splits are not listed: never trained on, never used for model selection)."""
    from .records.vocab import LLD_ATTRIBUTES
    from .synth.generate import class_names

    entries: dict[str, list[dict[str, str]]] = {"train": [], "val": []}
    for domain in s.domains:
        for split in entries:
            entries[split].append(
                {"path": f"{_rel(corpus, out)}/{domain}/annotations/{split}.json", "domain": domain}
            )
    for name, source in sorted(real.items()):
        yaml_path = prepare_real(name, source, out / "real" / name)
        listed = yaml.safe_load(yaml_path.read_text())
        for split in entries:
            if listed.get(split):
                entries[split].append({"path": f"real/{name}/{listed[split]}"})
    doc = {
        "names": class_names(label_rbc=True, wbc_parent=True),
        "attributes": {k: list(v) for k, v in LLD_ATTRIBUTES.items()},
        **entries,
    }
    path = out / "data.yaml"
    atomic_write_text(path, yaml.safe_dump(doc, sort_keys=False))
    return path


def _rel(target: Path, base: Path) -> str:
    import os

    return Path(os.path.relpath(target.resolve(), base.resolve())).as_posix()


def _start(out: Path, s: GeneralSettings) -> str:
    local = out / f"{s.start}.pt"
    return str(local) if local.is_file() else s.start


def pretrain_general(
    out: str | Path,
    real: dict[str, Path],
    settings: GeneralSettings | str = "cpu",
    *,
    cross_lab: Path | None = None,
    progress: bool = False,
    echo: Any = print,
    install: bool = False,
    **changes: Any,
) -> dict[str, Any]:
    """Fine-tune ``general-n`` into ``out/general`` (resumable) and pack ``out/general-n.pt`` with its card.

    Args:
        out: the recipe folder of the synthetic stage (its ``corpus/`` must exist).
        real: ``{name: source}`` real data sets: their train splits train, their val splits validate.
        settings: a :data:`GENERAL_SETTINGS` name or :class:`GeneralSettings`; ``changes`` replace fields
            (``extra_overrides``: config ``key=value`` items added after the setting's own, the CLI's ``--set``).
        cross_lab: a data set never trained on (BCDD), scored with no fine-tuning for the card.
        install: copy the result into the package's bundled models.
    """
    from . import tasks
    from .engine.release import pack_release
    from .engine.run_dir import finished_epochs, train_seconds
    from .pretrain import with_extra

    base = GENERAL_SETTINGS[settings] if isinstance(settings, str) else settings
    extra = changes.pop("extra_overrides", ())
    s = with_extra(replace(base, **changes), extra)
    out = Path(out)
    corpus = _checked_inputs(out, real)
    work = out / "general"
    data = general_corpus(work, corpus, real, s)
    echo(f"1. general corpus: {len(s.domains)} synthetic domains + {', '.join(sorted(real))}: {data}")
    run = work / "run"
    start = _start(out, s)
    done = finished_epochs(run)
    if done < s.epochs:
        echo(f"2. fine-tuning from {start} for {s.epochs} epochs at {s.imgsz} px ({done} done) ...")
        tasks.train(
            data, model=start, epochs=s.epochs, imgsz=s.imgsz, batch=s.batch, out=run, device=s.device,
            seed=s.seed, recipe="short", resume=(run / "weights" / "last.pt").is_file(),
            overrides=list(s.overrides), progress=progress,
        )  # fmt: skip
    best = run / "weights" / "last.pt"  # a fixed-epoch recipe releases its last epoch (see leukodet.pretrain)
    figures = _figures(best, work, sorted(real), cross_lab, corpus, s.device)
    echo(f"3. figures: {json.dumps(figures)}")
    card = general_card(s, start, real, figures, finished_epochs(run), train_seconds(run))
    target = out / f"{s.name}.pt"
    pack_release(best, target, card)
    atomic_write_text(out / f"{s.name}.card.json", json.dumps(card, indent=1) + "\n")
    echo(f"4. {target} ({target.stat().st_size / 1e6:.2f} MB, fp16) and its card")
    if install:
        from .bundled import install_bundled

        entry = install_bundled(s.name, target, card=f"docs/models.md#{s.name}")
        echo(f"5. installed as bundled model {s.name!r}: {entry.path} (sha256 {entry.sha256[:16]}…)")
    return card


def _checked_inputs(out: Path, real: dict[str, Path]) -> Path:
    """The synthetic stage's corpus folder; a ``ValueError`` when it or the real data is missing."""
    corpus = out / "corpus"
    if not (corpus / "data.yaml").is_file():
        raise ValueError(f"{corpus}: no synthetic corpus; run the synthetic stage (leukodet pretrain) first")
    check_real(real)
    return corpus


def check_real(real: dict[str, Path]) -> None:
    """Refuse, before any training, a general stage with no real data, a missing source or BCDD."""
    if not real:
        raise ValueError("the general stage needs at least one real data set (--real NAME=PATH)")
    for name, source in real.items():
        if not Path(source).exists():
            raise ValueError(f"{source}: no such data set (--real {name}=...)")
        _refuse_bcdd(name, Path(source))


def _refuse_bcdd(name: str, source: Path) -> None:
    from .records.bcdd_io import is_bcdd_root

    if is_bcdd_root(source) or name.lower() == "bcdd":
        raise ValueError(f"{source}: BCDD is the cross-lab check and never trains a bundled model")


def _figures(
    best: Path, work: Path, names: list[str], cross_lab: Path | None, corpus: Path, device: str
) -> dict[str, Any]:
    """The card's figures: each real set's test split, the cross-lab set (never trained on), synthetic test."""
    from . import tasks

    figures: dict[str, Any] = {}
    for name in names:
        test_yaml = work / "real" / name / "data.yaml"
        if "test" in (yaml.safe_load(test_yaml.read_text()) or {}):
            figures[f"{name}_test"] = _scores(tasks.val(best, test_yaml, split="test", device=device))
    if cross_lab is not None:
        figures["cross_lab"] = {
            "source": str(cross_lab),
            **_scores(tasks.val(best, cross_lab, split="all", device=device)),
        }
    figures["synthetic_test"] = _scores(tasks.val(best, corpus / "data.yaml", split="test", device=device))
    return figures


def _scores(result: dict[str, Any]) -> dict[str, Any]:
    per = result.get("per_class", {})
    return {
        "map50": round(float(result["map50"]), 4),
        "map50_95": round(float(result["map50_95"]), 4),
        "wbc_ap50": round(float(per["WBC"]["ap50"]), 4) if "WBC" in per else None,
        "per_class_ap50": {k: round(float(v["ap50"]), 4) for k, v in per.items()},
    }


def _setting_flag(s: GeneralSettings) -> str:
    """``--setting NAME `` of the named setting ``s`` is (its overrides in any order), else ``""``."""
    for name, known in GENERAL_SETTINGS.items():
        if replace(known, overrides=()) == replace(s, overrides=()) and set(known.overrides) == set(
            s.overrides
        ):
            return f"--setting {name} "
    return ""


def general_card(
    s: GeneralSettings,
    start: str,
    real: dict[str, Path],
    figures: dict[str, Any],
    epochs: int,
    seconds: float,
) -> dict[str, Any]:
    """The model card of ``general-n`` (stored in the checkpoint, rendered in ``docs/models.md``)."""
    from ._version import __version__
    from .pretrain import LICENCES
    from .records.vocab import LLD_ATTRIBUTES
    from .synth.generate import class_names

    return {
        "name": s.name,
        "leukodet": __version__,
        "summary": "YOLOv5-style n detector + AttriHead: synth-n fine-tuned on synthetic fields and the real BCCD "
        "train split (its val split validates); finds WBCs, RBCs and platelets, names WBC types where it can.",
        "classes": class_names(label_rbc=True, wbc_parent=True),
        "attributes": {k: list(v) for k, v in LLD_ATTRIBUTES.items()},
        "start": Path(start).name,
        "training_data": {
            "synthetic_domains": list(s.domains),
            "real": {
                k: {"source": str(v), "trained_on": ["train"], "validated_on": ["val"]}
                for k, v in sorted(real.items())
            },
            "never_trained_on": ["every test split", "BCDD (cross-lab check)"],
        },
        "licences": {**LICENCES, **{k: REAL_LICENCES.get(k, "see the data set") for k in real}},
        "command": f"leukodet pretrain --stage general {_setting_flag(s)}--out OUT --real "
        + " ".join(f"{k}=PATH" for k in sorted(real))
        + " --cross-lab BCDD_PATH",
        "settings": json.loads(json.dumps(asdict(s))),
        "epochs": epochs,
        "wall_clock_seconds": {"train": seconds},
        "figures": figures,
        "limits": [
            "Real training data is one lab's (BCCD: one stain, one camera, 640x480 fields); other labs' fields"
            " are measured on BCDD only.",
            "Real WBCs are untyped (BCCD labels WBC only): WBC types come from synthetic renderings and are"
            " weak on real cells; an untyped call is reported as 'WBC, untyped'.",
            "BCCD leaves many red cells unlabelled, so red-cell counts are undercounts.",
            "Every field is colour-normalised (Reinhard) to the reference stored in the checkpoint before it is"
            " detected; fine-tune it with --set train.stain_norm=reinhard so the new data are normalised too.",
            "Decision support only; fine-tune on your own labelled fields before any use.",
        ],
    }
