"""What `screen` and `evaluate` read: folders, files, globs, zip archives and manifests -> the files to classify,
each with its true label when one is known; URIs (`s3://`, `gs://`, ...) are passed on to Ray as they are."""

from __future__ import annotations

import glob
import logging
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.fs as pa_fs

from ..errors import SourceError
from .archives import IGNORED_NAMES, folder_label, is_zip
from .manifest import MANIFEST_SUFFIXES, read_manifest

__all__ = ["MANIFEST_SUFFIXES", "Refused", "Sources", "collect_sources", "count_members", "is_uri", "normalize"]

logger = logging.getLogger(__name__)

_GLOB_CHARACTERS = frozenset("*?[")
_IGNORED_FOLDERS = frozenset({"__MACOSX", ".git"})
_MAX_MANIFEST_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Refused:
    """A file that gets an error row without being read (missing, or larger than the per-file limit)."""

    file: str
    reason: str


@dataclass
class Sources:
    """Files to read (local paths or URIs), zip archives to open, known true labels and files refused up front."""

    files: list[str] = field(default_factory=list)
    archives: list[str] = field(default_factory=list)
    truths: dict[str, int] = field(default_factory=dict)
    refused: list[Refused] = field(default_factory=list)
    #: Each archive's members, as its central directory lists them (`count_members`): the rows it will give.
    members: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows the sources will give: files, refused files and the members of every archive."""
        return len(self.files) + len(self.refused) + sum(self.members.get(archive, 1) for archive in self.archives)


def count_members(path: str) -> int:
    """The files a zip lists (folders, `__MACOSX/` and system files left out, as the archive reader does), read
    from its central directory only; 1 for an archive that cannot be listed (it gives one error row)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return 1
    counted = 0
    for name in names:
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if not parts or parts[0] == "__MACOSX" or parts[-1] in IGNORED_NAMES or parts[-1].startswith("._"):
            continue
        counted += 1
    return max(counted, 1)


def is_uri(text: str) -> bool:
    """True for `scheme://...` (s3, gs, abfs, hdfs, ...): read by pyarrow's filesystems on the Ray workers."""
    scheme, separator, _rest = text.partition("://")
    return bool(separator) and scheme.isalnum() and len(scheme) > 1


def normalize(path: str) -> str:
    """The name Ray Data reports for `path` (it drops a URI's scheme): the key to match its rows to our names."""
    return path.partition("://")[2] if is_uri(path) else path


def _megabytes(size: int) -> str:
    text = f"{size / 2**20:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _truth(shown: str) -> int | None:
    try:
        return folder_label(shown)
    except ValueError:
        return None


