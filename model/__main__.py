"""`python -m model IMAGE...`: one JSON object per line per image; `screen` and `evaluate` for large sets on Ray."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import load_settings
from .errors import ClassifierError, ConfigurationError, ModelLoadError
from .evaluation.metrics import DEFAULT_TARGET_PRECISION, DEFAULT_TARGET_RECALL
from .thresholds import DEFAULT_THRESHOLD, check_threshold, verdict


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="Hub id, id@revision, or local folder (default: NSFW_MODEL or the Marqo model)")
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help=f"NSFW when score >= threshold (default {DEFAULT_THRESHOLD:g})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model",
        description="Classify images as NSFW or SFW with Marqo/nsfw-image-detection-384 (or NSFW_MODEL).",
        epilog="Many images (folders, zips, manifests, a Ray cluster): `python -m model screen --help`; metrics on a "
        "labelled set or a results file: `python -m model evaluate --help`.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC files")
    _add_model_options(parser)
    parser.add_argument("--device", help="auto (default: NSFW_DEVICE, else CUDA if present), cpu, cuda, cuda:N, mps")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


#: Subcommands; anything else is the plain `python -m model IMAGE...`.
SUBCOMMANDS = ("screen", "evaluate")


def _add_ray_options(parser: argparse.ArgumentParser) -> None:
    _add_model_options(parser)
    parser.add_argument("--address", help="Ray cluster to run on (default: RAY_ADDRESS, else a local Ray)")
    parser.add_argument(
        "--actors",
        type=int,
        help="model copies (default: one per GPU, else one per two CPUs of each node, at least one per node); more "
        "than the nodes hold beside the reads is refused",
    )
    parser.add_argument("--threads", type=int, help="torch threads per actor (default: CPUs per actor)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")


def _job_parser(command: str, description: str, sources: str, out: str, out_help: str) -> argparse.ArgumentParser:
    """A job's parser with its SOURCE arguments and --out; the Ray options come last (`_add_ray_options`)."""
    parser = argparse.ArgumentParser(prog=f"python -m model {command}", description=description)
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help=sources)
    parser.add_argument("--out", default=out, help=out_help)
    return parser


def build_screen_parser() -> argparse.ArgumentParser:
    parser = _job_parser(
        "screen",
        "Classify folders, files, globs, .zip archives or manifests on Ray Data; one row per file.",
        "folder, file, glob, .zip or manifest",
        "results.parquet",
        "results file: .parquet (default), .csv or .jsonl",
    )
    parser.add_argument("--resume", action="store_true", help="keep the rows already in --out; classify the rest")
    _add_ray_options(parser)
    return parser


def build_evaluate_parser() -> argparse.ArgumentParser:
    parser = _job_parser(
        "evaluate",
        "Evaluate on labelled images (nsfw/sfw folders or a manifest's label column) or results files.",
        "labelled images, or results files",
        "report.json",
        "the JSON report (default report.json)",
    )
    parser.add_argument("--scores", help="also write the scores of labelled images to this results file")
    parser.add_argument(
        "--html", help="also write the report as one self-contained HTML page for people (no images in it)"
    )
    parser.add_argument("--target-precision", type=float, default=DEFAULT_TARGET_PRECISION)
    parser.add_argument("--target-recall", type=float, default=DEFAULT_TARGET_RECALL)
    parser.add_argument("--prevalence", type=float, help="expected NSFW share of real traffic, in (0, 1)")
    _add_ray_options(parser)
    return parser


def _configure_logging(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.ERROR
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")
    logging.captureWarnings(True)
    # huggingface_hub logs through our handler, once, at our level: its retry warnings would bury the one-paragraph
    # error that a failed load prints.
    hub_logger = logging.getLogger("huggingface_hub")
    hub_logger.setLevel(level)
    hub_logger.handlers.clear()


def run_subcommand(command: str, argv: Sequence[str]) -> int:
    """`screen` or `evaluate`: a JSON summary on stdout, progress and errors on stderr."""
    from .jobs.commands import EvaluateOptions, ScreenOptions, Terminated, output_path, run_evaluate, run_screen

    args = (build_screen_parser() if command == "screen" else build_evaluate_parser()).parse_args(argv)
    _configure_logging(args.verbose)
    try:
        threshold = check_threshold(args.threshold)
        settings = load_settings(model=args.model)
        if command == "screen":
            options = ScreenOptions(
                sources=args.sources,
                out=Path(args.out),
                threshold=threshold,
                resume=args.resume,
                address=args.address,
                actors=args.actors,
                threads=args.threads,
            )
            summary = run_screen(options, settings)
        else:
            report = run_evaluate(
                EvaluateOptions(
                    sources=args.sources,
                    out=Path(args.out),
                    threshold=threshold,
                    target_precision=args.target_precision,
                    target_recall=args.target_recall,
                    prevalence=args.prevalence,
                    scores_out=Path(args.scores) if args.scores else None,
                    html_out=Path(args.html) if args.html else None,
                    address=args.address,
                    actors=args.actors,
                    threads=args.threads,
                ),
                settings,
            )
            summary = {key: report[key] for key in ("n", "accuracy", "precision", "recall", "f1", "roc_auc")}
            summary["out"] = str(output_path(args.out, settings))
            if args.html:
                summary["html"] = str(output_path(args.html, settings, "--html"))
    except Terminated:
        finish = "; the rows done are checkpointed: run it again with --resume to finish" if command == "screen" else ""
        print(f"error: stopped by SIGTERM{finish}.", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ClassifierError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return run_subcommand(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    # The model's libraries (torch, timm, huggingface_hub) load here, not at import: `screen` and `evaluate` start
    # without them. Before the logging set-up, which replaces the handler huggingface_hub installs on import.
    from .runtime.classifier import Classifier
    from .tasks.pipeline import classify_sources

    _configure_logging(args.verbose)
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
