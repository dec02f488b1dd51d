"""The plain JSON API under /v1 on the app's own server: one POST with the image, one JSON answer (the JSON of
/classify, /classify_batch and /moderate, computed by the same functions), errors as JSON with their HTTP status."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import gradio as gr
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from model import (
    ClassifierError,
    ConfigurationError,
    ImageTooLargeError,
    InvalidImageError,
    ModelLoadError,
    ModelNotReadyError,
    check_threshold,
)
from model.errors import ArchiveError, ArchiveTooLargeError
from model.thresholds import DEFAULT_ALLOW_BELOW, DEFAULT_BLOCK_ABOVE, DEFAULT_THRESHOLD

from .batch import batch_json
from .errors import user_message
from .loader import ModelLoader
from .moderate import moderation_json
from .single import CLASSIFY_CONCURRENCY, classification_json

__all__ = ["BODY_IDLE_SECONDS", "PREFIX", "RestApi", "routes"]

logger = logging.getLogger(__name__)

PREFIX = "/v1"
#: A request whose body sends nothing for this many seconds is answered 408 and its connection closed, so that a
#: stalled upload holds neither a thread nor a place in the queue for long.
BODY_IDLE_SECONDS = 30.0
#: What `Retry-After` says while the model loads, and when the queue is full.
RETRY_AFTER_LOADING_SECONDS = 5
RETRY_AFTER_BUSY_SECONDS = 1
#: Room for multipart boundaries and part headers on top of the file limit.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
#: Requests of each kind computed at once, as for the Gradio endpoints: /classify's 8 (they share forward passes),
#: one /moderate and one /classify_batch (Gradio's default).
CONCURRENCY = {"classify": CLASSIFY_CONCURRENCY, "moderate": 1, "classify_batch": 1}
_RAW_TYPES = ("application/octet-stream",)
_MULTIPART = "multipart/form-data"
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")

Json = dict[str, Any]


class ApiError(Exception):
    """A request refused with an HTTP status and a message that says what to do."""

    def __init__(self, status: int, kind: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.retry_after = status, kind, message, retry_after

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        body = {"error": {"status": self.status, "kind": self.kind, "message": self.message}}
        return JSONResponse(body, status_code=self.status, headers=headers)


def _megabytes(size: int) -> str:
    return f"{size / 2**20:g} MB"


def api_error(error: BaseException, action: str) -> ApiError:
    """The HTTP answer for an exception raised while serving `action` (our messages as they are, anything else
    logged and replaced by a generic one, as in the UI)."""
    if isinstance(error, ApiError):
        return error
    message = user_message(error, action)
    if isinstance(error, ModelNotReadyError):
        return ApiError(503, "model_loading", message, RETRY_AFTER_LOADING_SECONDS)
    if isinstance(error, ModelLoadError):
        return ApiError(503, "model_unavailable", message)
    if isinstance(error, ConfigurationError):
        return ApiError(422, "invalid_parameter", message)
    if isinstance(error, ImageTooLargeError | ArchiveTooLargeError):
        return ApiError(413, "too_large", message)
    if isinstance(error, InvalidImageError | ArchiveError | ClassifierError | gr.Error):
        return ApiError(400, "unreadable", message)
    return ApiError(500, "internal", message)


@dataclass(frozen=True)
class _Parameter:
    name: str
    default: float | bool
    description: str

    def read(self, raw: str) -> float | bool:
        if isinstance(self.default, bool):
            value = raw.strip().lower()
            if value in {"1", "true", "yes", "on"}:
                return True
            if value in {"0", "false", "no", "off"}:
                return False
            raise ConfigurationError(f"The {self.name} parameter must be true or false, not {raw!r}.")
        return check_threshold(raw, self.name)


_THRESHOLD = _Parameter("threshold", DEFAULT_THRESHOLD, "NSFW when the NSFW score is at or above it (0 to 1).")
_ALLOW_BELOW = _Parameter("allow_below", DEFAULT_ALLOW_BELOW, "Allow when the NSFW score is below it (0 to 1).")
_BLOCK_ABOVE = _Parameter(
    "block_above", DEFAULT_BLOCK_ABOVE, "Block when the NSFW score is at or above it (0 to 1, not below allow_below)."
)
_SCAN = _Parameter(
    "scan", False, "Also classify overlapping tiles of the full-resolution image; the highest tile then decides."
)


def read_parameters(query: Any, parameters: tuple[_Parameter, ...]) -> dict[str, Any]:
    """The query string's values (defaults for those left out); an unknown, repeated or bad one is a 422."""
    known = {parameter.name: parameter for parameter in parameters}
    values: dict[str, Any] = {parameter.name: parameter.default for parameter in parameters}
    for name in query:
        if name not in known:
            accepted = ", ".join(known) or "none"
            raise ApiError(422, "invalid_parameter", f"Unknown parameter {name!r}. This route accepts: {accepted}.")
        raws = query.getlist(name)
        if len(raws) > 1:
            raise ApiError(422, "invalid_parameter", f"The {name} parameter was given {len(raws)} times: give it once.")
        try:
            values[name] = known[name].read(raws[0])
        except ConfigurationError as error:
            raise ApiError(422, "invalid_parameter", str(error)) from None
    return values


