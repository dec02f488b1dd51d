"""Refresh docs/screenshots/report-*.png: the Evaluate tab's HTML report (light and dark, 1366 and 390 px wide) and
the Single image tab's result card: `python -m tests.browser.make_report_screenshots`.

The reports are built as the app builds them, from the stand-in checkpoint's scores (random weights, not the real
model's) on the same labelled set as the Evaluate tab's screenshots, and opened from disk with the network blocked.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from model import Classifier, ModelSource, Settings
from model.evaluation.chain import evaluate_scores
from model.evaluation.html_report import evaluation_html
from model.evaluation.metrics import misclassified
from model.evaluation.reports import ModelRecord
from model.evaluation.result_cards import classification_card
from model.inputs.archives import DEFAULT_ARCHIVE_LIMITS
from model.tasks.pipeline import load_previews, score_labelled
from testbed.browser import CHROMIUM
from testbed.images import EXAMPLES
from testbed.server import ROOT
from testbed.standin import COMMIT, REPO_ID, build_standin
from tests.browser.conftest import CHROMIUM_ARGS
from tests.browser.make_screenshots import _evaluation_set
from ui.upload_classification import classify_upload

SCREENSHOTS = ROOT / "docs" / "screenshots"
CREATED = "2026-01-15T09:30:00+00:00"


def _build(folder: Path) -> dict[str, Path]:
    classifier = Classifier.load(Settings(model=ModelSource(local_dir=str(build_standin(folder / "standin")))))
    # The stand-in as the screenshots of the app show it: Marqo's id at the stand-in's commit.
    model = ModelRecord(REPO_ID, COMMIT)
    archive = folder / "eval.zip"
    archive.write_bytes(_evaluation_set())
    scores = score_labelled(classifier, [archive], names=["eval.zip"])
    evaluated = evaluate_scores(scores, model, 0.5, prevalence=0.02, created=CREATED)
    wrong = [row.file for row in misclassified(evaluated.outcomes)]
    previews = load_previews([archive], wrong, DEFAULT_ARCHIVE_LIMITS, classifier.limits, names=["eval.zip"])
    report = folder / "report.html"
    report.write_text(evaluation_html(evaluated, thumbnails=previews, source="eval.zip"), encoding="utf-8")

    result = classify_upload(classifier, str(EXAMPLES / "rocket.jpg"))
    response = {**result.to_json(0.5), "model": model.to_dict()}
    card = folder / "card.html"
    photo = Image.open(EXAMPLES / "rocket.jpg")
    card.write_text(classification_card(response, photo, show_image=False, created=CREATED), encoding="utf-8")
    return {"report": report, "card": card}


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary, sync_playwright() as playwright:
        pages = _build(Path(temporary))
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        shots = [("report", scheme, width) for scheme in ("light", "dark") for width in (1366, 390)]
        shots += [("card", "light", 1366), ("card", "dark", 390)]
        for name, scheme, width in shots:
            context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
            context.route(
                "**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort()
            )
            page = context.new_page()
            page.goto(pages[name].as_uri())
            target = SCREENSHOTS / f"report-{'evaluation' if name == 'report' else 'single-card'}-{scheme}-{width}.png"
            page.screenshot(path=target, full_page=True)
            context.close()
            print(target.relative_to(ROOT))
        browser.close()


if __name__ == "__main__":
    main()
