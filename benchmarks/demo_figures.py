"""The figures of ``make demo`` (issue #17): the bundled product model as it comes, the bundled start as it comes,
then the start after its 3-minute SLA-Det fine-tune.

Runs the demo (``leukodet.api.demo``, the defaults of ``make demo``) into ``--out`` and times it, or with
``--existing`` reads a finished demo folder (its ``start_test_metrics.json``, ``run/test_metrics.json`` and the two
reports) and takes the wall-clock from ``--seconds``. Prints one JSON line and saves
benchmarks/results/<name>.json.

    .venv/bin/python benchmarks/demo_figures.py [--out demo_out] [--existing --seconds S] [--name demo]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from result_file import publish

from leukodet import api


def _figures(path: Path) -> dict:
    m = json.loads(path.read_text())
    op = m["operating_point"]
    return {
        "map50": round(m["map50"], 4),
        "map50_95": round(m["map50_95"], 4),
        "wbc_ap50": round(m["per_class"].get("WBC", {}).get("ap50", 0.0), 4),
        "precision_at_0.25": round(op["precision"], 4),
        "recall_at_0.25": round(op["recall"], 4),
        "attributes_mean_accuracy": round((m.get("attributes_mean") or {}).get("accuracy", 0.0), 4),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("demo_out"))
    p.add_argument(
        "--existing", action="store_true", help="read a finished demo folder instead of running it"
    )
    p.add_argument("--seconds", type=float, default=None, help="with --existing: the measured wall-clock")
    p.add_argument("--name", default="demo")
    args = p.parse_args()
    seconds = args.seconds
    if not args.existing:
        start = time.monotonic()
        api.demo(args.out, echo=lambda _: None)
        seconds = time.monotonic() - start
    out = args.out
    config = (out / "run" / "config.yaml").read_text()
    epochs = len((out / "run" / "results.csv").read_text().splitlines()) - 1
    result = {
        "benchmark": "demo",
        "start_model": next(
            (ln.split(":", 1)[1].strip() for ln in config.splitlines() if ln.startswith("model:")), None
        ),
        "showcase_model": json.loads((out / "showcase_test_metrics.json").read_text())["weights"]
        if (out / "showcase_test_metrics.json").is_file()
        else None,
        "showcase": _figures(out / "showcase_test_metrics.json")
        if (out / "showcase_test_metrics.json").is_file()
        else None,
        "before_fine_tune": _figures(out / "start_test_metrics.json"),
        "after_fine_tune": _figures(out / "run" / "test_metrics.json"),
        "fine_tune_epochs": epochs,
        "report_text_showcase": json.loads((out / "start_report" / "report.json").read_text())["text"]
        if (out / "start_report" / "report.json").is_file()
        else None,
        "report_text_after": json.loads((out / "report" / "report.json").read_text())["text"],
        "wall_clock_seconds": None if seconds is None else round(seconds, 1),
    }
    publish(args.name, result)


if __name__ == "__main__":
    main()
