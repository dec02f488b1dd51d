"""A seeded mutation fuzzer for the decoder: `python -m tests.support.fuzz --cases 20000` (`make fuzz`)."""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pillow_heif
from PIL import Image

from model import InvalidImageError, decode_image
from model.inputs.images import ImageLimits, iter_frames
from testbed.images import drawing, encode, photo

__all__ = ["CASE_SECONDS", "FuzzReport", "mutate", "run", "seeds"]

#: A case running longer than this is reported as slow and fails the run (a true hang is stopped by the caller's
#: timeout: pytest-timeout in the tests; SIGALRM is left to it, and C decoders cannot be interrupted anyway).
CASE_SECONDS = 10
#: Frames read per case through the animation path (as Moderate does), besides the first-frame decode.
FRAMES = 4
#: Width/height values written into headers: zero, one, the edges of 8/15/16/24/31/32-bit fields, and the limits.
SIZES = (0, 1, 2, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0xFFFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 10_000, 10_001, 6325)


def seeds() -> dict[str, bytes]:
    """Small valid files of every accepted format, stills and animations, each a few hundred bytes to a few KB."""
    picture = photo().resize((48, 32))
    frames = [drawing((40, 30)), picture.resize((40, 30)), drawing((40, 30)).rotate(90)]
    return {
        "jpeg": encode(picture, "JPEG", quality=80),
        "jpeg-progressive": encode(picture, "JPEG", quality=80, progressive=True),
        "png": encode(picture, "PNG"),
        "png-palette-alpha": encode(drawing((32, 24)).convert("P"), "PNG", transparency=0),
        "apng": encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=40),
        "webp-lossy": encode(picture, "WEBP", quality=70),
        "webp-lossless": encode(picture, "WEBP", lossless=True),
        "webp-animated": encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=40),
        "gif": encode(picture.convert("P"), "GIF"),
        "gif-animated": encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40, loop=0),
        "bmp": encode(drawing((24, 16)), "BMP"),
        "bmp-rle8": _bmp_rle8(),
        "avif": encode(picture, "AVIF", quality=60),
        "avif-animated": encode(frames[0], "AVIF", save_all=True, append_images=frames[1:], duration=40),
        "heic": _heic(picture),
    }


def _heic(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, format="HEIF", quality=60)
    return buffer.getvalue()


def _bmp_rle8() -> bytes:
    """A 16 x 8 palette BMP compressed with RLE8 (its own decoder path in Pillow)."""
    rows = b"".join(bytes([16, index * 30 % 256, 0, 0]) for index in range(8))  # one 16-pixel run, end of line
    palette = b"".join(bytes([value, value, 255 - value, 0]) for value in range(256))
    pixels = rows[:-2] + b"\x00\x01"  # the last end of line becomes end of bitmap
    header = struct.pack("<IiiHHIIiiII", 40, 16, 8, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    offset = 14 + len(header) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header + palette + pixels


def _size_offsets(data: bytes) -> list[tuple[int, str]]:
    """Where width/height (or frame-count) fields sit in `data`, as (offset, struct format) for every format."""
    found: list[tuple[int, str]] = []

    def every(marker: bytes, skip: int, fmt: str) -> None:
        start = data.find(marker)
        while start >= 0:
            found.append((start + skip, fmt))
            start = data.find(marker, start + 1)

    if data.startswith(b"\x89PNG"):
        found += [(16, ">I"), (20, ">I")]  # IHDR width, height
        every(b"acTL", 4, ">I")  # APNG frame count
        every(b"fcTL", 8, ">I")  # APNG frame width (and height just after)
        every(b"fcTL", 12, ">I")
    elif data.startswith(b"GIF"):
        found += [(6, "<H"), (8, "<H")]  # logical screen
        every(b"\x2c\x00\x00", 5, "<H")  # image descriptors: width, height
        every(b"\x2c\x00\x00", 7, "<H")
    elif data.startswith(b"BM"):
        found += [(18, "<i"), (22, "<i")]
    elif data.startswith(b"\xff\xd8"):
        for marker in (b"\xff\xc0", b"\xff\xc2"):
            every(marker, 5, ">H")  # SOF height
            every(marker, 7, ">H")  # SOF width
    elif data.startswith(b"RIFF"):
        every(b"VP8X", 12, "<H")  # canvas width - 1 (24-bit; the low 16 bits)
        every(b"VP8X", 15, "<H")
        every(b"VP8 ", 14, "<H")  # lossy frame width, height (14 bits + scale)
        every(b"VP8 ", 16, "<H")
        every(b"VP8L", 9, "<I")  # lossless: 14-bit width - 1, 14-bit height - 1
        every(b"ANMF", 14, "<H")  # frame width - 1
    else:
        every(b"ispe", 8, ">I")  # AVIF/HEIF image spatial extents: width, height
        every(b"ispe", 12, ">I")
    return [(offset, fmt) for offset, fmt in found if offset + struct.calcsize(fmt) <= len(data)]


def _truncate(data: bytearray, rng: random.Random) -> bytearray:
    return data[: rng.randrange(0, len(data))]


def _flip_bits(data: bytearray, rng: random.Random) -> bytearray:
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return data


def _overwrite_bytes(data: bytearray, rng: random.Random) -> bytearray:
    start = rng.randrange(len(data))
    for index in range(start, min(len(data), start + rng.randint(1, 4))):
        data[index] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF))
    return data


