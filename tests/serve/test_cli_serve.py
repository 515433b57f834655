"""``leukodet serve``: its options, one-line user errors, and the real server (uvicorn) on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from leukodet.cli import main


def test_serve_help_lists_the_options() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in (
        "--weights",
        "--host",
        "--port",
        "--data-dir",
        "--queue-size",
        "--max-file-mb",
        "--max-files",
    ):
        assert option in result.output
    assert "127.0.0.1" in result.output


def test_serve_user_errors(tmp_path: Path, weights: Path) -> None:
    cases = [
        (["--weights", str(tmp_path / "nope.pt")], "nope.pt"),
        (["--weights", str(weights), "--conf", "2"], "confidence threshold must be in [0, 1]"),
        (["--weights", str(weights), "--port", "0"], "--port must be in 1-65535"),
        (["--weights", str(weights), "--max-files", "0"], "max_files must be at least 1"),
        (["--weights", str(weights), "--queue-size", "-1"], "queue_size >= 0"),
    ]
    for args, needle in cases:
        result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "d"), *args])
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error: ") and needle in result.stderr, result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_server_answers_health_within_30_s(tmp_path: Path, weights: Path) -> None:
    port = _free_port()
    cmd = [sys.executable, "-m", "leukodet.cli", "serve", "--weights", str(weights), "--port", str(port)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.monotonic()
    server = subprocess.Popen(
        [*cmd, "--data-dir", str(tmp_path / "d")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        health = None
        while health is None and time.monotonic() - start < 30 and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=2) as r:
                    health = json.loads(r.read())
            except OSError:
                time.sleep(0.25)
        assert health is not None and health["status"] == "ok", "no answer within 30 s"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/model", timeout=5) as r:
            assert json.loads(r.read())["weights"] == "last.pt"
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode()
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output
