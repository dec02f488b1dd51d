"""Safe decoding: allow-listed formats, limits checked before decoding, EXIF and modes -> the RGB a person sees."""

from __future__ import annotations

import io
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, WebPImagePlugin  # noqa: F401  (registers the WebP plugin)

from .errors import CorruptImageError, EmptyFileError, ImageTooLargeError, UnsupportedFormatError

__all__ = [
    "ALLOWED_FORMATS",
    "BACKGROUND",
    "DecodedImage",
    "ImageLimits",
    "decode_image",
    "iter_frames",
    "open_image",
    "read_upload",
    "to_rgb",
]

logger = logging.getLogger(__name__)

#: The formats Pillow may open; every other decoder (TIFF, EPS via Ghostscript, PDF, FITS, ...) is never reached.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
_ALLOWED_NAMES = "JPEG, PNG, WebP, GIF or BMP"
#: Transparent pixels are composited on white, as a browser shows them on a white page.
BACKGROUND = (255, 255, 255)
#: Below this many pixels on the short side the model sees mostly interpolation: the score gets a warning.
SMALL_SIDE = 32
_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError, ZeroDivisionError)

# Known signatures of refused formats, checked first so the message can name what the file really is.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF", "a PDF document"),
    (0, b"%!PS", "a PostScript/EPS file"),
    (0, b"\xc5\xd0\xd3\xc6", "an EPS file"),
    (0, b"SIMPLE  =", "a FITS file"),
    (0, b"II*\x00", "a TIFF image"),
    (0, b"MM\x00*", "a TIFF image"),
    (0, b"II+\x00", "a TIFF image"),
    (0, b"8BPS", "a Photoshop (PSD) file"),
    (0, b"\x00\x00\x01\x00", "an ICO icon"),
    (0, b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (0, b"\xff\x4f\xff\x51", "a JPEG 2000 image"),
    (0, b"PK\x03\x04", "a ZIP archive (use the Batch tab for archives)"),
    (0, b"\x1f\x8b", "a gzip archive"),
    (0, b"Rar!", "a RAR archive"),
    (0, b"7z\xbc\xaf", "a 7-Zip archive"),
    (0, b"\x1aE\xdf\xa3", "a WebM/Matroska video"),
    (0, b"OggS", "an Ogg file"),
    (0, b"ID3", "an MP3 file"),
)
_HEIF_BRANDS = {
    b"heic": "a HEIC image",
    b"heix": "a HEIC image",
    b"hevc": "a HEIC image",
    b"heim": "a HEIC image",
    b"heis": "a HEIC image",
    b"mif1": "a HEIF image",
    b"msf1": "a HEIF image",
    b"avif": "an AVIF image",
    b"avis": "an AVIF image",
}


@dataclass(frozen=True)
class ImageLimits:
    """What the decoder accepts; the defaults match `model.config.Settings`."""

    max_pixels: int = 40_000_000
    max_side: int = 10_000
    max_file_bytes: int = 50 * 1024 * 1024


@dataclass(frozen=True)
class DecodedImage:
    """An upload turned into the RGB picture a person sees, with what was noticed on the way."""

    image: Image.Image
    format: str
    width: int
    height: int
    animated: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def _megapixels(pixels: int) -> str:
    value = pixels / 1e6
    text = f"{value:.1f}" if value >= 10 else f"{value:.2f}"
    return text.rstrip("0").rstrip(".")


def _file_too_large(size: int, limits: ImageLimits) -> str:
    def megabytes(count: int) -> str:
        text = f"{count / 2**20:.1f}"
        return text[:-2] if text.endswith(".0") else text

    return f"File too large: {megabytes(size)} MB; the limit is {megabytes(limits.max_file_bytes)} MB."


