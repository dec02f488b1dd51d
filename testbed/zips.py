"""Zip archives made by code for the archive tests: honest ones, and hostile ones patched byte by byte."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from collections.abc import Mapping

from testbed.images import encode, photo

__all__ = [
    "build_zip",
    "central_offsets",
    "labelled_zip",
    "patch_central",
    "patch_first_member",
    "patch_local",
    "set_entry_count",
    "symlink_zip",
    "tiny_png",
]

_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"


def tiny_png(seed: int = 0, side: int = 48) -> bytes:
    """A small safe PNG: a crop of an example photo, different for each seed."""
    image = photo("astronaut.png" if seed % 2 else "coffee.png")
    left = (seed * 37) % (image.width - side)
    return encode(image.crop((left, 0, left + side, side)).resize((64, 64)), "PNG")


def build_zip(members: Mapping[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip holding `members` (name -> bytes), written by Python's zipfile."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def labelled_zip(nsfw: int, sfw: int, root: str = "set") -> bytes:
    """A zip with `nsfw` images under root/NSFW/ and `sfw` under root/sfw/ (safe images; the labels are made up)."""
    members = {f"{root}/NSFW/n{index}.png": tiny_png(index) for index in range(nsfw)}
    members.update({f"{root}/sfw/s{index}.png": tiny_png(100 + index) for index in range(sfw)})
    return build_zip(members)


def symlink_zip(name: str, target: str, extra: Mapping[str, bytes] | None = None) -> bytes:
    """A zip whose member `name` is a Unix symbolic link to `target` (as `zip --symlinks` stores it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)
        for member, data in (extra or {}).items():
            archive.writestr(member, data)
    return buffer.getvalue()


def central_offsets(data: bytes) -> list[int]:
    """Offsets of every central-directory entry."""
    offsets, position = [], data.find(_CENTRAL)
    while position >= 0:
        offsets.append(position)
        position = data.find(_CENTRAL, position + 4)
    return offsets


def _patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into(fmt, patched, offset, value)
    return bytes(patched)


def patch_central(data: bytes, index: int, field: str, value: int) -> bytes:
    """Overwrite one field of the `index`-th central-directory entry (flags, method, compressed, size, offset)."""
    offset, fmt = {
        "flags": (8, "<H"),
        "method": (10, "<H"),
        "compressed": (20, "<L"),
        "size": (24, "<L"),
        "offset": (42, "<L"),
    }[field]
    return _patch(data, central_offsets(data)[index] + offset, fmt, value)


def patch_local(data: bytes, header_offset: int, field: str, value: int) -> bytes:
    """Overwrite one field of the local header at `header_offset` (flags, method, compressed, size)."""
    offset, fmt = {"flags": (6, "<H"), "method": (8, "<H"), "compressed": (18, "<L"), "size": (22, "<L")}[field]
    return _patch(data, header_offset + offset, fmt, value)


def patch_first_member(data: bytes, field: str, value: int) -> bytes:
    """Overwrite one field of the first member in its central-directory entry and its local header alike (flags,
    method, compressed, size), so that the two records agree, as they do when an archiver lies."""
    return patch_local(patch_central(data, 0, field, value), 0, field, value)


def set_entry_count(data: bytes, count: int) -> bytes:
    """Make the end-of-central-directory record claim `count` entries (what a lying archive does)."""
    position = data.rfind(b"PK\x05\x06")
    patched = _patch(data, position + 8, "<H", count)
    return _patch(patched, position + 10, "<H", count)
