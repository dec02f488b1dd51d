"""Uploads of many files and zip archives, read as hostile: in memory, never extracted, every limit checked twice.

A zip is only ever read member by member into memory; nothing is written to disk, so no member name can reach
the filesystem. Before any member is read, the archive's own directory is checked: the entry count (read from the
end-of-directory record before Python parses the directory), overlapping members (a known zip-bomb construction),
and the declared sizes and compression ratios. The same limits are enforced again on the bytes actually
decompressed, because declared sizes can lie. Per-image pixel limits are left to `model.inputs.images.decode_image`.

Labels for evaluation come from folder names (`nsfw` / `sfw`, any case, at any depth) or a CSV manifest
(`file,label`), read by `model.inputs.manifest`.
"""

from __future__ import annotations

import logging
import lzma
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import BinaryIO

from ..config import Settings
from ..errors import (
    ArchiveTooLargeError,
    CorruptArchiveError,
    EmptyArchiveError,
    ManifestError,
    MissingLabelsError,
    SingleClassError,
    UnsafeArchiveError,
)
from .manifest import LABEL_VALUES, manifest_from_bytes

__all__ = [
    "DEFAULT_ARCHIVE_LIMITS",
    "IGNORED_NAMES",
    "LABEL_VALUES",
    "NSFW_LABEL",
    "RATIO_FLOOR_BYTES",
    "SFW_LABEL",
    "ArchiveLimits",
    "Item",
    "Skipped",
    "UploadSet",
    "folder_label",
    "is_zip",
    "open_uploads",
]

logger = logging.getLogger(__name__)

#: Label values (NSFW is the positive class, as scikit-learn expects 1).
NSFW_LABEL = 1
SFW_LABEL = 0
#: Files that operating systems add to archives; never listed, never read.
IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_IGNORED_FOLDERS = frozenset({"__MACOSX"})
#: Members at or below this size are not ratio-checked: a small flat image (a BMP icon) legitimately deflates
#: 100:1 or more, and small members cannot expand far; the total-size limit bounds many of them together.
RATIO_FLOOR_BYTES = 1024 * 1024
#: Generous upper bound on the bytes one central-directory entry needs (46 fixed + name + extra + comment).
_DIRECTORY_BYTES_PER_ENTRY = 1024
_READ_CHUNK = 1024 * 1024
_SUPPORTED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_METHOD_NAMES = {9: "Deflate64", 6: "Implode", 98: "PPMd", 93: "Zstandard", 95: "XZ", 97: "WavPack"}
_ARCHIVE_SUFFIXES = frozenset(
    [
        ".zip",
        ".7z",
        ".rar",
        ".tar",
        ".gz",
        ".tgz",
        ".bz2",
        ".tbz2",
        ".xz",
        ".txz",
        ".zst",
        ".lz",
        ".lzma",
        ".cab",
        ".jar",
        ".iso",
    ]
)
_ARCHIVE_SIGNATURES = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",
)
_DRIVE = re.compile(r"^[A-Za-z]:")
_MB = 1024 * 1024


def _megabytes(size: int) -> str:
    if size >= 1024 * _MB:
        return f"{size / (1024 * _MB):.1f} GB"
    return f"{size / _MB:.1f} MB"


@dataclass(frozen=True)
class ArchiveLimits:
    """What an upload of many files may hold; the defaults match `model.config.Settings`."""

    max_members: int = 10_000
    max_total_bytes: int = 2048 * _MB
    max_member_bytes: int = 50 * _MB
    max_ratio: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> ArchiveLimits:
        return cls(
            max_members=settings.zip_max_members,
            max_total_bytes=settings.zip_max_total_bytes,
            max_member_bytes=settings.zip_max_member_bytes,
            max_ratio=settings.zip_max_ratio,
        )


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()


@dataclass(frozen=True)
class Skipped:
    """A file that was not classified, and why."""

    file: str
    reason: str


