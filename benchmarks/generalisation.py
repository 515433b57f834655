"""Benchmark: the generalisation yardstick (issue #21): train on a source, score on data it was never tuned on.

Trains leukodet on the official BCCD train split (val selects best.pt) once per seed, from ``--model`` (``n`` from
scratch, or a bundled/checkpoint start), for ``--minutes`` of wall-clock (the peer's budget; run it on a quiet
machine) or a fixed ``--epochs`` (load-independent, for paired comparisons of recipe switches), then scores the
run's best.pt with ``leukodet val`` (conf 0.001, IoU 0.6, max 300) on every development set:

* ``bccd_test``: the source's own test split (only scored);
* ``bcdd``: another lab's 100 fields (WBC, RBC), never trained on;
* ``bccd_small``: the BCCD test split as 2 x 2 mosaics of half-size fields (small cells: a WBC about 65 px wide
  at 416, four fields' cells in one);
* ``synth_<domain>``: synthetic fields of other acquisition domains (``--domains``; ``WBC`` parent class, red
  cells and platelets labelled; never trained on).

Per set and seed: mAP50 and mAP50-95 over the classes the set and the model share, the ``WBC`` class's AP50 and
AP50-95, and its precision and recall at conf 0.25; per set the mean and standard deviation over seeds. Recipe
switches are given as ``--set key=value`` (as ``leukodet train --set``) and named by ``--tag``.

    .venv/bin/python benchmarks/generalisation.py [--seeds 0,1,2] [--minutes 15 | --epochs 40] [--model n]
        [--set augment.scale=0.5 ...] [--tag baseline] [--work runs/generalisation]
    .venv/bin/python benchmarks/generalisation.py --weights general-n --tag general_n   # score a model as it is

Prints one JSON line and saves benchmarks/results/generalisation_<tag>.json.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

import cv2
from result_file import publish

from leukodet import api

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DOMAINS = ("LCM_100x_C1", "HCM_40x_C2")
"""Synthetic domains of the yardstick by default: another microscope at 100x, and 40x."""


def small_cells(bccd_yaml: Path, dest: Path) -> Path:
    """The BCCD test split as 2 x 2 mosaics of half-size fields: each mosaic is one field's size, so at the same
    network input every cell is half as wide (a WBC about 65 px at 416) and a field holds four times as many."""
    done = dest / "data.yaml"
    if done.is_file():
        return done
    import numpy as np

    from leukodet.records.sources import load_source

    ds, _ = load_source(bccd_yaml)
    test = ds.split("test")
    (dest / "images").mkdir(parents=True, exist_ok=True)
    (dest / "labels").mkdir(parents=True, exist_ok=True)
    for m in range(len(test) // 4):
        group = test[4 * m : 4 * m + 4]
        w, h = group[0].width, group[0].height
        canvas = np.zeros((h, w, 3), np.uint8)
        lines = []
        for q, rec in enumerate(group):
            ox, oy = (q % 2) * (w // 2), (q // 2) * (h // 2)
            image = cv2.imread(str(rec.path), cv2.IMREAD_COLOR)
            canvas[oy : oy + h // 2, ox : ox + w // 2] = cv2.resize(
                image, (w // 2, h // 2), interpolation=cv2.INTER_AREA
            )
            sx, sy = (w // 2) / rec.width, (h // 2) / rec.height
            for c in rec.cells:
                x1, y1, x2, y2 = (
                    c.box[0] * sx + ox,
                    c.box[1] * sy + oy,
                    c.box[2] * sx + ox,
                    c.box[3] * sy + oy,
                )
                lines.append(
                    f"{c.class_id} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n"
                )
        cv2.imwrite(str(dest / "images" / f"mosaic{m:03d}.png"), canvas)
        (dest / "labels" / f"mosaic{m:03d}.txt").write_text("".join(lines))
    done.write_text(f"names: {list(ds.classes)}\ntest: images\n")
    return done


def development_sets(work: Path, domains: tuple[str, ...]) -> tuple[Path, dict[str, tuple[Path, str]]]:
    """The source's data.yaml and ``{set: (data, split)}`` of the yardstick, made once under ``work``."""
    source = work / "bccd" / "data.yaml"
    if not source.is_file():
        api.convert(SHARED / "bccd" / "BCCD", work / "bccd", "coco", overwrite=True)
    sets = {
        "bccd_test": (source, "test"),
        "bcdd": (SHARED / "bcdd", "all"),
        "bccd_small": (small_cells(source, work / "bccd_small"), "test"),
    }
    for k, domain in enumerate(domains):
        folder = work / f"synth_{domain}"
        if not (folder / "data.yaml").is_file():
            api.synth(
                folder,
                images=30,
                seed=900 + k,
                domain=domain,
                label_rbc=True,
                wbc_parent=True,
                size=416,
                overwrite=True,
                progress=False,
            )
        sets[f"synth_{domain}"] = (folder / "data.yaml", "train")
    return source, sets