async def _chunks(request: Request, limit: int, what: str) -> AsyncIterator[bytes]:
    """The request body as it arrives, refused (413) as soon as it passes `limit` bytes and (408) when it stalls for
    `BODY_IDLE_SECONDS`: nothing larger than the limit is ever held."""
    received = 0
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(anext(stream), BODY_IDLE_SECONDS)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise ApiError(
                408, "timeout", f"The request body stopped arriving for {BODY_IDLE_SECONDS:g} s. Send it again."
            ) from None
        received += len(chunk)
        if received > limit:
            raise _too_large(limit, what)
        yield chunk


def _too_large(limit: int, what: str) -> ApiError:
    return ApiError(
        413, "too_large", f"The request body is larger than {_megabytes(limit)}, this server's limit for {what}."
    )


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _check_length(request: Request, limit: int, what: str) -> None:
    """Refuse from `Content-Length` alone, before a byte of the body is read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit, what)


async def _form(request: Request, limit: int, what: str, max_files: int) -> list[tuple[str, str | UploadFile]]:
    """The multipart parts, read as they arrive (files over 1 MB spill to anonymous temporary files, which vanish
    when closed)."""
    parser = MultiPartParser(request.headers, _chunks(request, limit, what), max_files=max_files, max_fields=100)
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise ApiError(400, "unreadable", f"The multipart body could not be read: {error}") from None
    return list(form.multi_items())


def _files(items: list[tuple[str, str | UploadFile]], names: tuple[str, ...]) -> list[UploadFile]:
    files: list[UploadFile] = []
    for name, value in items:
        if name not in names:
            raise ApiError(
                422,
                "invalid_parameter",
                f"Unknown form field {name!r}: send images as {' or '.join(names)} file parts; parameters go in the "
                "query string.",
            )
        if not isinstance(value, UploadFile):
            raise ApiError(
                400, "unreadable", f"The {name!r} field holds text, not a file: send it as a file (curl -F {name}=@…)."
            )
        files.append(value)
    return files


def _safe_name(name: str | None, index: int) -> str:
    """An upload's own name (its last part, without control characters), or `file-N` when it has none."""
    cleaned = _UNSAFE_NAME.sub("_", Path(name or "").name).strip()
    return cleaned if cleaned not in {"", ".", ".."} else f"file-{index}"


