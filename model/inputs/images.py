"""Safe decoding: allow-listed formats, limits checked before decoding, EXIF and modes -> the RGB a person sees."""

from __future__ import annotations

import io
import logging
import os
import re
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import AvifImagePlugin, Image, ImageFile, ImageOps, WebPImagePlugin  # noqa: F401  (WebP: registers it)
from pillow_heif.as_plugin import HeifImageFile, _is_supported_heif

from ..errors import CorruptImageError, EmptyFileError, ImageTooLargeError, InvalidImageError, UnsupportedFormatError

__all__ = [
    "ALLOWED_FORMATS",
    "ALLOWED_NAMES",
    "BACKGROUND",
    "DecodedImage",
    "ImageLimits",
    "decode_image",
    "frame_count",
    "iter_frames",
    "open_image",
    "read_upload",
    "to_rgb",
]

logger = logging.getLogger(__name__)

#: The formats Pillow may open; every other decoder (TIFF, EPS via Ghostscript, PDF, FITS, ...) is never reached.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "AVIF", "HEIF")
#: The allowed formats as a user names them, for messages.
ALLOWED_NAMES = "JPEG, PNG, WebP, GIF, BMP, AVIF or HEIC"
#: Transparent pixels are composited on white, as a browser shows them on a white page.
BACKGROUND = (255, 255, 255)
#: Below this many pixels on the short side the model sees mostly interpolation: the score gets a warning.
SMALL_SIDE = 32
# RuntimeError: how the AVIF and HEIF decoders (libavif, libheif) report a file they cannot decode.
_PILLOW_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    RuntimeError,
    struct.error,
    IndexError,
    TypeError,
    ZeroDivisionError,
)
#: How libheif words a refusal of its own size limits (about 1 gigapixel, far above ours).
_LIBHEIF_LIMIT = "Security limit exceeded"
#: Pillow's own decompression-bomb check: an error above twice its limit, a warning (an error under -W error) above.
_BOMBS = (Image.DecompressionBombError, Image.DecompressionBombWarning)

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
        try:
            data = path.read_bytes()
        except OSError as error:  # a folder, no permission, a file removed meanwhile
            raise EmptyFileError(f"The file could not be read ({error.strerror}). Upload it again.") from None
    if not data:
        raise EmptyFileError("The file is empty (0 bytes). Choose an image file and try again.")
    if len(data) > limits.max_file_bytes:
        raise ImageTooLargeError(_file_too_large(len(data), limits))
    return data


def _too_large(width: int, height: int, limit: int) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"Image too large: {width} x {height} = {_megapixels(width * height)} MP; "
        f"the limit is {_megapixels(limit)} MP. Resize it and try again."
    )


def _bomb_error(error: Exception, limits: ImageLimits) -> ImageTooLargeError:
    """Pillow's own decompression-bomb check fired (at open, seek or load): name the size it refused."""
    size: object = None
    trace = error.__traceback__
    while trace is not None:  # the size is the argument of Pillow's check, the innermost frame that has one
        if trace.tb_frame.f_code.co_name == "_decompression_bomb_check":
            size = trace.tb_frame.f_locals.get("size")
        trace = trace.tb_next
    # Pillow refuses outright above twice its own limit; name whichever limit is the lower one.
    limit = min(limits.max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or limits.max_pixels))
    if isinstance(size, tuple) and len(size) == 2:
        return _too_large(int(size[0]), int(size[1]), limit)
    claimed = re.search(r"\((\d+) pixels\)", str(error))
    pixels = f"{_megapixels(int(claimed.group(1)))} MP" if claimed else "more pixels than allowed"
    return ImageTooLargeError(
        f"Image too large: {pixels}; the limit is {_megapixels(limit)} MP. Resize it and try again."
    )


@contextmanager
def _decoding(what: str, limits: ImageLimits) -> Iterator[None]:
    """Turn what Pillow raises while reading a file into our errors: bombs (Pillow's own check, also when its
    warning is raised as an error) into `ImageTooLargeError` naming the size, the rest into `CorruptImageError`."""
    try:
        yield
    except _BOMBS as error:
        raise _bomb_error(error, limits) from None
    except RuntimeError as error:
        if _LIBHEIF_LIMIT in str(error):
            raise ImageTooLargeError(
                f"Image too large: the HEIF decoder refused it ({str(error).strip()}). Resize it and try again."
            ) from None
        raise CorruptImageError(
            f"The {what} file is truncated or corrupt ({error}). Re-export or re-upload the image."
        ) from None
    except _PILLOW_ERRORS as error:
        raise CorruptImageError(
            f"The {what} file is truncated or corrupt ({error}). Re-export or re-upload the image."
        ) from None


