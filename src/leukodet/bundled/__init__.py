"""Checkpoints shipped inside the package, loaded by name (``--model synth-n``, ``--weights general-n``).

``models.json`` beside this file lists each bundled model: ``{"NAME": {"file": "NAME.pt", "sha256": HEX,
"card": "docs/models.md#NAME"}}``. A name resolves to the file in this folder only after its SHA-256 matches
the listed one, so a changed or truncated file is refused with a message naming it. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..records.files import atomic_write_bytes, atomic_write_text

__all__ = [
    "BUNDLE_DIR",
    "BundledModel",
    "BundleError",
    "bundled_models",
    "resolve_weights",
    "file_sha256",
    "install_bundled",
]

BUNDLE_DIR = Path(__file__).resolve().parent
"""The folder of the bundled checkpoints and their ``models.json``."""


class BundleError(ValueError):
    """A bundled model is unknown, missing or changed (message names it and the file)."""


@dataclass(frozen=True)
class BundledModel:
    """One entry of ``models.json``."""

    name: str
    path: Path
    sha256: str
    card: str = ""


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bundled_models(root: str | Path | None = None) -> dict[str, BundledModel]:
    """The bundled models listed in ``root/models.json`` (default: the package's), by name."""
    folder = Path(root) if root is not None else BUNDLE_DIR
    listing = folder / "models.json"
    try:
        doc = json.loads(listing.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise BundleError(f"{listing}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    models = {}
    for name, entry in doc.items():
        if not isinstance(entry, dict) or not {"file", "sha256"} <= set(entry):
            raise BundleError(f"{listing}: entry {name!r} needs 'file' and 'sha256'")
        models[name] = BundledModel(name, folder / entry["file"], entry["sha256"], entry.get("card", ""))
    return models


def resolve_weights(spec: str | Path, root: str | Path | None = None) -> Path:
    """A checkpoint path for ``spec``: an existing file as it is, or a bundled model's file after its SHA-256
    check. A bare name (no folder, no suffix) that is neither is refused, listing the bundled names; any other
    path is returned unchanged (the loader then says it does not exist)."""
    path = Path(spec)
    if path.is_file():
        return path
    models = bundled_models(root)
    model = models.get(str(spec))
    if model is None:
        if path.suffix == "" and len(path.parts) == 1:
            names = ", ".join(sorted(models)) or "none in this installation"
            raise BundleError(
                f"{spec}: no checkpoint file and no bundled model of that name (bundled: {names})"
            )
        return path
    if not model.path.is_file():
        raise BundleError(
            f"bundled model {model.name}: its file {model.path} is missing (reinstall leukodet)"
        )
    digest = file_sha256(model.path)
    if digest != model.sha256:
        raise BundleError(
            f"bundled model {model.name}: {model.path} has SHA-256 {digest[:16]}…, expected "
            f"{model.sha256[:16]}… (the file was changed or damaged; reinstall leukodet)"
        )
    return model.path


def install_bundled(
    name: str, checkpoint: str | Path, card: str = "", root: str | Path | None = None
) -> BundledModel:
    """Copy ``checkpoint`` into the bundle folder as ``NAME.pt`` and list it in ``models.json`` with its SHA-256
    (a maintainer's step when a new release checkpoint is made; both writes are atomic)."""
    folder = Path(root) if root is not None else BUNDLE_DIR
    target = folder / f"{name}.pt"
    atomic_write_bytes(target, Path(checkpoint).read_bytes())
    listing = folder / "models.json"
    doc = json.loads(listing.read_text()) if listing.is_file() else {}
    doc[name] = {"file": target.name, "sha256": file_sha256(target), "card": card}
    atomic_write_text(listing, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return bundled_models(folder)[name]
