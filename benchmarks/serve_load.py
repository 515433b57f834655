"""Load test of the REST service: the real server (``leukodet serve``, uvicorn) on loopback, concurrent clients.

    .venv/bin/python benchmarks/serve_load.py [--weights W.pt] [--clients 8] [--analyses 64] [--deadline 900]

Model: without ``--weights``, the ``n`` preset trained for 1 minute (``--train-minutes``) on 16 synthetic
640x640 fields (``api.synth``, seed 0), i.e. the real network's cost, not a useful detector. Its scores are
low, so unless ``--conf`` is given the threshold is the score at rank ``CELLS_PER_FIELD`` x fields on the
first 4 test films, meant to keep about ``CELLS_PER_FIELD`` cells per field as a lab film field would. A
barely trained model's scores tie, so far more cells can pass (``cells_kept``; 17,068 in the saved run, about
178 per field): the report, crop and PNG work per analysis is then heavier than a good model's. The server runs in its own process on 127.0.0.1 and a free port (``--queue-size 16``, one worker, torch on the machine's cores) with
a fresh data directory. ``--clients`` threads share ``--analyses`` POST /v1/analyses requests, each film 1 or
2 synthetic 640x640 fields (``leukodet.synth.render_field``, PNG, rendered before timing); the run stops
taking new requests at ``--deadline`` seconds. Every answer other than 201 with a report, and every client
error, is a failure. After the load: the index must list every analysis, and one report page and one cell
crop are fetched.

Reported: latency percentiles (p50/p90/p99/max, seconds, whole request: upload + queue + analysis + answer),
throughput (analyses and fields per second over the load's wall time), ``startup_s`` (process start to the
first healthy answer of /v1/health, model load included), the server's peak RSS, and the 1-minute load
average before and after (the machine is shared: rerun when it is well below the core count).

Prints one JSON line and saves it to benchmarks/results/serve_load.json.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image
from result_file import publish

from leukodet import api
from leukodet.synth import render_field

HOST = "127.0.0.1"
CELLS_PER_FIELD = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _train(work: Path, minutes: float) -> Path:
    data = api.synth(work / "data", images=16, seed=0, size=640)
    api.train(
        data, model="n", epochs=1000, imgsz=640, batch=8, time=minutes, out=work / "run", progress=False
    )
    return work / "run" / "weights" / "last.pt"


def _films(count: int) -> list[list[tuple[str, bytes]]]:
    """``count`` films of 1 or 2 PNG fields (alternating), rendered once before timing."""
    films = []
    for i in range(count):
        fields = []
        for j in range(1 + i % 2):
            out = io.BytesIO()
            Image.fromarray(render_field(1000 + 2 * i + j, size=640).image).save(out, format="PNG")
            fields.append((f"film{i:02d}_field{j}.png", out.getvalue()))
        films.append(fields)
    return films


def _calibrate(weights: Path, films: list[list[tuple[str, bytes]]]) -> float:
    """The score threshold that keeps about ``CELLS_PER_FIELD`` cells per field on the first 4 films."""
    from leukodet.infer.predictor import Detector

    fields = [
        np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for film in films[:4] for _, data in film
    ]
    preds = Detector.load(weights).predict(fields, conf=1e-4)
    scores = np.sort(np.concatenate([pred.scores for pred in preds]))[::-1]
    return round(float(scores[min(len(scores) - 1, CELLS_PER_FIELD * len(fields))]), 6)


def _start(
    weights: Path, data_dir: Path, port: int, conf: float, log: Path
) -> tuple[subprocess.Popen, float]:
    """The server process and the seconds until /v1/health first answered ok."""
    cmd = [sys.executable, "-m", "leukodet.cli", "serve", "--weights", str(weights), "--host", HOST]
    cmd += ["--port", str(port), "--data-dir", str(data_dir), "--queue-size", "16", "--conf", str(conf)]
    start = time.monotonic()
    server = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    while time.monotonic() - start < 60 and server.poll() is None:
        try:
            if httpx.get(f"http://{HOST}:{port}/v1/health", timeout=2).json()["status"] == "ok":
                return server, time.monotonic() - start
        except (httpx.HTTPError, ValueError):
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"server did not become healthy within 60 s; log: {log}")


def _client(
    base: str, jobs: list[list[tuple[str, bytes]]], lock: threading.Lock, stop_at: float, out: list
) -> None:
    """Take films off ``jobs`` until none is left or the deadline passed; append one result per request."""
    with httpx.Client(base_url=base, timeout=300) as client:
        while time.monotonic() < stop_at:
            with lock:
                if not jobs:
                    return
                film = jobs.pop()
            files = [("files", (name, data, "image/png")) for name, data in film]
            t0 = time.monotonic()
            try:
                r = client.post("/v1/analyses", files=files)
                ok = r.status_code == 201 and r.json()["report"]["schema"] == "leukodet.report/1"
                result = {
                    "status": r.status_code,
                    "ok": ok,
                    "cells": len(r.json().get("report", {}).get("cells", [])),
                }
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                result = {"status": type(exc).__name__, "ok": False, "cells": 0}
            out.append({**result, "latency": time.monotonic() - t0, "fields": len(film)})


def _load(base: str, films: list, clients: int, deadline: float) -> tuple[list[dict[str, Any]], float]:
    jobs, lock, results = list(reversed(films)), threading.Lock(), []
    start = time.monotonic()
    threads = [
        threading.Thread(target=_client, args=(base, jobs, lock, start + deadline, results))
        for _ in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.monotonic() - start


def _after(base: str, ok: int) -> dict[str, Any]:
    """The service's state after the load: listed analyses, and one report page and crop fetched."""
    listing = httpx.get(f"{base}/v1/analyses", params={"limit": 200}).json()
    first = listing["items"][0]["id"] if listing["items"] else None
    with_cells = next((i["id"] for i in listing["items"] if i["n_cells"] > 0), None)
    page = httpx.get(f"{base}/v1/analyses/{first}/report.html") if first else None
    crop = httpx.get(f"{base}/v1/analyses/{with_cells}/cells/0.png") if with_cells else None
    return {
        "listed": listing["total"],
        "listed_matches_ok": listing["total"] == ok,
        "report_html_status": page.status_code if page else None,
        "cell_png_status": crop.status_code if crop else None,
    }


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _summary(results: list[dict[str, Any]], wall: float, requested: int) -> dict[str, Any]:
    lat = np.array([r["latency"] for r in results if r["ok"]])
    ok = int(sum(r["ok"] for r in results))
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    pct = {f"p{q}": round(float(np.percentile(lat, q)), 3) for q in (50, 90, 99)} if len(lat) else {}
    return {
        "requested": requested,
        "sent": len(results),
        "ok": ok,
        "failures": requested - ok,
        "status_counts": statuses,
        "latency_s": {**pct, "max": round(float(lat.max()), 3) if len(lat) else None},
        "wall_s": round(wall, 2),
        "analyses_per_s": round(ok / wall, 3),
        "fields_per_s": round(sum(r["fields"] for r in results if r["ok"]) / wall, 3),
        "cells_kept": int(sum(r["cells"] for r in results)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=None, help="Checkpoint to serve (default: train an n model).")
    p.add_argument("--train-minutes", type=float, default=1.0)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--analyses", type=int, default=64)
    p.add_argument("--conf", type=float, default=None, help="Service threshold (default: calibrated).")
    p.add_argument("--deadline", type=float, default=900.0, help="Seconds after which no request is started.")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="leukodet-serve-load-") as tmp:
        work = Path(tmp)
        weights = Path(args.weights) if args.weights else _train(work / "model", args.train_minutes)
        films = _films(args.analyses)
        conf = args.conf if args.conf is not None else _calibrate(weights, films)
        port = _free_port()
        load_before = os.getloadavg()[0]
        server, startup = _start(weights, work / "service", port, conf, work / "server.log")
        base = f"http://{HOST}:{port}"
        try:
            results, wall = _load(base, films, args.clients, args.deadline)
            after = _after(base, sum(r["ok"] for r in results))
            rss = _peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    result = {
        "benchmark": "serve_load",
        "model": args.weights or f"n preset, trained {args.train_minutes} min on 16 synthetic 640x640 fields",
        "conf": conf,
        "conf_calibrated": args.conf is None,
        "clients": args.clients,
        "fields_per_analysis": "1 or 2 (alternating), 640x640 PNG",
        "startup_s": round(startup, 2),
        **_summary(results, wall, args.analyses),
        **after,
        "server_peak_rss_mb": rss,
        "cpu_count": os.cpu_count(),
        "load_avg_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }
    publish("serve_load", result)


if __name__ == "__main__":
    main()
