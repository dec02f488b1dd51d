"""/classify_batch and /evaluate through gradio_client, against `python app.py` on a local port."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from testbed.images import EXAMPLES
from testbed.standin import COMMIT, REPO_ID
from testbed.zips import build_zip, labelled_zip, tiny_png

ROCKET = EXAMPLES / "rocket.jpg"
ASTRONAUT = EXAMPLES / "astronaut.png"
CLASSIFY_FIELDS = {"file", "label", "nsfw_score", "threshold", "probabilities", "model", "image", "notes"}
EVALUATE_KEYS = {
    "n",
    "n_nsfw",
    "n_sfw",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "confusion",
    "recommended_thresholds",
    "skipped",
}


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("uploads")
    files = {
        "photos.zip": build_zip(
            {"photos/rocket.jpg": ROCKET.read_bytes(), "photos/crop.png": tiny_png(3), "../escape.png": tiny_png(4)}
        ),
        "eval.zip": build_zip(
            {
                "eval/NSFW/rocket.jpg": ROCKET.read_bytes(),
                "eval/NSFW/coffee.png": (EXAMPLES / "coffee.png").read_bytes(),
                "eval/sfw/astronaut.png": ASTRONAUT.read_bytes(),
                "eval/sfw/chelsea.png": (EXAMPLES / "chelsea.png").read_bytes(),
                "eval/sfw/bomb.bmp": bytes(2 * 1024 * 1024),
                "eval/README.txt": b"labels made up for a test",
            }
        ),
        "one-class.zip": labelled_zip(3, 0),
        "unlabelled.zip": build_zip({"cats/a.png": tiny_png(1), "dogs/b.png": tiny_png(2)}),
        "notes.txt": b"not an image",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in files}


def test_classify_batch_returns_one_result_per_file_with_the_classify_fields(
    client: Client, uploads: dict[str, Path]
) -> None:
    paths = [ROCKET, ASTRONAUT, uploads["photos.zip"], uploads["notes.txt"]]
    report = client.predict([handle_file(str(path)) for path in paths], 0.5, api_name="/classify_batch")

    files = [result["file"] for result in report["results"]]
    assert files == [
        "rocket.jpg",
        "astronaut.png",
        "photos.zip/photos/rocket.jpg",
        "photos.zip/photos/crop.png",
        "photos.zip/../escape.png",
        "notes.txt",
    ]
    by_file = {result["file"]: result for result in report["results"]}
    assert set(by_file["rocket.jpg"]) == CLASSIFY_FIELDS
    assert by_file["rocket.jpg"]["model"] == {"id": REPO_ID, "revision": COMMIT}
    assert by_file["rocket.jpg"]["image"] == {"width": 640, "height": 427, "format": "JPEG"}
    assert by_file["photos.zip/photos/crop.png"]["image"]["format"] == "PNG"
    assert by_file["photos.zip/../escape.png"] == {
        "file": "photos.zip/../escape.png",
        "error": "unsafe path (../ leaves the archive); not read",
    }
    assert by_file["notes.txt"]["error"].startswith("Unsupported file: this is a text file")
    assert report["summary"] == {
        "files": 6,
        "classified": 4,
        "nsfw": sum(result.get("label") == "NSFW" for result in report["results"]),
        "sfw": sum(result.get("label") == "SFW" for result in report["results"]),
        "skipped": 2,
        "threshold": 0.5,
    }
    assert report["model"] == {"id": REPO_ID, "revision": COMMIT}


def test_batch_scores_equal_the_single_image_endpoint(client: Client) -> None:
    report = client.predict([handle_file(str(ROCKET)), handle_file(str(ASTRONAUT))], api_name="/classify_batch")
    for path, result in zip((ROCKET, ASTRONAUT), report["results"], strict=True):
        single = client.predict(handle_file(str(path)), api_name="/classify")
        assert result["image"] == single["image"]
        assert result["nsfw_score"] == pytest.approx(single["nsfw_score"], abs=1e-5)
        assert result["label"] == single["label"]


def test_classify_batch_applies_the_threshold(client: Client) -> None:
    files = [handle_file(str(ROCKET)), handle_file(str(ASTRONAUT))]
    assert client.predict(files, 0.0, api_name="/classify_batch")["summary"]["nsfw"] == 2
    assert client.predict(files, 1.0, api_name="/classify_batch")["summary"]["nsfw"] == 0


def test_classify_batch_without_files_says_what_to_do(client: Client) -> None:
    with pytest.raises(AppError, match="No files were given"):
        client.predict([], 0.5, api_name="/classify_batch")


def test_evaluate_returns_the_documented_metrics_and_skips_with_reasons(
    client: Client, uploads: dict[str, Path]
) -> None:
    report = client.predict(handle_file(str(uploads["eval.zip"])), 0.5, api_name="/evaluate")

    assert set(report) >= EVALUATE_KEYS
    assert (report["n"], report["n_nsfw"], report["n_sfw"]) == (4, 2, 2)
    confusion = report["confusion"]
    assert set(confusion) == {"tp", "fp", "tn", "fn"}
    assert confusion["tp"] + confusion["fn"] == 2 and confusion["fp"] + confusion["tn"] == 2
    assert report["accuracy"] == (confusion["tp"] + confusion["tn"]) / 4
    assert set(report["recommended_thresholds"]) == {"f1_max", "target_precision", "target_recall"}
    assert 0 < report["recommended_thresholds"]["f1_max"]["threshold"] <= 1
    skipped = {item["file"]: item["reason"] for item in report["skipped"]}
    assert skipped["eval/sfw/bomb.bmp"].startswith("suspicious compression ratio")
    assert skipped["eval/README.txt"].startswith("no label")
    assert report["model"] == {"id": REPO_ID, "revision": COMMIT}
    assert report["threshold"] == 0.5


def test_evaluate_takes_targets_and_prevalence_after_the_threshold(client: Client, uploads: dict[str, Path]) -> None:
    report = client.predict(handle_file(str(uploads["eval.zip"])), 0.5, 0.9, 0.8, 0.02, api_name="/evaluate")
    assert report["prevalence"] == 0.02
    assert report["precision_at_prevalence"] <= report["precision"]
    assert report["recommended_thresholds"]["target_precision"]["goal"] == "precision ≥ 0.9"
    assert "target_precision_at_prevalence" in report["recommended_thresholds"]


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        ("one-class.zip", "All 3 labelled images are NSFW: the evaluation needs both classes"),
        ("unlabelled.zip", "No image has a label"),
        ("notes.txt", "No image has a label"),
    ],
)
def test_evaluate_refuses_sets_it_cannot_measure_with_a_message(
    client: Client, uploads: dict[str, Path], upload: str, message: str
) -> None:
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(str(uploads[upload])), 0.5, api_name="/evaluate")
