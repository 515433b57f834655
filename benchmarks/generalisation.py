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
    .venv/bin/python benchmarks/generalisation.py --runs-of baseline --checkpoint last --tag baseline_last
    .venv/bin/python benchmarks/generalisation.py --peer --tag peer   # the peer, same sets, budget and evaluator
    .venv/bin/python benchmarks/generalisation.py --compare baseline scale05 baseline_last --tag switches
    .venv/bin/python benchmarks/generalisation.py --markdown baseline scale05 peer   # tables of published results

``--runs-of TAG --checkpoint last`` rescores another tag's finished runs with their last.pt (best.pt selection as
a switch, no training); ``--compare BASE TAG...`` reads the published results and writes the switch table: per
switch, set and figure the mean and the paired difference to BASE over their common seeds with a 95 % t interval.

Prints one JSON line and saves benchmarks/results/generalisation_<tag>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import cv2
from result_file import RESULTS, publish

from leukodet import api
from leukodet.config import EVAL_IOU
from leukodet.eval.errors import FP_KINDS
from leukodet.eval.paired import paired_difference

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


def cell_sizes(sets: dict[str, tuple[Path, str]], imgsz: int) -> dict[str, dict[str, float]]:
    """Per set: the white cells' (every class of the WBC role) longest side at the network input (the field letterboxed to ``imgsz``), median and
    10th/90th percentiles in pixels, and WBCs per field: what a scale range or a pyramid level must cover."""
    import numpy as np

    from leukodet.engine.run_data import white_cell_sides
    from leukodet.records.sources import load_source

    out = {}
    for name, (data, split) in sets.items():
        ds, _ = load_source(data)
        records = ds.split(split)
        sides = white_cell_sides(records, ds.classes, imgsz, ds.roles)
        p10, p50, p90 = np.percentile(sides, [10, 50, 90])
        out[name] = {"median_px": round(float(p50), 1), "p10_px": round(float(p10), 1),
                     "p90_px": round(float(p90), 1), "wbc_per_field": round(len(sides) / len(records), 2)}  # fmt: skip
    return out


FIGURES = ("wbc_ap50", "wbc_ap50_95", "wbc_precision_at_0.25", "wbc_recall_at_0.25", "map50", "map50_95",
           *(f"wbc_fp_{kind}_per_field" for kind in FP_KINDS))  # fmt: skip
"""The figures of every set, in the order the switch table reports them (the last four: the WBC false detections
at conf 0.25 per field by kind, :func:`leukodet.eval.errors.false_positive_kinds`)."""


def _figures(m: dict[str, Any]) -> dict[str, float | None]:
    wbc = m["per_class"].get("WBC", {})
    op = m["operating_point"].get("per_class", {}).get("WBC", {})
    false = m["operating_point"].get("false_positives", {}).get("WBC", {})
    fit = m["operating_point"].get("localisation", {}).get("WBC", {})
    return {
        "map50": round(m["map50"], 4),
        "map50_95": round(m["map50_95"], 4),
        "wbc_ap50": None if wbc.get("ap50") is None else round(wbc["ap50"], 4),
        "wbc_ap50_95": None if wbc.get("ap50_95") is None else round(wbc["ap50_95"], 4),
        "wbc_precision_at_0.25": None if op.get("precision") is None else round(op["precision"], 4),
        "wbc_recall_at_0.25": None if op.get("recall") is None else round(op["recall"], 4),
        **{f"wbc_fp_{k}_per_field": round(false.get(k, 0) / m["images"], 3) for k in FP_KINDS},
        **{f"wbc_localisation_{k}": fit.get(k) for k in ("median_size_ratio", "too_small", "too_large")},
    }


def one_seed(
    source: Path, sets: dict[str, tuple[Path, str]], run: Path, seed: int, args: Any
) -> dict[str, Any]:
    """Train (unless ``run`` holds a finished run; an interrupted fixed-epoch run resumes) and score
    ``--checkpoint`` of it on every set. A ``--minutes`` run counts as finished once it has a ``best.pt``."""
    from leukodet.engine.run_dir import finished_epochs, resumable

    done = finished_epochs(run) >= args.epochs if args.epochs else (run / "weights" / "best.pt").is_file()
    if not done:
        if args.runs_of:
            raise SystemExit(f"{run}: no finished run to rescore (--runs-of {args.runs_of})")
        api.train(
            source,
            model=args.model,
            epochs=args.epochs or 1000,
            imgsz=416,
            batch=16,
            out=run,
            time=None if args.epochs else args.minutes,
            seed=seed,
            recipe=args.recipe,
            resume=bool(args.epochs) and resumable(run),
            overrides=list(args.set),
            progress=False,
        )
    rows = (run / "results.csv").read_text().splitlines()
    weights = run / "weights" / f"{args.checkpoint}.pt"
    return {"seed": seed, "epochs": len(rows) - 1, "sets": score(weights, sets, args.iou)}


