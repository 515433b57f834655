"""Benchmark: ConfMix unsupervised domain adaptation against source-only training (paper Table 6 setting).

Two settings (``--setting``):

* ``synth``: synthetic LLD fields, source HCM_100x_C2, target LCM_100x_C2 (the paper's pair), ``--fields``
  (400) each (80/10/10 splits), imgsz 320, as WBC detection (the 14 types collapsed to one class ``WBC``: at
  a few CPU minutes a 14-class model is too weak, ≈ 0.17 mAP50, for any domain to matter). Valid only if
  source-only on the target test split scores at least 10 mAP50 points below source-only on the source test
  split (the JSON says ``gap_valid``); when it does not, the fine-tunes are skipped.
* ``bccd``: source BCCD (official splits), target BCDD (another lab; its images unlabelled during adaptation,
  its labels used only to score), imgsz 416.

Runs, all ``n`` preset, batch 16, seed 0: ``source`` = source-only from scratch for ``--minutes``; then, from
its best.pt, ``--finetune`` more minutes either source-only again (``source+ft``: the same extra compute
without the target) or with ``--adapt confmix`` (``confmix``; each ``--variant KEY=VALUE`` adds a ConfMix run
with ``adapt.KEY=VALUE``). Each is scored on the source and the target
test data (mAP50, mAP50-95); in the synthetic setting through ``leukodet domains`` on one YAML listing both
test splits (matrix in ``WORK/matrix``). Runs already finished in ``--work`` are reused.

    .venv/bin/python benchmarks/adapt_confmix.py --setting synth [--minutes 8] [--finetune 4] [--fields 400]
    .venv/bin/python benchmarks/adapt_confmix.py --setting bccd
    .venv/bin/python benchmarks/adapt_confmix.py --setting synth --variant target_negatives=false

Prints one JSON line and saves benchmarks/results/adapt_confmix_<setting>.json, beside the paper's Table 6
(YOLOv5x source-only 25.5 mAP50 → ConfMix 33.5 on HCM_100x_C2 → LCM_100x_C2).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import yaml
from result_file import publish

from leukodet import api
from leukodet.synth.domains import MICROSCOPES

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PAPER = {"source_only_map50": 25.5, "confmix_map50": 33.5, "daca_map50": 30.2}


def _wbc_only(root: Path) -> None:
    """Collapse the 14 LLD classes of a synthetic COCO dataset to one class ``WBC`` (in place)."""
    for ann in (root / "annotations").glob("*.json"):
        doc = json.loads(ann.read_text())
        for a in doc["annotations"]:
            a["category_id"] = 1
        doc["categories"] = [{"id": 1, "name": "WBC", "supercategory": "cell"}]
        ann.write_text(json.dumps(doc))
    meta = yaml.safe_load((root / "data.yaml").read_text())
    meta["names"] = ["WBC"]
    (root / "data.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


def _data(setting: str, work: Path, fields: int) -> tuple[Path, Path, str, int]:
    """(source data, target data (unlabelled for adaptation, labelled for scoring), target split, imgsz)."""
    if setting == "synth":
        for name, seed, domain in (("hcm", 0, "HCM_100x_C2"), ("lcm", 1, "LCM_100x_C2")):
            if not (work / name / "data.yaml").exists():
                api.synth(work / name, images=fields, seed=seed, domain=domain, overwrite=True)
                _wbc_only(work / name)
        return work / "hcm" / "data.yaml", work / "lcm" / "data.yaml", "test", 320
    src = work / "bccd" / "data.yaml"
    if not src.exists():
        api.convert(SHARED / "bccd" / "BCCD", work / "bccd", "yolo", overwrite=True)
    tgt = work / "bcdd" / "data.yaml"
    if not tgt.exists():
        api.convert(SHARED / "bcdd", work / "bcdd", "yolo", overwrite=True)
    return src, tgt, "all", 416


def _train(data: Path, out: Path, minutes: float, imgsz: int, model: str, overrides: list[str]) -> Path:
    best = out / "weights" / "best.pt"
    if not best.exists():
        api.train(data, model=model, epochs=1000, imgsz=imgsz, batch=16, out=out, time=minutes, seed=0,
                  overrides=["train.plots=false", "train.attributes=false", *overrides], progress=False)  # fmt: skip
    return best


def _score(weights: Path, source: Path, target: Path, target_split: str) -> dict:
    s = api.val(weights, source, split="test")
    t = api.val(weights, target, split=target_split)
    return {
        "source_map50": s["map50"],
        "source_map50_95": s["map50_95"],
        "target_map50": t["map50"],
        "target_map50_95": t["map50_95"],
    }


def _matrix(work: Path, weights: dict[str, Path]) -> dict:
    """Synthetic setting: ``leukodet domains`` on both test splits (tagged HCM/LCM by the generator; the
    matrix is written to ``work/matrix``); returns the scores per run."""
    both = work / "both.yaml"
    hcm = yaml.safe_load((work / "hcm" / "data.yaml").read_text())
    doc = {"names": hcm["names"], "attributes": hcm.get("attributes"),
           "test": ["hcm/annotations/test.json", "lcm/annotations/test.json"]}  # fmt: skip
    both.write_text(yaml.safe_dump(doc, sort_keys=False))
    matrix = api.domains(both, list(weights.values()), out=work / "matrix")
    runs = {}
    for name, row in zip(weights, matrix["rows"], strict=True):
        src, tgt = row["cells"]["HCM_100x_C2"], row["cells"]["LCM_100x_C2"]
        runs[name] = {"source_map50": src["map50"], "source_map50_95": src["map50_95"],
                      "target_map50": tgt["map50"], "target_map50_95": tgt["map50_95"]}  # fmt: skip
    return runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", choices=["synth", "bccd"], required=True)
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--finetune", type=float, default=4.0)
    p.add_argument("--fields", type=int, default=400, help="synthetic fields per domain (80/10/10 splits)")
    p.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE",
                   help="also fine-tune ConfMix with adapt.KEY=VALUE (repeatable), e.g. target_negatives=false")  # fmt: skip
    p.add_argument("--work", default=None, help="default: /tmp/leukodet-adapt-<setting>")
    args = p.parse_args()
    work = Path(args.work or f"/tmp/leukodet-adapt-{args.setting}")
    source, target, split, imgsz = _data(args.setting, work, args.fields)

    def score(weights: dict[str, Path]) -> dict:
        if args.setting == "synth":
            return _matrix(work, weights)
        return {name: _score(w, source, target, split) for name, w in weights.items()}

    base = _train(source, work / "runs" / "source", args.minutes, imgsz, "n", [])
    runs = score({"source": base})
    gap = runs["source"]["source_map50"] - runs["source"]["target_map50"]
    if args.setting == "bccd" or gap >= 0.10:  # an invalid synthetic gap: no point adapting
        plain = _train(source, work / "runs" / "source_ft", args.finetune, imgsz, str(base), [])
        adapt = ["adapt.method=confmix", f"adapt.target_data={target}"]
        weights = {"source": base, "source+ft": plain}
        for variant in ["", *args.variant]:  # "" = ConfMix as published
            folder = "confmix_" + variant.replace("=", "-") if variant else "confmix"
            extra = [f"adapt.{variant}"] if variant else []
            weights[f"confmix [{variant}]" if variant else "confmix"] = _train(
                source, work / "runs" / folder, args.finetune, imgsz, str(base), adapt + extra
            )
        runs = score(weights)
    publish(
        f"adapt_confmix_{args.setting}",
        {
            "benchmark": f"adapt_confmix_{args.setting}",
            "minutes": args.minutes,
            "finetune_minutes": args.finetune,
            "imgsz": imgsz,
            "runs": runs,
            "domain_gap_map50": round(gap, 4),
            "gap_valid": gap >= 0.10 if args.setting == "synth" else None,
            "confmix_minus_source_ft_target_map50": round(
                runs["confmix"]["target_map50"] - runs["source+ft"]["target_map50"], 4
            )
            if "confmix" in runs
            else None,
            "lcm_optics": asdict(MICROSCOPES["LCM"]) if args.setting == "synth" else None,
            "paper_table6": PAPER,
        },
    )


if __name__ == "__main__":
    sys.exit(main())