class RestApi:
    """The /v1 routes around one loader, with their own bound on waiting requests (Settings.queue_size), like the
    Gradio queue's for Gradio's endpoints. Computation runs on worker threads, through the same functions as the
    Gradio endpoints, so both kinds of request share the classifier's micro-batcher."""

    def __init__(self, loader: ModelLoader) -> None:
        self.loader = loader
        settings = loader.settings
        self.image_limit = settings.max_file_bytes
        self.batch_limit = max(settings.max_file_bytes, settings.zip_max_total_bytes)
        self.max_files = settings.zip_max_members
        #: Requests being read or computed, and the most allowed: the computing ones plus `queue_size` waiting.
        self.in_flight = 0
        self.capacity = sum(CONCURRENCY.values()) + settings.queue_size
        self._limiters: dict[str, anyio.CapacityLimiter] = {}
        self._schema: Json | None = None

    # -- the routes -------------------------------------------------------------------------------------------------

    async def classify(self, request: Request) -> Response:
        async def compute(parameters: Json) -> Json:
            data = await self._image(request)
            # No result cache across callers: the same bytes from another caller run the model again.
            return await self._run("classify", classification_json, self.loader, data, parameters["threshold"])

        return await self._serve(request, "classify", (_THRESHOLD,), compute)

    async def moderate(self, request: Request) -> Response:
        async def compute(parameters: Json) -> Json:
            data = await self._image(request)
            return await self._run(
                "moderate",
                moderation_json,
                self.loader,
                data,
                parameters["allow_below"],
                parameters["block_above"],
                scan=parameters["scan"],
            )

        return await self._serve(request, "moderate", (_ALLOW_BELOW, _BLOCK_ABOVE, _SCAN), compute)

    async def classify_batch(self, request: Request) -> Response:
        async def compute(parameters: Json) -> Json:
            if _media_type(request) != _MULTIPART:
                raise ApiError(
                    415,
                    "unsupported_media_type",
                    "Send the files as multipart/form-data, one `files` (or `file`) part each, e.g. "
                    "curl -F files=@a.jpg -F files=@b.zip.",
                )
            what = "a batch (NSFW_ZIP_MAX_TOTAL_MB or NSFW_MAX_FILE_MB, whichever is larger)"
            _check_length(request, self.batch_limit + MULTIPART_OVERHEAD_BYTES, what)
            items = await _form(request, self.batch_limit + MULTIPART_OVERHEAD_BYTES, what, self.max_files)
            uploads = _files(items, ("files", "file"))
            if not uploads:
                raise ApiError(400, "unreadable", "No files were given: add one `files` part per image or zip archive.")
            # The batch reader opens files by path (zips by seeking): each request gets a private folder, removed
            # as soon as it is answered.
            with tempfile.TemporaryDirectory(prefix="nsfw-v1-") as folder:
                paths = []
                for index, upload in enumerate(uploads):
                    path = Path(folder, str(index), _safe_name(upload.filename, index))
                    path.parent.mkdir()
                    with path.open("wb") as target:
                        while block := await upload.read(1 << 20):
                            target.write(block)
                    await upload.close()
                    paths.append(str(path))
                return await self._run("classify_batch", batch_json, self.loader, paths, parameters["threshold"])

        return await self._serve(request, "classify_batch", (_THRESHOLD,), compute)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(self.schema())

    # -- shared steps -----------------------------------------------------------------------------------------------

    async def _serve(
        self,
        request: Request,
        action: str,
        parameters: tuple[_Parameter, ...],
        compute: Callable[[Json], Any],
    ) -> Response:
        """Parameters (422), the model's state (503), a place in the queue (503), then `compute`'s JSON."""
        admitted = False
        try:
            values = read_parameters(request.query_params, parameters)
            self._check_model()
            if self.in_flight >= self.capacity:
                raise ApiError(
                    503,
                    "busy",
                    f"The server is busy ({self.in_flight} requests in progress or waiting). Try again in a moment.",
                    RETRY_AFTER_BUSY_SECONDS,
                )
            self.in_flight += 1
            admitted = True
            return JSONResponse(await compute(values))
        except ClientDisconnect:
            logger.info("/v1/%s: the client went away before sending the whole body", action)
            return Response(status_code=400)
        except Exception as error:  # every failure becomes a JSON error with its status; unexpected ones are logged
            return api_error(error, action).response()
        finally:
            if admitted:
                self.in_flight -= 1

    def _check_model(self) -> None:
        if self.loader.status == "loading":
            raise ApiError(
                503,
                "model_loading",
                f"The model is still loading ({self.loader.loading_seconds:.0f} s so far). Try again in a moment.",
                RETRY_AFTER_LOADING_SECONDS,
            )
        if self.loader.status == "error":
            self.loader.wait()  # raises the load error, which api_error turns into a 503

    async def _image(self, request: Request) -> bytes:
        """One image from the body: raw (image/* or application/octet-stream) or a multipart `file` part."""
        media = _media_type(request)
        what = "one image (NSFW_MAX_FILE_MB)"
        if media.startswith("image/") or media in _RAW_TYPES:
            _check_length(request, self.image_limit, what)
            return b"".join([chunk async for chunk in _chunks(request, self.image_limit, what)])
        if media == _MULTIPART:
            limit = self.image_limit + MULTIPART_OVERHEAD_BYTES
            _check_length(request, limit, what)
            files = _files(await _form(request, limit, what, max_files=1), ("file",))
            if not files:
                raise ApiError(400, "unreadable", "No `file` part was sent: send the image as -F file=@photo.jpg.")
            data = await files[0].read()
            await files[0].close()
            return data
        shown = f"Content-Type {media}" if media else "no Content-Type"
        raise ApiError(
            415,
            "unsupported_media_type",
            f"The request has {shown}. Send the image as the body with Content-Type image/* (e.g. image/jpeg) or "
            "application/octet-stream, or as multipart/form-data with a `file` part.",
        )

    async def _run(self, kind: str, function: Callable[..., Json], *args: Any, **kwargs: Any) -> Json:
        """`function` on a worker thread, at most `CONCURRENCY[kind]` at once."""
        limiter = self._limiters.get(kind)
        if limiter is None:  # made in the server's event loop, at the first request
            limiter = self._limiters[kind] = anyio.CapacityLimiter(CONCURRENCY[kind])

        def call() -> Json:
            return function(*args, **kwargs)

        return await anyio.to_thread.run_sync(call, limiter=limiter)

    # -- OpenAPI ----------------------------------------------------------------------------------------------------

    def routes(self) -> list[APIRoute]:
        """The routes, for `launch(app_kwargs={"routes": ...})`: registered before Gradio's own."""
        return [
            APIRoute(f"{PREFIX}/{name}", getattr(self, name), methods=["POST"], **_DOCS[name]) for name in _DOCS
        ] + [APIRoute(f"{PREFIX}/openapi.json", self.openapi, methods=["GET"], include_in_schema=False)]

    def schema(self) -> Json:
        """The OpenAPI document of the /v1 routes (built once)."""
        if self._schema is None:
            self._schema = get_openapi(
                title="NSFW image detection: JSON API",
                version="1",
                summary="One POST with the image, one JSON answer.",
                description=_DESCRIPTION,
                routes=[route for route in self.routes() if route.include_in_schema],
            )
        return self._schema