def score(weights: str | Path, sets: dict[str, tuple[Path, str]], iou: float) -> dict[str, dict[str, Any]]:
    """``leukodet val`` of ``weights`` on every set at NMS IoU ``iou``, reduced to the yardstick's figures."""
    return {
        name: _figures(api.val(weights, data, split=split, iou=iou)) for name, (data, split) in sets.items()
    }


def peer_seed(sets: dict[str, tuple[Path, str]], work: Path, seed: int, args: Any) -> dict[str, Any]:
    """Train the peer (ultralytics YOLOv8n in its own venv, as ``bccd_peer.py``) on BCCD train with ``seed`` for
    ``--minutes`` or ``--epochs`` (unless ``work`` holds its weights), predict every set and score the predictions
    with leukodet's evaluator (conf 0.001, IoU 0.6, max 300 on both sides)."""
    from bccd_peer import _peer, _peer_preds

    from leukodet.eval.detection import evaluate
    from leukodet.records.sources import load_source

    tool = ("--work", str(work / "peer-work"), "--imgsz", "416", "--threads", str(args.peer_threads))
    weights = work / "run" / "weights" / "last.pt"
    if not weights.is_file():
        data = args.work / "bccd_yolo" / "data.yaml"
        if not data.is_file():
            api.convert(SHARED / "bccd" / "BCCD", data.parent, "yolo", overwrite=True)
        names = json.dumps(list(load_source(data)[0].classes))
        budget = ("--epochs", str(args.epochs)) if args.epochs else ("--hours", str(args.minutes / 60))
        _peer(args.peer_python, "train", "--data", str(data), "--names", names, "--out", str(work / "run"),
              "--seed", str(seed), *budget, *tool)  # fmt: skip
    epochs = len((work / "run" / "results.csv").read_text().splitlines()) - 1
    scores = {}
    for name, (data, split) in sets.items():
        ds, _ = load_source(data)
        records = ds.split(split)
        out = work / f"pred_{name}.json"
        if not out.is_file():
            images = [str(r.path) for r in records]
            _peer(args.peer_python, "predict", "--weights", str(weights), "--images", *images, "--out", str(out),
                  *tool)  # fmt: skip
        preds = _peer_preds(out)
        scores[name] = _figures(evaluate(records, ds.classes, [preds[r.path.name] for r in records]))
    return {"seed": seed, "epochs": epochs, "sets": scores}


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