@dataclass
class Item:
    """One file to classify: a loose upload (`path`) or a zip member (`archive` + `info`)."""

    name: str
    path: Path | None = None
    archive: int | None = None
    info: zipfile.ZipInfo | None = None
    label: int | None = None

    @property
    def member(self) -> str | None:
        """The member's path inside its archive (forward slashes), or None for a loose file."""
        return None if self.info is None else self.info.filename.replace("\\", "/")


class _MemberRefused(Exception):
    """A member was not read; the message is the reason shown to the user."""


def is_zip(path: str | os.PathLike[str]) -> bool:
    """True when the file starts like a zip archive (whatever its name says)."""
    try:
        with open(path, "rb") as file:
            return file.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    except OSError:
        return False


def _ignored(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return parts[0] in _IGNORED_FOLDERS or parts[-1] in IGNORED_NAMES or parts[-1].startswith("._")


def _unsafe_path_reason(raw_name: str) -> str | None:
    """Why a member name could escape a folder it were extracted into (it never is), or None when it is clean."""
    if "\x00" in raw_name:
        return "unsafe name (it contains a NUL character); not read"
    name = raw_name.replace("\\", "/")
    if name.startswith("/"):
        return "unsafe path (absolute); not read"
    if _DRIVE.match(name):
        return "unsafe path (drive letter); not read"
    if ".." in name.split("/"):
        return "unsafe path (../ leaves the archive); not read"
    return None


def _file_type_reason(info: zipfile.ZipInfo) -> str | None:
    """Symlinks and special files, from the Unix mode bits in the external attributes."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return "symbolic link; links are not followed"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "not a regular file (device, pipe or socket); not read"
    return None


def folder_label(name: str) -> int | None:
    """The label given by the folders of a path: `nsfw` or `sfw` (any case, at any depth), else None.

    Raises:
        ValueError: when the path has both an nsfw and an sfw folder.
    """
    folders = {part.casefold() for part in PurePosixPath(name.replace("\\", "/")).parts[:-1]}
    found = {LABEL_VALUES[folder] for folder in folders & {"nsfw", "sfw"}}
    if len(found) > 1:
        raise ValueError("its path has both an nsfw and an sfw folder, so its label is ambiguous")
    return found.pop() if found else None


def _directory_summary(file: BinaryIO) -> tuple[int, int]:
    """(entries, directory bytes) from the end-of-central-directory record, before anything parses the directory.

    Python's zipfile reads the whole central directory into memory and builds an object per entry; reading the
    counts first keeps a hostile directory of millions of entries from ever being parsed.
    """
    file.seek(0, os.SEEK_END)
    size = file.tell()
    tail_size = min(size, 22 + 65535)
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or len(tail) - position < 22:
        raise CorruptArchiveError(
            "The file is not a zip archive (or its end is missing): upload a .zip made by your system's "
            "'compress' command or by zip."
        )
    entries, directory_size, directory_offset = struct.unpack("<xxxxxxxxxxHLL", tail[position : position + 20])
    if entries == 0xFFFF or directory_size == 0xFFFFFFFF or directory_offset == 0xFFFFFFFF:
        locator = tail[position - 20 : position] if position >= 20 else b""
        if locator[:4] != b"PK\x06\x07":
            raise CorruptArchiveError("The zip64 archive's directory locator is missing: re-create the archive.")
        (record_offset,) = struct.unpack("<Q", locator[8:16])
        file.seek(record_offset)
        record = file.read(56)
        if record[:4] != b"PK\x06\x06" or len(record) < 56:
            raise CorruptArchiveError("The zip64 archive's directory record is corrupt: re-create the archive.")
        entries, directory_size = struct.unpack("<32xQQ8x", record)
    return entries, directory_size


def _check_overlap(infos: Sequence[zipfile.ZipInfo], directory_start: int) -> None:
    """Refuse archives whose members share bytes: the construction behind non-recursive zip bombs."""
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for current, following in zip(ordered, [*ordered[1:], None], strict=True):
        # Local header (30 bytes + name) and data; the local extra field may add more, so this is a lower bound.
        encoding = "utf-8" if current.flag_bits & 0x800 else "cp437"
        name_size = len(current.orig_filename.encode(encoding, "replace"))
        end = current.header_offset + 30 + name_size + current.compress_size
        limit = directory_start if following is None else following.header_offset
        if end > limit:
            raise UnsafeArchiveError(
                f"The archive's members overlap ({current.filename!r} runs into the next one): this is how zip "
                "bombs are built. Re-create the archive with a standard zip tool."
            )


class _Archive:
    """One open zip: its members checked, read on demand with every limit enforced on the real bytes."""

    def __init__(self, path: Path, display: str, limits: ArchiveLimits) -> None:
        self.display = display
        self.limits = limits
        self.file = open(path, "rb")  # noqa: SIM115  (closed by UploadSet.close)
        try:
            entries, directory_size = _directory_summary(self.file)
            self._check_entry_count(entries)
            if directory_size > limits.max_members * _DIRECTORY_BYTES_PER_ENTRY:
                raise ArchiveTooLargeError(
                    f"{display}: its directory is {_megabytes(directory_size)} for {entries} entries, far more "
                    "than a real archive needs. Re-create the archive with a standard zip tool."
                )
            self.file.seek(0)
            try:
                self.zip = zipfile.ZipFile(self.file)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
                raise CorruptArchiveError(
                    f"{display} is not a readable zip archive ({error}). Re-create it and upload it again."
                ) from None
            infos = self.zip.infolist()
            self._check_entry_count(len(infos))
            _check_overlap(infos, self.zip.start_dir)
        except BaseException:
            self.file.close()
            raise

    def _check_entry_count(self, entries: int) -> None:
        if entries > self.limits.max_members:
            raise ArchiveTooLargeError(
                f"{self.display} holds {entries:,} entries; the limit is {self.limits.max_members:,} "
                "(folders included). Split it into smaller archives."
            )

    def members(self) -> Iterator[tuple[zipfile.ZipInfo, str | None]]:
        """Every member that is not a folder or an ignored system file, with the reason it is skipped (or None)."""
        for info in self.zip.infolist():
            if info.is_dir() or stat.S_ISDIR(info.external_attr >> 16) or _ignored(info.orig_filename):
                continue
            yield info, self._declared_reason(info)

    def _declared_reason(self, info: zipfile.ZipInfo) -> str | None:
        reason = _unsafe_path_reason(info.orig_filename) or _file_type_reason(info)
        if reason:
            return reason
        if info.flag_bits & 0x1:
            return "encrypted (password-protected); encrypted members are not read"
        if PurePosixPath(info.filename.replace("\\", "/")).suffix.casefold() in _ARCHIVE_SUFFIXES:
            return "nested archive; archives inside archives are not opened (unpack it and add its images)"
        if info.compress_type not in _SUPPORTED_METHODS:
            method = _METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            return f"compressed with {method}, which is not supported; re-create the archive with standard zip"
        if info.file_size > self.limits.max_member_bytes:
            return (
                f"too large: {_megabytes(info.file_size)} uncompressed; the limit per file is "
                f"{_megabytes(self.limits.max_member_bytes)}"
            )
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > self.limits.max_ratio * max(info.compress_size, 1):
            return (
                f"suspicious compression ratio ({info.file_size / max(info.compress_size, 1):,.0f}:1, the limit is "
                f"{self.limits.max_ratio}:1): possibly a zip bomb; not read"
            )
        return None

    def read(self, info: zipfile.ZipInfo, budget: list[int]) -> bytes:
        """The member's bytes, stopping as soon as the real data breaks a limit its header promised to keep.

        `budget` holds the bytes still allowed for the whole upload; it is decreased as data is read.
        """
        allowed = min(info.file_size, self.limits.max_member_bytes)
        ratio_limit = self.limits.max_ratio * max(info.compress_size, 1)
        chunks: list[bytes] = []
        size = 0
        try:
            with self.zip.open(info) as stream:
                while chunk := stream.read(_READ_CHUNK):
                    size += len(chunk)
                    if size > allowed:
                        raise _MemberRefused(
                            f"holds more data than its header declares ({_megabytes(info.file_size)}): "
                            "possibly a zip bomb; not read"
                        )
                    if size > RATIO_FLOOR_BYTES and size > ratio_limit:
                        raise _MemberRefused(f"expands beyond {self.limits.max_ratio}:1: possibly a zip bomb; not read")
                    budget[0] -= len(chunk)
                    if budget[0] < 0:
                        raise ArchiveTooLargeError(
                            f"The upload expands beyond {_megabytes(self.limits.max_total_bytes)} when read; "
                            "split it into smaller archives."
                        )
                    chunks.append(chunk)
        except zipfile.BadZipFile as error:
            # zipfile stops at the declared size and then checks the CRC: a lying size ends here.
            raise _MemberRefused(f"corrupt or its sizes do not match its data ({error}); not read") from None
        except (zlib.error, lzma.LZMAError, EOFError, OSError, ValueError, NotImplementedError) as error:
            raise _MemberRefused(f"corrupt compressed data ({error}); not read") from None
        data = b"".join(chunks)
        if data.startswith(_ARCHIVE_SIGNATURES) or data[257:262] == b"ustar":
            raise _MemberRefused(
                "nested archive; archives inside archives are not opened (unpack it and add its images)"
            )
        return data

    def close(self) -> None:
        if hasattr(self, "zip"):
            self.zip.close()
        self.file.close()


def _read_file(path: Path, limit: int, name: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise ManifestError(f"The manifest {name} is {_megabytes(size)}; the limit is {_megabytes(limit)}.")
        return path.read_bytes()
    except OSError as error:
        raise ManifestError(f"The manifest {name} could not be read ({error.strerror}).") from None


@dataclass
class UploadSet:
    """The files of one upload (loose files and zip members), read lazily; use it as a context manager.

    `names` holds every file's display name in upload order; `items` are the files to classify; `skipped` lists
    the files that will not be (it grows while `sources()` runs, as members fail their read-time checks);
    `ignored` counts system files left out silently.
    """

    limits: ArchiveLimits
    names: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ignored: int = 0
    manifest: str | None = None
    _archives: list[_Archive] = field(default_factory=list, repr=False)
    _taken: set[str] = field(default_factory=set, repr=False)

    def __enter__(self) -> UploadSet:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for archive in self._archives:
            archive.close()

    @property
    def total(self) -> int:
        return len(self.items)

    def _name(self, name: str) -> str:
        """`name`, or `name (2)`, `name (3)`... when taken: every file of the upload has its own display name."""
        candidate, number = name, 2
        while candidate in self._taken:
            candidate = f"{name} ({number})"
            number += 1
        self._taken.add(candidate)
        self.names.append(candidate)
        return candidate

    def _archive_of(self, item: Item) -> _Archive:
        if item.archive is None or item.info is None:
            raise TypeError(f"{item.name} is not a zip member")
        return self._archives[item.archive]

    def labels(self) -> dict[str, int]:
        return {item.name: item.label for item in self.items if item.label is not None}

    def sources(self) -> Iterator[tuple[str, bytes | Path]]:
        """(name, bytes or path) for every item, reading zip members one at a time; refused ones join `skipped`."""
        budget = [self.limits.max_total_bytes]
        for item in self.items:
            if item.path is not None:
                yield item.name, item.path
                continue
            try:
                data = self._archive_of(item).read(item.info, budget)
            except _MemberRefused as refusal:
                logger.warning("Skipped %r: %s", item.name, refusal)
                self.skipped.append(Skipped(item.name, str(refusal)))
                continue
            yield item.name, data

    def read_member(self, item: Item) -> bytes:
        """Read the manifest (a loose file or a zip member) under the per-file limit; `ManifestError` if refused."""
        if item.path is not None:
            return _read_file(item.path, self.limits.max_member_bytes, item.name)
        try:
            return self._archive_of(item).read(item.info, [self.limits.max_member_bytes])
        except (_MemberRefused, ArchiveTooLargeError) as refusal:
            raise ManifestError(f"The manifest {item.name} could not be read: {refusal}.") from None


def open_uploads(
    paths: Sequence[str | os.PathLike[str]],
    limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
    *,
    labelled: bool = False,
    names: Sequence[str] | None = None,
) -> UploadSet:
    """Open loose files and zip archives as one set of files to classify, checking every archive-wide limit.

    Args:
        paths: uploaded files; a file that starts like a zip is opened as an archive, whatever its name.
        limits: archive limits (see `ArchiveLimits`).
        labelled: find labels (manifest or nsfw/sfw folders) and skip unlabelled files before reading them.
        names: display names for `paths` (default: their file names).

    Raises:
        ArchiveError: a subclass, when an archive is unreadable or breaks a limit.
        EvaluationError: a subclass, when `labelled` and the labels are missing, one-class or unreadable.
    """
    uploads = UploadSet(limits)
    try:
        _collect(uploads, [Path(path) for path in paths], names, labelled)
    except BaseException:
        uploads.close()
        raise
    return uploads


def _collect(uploads: UploadSet, paths: list[Path], names: Sequence[str] | None, labelled: bool) -> None:
    limits = uploads.limits
    display = list(names) if names is not None else [path.name for path in paths]
    manifests: list[Item] = []
    declared_total = 0
    several = len(paths) > 1
    for path, shown in zip(paths, display, strict=True):
        if _ignored(shown):
            uploads.ignored += 1
            continue
        suffix = PurePosixPath(shown).suffix.casefold()
        if is_zip(path):
            archive = _Archive(path, shown, limits)
            uploads._archives.append(archive)
            index = len(uploads._archives) - 1
            for info, reason in archive.members():
                name = uploads._name(f"{shown}/{info.filename}" if several else info.filename)
                if reason is not None:
                    uploads.skipped.append(Skipped(name, reason))
                    continue
                item = Item(name=name, archive=index, info=info)
                if PurePosixPath(info.filename).suffix.casefold() == ".csv":
                    if labelled:
                        manifests.append(item)
                    else:
                        uploads.skipped.append(Skipped(name, "CSV file: manifests are used on the Evaluate tab"))
                    continue
                declared_total += info.file_size
                uploads.items.append(item)
        elif suffix == ".csv":
            item = Item(name=uploads._name(shown), path=path)
            if labelled:
                manifests.append(item)
            else:
                uploads.skipped.append(Skipped(item.name, "CSV file: manifests are used on the Evaluate tab"))
        elif suffix in _ARCHIVE_SUFFIXES:
            uploads.skipped.append(Skipped(uploads._name(shown), f"only .zip archives are opened, not {suffix}"))
        else:
            uploads.items.append(Item(name=uploads._name(shown), path=path))
        if len(uploads.items) > limits.max_members:
            raise ArchiveTooLargeError(
                f"The upload holds more than {limits.max_members:,} files; split it into smaller uploads."
            )
    if declared_total > limits.max_total_bytes:
        raise ArchiveTooLargeError(
            f"The files in the upload expand to {_megabytes(declared_total)}; the limit is "
            f"{_megabytes(limits.max_total_bytes)}. Split it into smaller archives."
        )
    if not uploads.items:
        if labelled and manifests:
            _refuse_lone_manifests(uploads, manifests)
        found = ""
        if uploads.skipped:
            first = uploads.skipped[0]
            found = f" ({len(uploads.skipped)} file(s) skipped, e.g. {first.file}: {first.reason})"
        raise EmptyArchiveError(
            f"The upload holds no files to classify{found}. Add JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC images."
        )
    if labelled:
        _label(uploads, manifests)


def _refuse_lone_manifests(uploads: UploadSet, manifests: list[Item]) -> None:
    """A manifest came without images: its own problem first (wrong columns, bad labels), else say what to add."""
    if len(manifests) == 1:
        manifest = manifests[0]
        labels = manifest_from_bytes(uploads.read_member(manifest), manifest.name)
        raise EmptyArchiveError(
            f"{manifest.name} lists {len(labels):,} file(s), but the upload holds no images: upload the images it "
            "names (or a .zip of them) together with it."
        )
    _label(uploads, manifests)  # several manifests: refused with that message


def _label(uploads: UploadSet, manifests: list[Item]) -> None:
    """Give every item its label (manifest first, then folders); unlabelled items move to `skipped`."""
    if len(manifests) > 1:
        listed = ", ".join(item.name for item in manifests[:5])
        raise ManifestError(f"Found {len(manifests)} CSV files ({listed}): keep exactly one 'file,label' manifest.")
    if manifests:
        manifest = manifests[0]
        labels = manifest_from_bytes(uploads.read_member(manifest), manifest.name)
        _apply_manifest(uploads, labels, manifest)
        uploads.manifest = manifest.name
    labelled: list[Item] = []
    for item in uploads.items:
        if item.label is None and item.member is not None:
            try:
                item.label = folder_label(item.member)
            except ValueError as error:
                uploads.skipped.append(Skipped(item.name, str(error)))
                continue
        if item.label is None:
            uploads.skipped.append(
                Skipped(item.name, "no label: put it under a folder named nsfw or sfw, or list it in the manifest")
            )
            continue
        labelled.append(item)
    if not labelled:
        folders = sorted({item.member.split("/")[0] for item in uploads.items if item.member and "/" in item.member})
        seen = f" The top-level folders are: {', '.join(folders[:10])}." if folders else ""
        raise MissingLabelsError(
            "No image has a label. Put the images under folders named nsfw and sfw (any case, at any depth, e.g. "
            f"set/NSFW/a.jpg), or add a CSV manifest with the columns file,label.{seen}"
        )
    classes = {item.label for item in labelled}
    if len(classes) == 1:
        only = "NSFW" if classes == {NSFW_LABEL} else "SFW"
        other = "SFW" if only == "NSFW" else "NSFW"
        raise SingleClassError(
            f"All {len(labelled)} labelled images are {only}: the evaluation needs both classes. "
            f"Add some {other} images (precision, recall and ROC AUC compare the two)."
        )
    uploads.items = labelled


def _apply_manifest(uploads: UploadSet, labels: dict[str, int | None], manifest: Item) -> None:
    """Match manifest rows to items: relative to the manifest's folder, then the archive root, then the file name."""
    folder = str(PurePosixPath(manifest.member).parent) if manifest.member else "."
    by_key: dict[str, Item] = {}
    basenames: dict[str, list[Item]] = {}
    for item in uploads.items:
        for key in (item.name, item.member):
            if key is not None:
                by_key.setdefault(key, item)
        basenames.setdefault(PurePosixPath(item.name).name, []).append(item)
    for file, label in labels.items():
        candidates = [file] if folder == "." else [f"{folder}/{file}", file]
        item = next((by_key[key] for key in candidates if key in by_key), None)
        if item is None and "/" not in file and len(basenames.get(file, [])) == 1:
            item = basenames[file][0]
        if item is None:
            uploads.skipped.append(Skipped(file, f"listed in {manifest.name} but not found in the upload"))
        else:
            item.label = label
