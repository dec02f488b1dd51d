"""What every benchmark command does at its ends: configure logging, then save its results and print the summary."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

__all__ = ["configure_logging", "save_results"]


def configure_logging(quiet: tuple[str, ...] = ()) -> None:
    """Timestamped INFO logging, with the `quiet` loggers kept to warnings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in quiet:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def save_results(results: dict[str, Any], out: Path, summary: str) -> None:
    """Write `results` as JSON to `out` (its folder made where missing), then print `summary` and where they are."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(summary + f"\n\nResults: {out}\n")