def switch_table(base: dict[str, Any], switches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per switch: per set and figure, its mean and the paired difference to ``base`` over the seeds both
    ran (same seed = same initialisation, batch order and augmentation), with a 95 % t interval."""
    ref = {s["seed"]: s["sets"] for s in base["seeds"]}
    rows = []
    for run in switches:
        own = {s["seed"]: s["sets"] for s in run["seeds"]}
        sets: dict[str, dict[str, Any]] = {}
        for name in run["summary"]:
            sets[name] = {}
            for key in FIGURES:
                mine = {k: v[name][key] for k, v in own.items() if v.get(name, {}).get(key) is not None}
                theirs = {k: v[name][key] for k, v in ref.items() if v.get(name, {}).get(key) is not None}
                if mine and theirs:
                    sets[name][key] = {"mean": run["summary"][name][key]["mean"],
                                       "vs_base": paired_difference(mine, theirs)}  # fmt: skip
        rows.append({"tag": run["tag"], "overrides": run["overrides"], "recipe": run.get("recipe"),
                     "checkpoint": run.get("checkpoint", "best"),
                     "budget": run["budget"], "sets": sets})  # fmt: skip
    return rows


def _read(tag: str) -> dict[str, Any]:
    path = RESULTS / f"generalisation_{tag}.json"
    if not path.is_file():
        raise SystemExit(f"{path}: no such result (run generalisation.py --tag {tag} first)")
    return json.loads(path.read_text())


def compare(tags: list[str], name: str) -> None:
    """Publish ``generalisation_<name>.json``: the switch table of ``tags[1:]`` against ``tags[0]``."""
    if name in tags:
        raise SystemExit(f"--tag {name} would overwrite a compared result: give the table its own --tag")
    runs = [_read(tag) for tag in tags]
    publish(f"generalisation_{name}", {"benchmark": "generalisation_switches", "base": runs[0]["tag"],
                                       "base_summary": runs[0]["summary"], "switches": switch_table(runs[0], runs[1:])})  # fmt: skip


def switch_markdown(table: dict[str, Any]) -> str:
    """A switch table (:func:`compare`) as markdown: per switch and set, the paired difference to the base with its
    95 % interval for WBC AP50, AP50-95, precision at conf 0.25 and the set's mAP50-95."""
    keys = ("wbc_ap50", "wbc_ap50_95", "wbc_precision_at_0.25", "map50_95")
    lines = [f"switches against `{table['base']}`\n",
             "| switch | set | WBC AP50 | WBC AP50-95 | WBC precision at 0.25 | mAP50-95 |", "|---|---|---|---|---|---|"]  # fmt: skip
    for row in table["switches"]:
        for name, figures in row["sets"].items():
            cells = []
            for k in keys:
                d = figures.get(k, {}).get("vs_base")
                if d is None or d["mean"] is None:
                    cells.append("–")
                elif d["ci95"] is None:  # one seed: no interval
                    cells.append(f"{d['mean']:+.3f}")
                else:
                    cells.append(f"{d['mean']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]")
            lines.append(f"| {row['tag']} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(tags: list[str]) -> str:
    """The README's tables of published results: per set, one row per tag with the mean ± sd over its seeds of
    WBC AP50, AP50-95, precision / recall at conf 0.25 and the set's mAP50-95 (a switch table's tag: its
    :func:`switch_markdown`)."""
    tables = [_read(t) for t in tags]
    runs = [t for t in tables if t.get("benchmark") != "generalisation_switches"]
    lines = [switch_markdown(t) for t in tables if t.get("benchmark") == "generalisation_switches"]
    if not runs:
        return "\n\n".join(lines)
    keys = ("wbc_ap50", "wbc_ap50_95", "wbc_precision_at_0.25", "wbc_recall_at_0.25", "map50_95")
    for name in runs[0]["summary"]:
        lines += [f"\n**{name}**\n", "| run | seeds | WBC AP50 | WBC AP50-95 | WBC P / R at 0.25 | mAP50-95 |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for run in runs:
            f = {k: run["summary"].get(name, {}).get(k) for k in keys}
            cell = {k: "–" if v is None else f"{v['mean']:.3f} ± {v['sd']:.3f}" for k, v in f.items()}
            lines.append(f"| {run['tag']} | {len(run['seeds'])} | {cell['wbc_ap50']} | {cell['wbc_ap50_95']} | "
                         f"{cell['wbc_precision_at_0.25']} / {cell['wbc_recall_at_0.25']} | {cell['map50_95']} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--epochs", type=int, default=None, help="fixed epochs instead of --minutes")
    p.add_argument("--model", default="n", help="preset (from scratch), bundled name or checkpoint")
    p.add_argument("--recipe", default="short", choices=("short", "paper", "auto"),
                   help="optimiser recipe (default short: what a --time run under an hour gets)")  # fmt: skip
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--domains", default=",".join(DOMAINS))
    p.add_argument("--weights", default=None, help="score this checkpoint or bundled model, no training")
    p.add_argument("--tag", default="baseline")
    p.add_argument("--work", type=Path, default=Path("runs/generalisation"))
    p.add_argument(
        "--checkpoint", choices=("best", "last"), default="best", help="which weights of a run to score"
    )
    p.add_argument(
        "--runs-of", default=None, metavar="TAG", help="rescore that tag's finished runs (no training)"
    )
    p.add_argument(
        "--peer", action="store_true", help="train and score the peer (ultralytics YOLOv8n) instead"
    )
    p.add_argument(
        "--iou", type=float, default=EVAL_IOU, help="NMS IoU of leukodet's scoring (the protocol's)"
    )
    p.add_argument("--peer-python", default=str(Path.home() / ".cache/leukodet-peer/venv/bin/python"))
    p.add_argument("--peer-threads", type=int, default=2)
    p.add_argument("--compare", nargs="+", default=None, metavar="TAG",
                   help="publish the switch table of these results against the first (paired by seed)")  # fmt: skip
    p.add_argument("--markdown", nargs="+", default=None, metavar="TAG", help="print these results as tables")
    args = p.parse_args()
    if args.compare:
        return compare(args.compare, args.tag)
    if args.markdown:
        return print(markdown(args.markdown))
    source, sets = development_sets(args.work, tuple(d for d in args.domains.split(",") if d))
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.weights:
        per_seed = [{"weights": args.weights, "sets": score(args.weights, sets, args.iou)}]
    elif args.peer:
        if args.iou != EVAL_IOU:
            raise SystemExit(f"--iou: the peer's predictions come with its own NMS at {EVAL_IOU}")
        per_seed = [peer_seed(sets, args.work / args.tag / f"seed{s}", s, args) for s in seeds]
    else:
        runs = args.work / (args.runs_of or args.tag)
        per_seed = [one_seed(source, sets, runs / f"seed{s}", s, args) for s in seeds]
    publish(
        f"generalisation_{args.tag}",
        {
            "benchmark": "generalisation",
            "tag": args.tag,
            "model": "ultralytics_8.4.190_yolov8n" if args.peer else args.weights or args.model,
            "budget": None
            if args.weights
            else {"epochs": args.epochs}
            if args.epochs
            else {"minutes": args.minutes},
            "overrides": list(args.set),
            "recipe": None if args.weights or args.peer else args.recipe,
            "checkpoint": args.checkpoint,
            "nms_iou": args.iou,
            "runs_of": args.runs_of,
            "sets": {name: {"data": str(data), "split": split} for name, (data, split) in sets.items()},
            "wbc_size_at_416": cell_sizes(sets, 416),
            "seeds": per_seed,
            "summary": _summary(per_seed),
        },
    )


if __name__ == "__main__":
    main()
