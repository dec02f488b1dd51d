"""Explanation heatmaps for the ViT: gradient-weighted attention rollout at patch-grid resolution, and its overlay.

What the map is: for each 16 x 16 patch the model sees, how much the class token's final state depends, through the
attention layers, on that patch, weighting each attention link by whether it pushes the NSFW log-odds up (the
self-attention rule of Chefer, Gur & Wolf, "Generic Attention-model Explainability for Interpreting Bi-Modal and
Encoder-Decoder Transformers", ICCV 2021). Bright patches are those the classification drew on through links that
raise the NSFW score.

What it is not: a segmentation, a proof, or a measure of how NSFW a region is. It shows where the model looked
while raising the score, also on images that score low; it ignores the MLP layers' own contributions, it is coarse
(one value per patch) and relative (scaled so the strongest patch is 1). Parts of the image outside the model's
centre crop were never seen and carry no value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image
from timm.layers import Attention
from timm.models.vision_transformer import Block, VisionTransformer

from ..errors import IncompatibleModelError
from ..runtime.classifier import Classifier

__all__ = ["Explanation", "explain", "overlay_heatmap", "seen_box"]

logger = logging.getLogger(__name__)

#: The colour map for the overlay: dark (no relevance) to bright yellow (the strongest patch).
COLORMAP = "inferno"
#: How much the heatmap covers the image at full relevance (0: invisible, 1: opaque).
ALPHA = 0.6
#: Brightness left to the parts of the image the model never saw (outside its centre crop).
UNSEEN_BRIGHTNESS = 0.35

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Explanation:
    """A relevance map over the patch grid (rows x columns, values in [0, 1]) and where it lies on the image.

    `box` is the part of the original image (x0, y0, x1, y1) that the model's centre crop kept: the map covers it
    and nothing outside it.
    """

    heatmap: np.ndarray
    nsfw_score: float
    box: Box


def seen_box(width: int, height: int, data_config: dict) -> Box:
    """The region of a `width` x `height` image that the model's eval transform keeps, in original pixels."""
    _, input_height, input_width = data_config["input_size"]
    crop_pct = data_config.get("crop_pct") or 1.0
    mode = data_config.get("crop_mode") or "center"
    if mode == "squash":
        kept_width, kept_height = width * crop_pct, height * crop_pct
    elif mode == "center" and input_height == input_width:
        # Resize the short side to floor(input / crop_pct), then cut the centre square of the input side.
        scale_size = int(input_height / crop_pct)
        kept_width = kept_height = min(width, height) * input_height / scale_size
    else:
        raise IncompatibleModelError(
            f"The heatmap cannot place crop mode {mode!r} with input {input_width} x {input_height} on the image; "
            "it supports the 'center' (square input) and 'squash' modes of timm's eval transform."
        )
    x0 = round((width - kept_width) / 2)
    y0 = round((height - kept_height) / 2)
    return x0, y0, x0 + round(kept_width), y0 + round(kept_height)


def _check_model(model: torch.nn.Module) -> VisionTransformer:
    plain = isinstance(model, VisionTransformer) and all(
        type(block) is Block and type(block.attn) is Attention for block in model.blocks
    )
    if not plain:
        raise IncompatibleModelError(
            f"The heatmap needs a timm VisionTransformer with standard attention blocks; this model is "
            f"{type(model).__name__}. Classification still works; only the explanation is unavailable."
        )
    return model