def _rewrite_size(data: bytearray, rng: random.Random) -> bytearray:
    offsets = _size_offsets(bytes(data))
    if not offsets:
        return _overwrite_bytes(data, rng)
    offset, fmt = rng.choice(offsets)
    bits = 8 * struct.calcsize(fmt)
    value = rng.choice(SIZES) if rng.random() < 0.8 else rng.getrandbits(bits)
    value &= (1 << bits) - 1
    if fmt.endswith("i"):
        value = value - (1 << 32) if value >= 1 << 31 else value
    data[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return data


def _duplicate_chunk(data: bytearray, rng: random.Random) -> bytearray:
    """Repeat a slice in place (a chunk, box, block or frame appears twice), sometimes many times."""
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randint(1, 512))
    return data[:end] + data[start:end] * rng.choice((1, 1, 2, 16)) + data[end:]


def _splice(data: bytearray, rng: random.Random) -> bytearray:
    """Move a slice elsewhere (reordered chunks/boxes)."""
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randint(1, 256))
    piece, rest = data[start:end], data[:start] + data[end:]
    at = rng.randrange(len(rest) + 1)
    return rest[:at] + piece + rest[at:]


MUTATIONS: dict[str, Callable[[bytearray, random.Random], bytearray]] = {
    "truncate": _truncate,
    "flip bits": _flip_bits,
    "overwrite bytes": _overwrite_bytes,
    "rewrite size": _rewrite_size,
    "duplicate chunk": _duplicate_chunk,
    "splice": _splice,
}


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, tuple[str, ...]]:
    """One to three seeded mutations of `data`; returns the result and the names of the mutations applied."""
    result = bytearray(data)
    applied = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        if not result:
            break
        name = rng.choice(list(MUTATIONS))
        result = MUTATIONS[name](result, rng)
        applied.append(name)
    return bytes(result), tuple(applied)


@dataclass
class FuzzReport:
    """What a run found: outcomes by kind, anything that escaped, the slowest cases and the peak memory."""

    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    escaped: list[dict[str, object]] = field(default_factory=list)
    slow: list[dict[str, object]] = field(default_factory=list)
    slowest_ms: float = 0.0
    mean_ms: float = 0.0
    baseline_rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    #: The case that raised the process's peak memory the most, and by how much.
    largest_growth: dict[str, object] = field(default_factory=dict)

    @property
    def growth_mb(self) -> float:
        """How far the peak memory rose above what the process held before the first case."""
        return self.peak_rss_mb - self.baseline_rss_mb

    def to_json(self) -> dict[str, object]:
        return {
            "cases": self.cases,
            "outcomes": dict(sorted(self.outcomes.items())),
            "escaped": self.escaped,
            "slow": self.slow,
            "slowest_ms": round(self.slowest_ms, 1),
            "mean_ms": round(self.mean_ms, 2),
            "baseline_rss_mb": round(self.baseline_rss_mb, 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "growth_mb": round(self.growth_mb, 1),
            "largest_growth": self.largest_growth,
        }


def _decode_case(data: bytes, limits: ImageLimits) -> str:
    """Decode as /classify does, then read frames as Moderate does; the outcome's name."""
    decoded = decode_image(data, limits)
    if decoded.animated:
        for _ in iter_frames(data, limits, FRAMES):
            pass
    return "decoded"


def run(cases: int, seed: int = 0, limits: ImageLimits = ImageLimits()) -> FuzzReport:
    """Run `cases` mutated files (case i mutates seed file i mod n with `random.Random(f"{seed}:{i}")`)."""
    files = seeds()
    names = sorted(files)
    report = FuzzReport(baseline_rss_mb=_peak_rss_mb())
    peak = report.baseline_rss_mb
    total_ms = 0.0
    for index in range(cases):
        name = names[index % len(names)]
        rng = random.Random(f"{seed}:{index}")
        data, applied = mutate(files[name], rng)
        started = time.perf_counter()
        try:
            outcome = _decode_case(data, limits)
        except InvalidImageError as error:
            outcome = type(error).__name__
        except Exception as error:
            outcome = "escaped"
            report.escaped.append(
                {
                    "case": index,
                    "seed_file": name,
                    "mutations": list(applied),
                    "error": f"{type(error).__name__}: {error}",
                }
            )
        milliseconds = 1000 * (time.perf_counter() - started)
        if milliseconds > 1000 * CASE_SECONDS:
            report.slow.append({"case": index, "seed_file": name, "mutations": list(applied), "ms": milliseconds})
        total_ms += milliseconds
        report.slowest_ms = max(report.slowest_ms, milliseconds)
        report.outcomes[outcome] += 1
        report.cases += 1
        if (now := _peak_rss_mb()) > peak:
            if now - peak > float(report.largest_growth.get("mb", 0.0)):  # type: ignore[arg-type]
                report.largest_growth = {"case": index, "seed_file": name, "mutations": list(applied), "mb": now - peak}
            peak = now
    report.mean_ms = total_ms / max(cases, 1)
    report.peak_rss_mb = peak
    return report


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=2000, help="mutated files to decode (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0); same seed, same files")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report = run(args.cases, args.seed)
    summary = {"seed": args.seed, "seconds": round(time.perf_counter() - started, 1), **report.to_json()}
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 1 if report.escaped or report.slow else 0


if __name__ == "__main__":
    sys.exit(main())
