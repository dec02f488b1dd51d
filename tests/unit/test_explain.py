"""The explanation heatmap: one value per patch, deterministic, placed on the image at its own aspect ratio."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from model import Classifier, IncompatibleModelError
from model.runtime.loading import LoadedModel
from model.tasks.explain import Explanation, explain, forward_with_attention, overlay_heatmap, seen_box
from testbed.images import photo


@pytest.fixture(scope="module")
def coffee() -> Image.Image:
    """A landscape photo (600 x 400): the centre crop leaves margins on both sides."""
    return photo("coffee.png")


@pytest.fixture(scope="module")
def explained(classifier: Classifier, coffee: Image.Image) -> Explanation:
    return explain(classifier, coffee)


def _patch_grid(classifier: Classifier) -> tuple[int, int]:
    _, height, width = classifier.data_config["input_size"]
    patch_height, patch_width = classifier.model.patch_embed.patch_size
    return height // patch_height, width // patch_width


def test_the_step_by_step_forward_pass_gives_the_models_own_logits(classifier: Classifier, coffee: Image.Image) -> None:
    batch = classifier.preprocess(coffee).unsqueeze(0)
    with torch.inference_mode():
        expected = classifier.model(batch)
        logits, attentions = forward_with_attention(classifier.model, batch)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    assert len(attentions) == len(classifier.model.blocks)


def test_the_heatmap_has_one_value_per_patch_scaled_to_zero_one(
    classifier: Classifier, coffee: Image.Image, explained: Explanation
) -> None:
    explanation = explained
    assert explanation.heatmap.shape == _patch_grid(classifier) == (24, 24)
    assert explanation.heatmap.dtype == np.float32
    assert explanation.heatmap.min() >= 0.0 and explanation.heatmap.max() == pytest.approx(1.0)
    assert explanation.nsfw_score == pytest.approx(classifier.predict([coffee])[0].nsfw_score, abs=1e-5)


def test_the_same_image_twice_gives_the_identical_heatmap(
    classifier: Classifier, coffee: Image.Image, explained: Explanation
) -> None:
    assert np.array_equal(explain(classifier, coffee).heatmap, explained.heatmap)


def test_different_images_give_different_heatmaps(classifier: Classifier, explained: Explanation) -> None:
    assert not np.array_equal(explained.heatmap, explain(classifier, photo("rocket.jpg")).heatmap)


@pytest.mark.parametrize(
    ("size", "box"),
    [((600, 400), (100, 0, 500, 400)), ((400, 600), (0, 100, 400, 500)), ((384, 384), (0, 0, 384, 384))],
)
def test_the_map_covers_the_centre_square_the_model_sees(classifier: Classifier, size: tuple, box: tuple) -> None:
    assert seen_box(*size, classifier.data_config) == box


def test_the_blended_image_keeps_the_inputs_size_and_aspect_ratio(coffee: Image.Image, explained: Explanation) -> None:
    blended = overlay_heatmap(coffee, explained)
    assert blended.size == coffee.size and blended.mode == "RGB"
    small = overlay_heatmap(coffee, explained, max_side=300)
    assert small.size == (300, 200)


def test_the_parts_the_model_never_saw_are_dimmed_and_carry_no_colour(
    coffee: Image.Image, explained: Explanation
) -> None:
    white = Image.new("RGB", coffee.size, "white")
    blended = np.asarray(overlay_heatmap(white, explained))
    margin, inside = blended[:, :100], blended[:, 100:500]
    assert np.all(margin == margin[0, 0]) and margin[0, 0, 0] < 128
    assert inside.std() > 0


def test_a_model_without_vit_attention_blocks_is_refused_with_a_message(classifier: Classifier) -> None:
    other = timm.create_model("resnet10t", pretrained=False, num_classes=2).eval()
    loaded = LoadedModel(
        model=other,
        data_config=classifier.data_config,
        info=dataclasses.replace(classifier.info, architecture="resnet10t"),
        nsfw_index=classifier.nsfw_index,
    )
    with pytest.raises(IncompatibleModelError, match=r"needs a timm VisionTransformer.*this model is ResNet"):
        explain(Classifier(loaded, classifier.settings), photo("coffee.png"))
