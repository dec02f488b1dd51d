"""Our probabilities equal the model card's snippet (timm transform + softmax, same checkpoint)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from model import Classifier, decode_image
from testbed.images import drawing, photo
from tests.support.fidelity import INPUTS, model_card_probabilities


@pytest.mark.parametrize("name", list(INPUTS))
def test_exact_path_matches_the_model_card_within_1e_5(name: str, classifier: Classifier, standin_dir: Path) -> None:
    data = INPUTS[name]()
    decoded = decode_image(data)  # no draft: every pixel decoded
    ours = classifier.predict([decoded.image])[0]
    with Image.open(__import__("io").BytesIO(data)) as image:
        card = model_card_probabilities(standin_dir, image.convert("RGB"))
    assert list(ours.probabilities.values()) == pytest.approx(card, abs=1e-5)
    assert ours.nsfw_score == pytest.approx(card[classifier.labels.index("NSFW")], abs=1e-5)


@pytest.mark.parametrize("name", ["12 MP JPEG", "12 MP JPEG, other content", "3000x300 panorama", "astronaut photo"])
def test_fast_path_stays_within_0_01_of_the_exact_path(name: str, classifier: Classifier) -> None:
    data = INPUTS[name]()
    exact = classifier.predict([decode_image(data).image])[0]
    fast = classifier.predict([decode_image(data, draft_min_side=classifier.draft_min_side).image])[0]
    assert abs(fast.nsfw_score - exact.nsfw_score) <= 0.01


def test_batched_scores_equal_one_at_a_time_scores(classifier: Classifier) -> None:
    images = [photo(name) for name in ("astronaut.png", "coffee.png", "chelsea.png")] + [drawing()]
    together = classifier.predict(images)
    alone = [classifier.predict([image])[0] for image in images]
    for batch, single in zip(together, alone, strict=True):
        assert batch.nsfw_score == pytest.approx(single.nsfw_score, abs=1e-5)


def test_the_standin_output_moves_with_its_input(classifier: Classifier) -> None:
    scores = [prediction.nsfw_score for prediction in classifier.predict([photo("astronaut.png"), photo("rocket.jpg")])]
    assert max(scores) - min(scores) > 0.5


def test_swapped_label_order_gives_the_same_nsfw_score(classifier: Classifier, swapped_dir: Path) -> None:
    from model import ModelSource, Settings

    swapped = Classifier.load(Settings(model=ModelSource(local_dir=str(swapped_dir))))
    assert swapped.labels == ("SFW", "NSFW")
    images = [photo("astronaut.png"), photo("rocket.jpg")]
    for ours, theirs in zip(classifier.predict(images), swapped.predict(images), strict=True):
        assert theirs.nsfw_score == pytest.approx(ours.nsfw_score, abs=1e-6)