class _Collector:
    def __init__(self, max_file_bytes: int) -> None:
        self.sources = Sources()
        self.max_file_bytes = max_file_bytes
        self._seen: set[str] = set()

    def add_file(self, path: str, truth: int | None) -> None:
        """One file: a zip is opened later as an archive; anything else is read and decoded (or refused now)."""
        name = path if is_uri(path) else os.path.abspath(path)
        if name in self._seen:
            return
        self._seen.add(name)
        if truth is not None:
            self.sources.truths[name] = truth
        if is_uri(name):
            self.sources.files.append(name)
            return
        try:
            size = os.stat(name).st_size
        except OSError as error:
            self.sources.refused.append(Refused(name, f"The file could not be read ({error.strerror})."))
            return
        if size > self.max_file_bytes:
            limit = _megabytes(self.max_file_bytes)
            self.sources.refused.append(
                Refused(name, f"File too large: {_megabytes(size)} MB; the limit is {limit} MB.")
            )
        elif is_zip(name):
            self.sources.archives.append(name)
            self.sources.members[name] = count_members(name)
        else:
            self.sources.files.append(name)

    def add_uri(self, uri: str) -> None:
        """A file or a folder (listed recursively, in name order) on a filesystem that pyarrow knows (s3, gs, ...):
        listed here, so that names, labels and `--resume` work as they do for local folders."""
        scheme = uri.partition("://")[0]
        try:
            filesystem, root = pa_fs.FileSystem.from_uri(uri)
            info = filesystem.get_file_info(root)
            if info.type == pa_fs.FileType.Directory:
                listing = filesystem.get_file_info(pa_fs.FileSelector(root, recursive=True))
                found = sorted(item.path for item in listing if item.type == pa_fs.FileType.File)
            elif info.type == pa_fs.FileType.File:
                found = [root]
            else:
                raise SourceError(f"{uri} does not exist. Check the bucket and the path.")
        except (pa.ArrowException, OSError, ValueError) as error:
            if isinstance(error, SourceError):
                raise
            raise SourceError(
                f"{uri} could not be listed ({str(error).splitlines()[0][:200]}). Check the URI and the credentials "
                "(pyarrow reads them from the usual places, e.g. AWS_* variables or the instance's role)."
            ) from None
        base = root.rstrip("/")
        for path in found:
            name = PurePosixPath(path).name
            if name in IGNORED_NAMES or _IGNORED_FOLDERS & set(PurePosixPath(path).parts):
                continue
            # Labels from the folders below the URI given and its own last folder, as for a local folder.
            shown = PurePosixPath(PurePosixPath(base).name, path[len(base) :].lstrip("/")).as_posix()
            truth = _truth(uri) if found == [root] else _truth(shown)
            self.add_file(f"{scheme}://{path.lstrip('/')}" if scheme != "file" else f"file://{path}", truth)

    def add_folder(self, folder: str) -> None:
        """Every file under `folder`, recursively, in name order; system files and `__MACOSX` left out."""
        for root, folders, files in os.walk(folder):
            folders[:] = sorted(name for name in folders if name not in _IGNORED_FOLDERS)
            for name in sorted(files):
                if name in IGNORED_NAMES:
                    continue
                shown = os.path.join(root, name)
                self.add_file(shown, _truth(shown))

    def add_manifest(self, manifest: str, max_rows: int) -> None:
        """Every row of a CSV or Parquet manifest (see `model.inputs.manifest`): a path relative to the manifest,
        absolute or a URI, with its label when the row gives one."""
        base = os.path.dirname(manifest)
        for path, truth in read_manifest(manifest, max_bytes=_MAX_MANIFEST_BYTES, max_rows=max_rows).items():
            self.add_file(path if is_uri(path) or os.path.isabs(path) else os.path.join(base, path), truth)


def collect_sources(arguments: Sequence[str], *, max_file_bytes: int, max_manifest_rows: int = 10_000_000) -> Sources:
    """Expand command-line sources into files to classify, in the order given.

    Folders are walked recursively (true labels from folders named nsfw/sfw at any depth); `.csv` and `.parquet`
    files are manifests; `.zip` files (by content) are archives; globs are expanded; URIs are passed on.

    Raises:
        SourceError: a source does not exist, a glob matches nothing, or there is nothing to classify.
        ManifestError: a manifest is refused by `model.inputs.manifest.read_manifest`.
    """
    collector = _Collector(max_file_bytes)
    for argument in arguments:
        if is_uri(argument):
            collector.add_uri(argument)
            continue
        if not os.path.exists(argument) and _GLOB_CHARACTERS & set(argument):
            matches = sorted(glob.glob(argument, recursive=True))
            if not matches:
                raise SourceError(f"No file matches {argument}. Check the pattern (quote it so the shell passes it).")
        elif not os.path.exists(argument):
            raise SourceError(f"{argument} does not exist. Give folders, image files, .zip archives or manifests.")
        else:
            matches = [argument]
        for match in matches:
            if os.path.isdir(match):
                collector.add_folder(match)
            elif PurePosixPath(match).suffix.casefold() in MANIFEST_SUFFIXES and not is_zip(match):
                collector.add_manifest(match, max_manifest_rows)
            else:
                collector.add_file(match, _truth(match))
    sources = collector.sources
    if not sources.files and not sources.archives and not sources.refused:
        raise SourceError("The sources hold no files. Give folders, image files, .zip archives or manifests.")
    logger.info("%d files and %d archives to read", len(sources.files), len(sources.archives))
    return sources
