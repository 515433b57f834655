"""Contact sheet: the six real LLD sample fields beside synthetic HCM_100x_C2 fields (docs/synth_contact_sheet.png).

Top two rows: the real fields of ``../shared/data/lld-samples`` (visual check only, not redistributed at full
size); bottom two rows: synthetic fields (seeds 0–5). Each tile is 288 px; the sheet is a 4 x 3 grid.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from leukodet.synth.field import render_field

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / ".." / "shared" / "data" / "lld-samples"
TILE = 288


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (len(text) * 9 + 8, 20), (255, 255, 255), -1)
    cv2.putText(out, text, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def main() -> int:
    paths = sorted(SAMPLES.glob("*.png"))
    if not paths:
        print(f"no samples under {SAMPLES}", file=sys.stderr)
        return 1
    real = [
        _label(cv2.resize(cv2.imread(str(p)), (TILE, TILE), interpolation=cv2.INTER_AREA), f"real {p.stem}")
        for p in paths[:6]
    ]
    synth = [
        _label(
            cv2.resize(render_field(s).image[..., ::-1], (TILE, TILE), interpolation=cv2.INTER_AREA),
            f"synthetic seed {s}",
        )
        for s in range(6)
    ]
    tiles = real + synth
    rows = [np.hstack(tiles[i : i + 3]) for i in range(0, 12, 3)]
    sheet = np.vstack(rows)
    out = ROOT / "docs" / "synth_contact_sheet.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{out.relative_to(ROOT)} {out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
