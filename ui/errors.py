"""The one boundary where exceptions become what a user sees: our messages as they are, anything else generic."""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr

from model import ClassifierError

__all__ = ["GENERIC_MESSAGE", "user_errors", "user_message"]

logger = logging.getLogger(__name__)

GENERIC_MESSAGE = "Something went wrong while classifying this image. Try again; if it keeps failing, try another file."


def user_message(error: BaseException, action: str) -> str:
    """The message to show for `error`: ours (they say what to do) or, for anything unexpected, a generic one.

    Unexpected errors are logged with their traceback; `action` names what was being done, for the log only
    (never user content such as file names).
    """
    if isinstance(error, gr.Error):
        return str(error.message)
    if isinstance(error, ClassifierError):
        logger.info("%s refused: %s", action, type(error).__name__)
        return str(error)
    logger.error("%s failed unexpectedly", action, exc_info=error)
    return GENERIC_MESSAGE


@contextmanager
def user_errors(action: str, title: str = "Could not classify") -> Iterator[None]:
    """Raise every exception from the block as `gr.Error(user_message(...))`, for API endpoints.

    Args:
        action: what was being done, for the server log only.
        title: the heading of the error shown in the browser.
    """
    try:
        yield
    except Exception as error:
        message = user_message(error, action)
        # gr.Error renders HTML in the browser; escape <, > and & so a message is always shown as plain text.
        raise gr.Error(html.escape(message, quote=False), title=title, print_exception=False) from None
