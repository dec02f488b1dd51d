"""One image's result as a card to share: one self-contained HTML file (the verdict or decision, the score against the
threshold or band, the probabilities, model and revision, time, and a small thumbnail blurred unless shown)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from PIL import Image

from ..thresholds import NSFW
from .html_report import data_uri, page, thumbnail
from .reports import ModelRecord

__all__ = ["CARD_THUMBNAIL_SIDE", "classification_card", "moderation_card"]

#: Longest side of the image on a card, in pixels.
CARD_THUMBNAIL_SIDE = 240

_CARD_STYLE = """
main { max-width: 40rem; }
.card { border: 1px solid var(--line); border-radius: .75rem; padding: 1rem 1.25rem; }
.verdict { display: inline-block; font-size: 2rem; font-weight: 700; padding: .1rem .9rem; border-radius: .5rem;
  margin: .25rem 0 .5rem; }
.verdict-nsfw, .verdict-block { background: var(--bad-bg); color: var(--bad); }
.verdict-review { background: var(--panel); color: var(--fg); border: 2px dashed var(--muted); }
.verdict-sfw, .verdict-allow { background: var(--good-bg); color: var(--good); }
.layout { display: flex; flex-wrap: wrap; gap: 1rem 1.5rem; align-items: flex-start; }
.layout > div { flex: 1 1 16rem; }
img.preview { max-width: 100%; border-radius: .5rem; display: block; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
"""

_DECISIONS = {
    "allow": "Allowed: the score is below the band.",
    "review": "Sent to human review: the score falls inside the band.",
    "block": "Blocked: the score is at or above the band's top.",
}


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _image(image: Image.Image | None, hidden: bool, why_hidden: str) -> str:
    if image is None:
        return '<p class="muted">The image is not included.</p>'
    alt = f"The image, blurred because {why_hidden}" if hidden else "The image"
    note = (
        f'<p class="muted">Blurred because {why_hidden}; the person who made this card chose not to show it.</p>'
        if hidden
        else ""
    )
    source = data_uri(thumbnail(image, hidden=hidden, side=CARD_THUMBNAIL_SIDE))
    return f'<img class="preview" data-blurred="{str(hidden).lower()}" src="{source}" alt="{_escape(alt)}">{note}'


def _probabilities(probabilities: Mapping[str, float]) -> str:
    rows = "".join(
        f'<tr><th scope="row">{_escape(label)}</th><td class="number" data-probability="{_escape(label)}">'
        f"{value:.3f}</td></tr>"
        for label, value in sorted(probabilities.items(), key=lambda item: -item[1])
    )
    return (
        '<table><thead><tr><th scope="col">Label</th><th scope="col" class="number">Probability</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _facts(items: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in items) + "</dl>"


def _model(model: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        ("Model", f'<code data-figure="model">{_escape(model.get("id"))}</code>'),
        ("Revision", f'<code data-figure="revision">{_escape(model.get("revision") or "not recorded")}</code>'),
    ]


def _when(created: str) -> tuple[str, str]:
    return "Classified", f'<time data-figure="created" datetime="{_escape(created)}">{_escape(created)}</time> (UTC)'


def classification_card(
    response: Mapping[str, Any], image: Image.Image | None, *, show_image: bool, created: str
) -> str:
    """A `/classify` result (its JSON at the user's threshold) as a card; the image is blurred when the verdict is
    NSFW unless `show_image`.

    Args:
        response: the `/classify` response.
        image: the classified image (shown small), or None to leave it out.
        show_image: the user chose to show an NSFW image unblurred.
        created: when it was classified, UTC ISO 8601.
    """
    label, score, threshold = response["label"], response["nsfw_score"], response["threshold"]
    is_nsfw = label == NSFW
    relation = "≥" if is_nsfw else "<"
    meaning = "Not safe for work" if is_nsfw else "Safe for work"
    facts = _facts(
        [
            (
                "Score",
                f'<span data-figure="nsfw_score">{score:.3f}</span> {relation} threshold '
                f'<span data-figure="threshold">{threshold:.2f}</span>',
            ),
            *_model(response.get("model") or {}),
            _when(created),
            ("Image", _image_facts(response.get("image") or {})),
        ]
    )
    body = f"""<h1>NSFW image check</h1>
<div class="card"><p class="verdict verdict-{label.lower()}" data-figure="label">{_escape(label)}</p>
<p>{meaning}: the NSFW score is {"at or above" if is_nsfw else "below"} the threshold.</p>
<div class="layout"><div>{facts}<h2>Probabilities</h2>{_probabilities(response["probabilities"])}</div>
<div>{_image(image, is_nsfw and not show_image, "it was classified NSFW")}</div></div></div>
<footer>NSFW when the score is at or above the threshold. Numbers rounded to three decimals.</footer>"""
    return page(f"NSFW check: {label}, score {score:.3f}", body, style=_CARD_STYLE)


def moderation_card(
    response: Mapping[str, Any],
    image: Image.Image | None,
    model: ModelRecord,
    *,
    show_image: bool,
    created: str,
) -> str:
    """A `/moderate` result (its JSON at the user's band) as a card; the image is blurred unless allowed or
    `show_image`.

    Args:
        response: the `/moderate` response.
        image: the moderated image (shown small), or None to leave it out.
        model: the model that scored it.
        show_image: the user chose to show the image unblurred.
        created: when it was moderated, UTC ISO 8601.
    """
    decision, score = response["decision"], response["nsfw_score"]
    low, high = response["allow_below"], response["block_above"]
    band = (
        f'threshold <span data-figure="block_above">{high:.2f}</span>'
        if low == high
        else f'band <span data-figure="allow_below">{low:.2f}</span> – '
        f'<span data-figure="block_above">{high:.2f}</span>'
    )
    rows = [("Score", f'<span data-figure="nsfw_score">{score:.3f}</span> against the {band}')]
    if response.get("whole_image_score") is not None and response["whole_image_score"] != score:
        rows.append(("Whole image", f"{response['whole_image_score']:.3f}"))
    tiles = response.get("tiles")
    if tiles:
        rows.append(("Scan", f"highest of {tiles['count']} tiles: {tiles['max_score']:.3f}"))
    frames = response.get("frames")
    if frames:
        rows.append(("Frames", f"{len(frames)} of {response.get('total_frames')} scored; the highest decides"))
    rows += [*_model(model.to_dict()), _when(created), ("Image", _image_facts(response.get("image") or {}))]
    body = f"""<h1>Moderation decision</h1>
<div class="card"><p class="verdict verdict-{_escape(decision)}" data-figure="decision">{_escape(decision).upper()}</p>
<p>{_DECISIONS.get(decision, "")}</p>
<div class="layout"><div>{_facts(rows)}</div>
<div>{_image(image, decision != "allow" and not show_image, f"the decision was {decision}")}</div></div></div>
<footer>Allowed below the band, blocked at or above its top, sent to review in between. Numbers rounded to three
decimals.</footer>"""
    return page(f"Moderation: {decision}, score {score:.3f}", body, style=_CARD_STYLE)


def _image_facts(image: Mapping[str, Any]) -> str:
    if not image:
        return "–"
    return f"{image.get('width')} × {image.get('height')} {_escape(image.get('format') or '')}"
