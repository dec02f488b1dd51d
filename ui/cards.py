"""What a tab shows before it has a result and when something failed, built one way everywhere: a verdict-shaped
card where the tab shows a verdict (Single image, Moderate, Live), a note where it shows a summary (Batch, Evaluate,
the review band). Error cards are alerts; empty views are quiet. Styles: ui/style.css (`.verdict-*`, `.note-*`)."""

from __future__ import annotations

import html
from collections.abc import Mapping

__all__ = ["empty_card", "empty_note", "error_card", "error_note"]


def _data(attributes: Mapping[str, str]) -> str:
    return "".join(f' data-{name}="{html.escape(value)}"' for name, value in attributes.items())


def empty_card(title: str, detail: str, data: Mapping[str, str]) -> str:
    """A dashed verdict card saying what to do first. `data` are the card's `data-*` attributes, as its filled card
    has them (e.g. {"label": ""}), for the stylesheet and the page scripts; `detail` is plain text."""
    return (
        f'<div class="verdict verdict-empty"{_data(data)}>'
        f'<div class="verdict-label">{html.escape(title)}</div>'
        f'<div class="verdict-detail">{html.escape(detail)}</div></div>'
    )


def error_card(title: str, message: str, data: Mapping[str, str] | None = None) -> str:
    """A verdict card in warning colours with `title` (e.g. "Could not classify") over `message` (plain text, from
    `ui.errors.user_message`); an alert, so screen readers say it at once."""
    return (
        f'<div class="verdict verdict-error"{_data(data or {})} role="alert">'
        f'<div class="verdict-label">{html.escape(title)}</div>'
        f'<div class="verdict-detail">{html.escape(message)}</div></div>'
    )


def empty_note(content: str) -> str:
    """A dashed note in place of a summary that is not there yet; `content` is HTML written by us (it may hold <b>)."""
    return f'<div class="note-empty" data-state="empty">{content}</div>'


def error_note(message: str) -> str:
    """A note in place of a summary, saying what went wrong (`message` is plain text); an alert."""
    return f'<div class="note-error" data-state="error" role="alert">{html.escape(message)}</div>'