def routes(loader: ModelLoader) -> list[APIRoute]:
    """POST /v1/classify, /v1/classify_batch, /v1/moderate and GET /v1/openapi.json around `loader`."""
    return RestApi(loader).routes()


# -- what /v1/openapi.json says ----------------------------------------------------------------------------------------

_DESCRIPTION = (
    "The image is the request body (Content-Type image/* or application/octet-stream) or a multipart `file` part; "
    "parameters go in the query string. Answers are the JSON of the Gradio endpoints of the same name. Errors are "
    '`{"error": {"status", "kind", "message"}}`; 503 answers carry `Retry-After`. Nothing sent is kept: results '
    "are not cached across requests."
)
_CLASSIFY_EXAMPLE: Json = {
    "label": "SFW",
    "nsfw_score": 0.0123,
    "threshold": 0.5,
    "probabilities": {"NSFW": 0.0123, "SFW": 0.9877},
    "model": {"id": "Marqo/nsfw-image-detection-384", "revision": None},
    "timings_ms": {"decode": 4.1, "inference": 38.2, "total": 42.3},
    "image": {"width": 600, "height": 400, "format": "JPEG"},
    "notes": [],
}
_MODERATE_EXAMPLE: Json = {
    "decision": "allow",
    "nsfw_score": 0.0123,
    "allow_below": 0.3,
    "block_above": 0.7,
    "whole_image_score": 0.0123,
    "tiles": None,
    "frames": None,
    "total_frames": 1,
    "image": {"width": 600, "height": 400, "format": "JPEG"},
    "notes": [],
    "ms": 45.0,
}
_BATCH_EXAMPLE: Json = {
    "results": [
        {"file": "a.jpg", "label": "SFW", "nsfw_score": 0.0123, "threshold": 0.5},
        {"file": "notes.pdf", "error": "Unsupported file: this is a PDF document. Upload a JPEG, PNG, ... image."},
    ],
    "summary": {"files": 2, "classified": 1, "nsfw": 0, "sfw": 1, "skipped": 1, "threshold": 0.5},
    "timings_ms": {"total": 120.5},
}
_ERRORS: dict[int, tuple[str, str]] = {
    400: (
        "unreadable",
        "Unsupported file: this is a PDF document. Upload a JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC image.",
    ),
    408: ("timeout", f"The request body stopped arriving for {BODY_IDLE_SECONDS:g} s. Send it again."),
    413: ("too_large", "The request body is larger than 50 MB, this server's limit for one image (NSFW_MAX_FILE_MB)."),
    415: ("unsupported_media_type", "The request has Content-Type text/plain. Send the image as the body with ..."),
    422: ("invalid_parameter", "The threshold must be between 0 and 1, not 1.5."),
    503: ("model_loading", "The model is still loading (12 s so far). Try again in a moment."),
}
_ERROR_TEXT = {
    400: "Unreadable or unsupported file (the decoder's message), or a malformed multipart body.",
    408: "The body stopped arriving.",
    413: "Too large: refused from Content-Length, or as soon as a chunked body passes the limit.",
    415: "Wrong Content-Type.",
    422: "A bad, unknown or repeated query parameter.",
    503: "The model is loading, failed to load, or too many requests are waiting; see Retry-After.",
}