def _attention(attention: Attention, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """timm's `Attention.forward` (non-fused path, eval mode), also returning the attention probabilities."""
    batch, tokens, _ = x.shape
    gate = attention.gate(x).sigmoid() if attention.gate is not None else None
    qkv = attention.qkv(x).reshape(batch, tokens, 3, attention.num_heads, attention.head_dim).permute(2, 0, 3, 1, 4)
    query, key, value = qkv.unbind(0)
    query, key = attention.q_norm(query), attention.k_norm(key)
    probabilities = ((query * attention.scale) @ key.transpose(-2, -1)).softmax(dim=-1)
    out = (probabilities @ value).transpose(1, 2).reshape(batch, tokens, attention.attn_dim)
    out = attention.norm(out)
    if gate is not None:
        out = out * gate
    return attention.proj(out), probabilities


def forward_with_attention(model: VisionTransformer, batch: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The model's eval forward pass, step by step, returning the logits and every block's attention.

    No hooks and no change to the model: a classification running at the same time is not affected.
    """
    x = model.norm_pre(model.patch_drop(model._pos_embed(model.patch_embed(batch))))
    attentions: list[torch.Tensor] = []
    for block in model.blocks:
        attended, probabilities = _attention(block.attn, block.norm1(x))
        attentions.append(probabilities)
        x = x + block.drop_path1(block.ls1(attended))
        x = x + block.drop_path2(block.ls2(block.mlp(block.norm2(x))))
    return model.forward_head(model.norm(x)), attentions


def explain(classifier: Classifier, image: Image.Image) -> Explanation:
    """The relevance heatmap of `image` for the NSFW score, at patch-grid resolution.

    Deterministic: the same image and model give the same map. Costs about one forward and one backward pass.

    Raises:
        IncompatibleModelError: the loaded model is not a plain timm VisionTransformer.
    """
    model = _check_model(classifier.model)
    batch = classifier.preprocess(image).unsqueeze(0).to(classifier.device)
    with torch.enable_grad():
        logits, attentions = forward_with_attention(model, batch)
        log_probabilities = logits[0].log_softmax(dim=-1)
        nsfw = classifier.nsfw_index
        others = torch.cat([log_probabilities[:nsfw], log_probabilities[nsfw + 1 :]])
        # The NSFW log-odds: unlike the probability, it does not saturate on confident images.
        log_odds = log_probabilities[nsfw] - torch.logsumexp(others, dim=0)
        gradients = torch.autograd.grad(log_odds, attentions)
    with torch.no_grad():
        tokens = attentions[0].shape[-1]
        relevance = torch.eye(tokens, device=batch.device)
        for attention, gradient in zip(attentions, gradients, strict=True):
            weighted = (gradient[0] * attention[0]).clamp(min=0).mean(dim=0)
            relevance = relevance + weighted @ relevance
        prefix = model.num_prefix_tokens
        # The class token's row, or the mean over patch tokens for an average-pooled model.
        pooled = model.global_pool == "token"
        row = relevance[0, prefix:] if pooled else relevance[prefix:, prefix:].mean(dim=0)
        rows, columns = model.patch_embed.grid_size
        heatmap = row.reshape(rows, columns).cpu().numpy().astype(np.float32)
    top = float(heatmap.max())
    heatmap = heatmap / top if top > 0 else np.zeros_like(heatmap)
    score = float(logits[0].detach().softmax(dim=-1)[nsfw])
    return Explanation(
        heatmap=heatmap, nsfw_score=score, box=seen_box(image.width, image.height, classifier.data_config)
    )


def overlay_heatmap(image: Image.Image, explanation: Explanation, *, max_side: int | None = 1024) -> Image.Image:
    """The heatmap blended on `image` (pass the blurred preview for NSFW images), with the input's aspect ratio.

    The map is stretched smoothly over `explanation.box`; the rest of the image, never seen by the model, is dimmed.

    Args:
        image: the image the explanation was computed for (or a blurred copy of it, same size).
        explanation: the result of `explain` for that image.
        max_side: if given, the output is scaled down so its longest side is at most this (aspect ratio kept).
    """
    rgb = image.convert("RGB")
    scale = 1.0
    if max_side is not None and max(rgb.size) > max_side:
        scale = max_side / max(rgb.size)
        rgb = rgb.resize(
            (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.Resampling.BILINEAR
        )
    x0, y0, x1, y1 = (round(value * scale) for value in explanation.box)
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    grid = Image.fromarray(explanation.heatmap.astype(np.float32), mode="F")
    weights = np.clip(np.asarray(grid.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR)), 0.0, 1.0)
    colours = colormaps[COLORMAP](weights)[..., :3] * 255.0
    base = np.asarray(rgb, dtype=np.float32)
    out = base * UNSEEN_BRIGHTNESS
    x1, y1 = min(x1, rgb.width), min(y1, rgb.height)
    weights = weights[: y1 - y0, : x1 - x0]
    colours = colours[: y1 - y0, : x1 - x0]
    region = base[y0:y1, x0:x1]
    alpha = ALPHA * weights[..., None]
    out[y0:y1, x0:x1] = region * (1.0 - alpha) + colours * alpha
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))