def _iso_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body start, body end) of each ISO base media box in data[start:end] (AVIF and HEIF files)."""
    position = start
    while position + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1 and position + 16 <= end:
            size, header = struct.unpack_from(">Q", data, position + 8)[0], 16
        elif size == 0:
            size = end - position
        if size < header:
            return
        yield kind, position + header, min(position + size, end)
        position += size


def _claimed_iso_sizes(data: bytes) -> Iterator[tuple[int, int]]:
    """Every image size (`ispe`) the `meta` box declares: the primary image, grid tiles, thumbnails, alpha.

    libheif may decode at a declared size other than the primary's (up to its own limit of about 1 gigapixel),
    so every one of them is held to the limits before any pixel is decoded.
    """
    for kind, body, end in _iso_boxes(data, 0, len(data)):
        if kind != b"meta":
            continue
        for inner, inner_body, inner_end in _iso_boxes(data, body + 4, end):  # meta is a full box: skip version
            if inner != b"iprp":
                continue
            for ipco, ipco_body, ipco_end in _iso_boxes(data, inner_body, inner_end):
                if ipco != b"ipco":
                    continue
                for prop, prop_body, prop_end in _iso_boxes(data, ipco_body, ipco_end):
                    if prop == b"ispe" and prop_end - prop_body >= 12:
                        yield struct.unpack_from(">II", data, prop_body + 4)


def _check_size(image: Image.Image, limits: ImageLimits) -> None:
    """The size the header (or, for a GIF, the frame reached) claims, against the limits; no pixel is decoded."""
    width, height = image.size
    if width <= 0 or height <= 0:
        raise CorruptImageError(f"The {image.format} image has no pixels ({width} x {height}). Upload another image.")
    _check_dimensions(width, height, limits)


def _check_dimensions(width: int, height: int, limits: ImageLimits) -> None:
    if width * height > limits.max_pixels:
        raise _too_large(width, height, limits.max_pixels)
    if max(width, height) > limits.max_side:
        raise ImageTooLargeError(
            f"Image too large: {width} x {height} px; the longest side may be at most {limits.max_side} px. "
            "Resize or crop it and try again."
        )


def _plugins() -> dict[str, tuple[Callable[..., ImageFile.ImageFile], Callable[[bytes], bool | str] | None]]:
    """The allowed formats' Pillow plugins (factory, accept), called directly: Pillow's registry is never used."""
    Image.preinit()
    plugins = {name: Image.OPEN[name] for name in ("JPEG", "PNG", "WEBP", "GIF", "BMP")}
    plugins["AVIF"] = (AvifImagePlugin.AvifImageFile, AvifImagePlugin._accept)
    plugins["HEIF"] = (HeifImageFile, lambda head: _is_supported_heif(io.BytesIO(head)))
    return plugins


def open_image(data: bytes, limits: ImageLimits = ImageLimits()) -> ImageFile.ImageFile:
    """Identify an allowed format and check the size its header claims, without decoding any pixel.

    Pillow's plugins are called directly so that only allow-listed decoders ever see the bytes, and so that the
    limits here (not Pillow's global decompression-bomb limit) decide, with a message that names the size. An
    ISO media file (AVIF, HEIC/HEIF) is tried with each plugin that accepts its brand, AVIF first.
    """
    if not data:
        raise EmptyFileError("The file is empty (0 bytes). Choose an image file and try again.")
    head = data[:4096]
    candidates = [(name, factory) for name, (factory, accept) in _plugins().items() if accept is None or accept(head)]
    if not candidates:
        what = _describe_unknown(head)
        raise UnsupportedFormatError(f"Unsupported file: this is {what}. Upload a {ALLOWED_NAMES} image.")
    first_error: InvalidImageError | None = None
    for name, factory in candidates:
        try:
            with _decoding(name, limits):
                image = factory(io.BytesIO(data), None)
        except CorruptImageError as error:
            first_error = first_error or error
            continue
        _check_size(image, limits)
        if name in {"AVIF", "HEIF"}:
            for width, height in _claimed_iso_sizes(data):
                _check_dimensions(width, height, limits)
        return image
    raise first_error or CorruptImageError("The image could not be opened. Re-export or re-upload it.")


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
    what = str(image.format)
    width, height = image.size
    with _decoding(what, limits):
        animated = bool(getattr(image, "is_animated", False))
        if draft_min_side and image.format == "JPEG" and min(width, height) >= 2 * draft_min_side:
            scale = min(width, height) / draft_min_side
            image.draft("RGB", (int(width / scale), int(height / scale)))
        image.load()
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
        format=what,
        width=shown_width,
        height=shown_height,
        animated=animated,
        notes=tuple(notes),
    )


def frame_count(image: ImageFile.ImageFile, limits: ImageLimits) -> int:
    """How many frames an opened image has (1 for a still); a GIF's count costs one pass over its data.

    Raises:
        InvalidImageError: the animation is corrupt, or Pillow's bomb check fired while counting.
    """
    with _decoding(f"{image.format} animation", limits):
        if not getattr(image, "is_animated", False):
            return 1
        return int(image.n_frames)


def iter_frames(data: bytes, limits: ImageLimits, max_frames: int) -> Iterator[tuple[int, Image.Image]]:
    """Yield up to `max_frames` frames of an animation, evenly spaced, as RGB images with their index.

    The size is checked again at every frame (a GIF frame may enlarge the canvas). A frame that cannot be read
    raises `InvalidImageError` when it is reached; the frames before it have been yielded.
    """
    image = open_image(data, limits)
    what = str(image.format)
    total = frame_count(image, limits)
    count = min(total, max_frames)
    indices = sorted({round(i * (total - 1) / max(count - 1, 1)) for i in range(count)})
    for index in indices:
        with _decoding(f"{what} frame {index} of the", limits):
            if index:
                image.seek(index)
        _check_size(image, limits)
        with _decoding(f"{what} frame {index} of the", limits):
            image.load()
            frame = to_rgb(image.copy())[0]
        yield index, frame