def _error_responses() -> dict[int | str, Json]:
    responses: dict[int | str, Json] = {}
    for status, (kind, message) in _ERRORS.items():
        example = {"error": {"status": status, "kind": kind, "message": message}}
        content: Json = {"application/json": {"example": example}}
        responses[status] = {"description": _ERROR_TEXT[status], "content": content}
    responses[503]["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
    return responses


def _query(parameter: _Parameter) -> Json:
    kind = "boolean" if isinstance(parameter.default, bool) else "number"
    schema: Json = {"type": kind, "default": parameter.default}
    if kind == "number":
        schema |= {"minimum": 0, "maximum": 1}
    return {
        "name": parameter.name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": parameter.description,
    }


def _image_body(description: str) -> Json:
    binary = {"schema": {"type": "string", "format": "binary"}}
    multipart = {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}
    return {
        "required": True,
        "description": description,
        "content": {"image/*": binary, "application/octet-stream": binary, _MULTIPART: multipart},
    }


def _docs(summary: str, description: str, parameters: tuple[_Parameter, ...], body: Json, example: Json) -> Json:
    responses = {200: {"description": "The result", "content": {"application/json": {"example": example}}}}
    return {
        "summary": summary,
        "description": description,
        "responses": responses | _error_responses(),
        "openapi_extra": {"parameters": [_query(parameter) for parameter in parameters], "requestBody": body},
    }


_DOCS: Mapping[str, Json] = {
    "classify": _docs(
        "Classify one image as NSFW or SFW",
        "The JSON of /classify. Example: curl -s -F file=@photo.jpg 'http://127.0.0.1:7860/v1/classify'",
        (_THRESHOLD,),
        _image_body("The image (JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC), up to NSFW_MAX_FILE_MB."),
        _CLASSIFY_EXAMPLE,
    ),
    "classify_batch": _docs(
        "Classify many images and zip archives",
        "The JSON of /classify_batch: one row per file (zip members included), unreadable files with the reason.",
        (_THRESHOLD,),
        {
            "required": True,
            "content": {
                _MULTIPART: {
                    "schema": {
                        "type": "object",
                        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                    }
                }
            },
        },
        _BATCH_EXAMPLE,
    ),
    "moderate": _docs(
        "Allow, review or block one image",
        "The JSON of /moderate: below allow_below allow, at or above block_above block, in between review.",
        (_ALLOW_BELOW, _BLOCK_ABOVE, _SCAN),
        _image_body("The image or animation (JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC), up to NSFW_MAX_FILE_MB."),
        _MODERATE_EXAMPLE,
    ),
}
