"""The page and its JSON routes are sent gzipped to clients that accept it; event streams and images are not."""

from __future__ import annotations

import gzip
import re
import urllib.request

from testbed.server import AppServer


def _get(url: str) -> tuple[str | None, bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.headers.get("Content-Encoding"), response.read()


def test_the_page_and_its_config_arrive_gzipped_and_intact(app: AppServer) -> None:
    encoding, body = _get(app.url)
    assert encoding == "gzip"
    page = gzip.decompress(body)
    assert b"NSFW image detection" in page and len(body) < len(page) / 4
    encoding, body = _get(f"{app.url}/config")
    assert encoding == "gzip" and gzip.decompress(body).startswith(b"{")


def test_example_thumbnails_are_small_webp_files_sent_as_they_are(app: AppServer) -> None:
    encoding, body = _get(app.url)
    page = gzip.decompress(body) if encoding == "gzip" else body
    # The example buttons' thumbnail URLs are in the page's config.
    match = re.search(rb"gradio_api/file=[^\"\\]+?/thumbnails/astronaut\.webp", page)
    assert match is not None
    encoding, body = _get(f"{app.url}/{match.group().decode()}")
    assert encoding is None and body[:4] == b"RIFF" and len(body) < 20_000
