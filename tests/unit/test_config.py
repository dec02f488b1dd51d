"""Settings come from the environment in one place, with clear messages for values that cannot work."""

from __future__ import annotations

import pytest

from model import DEFAULT_MODEL, ConfigurationError, load_settings, parse_model_source


def test_defaults_name_the_marqo_model_and_documented_limits() -> None:
    settings = load_settings({})
    assert settings.model.repo_id == DEFAULT_MODEL and settings.model.revision is None
    assert (settings.max_pixels, settings.max_side, settings.load_timeout) == (40_000_000, 10_000, 20.0)


def test_a_revision_is_pinned_with_an_at_sign() -> None:
    source = parse_model_source("Marqo/nsfw-image-detection-384@abc123")
    assert (source.repo_id, source.revision) == ("Marqo/nsfw-image-detection-384", "abc123")


def test_an_existing_folder_is_a_local_source(tmp_path) -> None:
    source = parse_model_source(str(tmp_path))
    assert source.is_local and source.local_dir == str(tmp_path)


def test_the_command_line_model_overrides_the_environment() -> None:
    settings = load_settings({"NSFW_MODEL": "a/b"}, model="c/d@v1")
    assert (settings.model.repo_id, settings.model.revision) == ("c/d", "v1")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"NSFW_MAX_PIXELS": "lots"}, "NSFW_MAX_PIXELS='lots' is not a whole number"),
        ({"NSFW_BATCH_SIZE": "0"}, "NSFW_BATCH_SIZE='0' must be at least 1"),
        ({"NSFW_LOAD_TIMEOUT": "-3"}, "NSFW_LOAD_TIMEOUT='-3' must be positive"),
        ({"NSFW_FAST_DECODE": "maybe"}, "NSFW_FAST_DECODE='maybe' must be 1 or 0"),
        ({"NSFW_SPLIT_BATCHES": "yes please"}, "NSFW_SPLIT_BATCHES='yes please' must be 1 or 0"),
        ({"NSFW_MODEL": "a/b@c@d"}, "Cannot read model source"),
    ],
)
def test_unusable_settings_are_refused_with_the_variable_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(environ)


def test_merged_batches_are_split_unless_turned_off() -> None:
    assert load_settings({}).split_batches is True
    assert load_settings({"NSFW_SPLIT_BATCHES": "0"}).split_batches is False