def _describe_unknown(head: bytes) -> str:
    for offset, magic, name in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return _HEIF_BRANDS[brand]
        return "an MP4/QuickTime video" if brand[:2] in {b"is", b"mp", b"qt", b"M4", b"av"} else "an ISO media file"
    if head[:4] == b"RIFF" and head[8:12] != b"WEBP":
        return "a RIFF file (AVI/WAV)"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in text[:2048] or (text.startswith(b"<?xml") and b"svg" in text[:2048]):
        return "an SVG drawing"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text[:512]:
        return "an HTML page"
    if text.startswith(b"<?xml"):
        return "an XML document"
    try:
        decoded = head[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "not an image this app can read"
    if all(ch.isprintable() or ch in "\r\n\t" for ch in decoded):
        return "a text file"
    return "not an image this app can read"


def read_upload(source: bytes | str | os.PathLike[str], limits: ImageLimits = ImageLimits()) -> bytes:
    """Read an upload into memory, refusing empty or oversized files before reading them."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise EmptyFileError(f"The file could not be read ({error.strerror}). Upload it again.") from None
        if size > limits.max_file_bytes:
            raise ImageTooLargeError(_file_too_large(size, limits))
        data = path.read_bytes()
    if not data:
        raise EmptyFileError("The file is empty (0 bytes). Choose an image file and try again.")
    if len(data) > limits.max_file_bytes:
        raise ImageTooLargeError(_file_too_large(len(data), limits))
    return data


def open_image(data: bytes, limits: ImageLimits = ImageLimits()) -> ImageFile.ImageFile:
    """Identify an allowed format and check the size its header claims, without decoding any pixel.

    Pillow's plugins are called directly so that only allow-listed decoders ever see the bytes, and so that the
    limits here (not Pillow's global decompression-bomb limit) decide, with a message that names the size.
    """
    if not data:
        raise EmptyFileError("The file is empty (0 bytes). Choose an image file and try again.")
    head = data[:4096]
    Image.preinit()
    image: ImageFile.ImageFile | None = None
    for name in ALLOWED_FORMATS:
        factory, accept = Image.OPEN[name]
        if accept is not None and not accept(head):
            continue
        try:
            image = factory(io.BytesIO(data), None)
        except _PILLOW_ERRORS as error:
            raise CorruptImageError(
                f"The {name} file is truncated or corrupt ({error}). Re-export or re-upload the image."
            ) from None
        break
    if image is None:
        what = _describe_unknown(head)
        raise UnsupportedFormatError(f"Unsupported file: this is {what}. Upload a {_ALLOWED_NAMES} image.")
    width, height = image.size
    if width <= 0 or height <= 0:
        raise CorruptImageError(f"The {image.format} image has no pixels ({width} x {height}). Upload another image.")
    pixels = width * height
    if pixels > limits.max_pixels:
        raise ImageTooLargeError(
            f"Image too large: {width} x {height} = {_megapixels(pixels)} MP; "
            f"the limit is {_megapixels(limits.max_pixels)} MP. Resize it and try again."
        )
    if max(width, height) > limits.max_side:
        raise ImageTooLargeError(
            f"Image too large: {width} x {height} px; the longest side may be at most {limits.max_side} px. "
            "Resize or crop it and try again."
        )
    return image


def _load(image: ImageFile.ImageFile) -> None:
    try:
        image.load()
    except _PILLOW_ERRORS as error:
        raise CorruptImageError(
            f"The {image.format} file is truncated or corrupt ({error}). Re-export or re-upload the image."
        ) from None


def _rescale_high_bit_depth(image: Image.Image) -> Image.Image:
    """16-bit (and 32-bit integer) grayscale -> 8-bit by scaling the full range, never by clipping."""
    array = np.asarray(image)
    if image.mode == "I":
        # PNG 16-bit grayscale may arrive as mode "I": values are 0..65535 unless the data says otherwise.
        top = 65535 if array.max(initial=0) <= 65535 else int(array.max())
        array = np.clip(array, 0, None)
    else:
        top = 65535
    scaled = np.rint(array.astype(np.float64) * (255.0 / top)).astype(np.uint8)
    return Image.fromarray(scaled, mode="L")


def to_rgb(image: Image.Image) -> tuple[Image.Image, tuple[str, ...]]:
    """Convert any decoded mode to RGB: transparency composited on `BACKGROUND`, 16-bit rescaled, CMYK/palette/gray
    converted. Returns the image and notes about anything a user should know."""
    notes: list[str] = []
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        return _rescale_high_bit_depth(image).convert("RGB"), ()
    has_alpha = mode in {"RGBA", "LA", "PA", "RGBa", "La"} or (
        mode in {"P", "L", "RGB"} and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        alpha = rgba.getchannel("A")
        if alpha.getextrema()[1] == 0:
            notes.append("The image is fully transparent: it was classified as a plain white picture.")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        background.alpha_composite(rgba)
        return background.convert("RGB"), tuple(notes)
    if mode == "RGB":
        return image, ()
    return image.convert("RGB"), ()


def _orient(image: Image.Image) -> tuple[Image.Image, tuple[str, ...]]:
    try:
        return ImageOps.exif_transpose(image), ()
    except (*_PILLOW_ERRORS, KeyError, AttributeError):
        return image, ("The EXIF orientation could not be read; the image was used as stored.",)


def decode_image(
    source: bytes | str | os.PathLike[str],
    limits: ImageLimits = ImageLimits(),
    *,
    draft_min_side: int | None = None,
) -> DecodedImage:
    """Decode an upload safely into the RGB image a person sees.

    Args:
        source: the file's bytes or its path.
        limits: byte and pixel limits, checked before any pixel is decoded.
        draft_min_side: if given, JPEGs may be decoded at 1/2, 1/4 or 1/8 scale (Pillow's draft mode), keeping
            the short side at least this long. `None` decodes every pixel (the exact path).

    Raises:
        InvalidImageError: one of its subclasses, with a message for the user.
    """
    data = read_upload(source, limits)
    image = open_image(data, limits)
    width, height = image.size
    animated = bool(getattr(image, "is_animated", False))
    if draft_min_side and image.format == "JPEG" and min(width, height) >= 2 * draft_min_side:
        scale = min(width, height) / draft_min_side
        image.draft("RGB", (int(width / scale), int(height / scale)))
    _load(image)
    oriented, orientation_notes = _orient(image)
    rgb, mode_notes = to_rgb(oriented)
    notes = list(orientation_notes + mode_notes)
    shown_width, shown_height = (height, width) if oriented.size != image.size else (width, height)
    if min(width, height) < SMALL_SIDE:
        notes.append(
            f"Very small image ({width} x {height} px): it is enlarged for the model, so the score is unreliable."
        )
    if animated:
        notes.append("Animated image: the first frame was classified.")
    return DecodedImage(
        image=rgb,
        format=str(image.format),
        width=shown_width,
        height=shown_height,
        animated=animated,
        notes=tuple(notes),
    )


def iter_frames(data: bytes, limits: ImageLimits, max_frames: int) -> Iterator[tuple[int, Image.Image]]:
    """Yield up to `max_frames` frames of an animation, evenly spaced, as RGB images with their index.

    The frame count is read only when the image is animated; a GIF's count costs one pass over its data, which
    is bounded by the byte limit.
    """
    image = open_image(data, limits)
    if not getattr(image, "is_animated", False):
        _load(image)
        yield 0, to_rgb(image)[0]
        return
    try:
        total = int(image.n_frames)
    except _PILLOW_ERRORS as error:
        raise CorruptImageError(f"The animation is corrupt ({error}). Re-export it and try again.") from None
    count = min(total, max_frames)
    indices = sorted({round(i * (total - 1) / max(count - 1, 1)) for i in range(count)})
    for index in indices:
        try:
            image.seek(index)
        except _PILLOW_ERRORS as error:
            raise CorruptImageError(f"Frame {index} of the animation is corrupt ({error}).") from None
        _load(image)
        yield index, to_rgb(image.copy())[0]
