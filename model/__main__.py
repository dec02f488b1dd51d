"""`python -m model IMAGE...`: one JSON object per line per image, for scripts and pipelines."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from .batch import classify_sources
from .config import load_settings
from .errors import ConfigurationError, ModelLoadError
from .inference import Classifier
from .thresholds import check_threshold, verdict


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model",
        description="Classify images as NSFW or SFW with Marqo/nsfw-image-detection-384 (or NSFW_MODEL).",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, WebP, GIF, BMP)")
    parser.add_argument("--model", help="Hub id, id@revision, or local folder (default: NSFW_MODEL or the Marqo model)")
    parser.add_argument("--device", help="auto (default: NSFW_DEVICE, else CUDA if present), cpu, cuda, cuda:N, mps")
    parser.add_argument("--threshold", type=float, default=0.5, help="NSFW when score >= threshold (default 0.5)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.ERROR
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")
    logging.captureWarnings(True)
    # huggingface_hub logs through our handler, once, at our level: its retry warnings would bury the one-paragraph
    # error that a failed load prints.
    hub_logger = logging.getLogger("huggingface_hub")
    hub_logger.setLevel(level)
    hub_logger.handlers.clear()
    try:
        threshold = check_threshold(args.threshold)
        settings = load_settings(model=args.model, device=args.device)
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        classifier = Classifier.load(settings)
    except ConfigurationError as error:  # a device or precision this machine cannot run
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ModelLoadError as error:
        print(f"error: could not load the model from {settings.model}.\n{error}", file=sys.stderr)
        return 1
    if classifier.info.note:
        print(f"note: {classifier.info.note}", file=sys.stderr)
    for result in classify_sources(classifier, ((path, path) for path in args.images)):
        if result.prediction is None:
            record: dict[str, object] = {"file": result.file, "error": result.error}
        else:
            record = {
                "file": result.file,
                "label": verdict(result.prediction.nsfw_score, threshold),
                "nsfw_score": result.prediction.nsfw_score,
                "threshold": threshold,
                "probabilities": result.prediction.probabilities,
            }
            if result.notes:
                record["notes"] = list(result.notes)
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