def _figures(m: dict[str, Any]) -> dict[str, float | None]:
    wbc = m["per_class"].get("WBC", {})
    op = m["operating_point"].get("per_class", {}).get("WBC", {})
    return {
        "map50": round(m["map50"], 4),
        "map50_95": round(m["map50_95"], 4),
        "wbc_ap50": None if wbc.get("ap50") is None else round(wbc["ap50"], 4),
        "wbc_ap50_95": None if wbc.get("ap50_95") is None else round(wbc["ap50_95"], 4),
        "wbc_precision_at_0.25": None if op.get("precision") is None else round(op["precision"], 4),
        "wbc_recall_at_0.25": None if op.get("recall") is None else round(op["recall"], 4),
    }


def one_seed(
    source: Path, sets: dict[str, tuple[Path, str]], run: Path, seed: int, args: Any
) -> dict[str, Any]:
    """Train (unless ``run`` holds a finished run) and score every set."""
    if not (run / "weights" / "best.pt").is_file():
        api.train(
            source,
            model=args.model,
            epochs=args.epochs or 1000,
            imgsz=416,
            batch=16,
            out=run,
            time=None if args.epochs else args.minutes,
            seed=seed,
            overrides=list(args.set),
            progress=False,
        )
    rows = (run / "results.csv").read_text().splitlines()
    best = run / "weights" / "best.pt"
    scores = {name: _figures(api.val(best, data, split=split)) for name, (data, split) in sets.items()}
    return {"seed": seed, "epochs": len(rows) - 1, "sets": scores}


def _summary(per_seed: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per set and figure: mean and standard deviation over the seeds (figures a set lacks are left out)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in per_seed[0]["sets"]:
        out[name] = {}
        for key in per_seed[0]["sets"][name]:
            values = [s["sets"][name][key] for s in per_seed if s["sets"][name][key] is not None]
            if values:
                sd = statistics.stdev(values) if len(values) > 1 else 0.0
                out[name][key] = {"mean": round(statistics.fmean(values), 4), "sd": round(sd, 4)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--epochs", type=int, default=None, help="fixed epochs instead of --minutes")
    p.add_argument("--model", default="n", help="preset (from scratch), bundled name or checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--domains", default=",".join(DOMAINS))
    p.add_argument("--weights", default=None, help="score this checkpoint or bundled model, no training")
    p.add_argument("--tag", default="baseline")
    p.add_argument("--work", type=Path, default=Path("runs/generalisation"))
    args = p.parse_args()
    source, sets = development_sets(args.work, tuple(d for d in args.domains.split(",") if d))
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.weights:
        scores = {
            name: _figures(api.val(args.weights, data, split=split)) for name, (data, split) in sets.items()
        }
        per_seed = [{"weights": args.weights, "sets": scores}]
    else:
        per_seed = [one_seed(source, sets, args.work / args.tag / f"seed{s}", s, args) for s in seeds]
    publish(
        f"generalisation_{args.tag}",
        {
            "benchmark": "generalisation",
            "tag": args.tag,
            "model": args.weights or args.model,
            "budget": None
            if args.weights
            else {"epochs": args.epochs}
            if args.epochs
            else {"minutes": args.minutes},
            "overrides": list(args.set),
            "sets": {name: {"data": str(data), "split": split} for name, (data, split) in sets.items()},
            "seeds": per_seed,
            "summary": _summary(per_seed),
        },
    )


if __name__ == "__main__":
    main()
