"""Synthetic-field throughput: fields per second at 640x640 in one process, PNG writing and labels included.

Runs ``generate_dataset`` (COCO) on a temporary folder for the default domain and for a low-magnification
domain (more, smaller cells). Prints one JSON line and writes it atomically to
``benchmarks/results/synth_speed.json``.
"""

from __future__ import annotations

import platform
import tempfile
import time
from pathlib import Path

from result_file import publish

from leukodet.synth.generate import generate_dataset

N_FIELDS = 30


def measure(domain: str, n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        generate_dataset(Path(tmp) / "ds", n, 0, domain=domain, size=640, progress=False)
        return n / (time.perf_counter() - t0)


def main() -> dict[str, object]:
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass
    res: dict[str, object] = {
        "benchmark": "synth_speed",
        "size": 640,
        "fields": N_FIELDS,
        "processes": 1,
        "png": True,
        "python": platform.python_version(),
    }
    for dom in ("HCM_100x_C2", "LCM_100x_C1", "HCM_40x_C2", "HCM_10x_C2"):
        res[f"fields_per_s_{dom}"] = round(measure(dom, N_FIELDS if "100x" in dom else 10), 2)
    return res


if __name__ == "__main__":
    publish("synth_speed", main())
