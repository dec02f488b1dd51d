"""The hostile-upload corpus through the running app: /classify file by file, /classify_batch as files and as a zip,
/evaluate as a labelled zip. Every refusal carries the decoder's message, every odd-but-valid file gets a score (and
its notes), a batch lists each bad file with its reason, and the server keeps serving afterwards."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import strip_invalid_filename_characters

from testbed.corpus import Case, corpus
from testbed.images import EXAMPLES
from testbed.server import AppServer, call_endpoint
from testbed.zips import build_zip

CASES = corpus()
REFUSED = [case for case in CASES if case.error is not None]
ACCEPTED = [case for case in CASES if case.error is None]
#: Longest file name most file systems store. Longer names, and names with a "/", exist only inside an upload or a
#: zip: the client cannot have them on disk.
NAME_MAX = 255
FILE_DATA = {"_type": "gradio.FileData"}


def fits_on_disk(case: Case) -> bool:
    return len(case.filename.encode()) <= NAME_MAX and "/" not in case.filename


def upload(app: AppServer, filename: str, data: bytes) -> dict[str, Any]:
    """POST the bytes to /gradio_api/upload under `filename` (as a browser would) -> the file payload for a call."""
    response = httpx.post(f"{app.url}/gradio_api/upload", files={"files": (filename, data)}, timeout=60)
    response.raise_for_status()
    [path] = response.json()
    return {"path": path, "orig_name": filename, "meta": FILE_DATA}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each case that fits on disk, under its own file name (one folder per case: names may repeat)."""
    folder = tmp_path_factory.mktemp("corpus")
    paths = {}
    for index, case in enumerate(CASES):
        if fits_on_disk(case):
            path = folder / str(index) / case.filename
            path.parent.mkdir()
            path.write_bytes(case.data)
            paths[case.name] = path
    return paths


@pytest.fixture(scope="module")
def batch_inputs(app: AppServer, files: dict[str, Path]) -> list[dict[str, Any]]:
    """Every case as a /classify_batch input; names that cannot be on disk are uploaded first, then passed by path."""
    inputs = []
    for case in CASES:
        if case.name in files:
            inputs.append(handle_file(str(files[case.name])))
        else:
            inputs.append(handle_file(upload(app, case.filename, case.data)["path"]))
    return inputs


def classify(client: Client, app: AppServer, files: dict[str, Path], case: Case) -> dict[str, Any]:
    if case.name in files:
        return client.predict(handle_file(str(files[case.name])), api_name="/classify")
    return call_endpoint(app.url, "classify", [upload(app, case.filename, case.data), 0.5])


def assert_scored(result: dict[str, Any], case: Case) -> None:
    assert result["label"] in {"NSFW", "SFW"}
    assert 0.0 <= result["nsfw_score"] <= 1.0
    if case.note:
        assert any(re.search(case.note, note) for note in result["notes"]), result["notes"]


@pytest.mark.parametrize("case", REFUSED, ids=[case.name for case in REFUSED])
def test_each_refused_file_gets_its_message_from_classify(
    client: Client, app: AppServer, files: dict[str, Path], case: Case
) -> None:
    with pytest.raises(AppError, match=case.match) as refused:
        classify(client, app, files, case)
    assert "Traceback" not in str(refused.value)


@pytest.mark.parametrize("case", ACCEPTED, ids=[case.name for case in ACCEPTED])
def test_each_odd_but_valid_file_gets_a_score_and_its_notes_from_classify(
    client: Client, app: AppServer, files: dict[str, Path], case: Case
) -> None:
    assert_scored(classify(client, app, files, case), case)


def test_the_whole_corpus_as_one_batch_lists_every_bad_file_with_its_reason(
    client: Client, batch_inputs: list[dict[str, Any]]
) -> None:
    report = client.predict(batch_inputs, 0.5, api_name="/classify_batch")

    results = report["results"]
    assert len(results) == len(CASES)
    for case, result in zip(CASES, results, strict=True):
        # Gradio keeps an uploaded file's base name, less characters such as < > ` $ that it drops.
        assert result["file"] == strip_invalid_filename_characters(PurePosixPath(case.filename).name)
        if case.error is not None:
            assert re.search(case.match, result["error"]), (case.name, result)
        else:
            assert_scored(result, case)
    assert report["summary"]["skipped"] == len(REFUSED)
    assert report["summary"]["classified"] == len(ACCEPTED)


def test_the_corpus_inside_a_zip_keeps_every_name_and_reason(client: Client, tmp_path: Path) -> None:
    archive = tmp_path / "corpus.zip"
    archive.write_bytes(build_zip({f"corpus/{case.filename}": case.data for case in CASES}))
    report = client.predict([handle_file(str(archive))], 0.5, api_name="/classify_batch")

    by_file = {result["file"]: result for result in report["results"]}
    assert len(by_file) == len(CASES)
    for case in CASES:
        # Inside a zip the name is exactly what the archive holds: HTML, markdown and 300 characters included.
        result = by_file[f"corpus/{case.filename}"]
        if case.error is not None:
            assert re.search(case.match, result["error"]), (case.name, result)
        else:
            assert_scored(result, case)
    assert report["summary"] == {
        "files": len(CASES),
        "classified": len(ACCEPTED),
        "nsfw": sum(result.get("label") == "NSFW" for result in report["results"]),
        "sfw": sum(result.get("label") == "SFW" for result in report["results"]),
        "skipped": len(REFUSED),
        "threshold": 0.5,
    }


def test_the_corpus_as_a_labelled_set_is_evaluated_and_every_bad_file_skipped_with_its_reason(
    client: Client, tmp_path: Path
) -> None:
    # Odd-but-valid files alternate between the two labels so that both classes are present.
    members = {f"set/{('nsfw', 'sfw')[index % 2]}/{case.filename}": case.data for index, case in enumerate(CASES)}
    archive = tmp_path / "labelled.zip"
    archive.write_bytes(build_zip(members))
    report = client.predict(handle_file(str(archive)), 0.5, api_name="/evaluate")

    assert report["n"] == len(ACCEPTED)
    reasons = {item["file"]: item["reason"] for item in report["skipped"]}
    assert len(reasons) == len(REFUSED)
    for index, case in enumerate(CASES):
        name = f"set/{('nsfw', 'sfw')[index % 2]}/{case.filename}"
        if case.error is not None:
            assert re.search(case.match, reasons[name]), (case.name, reasons.get(name))


@pytest.mark.parametrize(
    ("endpoint", "arguments", "message"),
    [
        ("/classify", (None,), "No image was given"),
        ("/moderate", (None,), "No image was given"),
        ("/explain", (None,), "No image was given"),
        ("/classify_batch", ([],), "No files were given"),
        ("/evaluate", (None,), "No files were given"),
    ],
)
def test_an_empty_submit_is_answered_with_what_to_do(
    client: Client, endpoint: str, arguments: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(AppError, match=message):
        client.predict(*arguments, api_name=endpoint)


def test_the_server_still_serves_after_the_whole_corpus(app: AppServer, client: Client) -> None:
    assert app.process.poll() is None
    assert client.predict(api_name="/model_info")["status"] == "ready"
    assert client.predict(handle_file(str(EXAMPLES / "rocket.jpg")), api_name="/classify")["label"] == "NSFW"
    # Every refusal above was one of our messages: nothing reached the generic "unexpected error" path.
    assert "failed unexpectedly" not in app.log()
