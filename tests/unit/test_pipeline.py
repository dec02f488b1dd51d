"""Many files through the real classifier: batch scores equal single-image scores, labelled sets score end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import Classifier, classify_sources, decode_image, errors
from model.errors import FILE_FAILED_MESSAGE
from model.evaluation.metrics import evaluate
from model.inputs.archives import ArchiveLimits
from model.tasks.pipeline import classify_uploads, load_previews, score_labelled
from testbed.images import EXAMPLES, encode, photo
from testbed.zips import build_zip, tiny_png

PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")


def single_score(classifier: Classifier, data: bytes | Path) -> float:
    decoded = decode_image(data, classifier.limits, draft_min_side=classifier.draft_min_side)
    [prediction] = classifier.predict([decoded.image])
    return prediction.nsfw_score


def test_batch_scores_equal_single_image_scores(classifier: Classifier) -> None:
    sources = [(name, EXAMPLES / name) for name in PHOTOS] + [
        (f"crop{index}.png", tiny_png(index)) for index in range(3)
    ]
    results = classify_sources(classifier, sources)
    assert [result.file for result in results] == [name for name, _ in sources]
    for (_, source), result in zip(sources, results, strict=True):
        assert result.prediction is not None
        assert result.prediction.nsfw_score == pytest.approx(single_score(classifier, source), abs=1e-5)


def test_a_zip_scores_like_its_images_one_by_one_and_keeps_upload_order(classifier: Classifier, tmp_path: Path) -> None:
    members = {f"photos/{name}": (EXAMPLES / name).read_bytes() for name in PHOTOS}
    members["notes.txt"] = b"not an image"
    members["../escape.png"] = tiny_png()
    archive = tmp_path / "batch.zip"
    archive.write_bytes(build_zip(members))
    done: list[tuple[int, int]] = []

    batch = classify_uploads(classifier, [archive], progress=lambda count, total: done.append((count, total)))

    assert [row.file for row in batch.results] == list(members)
    by_name = {row.file: row for row in batch.results}
    for name in PHOTOS:
        prediction = by_name[f"photos/{name}"].prediction
        assert prediction is not None
        assert prediction.nsfw_score == pytest.approx(single_score(classifier, EXAMPLES / name), abs=1e-5)
    assert by_name["notes.txt"].error is not None and "text file" in by_name["notes.txt"].error
    assert by_name["../escape.png"].error == "unsafe path (../ leaves the archive); not read"
    assert done and done[-1] == (5, 5)


def test_previews_are_small_and_only_for_the_first_images(classifier: Classifier, tmp_path: Path) -> None:
    paths = []
    for index, name in enumerate(PHOTOS):
        path = tmp_path / f"{index}-{name}"
        path.write_bytes((EXAMPLES / name).read_bytes())
        paths.append(path)
    batch = classify_uploads(classifier, paths, previews=2)
    assert list(batch.previews) == [paths[0].name, paths[1].name]
    assert all(max(image.size) <= 192 for image in batch.previews.values())
    again = load_previews(paths, {paths[3].name}, ArchiveLimits.from_settings(classifier.settings), classifier.limits)
    assert list(again) == [paths[3].name]


def test_a_labelled_zip_is_scored_and_evaluated_with_unreadable_files_listed(
    classifier: Classifier, tmp_path: Path
) -> None:
    members = {
        "eval/NSFW/rocket.jpg": (EXAMPLES / "rocket.jpg").read_bytes(),
        "eval/NSFW/coffee.png": (EXAMPLES / "coffee.png").read_bytes(),
        "eval/sfw/astronaut.png": (EXAMPLES / "astronaut.png").read_bytes(),
        "eval/sfw/chelsea.png": (EXAMPLES / "chelsea.png").read_bytes(),
        "eval/sfw/broken.png": b"\x89PNG\r\n\x1a\n" + bytes(20),
        "eval/README.txt": b"labels made up for a test",
    }
    archive = tmp_path / "eval.zip"
    archive.write_bytes(build_zip(members))

    scored = score_labelled(classifier, [archive])

    assert scored.files == (
        "eval/NSFW/rocket.jpg",
        "eval/NSFW/coffee.png",
        "eval/sfw/astronaut.png",
        "eval/sfw/chelsea.png",
    )
    assert scored.labels == (1, 1, 0, 0)
    assert {item.file for item in scored.skipped} == {"eval/sfw/broken.png", "eval/README.txt"}
    assert scored.scores[0] == pytest.approx(single_score(classifier, EXAMPLES / "rocket.jpg"), abs=1e-5)
    result = evaluate(scored.labels, scored.scores, 0.5)
    assert result.n == 4 and result.confusion.tp + result.confusion.fn == 2


def test_a_labelled_set_whose_images_are_all_unreadable_says_so(classifier: Classifier, tmp_path: Path) -> None:
    archive = tmp_path / "eval.zip"
    archive.write_bytes(build_zip({"nsfw/a.png": b"junk", "sfw/b.png": encode(photo(), "PNG")[:100]}))
    with pytest.raises(errors.EvaluationError, match=r"None of the 2 labelled files could be read as an image"):
        score_labelled(classifier, [archive])


class _FailingPath:
    """A file whose reading fails in a way no decoder plans for (as a flaky network mount might)."""

    def __fspath__(self) -> str:
        raise RuntimeError("the disk went away")


def test_an_unexpected_error_on_one_file_becomes_its_error_row_and_the_rest_go_on(
    classifier: Classifier, caplog: pytest.LogCaptureFixture
) -> None:
    sources = [
        ("first.png", EXAMPLES / "astronaut.png"),
        ("private-name.jpg", _FailingPath()),
        ("last.png", tiny_png(1)),
    ]
    with caplog.at_level("ERROR", logger="model.tasks.pipeline"):
        results = classify_sources(classifier, sources)
    assert [result.file for result in results] == ["first.png", "private-name.jpg", "last.png"]
    assert results[0].prediction is not None and results[2].prediction is not None
    assert results[1].prediction is None and results[1].error == FILE_FAILED_MESSAGE
    [record] = caplog.records
    assert "RuntimeError" in caplog.text and "__fspath__" in caplog.text  # the error's type and traceback are logged
    assert "private-name" not in caplog.text  # the file's name is not
    assert record.getMessage().splitlines()[0] == "Decoding a file failed unexpectedly: RuntimeError"  # nor the message
