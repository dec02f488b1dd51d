"""Workarounds for Gradio 6.31 internals, in one place; `apply()` installs them all, once, before the app starts.

Each module says what Gradio does, why that hurts here and what replaces it, and keeps Gradio's own function as
`UPSTREAM_*`; tests/unit/test_gradio_fixes.py (and the tests named in each module) show the upstream behaviour
still happens, so after a Gradio upgrade a failing "upstream" test marks a workaround that can go.
"""

from __future__ import annotations

from . import launch_check, mcp_tools, monitoring, queue_wakeup, sessions, upload_cache

__all__ = ["FIXES", "apply"]

#: Every workaround: /monitoring summary refreshed every 100 events (read when a queue is made, so it comes first),
#: the upload-cache sweep that survives uploads, lazy per-session configs, the patient start-up check, MCP tools, the
#: queue dispatcher woken by events instead of polling every millisecond.
FIXES = (monitoring, upload_cache, sessions, launch_check, mcp_tools, queue_wakeup)


def apply() -> None:
    """Install every workaround; call before `demo.queue()` and `launch()`. Calling it again changes nothing."""
    for fix in FIXES:
        fix.apply()
