"""Zip uploads are hostile until proven otherwise: escapes, links, bombs and liars are refused with their reasons."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import pytest

from model import errors
from model.config import load_settings
from model.inputs.archives import (
    DEFAULT_ARCHIVE_LIMITS,
    RATIO_FLOOR_BYTES,
    ArchiveLimits,
    Skipped,
    folder_label,
    open_uploads,
)
from model.inputs.manifest import parse_manifest
from testbed.zips import (
    build_zip,
    labelled_zip,
    patch_central,
    patch_first_member,
    set_entry_count,
    symlink_zip,
    tiny_png,
)

ESCAPES = {
    "../evil.png": "unsafe path (../ leaves the archive)",
    "a/../../evil2.png": "unsafe path (../ leaves the archive)",
    "..\\evil3.png": "unsafe path (../ leaves the archive)",
    "/tmp/evil4.png": "unsafe path (absolute)",
    "\\evil5.png": "unsafe path (absolute)",
    "C:/Windows/evil6.png": "unsafe path (drive letter)",
    "c:evil7.png": "unsafe path (drive letter)",
}


def write(tmp_path: Path, data: bytes, name: str = "upload.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def snapshot(root: Path) -> set[tuple[str, int]]:
    return {(str(path.relative_to(root)), path.stat().st_size) for path in root.rglob("*") if not path.is_symlink()}


def read_all(
    path: Path, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS, **options
) -> tuple[dict[str, bytes], list[Skipped]]:
    with open_uploads([path], limits, **options) as uploads:
        read = {name: source for name, source in uploads.sources()}
        return read, list(uploads.skipped)


def reasons(skipped: list[Skipped]) -> dict[str, str]:
    return {item.file: item.reason for item in skipped}


def test_an_honest_archive_is_read_in_memory_with_folders_kept_in_the_names(tmp_path: Path) -> None:
    members = {"a.png": tiny_png(1), "deep/er/b.png": tiny_png(2)}
    read, skipped = read_all(write(tmp_path, build_zip(members)))
    assert read == members
    assert skipped == []


def test_path_escapes_are_skipped_with_their_reason_and_nothing_is_written_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = {name: tiny_png(index) for index, name in enumerate(ESCAPES)}
    members["fine.png"] = tiny_png(9)
    (tmp_path / "in").mkdir()
    archive = write(tmp_path / "in", build_zip(members))
    work = tmp_path / "work" / "deeper"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    around = tmp_path.parent
    before = snapshot(around)
    temp_before = set(os.listdir(tempfile.gettempdir()))

    read, skipped = read_all(archive)

    assert list(read) == ["fine.png"]
    got = reasons(skipped)
    for name, reason in ESCAPES.items():
        assert got[name].startswith(reason), (name, got[name])
    assert snapshot(around) == before
    new_temp = set(os.listdir(tempfile.gettempdir())) - temp_before
    assert not [name for name in new_temp if "evil" in name]
    assert not any(path.name.startswith("evil") for path in Path("/tmp").glob("evil*"))


def test_a_symlink_member_is_never_followed(tmp_path: Path) -> None:
    data = symlink_zip("link.png", "/etc/passwd", {"real.png": tiny_png()})
    read, skipped = read_all(write(tmp_path, data))
    assert list(read) == ["real.png"]
    assert reasons(skipped) == {"link.png": "symbolic link; links are not followed"}


def test_an_encrypted_member_is_skipped_without_asking_for_a_password(tmp_path: Path) -> None:
    data = patch_first_member(build_zip({"secret.png": tiny_png(1), "open.png": tiny_png(2)}), "flags", 0x1)
    read, skipped = read_all(write(tmp_path, data))
    assert list(read) == ["open.png"]
    assert reasons(skipped)["secret.png"].startswith("encrypted (password-protected)")


def test_nested_archives_are_skipped_by_name_and_by_content(tmp_path: Path) -> None:
    inner = build_zip({"x.png": tiny_png()})
    data = build_zip({"inner.zip": inner, "disguised.png": inner, "set.tar.gz": b"\x1f\x8b" + bytes(100)})
    read, skipped = read_all(write(tmp_path, data))
    assert read == {}
    got = reasons(skipped)
    assert set(got) == {"inner.zip", "disguised.png", "set.tar.gz"}
    assert all(reason.startswith("nested archive") for reason in got.values())


def test_system_files_are_ignored_silently(tmp_path: Path) -> None:
    members = {
        "__MACOSX/set/._a.png": b"\x00\x05\x16\x07",
        "set/._a.png": b"\x00\x05\x16\x07",
        "set/.DS_Store": b"Bud1",
        "set/Thumbs.db": b"\xd0\xcf",
        "set/a.png": tiny_png(),
    }
    with open_uploads([write(tmp_path, build_zip(members))]) as uploads:
        assert [item.name for item in uploads.items] == ["set/a.png"]
        assert uploads.skipped == []


def test_a_high_compression_ratio_is_refused_as_a_bomb_before_reading(tmp_path: Path) -> None:
    bomb = bytes(2 * RATIO_FLOOR_BYTES)  # zeros deflate about 1000:1
    read, skipped = read_all(write(tmp_path, build_zip({"bomb.bmp": bomb, "ok.png": tiny_png()})))
    assert list(read) == ["ok.png"]
    assert reasons(skipped)["bomb.bmp"].startswith("suspicious compression ratio (")
    assert "the limit is 100:1): possibly a zip bomb" in reasons(skipped)["bomb.bmp"]


def test_small_members_are_not_ratio_checked(tmp_path: Path) -> None:
    flat = bytes(RATIO_FLOOR_BYTES // 2)  # a flat icon-sized file deflates far beyond 100:1 and is still fine
    read, skipped = read_all(write(tmp_path, build_zip({"flat.bmp": flat})))
    assert read == {"flat.bmp": flat}
    assert skipped == []


def test_a_member_whose_header_understates_its_size_is_caught_while_reading(tmp_path: Path) -> None:
    # 8 MB of zeros declared as 1,000 bytes: every declared check passes; the real data must stop it.
    data = patch_first_member(build_zip({"liar.png": bytes(8 * RATIO_FLOOR_BYTES), "ok.png": tiny_png()}), "size", 1000)
    read, skipped = read_all(write(tmp_path, data))
    assert list(read) == ["ok.png"]
    assert reasons(skipped)["liar.png"].startswith("corrupt or its sizes do not match its data")


def test_overlapping_members_are_refused_as_a_zip_bomb_construction(tmp_path: Path) -> None:
    data = build_zip({"a.png": tiny_png(1), "b.png": tiny_png(2)})
    data = patch_central(data, 1, "offset", 0)  # the second entry reuses the first one's bytes
    with pytest.raises(errors.UnsafeArchiveError, match=r"members overlap .* this is how zip bombs are built"):
        open_uploads([write(tmp_path, data)])


def test_a_compressed_size_larger_than_the_archive_is_refused(tmp_path: Path) -> None:
    data = build_zip({"a.png": tiny_png(1)})
    data = patch_central(data, 0, "compressed", 10_000_000)
    with pytest.raises(errors.UnsafeArchiveError, match="members overlap"):
        open_uploads([write(tmp_path, data)])


def test_too_many_members_are_refused_before_the_directory_is_parsed(tmp_path: Path) -> None:
    data = build_zip({f"{index}.png": b"x" for index in range(6)})
    with pytest.raises(errors.ArchiveTooLargeError, match=r"holds 6 entries; the limit is 5 \(folders included\)"):
        open_uploads([write(tmp_path, data)], ArchiveLimits(max_members=5))


def test_a_directory_that_understates_its_entry_count_is_still_refused(tmp_path: Path) -> None:
    data = set_entry_count(build_zip({f"{index}.png": b"x" for index in range(6)}), 1)
    with pytest.raises(errors.ArchiveTooLargeError, match=r"holds 6 entries; the limit is 5"):
        open_uploads([write(tmp_path, data)], ArchiveLimits(max_members=5))


def test_an_oversized_directory_is_refused_before_parsing(tmp_path: Path) -> None:
    data = build_zip({"x" * 1500 + f"{index}.png": b"x" for index in range(2)})
    with pytest.raises(errors.ArchiveTooLargeError, match=r"its directory is .* for 2 entries"):
        open_uploads([write(tmp_path, data)], ArchiveLimits(max_members=2))


def test_the_total_uncompressed_size_is_limited(tmp_path: Path) -> None:
    data = build_zip({"a.bin": os.urandom(600), "b.bin": os.urandom(600)})
    with pytest.raises(errors.ArchiveTooLargeError, match=r"expand to 0\.0 MB; the limit is 0\.0 MB"):
        open_uploads([write(tmp_path, data)], ArchiveLimits(max_total_bytes=1000))


def test_a_member_over_the_per_file_limit_is_skipped_with_its_size(tmp_path: Path) -> None:
    data = build_zip({"big.png": os.urandom(3 * 1024 * 1024), "ok.png": tiny_png()}, zipfile.ZIP_STORED)
    read, skipped = read_all(write(tmp_path, data), ArchiveLimits(max_member_bytes=2 * 1024 * 1024))
    assert list(read) == ["ok.png"]
    assert reasons(skipped) == {"big.png": "too large: 3.0 MB uncompressed; the limit per file is 2.0 MB"}


def test_an_unsupported_compression_method_is_skipped_with_its_name(tmp_path: Path) -> None:
    data = build_zip({"a.png": tiny_png(), "ok.png": tiny_png(1)})
    data = patch_central(data, 0, "method", 9)
    read, skipped = read_all(write(tmp_path, data))
    assert list(read) == ["ok.png"]
    assert reasons(skipped)["a.png"].startswith("compressed with Deflate64, which is not supported")


def test_a_truncated_archive_is_refused_with_a_message(tmp_path: Path) -> None:
    data = build_zip({"a.png": tiny_png()})
    with pytest.raises(errors.CorruptArchiveError, match="not a zip archive"):
        open_uploads([write(tmp_path, data[: len(data) // 2])])


def test_an_archive_with_nothing_to_classify_says_so(tmp_path: Path) -> None:
    data = build_zip({"__MACOSX/._a.png": b"x", "../up.png": tiny_png()})
    with pytest.raises(errors.EmptyArchiveError, match=r"holds no files to classify \(1 file\(s\) skipped, e\.g\. "):
        open_uploads([write(tmp_path, data)])


def test_loose_files_and_several_archives_get_unique_names(tmp_path: Path) -> None:
    one = write(tmp_path, build_zip({"a.png": tiny_png(1)}), "one.zip")
    two = write(tmp_path, build_zip({"a.png": tiny_png(2)}), "two.zip")
    loose = write(tmp_path, tiny_png(3), "a.png")
    rar = write(tmp_path, b"Rar!\x1a\x07\x00", "more.rar")
    with open_uploads([one, two, loose, loose, rar]) as uploads:
        assert [name for name, _ in uploads.sources()] == ["one.zip/a.png", "two.zip/a.png", "a.png", "a.png (2)"]
        assert reasons(uploads.skipped) == {"more.rar": "only .zip archives are opened, not .rar"}


def test_archive_limits_come_from_the_settings() -> None:
    settings = load_settings(
        {
            "NSFW_ZIP_MAX_MEMBERS": "20",
            "NSFW_ZIP_MAX_TOTAL_MB": "3",
            "NSFW_ZIP_MAX_MEMBER_MB": "2",
            "NSFW_ZIP_MAX_RATIO": "7",
        }
    )
    assert ArchiveLimits.from_settings(settings) == ArchiveLimits(20, 3 * 2**20, 2 * 2**20, 7)
    assert ArchiveLimits.from_settings(load_settings({})) == ArchiveLimits()
    with pytest.raises(errors.ConfigurationError, match="NSFW_ZIP_MAX_RATIO='0' must be at least 1"):
        load_settings({"NSFW_ZIP_MAX_RATIO": "0"})


# Labels -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("nsfw/a.jpg", 1),
        ("set/NSFW/a.jpg", 1),
        ("x/Sfw/y/a.jpg", 0),
        ("a.jpg", None),
        ("nsfw-ish/a.jpg", None),
        ("set/sfw.jpg", None),
    ],
)
def test_folder_names_give_labels_in_any_case_at_any_depth(name: str, label: int | None) -> None:
    assert folder_label(name) == label


def test_a_path_under_both_label_folders_is_ambiguous() -> None:
    with pytest.raises(ValueError, match="both an nsfw and an sfw folder"):
        folder_label("nsfw/sfw/a.jpg")


def test_a_labelled_archive_keeps_only_labelled_images(tmp_path: Path) -> None:
    data = build_zip(
        {
            "set/NSFW/a.png": tiny_png(1),
            "set/sfw/b.png": tiny_png(2),
            "set/other/c.png": tiny_png(3),
            "nsfw/sfw/d.png": tiny_png(4),
        }
    )
    with open_uploads([write(tmp_path, data)], labelled=True) as uploads:
        assert uploads.labels() == {"set/NSFW/a.png": 1, "set/sfw/b.png": 0}
        got = reasons(uploads.skipped)
    assert got["set/other/c.png"].startswith("no label: put it under a folder named nsfw or sfw")
    assert "ambiguous" in got["nsfw/sfw/d.png"]


def test_an_archive_of_one_class_is_refused_before_the_model_runs(tmp_path: Path) -> None:
    with pytest.raises(errors.SingleClassError, match=r"All 3 labelled images are NSFW: .* Add some SFW images"):
        open_uploads([write(tmp_path, labelled_zip(3, 0))], labelled=True)


def test_an_archive_without_labels_names_the_folders_it_found(tmp_path: Path) -> None:
    data = build_zip({"cats/a.png": tiny_png(1), "dogs/b.png": tiny_png(2)})
    with pytest.raises(errors.MissingLabelsError, match=r"No image has a label.*top-level folders are: cats, dogs"):
        open_uploads([write(tmp_path, data)], labelled=True)


def test_a_manifest_in_the_archive_labels_files_relative_to_its_folder(tmp_path: Path) -> None:
    manifest = "file,label\na.png,NSFW\nsub/b.png,0\nmissing.png,sfw\n"
    data = build_zip({"set/labels.csv": manifest.encode(), "set/a.png": tiny_png(1), "set/sub/b.png": tiny_png(2)})
    with open_uploads([write(tmp_path, data)], labelled=True) as uploads:
        assert uploads.labels() == {"set/a.png": 1, "set/sub/b.png": 0}
        assert uploads.manifest == "set/labels.csv"
        assert reasons(uploads.skipped) == {"missing.png": "listed in set/labels.csv but not found in the upload"}


def test_a_manifest_uploaded_beside_loose_images_matches_file_names(tmp_path: Path) -> None:
    images = [write(tmp_path, tiny_png(index), f"img{index}.png") for index in range(3)]
    manifest = write(tmp_path, b"filename;class\nimg0.png;true\nimg1.png;FALSE\nimg2.png;1\n", "labels.csv")
    with open_uploads([*images, manifest], labelled=True) as uploads:
        assert uploads.labels() == {"img0.png": 1, "img1.png": 0, "img2.png": 1}


def test_the_manifest_takes_precedence_over_folders(tmp_path: Path) -> None:
    data = build_zip({"m.csv": b"file,label\nnsfw/a.png,sfw\n", "nsfw/a.png": tiny_png(1), "nsfw/b.png": tiny_png(2)})
    with open_uploads([write(tmp_path, data)], labelled=True) as uploads:
        assert uploads.labels() == {"nsfw/a.png": 0, "nsfw/b.png": 1}


def test_several_manifests_are_refused(tmp_path: Path) -> None:
    data = build_zip({"a.csv": b"file,label\n", "b.csv": b"file,label\n", "nsfw/a.png": tiny_png()})
    with pytest.raises(errors.ManifestError, match=r"Found 2 CSV files \(a\.csv, b\.csv\): keep exactly one"):
        open_uploads([write(tmp_path, data)], labelled=True)


def test_outside_evaluation_a_csv_is_listed_as_skipped(tmp_path: Path) -> None:
    _, skipped = read_all(write(tmp_path, build_zip({"m.csv": b"file,label\n", "a.png": tiny_png()})))
    assert reasons(skipped) == {"m.csv": "CSV file: manifests are used on the Evaluate tab"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("file,label\na.jpg,nsfw\nb.jpg,SFW\n", {"a.jpg": 1, "b.jpg": 0}),
        ("\ufeffpath,class\n./x/a.jpg,True\nx\\b.jpg,false\n", {"x/a.jpg": 1, "x/b.jpg": 0}),
        ("a.jpg,1\nb.jpg,0\n", {"a.jpg": 1, "b.jpg": 0}),
        ("image\tlabel\na.jpg\tnsfw\n\n", {"a.jpg": 1}),
        ("label,file,notes\nnsfw,a.jpg,seen twice\nnsfw,a.jpg,\n", {"a.jpg": 1}),
    ],
)
def test_manifests_accept_common_spellings(text: str, expected: dict[str, int]) -> None:
    assert parse_manifest(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("name,verdict\na.jpg,nsfw\n", r"has no file column .* Start it with the header row 'file,label'"),
        ("file,label\n", "has a header but no rows"),
        ("file,label\na.jpg,maybe\n", r"line 2: label 'maybe' is not one of nsfw, sfw, 1, 0, true or false"),
        ("file,label\na.jpg\n", r"line 2: expected a file and a label, found 1 column"),
        ("file,label\na.jpg,nsfw\na.jpg,sfw\n", r"line 3: 'a.jpg' is listed again with the other label"),
        ("file,label\n" + "".join(f"{i}.jpg,x\n" for i in range(8)), r"line 6: .*\(and 3 more\)\.$"),
    ],
)
def test_bad_manifests_are_refused_with_the_line_to_fix(text: str, message: str) -> None:
    with pytest.raises(errors.ManifestError, match=message):
        parse_manifest(text, "labels.csv")


def test_a_manifest_alone_with_wrong_columns_gets_the_manifests_own_message(tmp_path: Path) -> None:
    manifest = write(tmp_path, b"name,verdict\na.jpg,nsfw\n", "labels.csv")
    with pytest.raises(errors.ManifestError, match=r"labels\.csv has no file column .* header row 'file,label'"):
        open_uploads([manifest], labelled=True)


def test_a_valid_manifest_alone_asks_for_the_images_it_names(tmp_path: Path) -> None:
    manifest = write(tmp_path, b"file,label\na.jpg,nsfw\nb.jpg,sfw\n", "labels.csv")
    with pytest.raises(
        errors.EmptyArchiveError, match=r"labels\.csv lists 2 file\(s\), but the upload holds no images"
    ):
        open_uploads([manifest], labelled=True)
