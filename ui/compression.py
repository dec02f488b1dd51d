"""Gzip for the responses Gradio's own Brotli middleware leaves alone: the page itself and its JSON routes."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Receive, Scope, Send

__all__ = ["COMPRESSION", "CompressPages"]

#: Responses smaller than this many bytes are sent as they are.
MINIMUM_BYTES = 1024
#: The MCP server streams its own protocol: left as it is, as Gradio's middleware leaves it.
_SKIPPED_PREFIXES = ("/gradio_api/mcp",)


class CompressPages(GZipMiddleware):
    """Gzips responses whose path has no file extension (the 250 KB page, /config, /info); files with one are
    Gradio's Brotli middleware's job (scripts, styles) or already compressed (images, fonts). Starlette never
    compresses event streams, so progress and results still arrive as they happen."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path or "." in path.rsplit("/", 1)[-1] or path.startswith(_SKIPPED_PREFIXES):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


#: For `launch(app_kwargs={"middleware": COMPRESSION})`.
COMPRESSION = [Middleware(CompressPages, minimum_size=MINIMUM_BYTES)]
