"""Reading a participant's file without trusting it: a submitted mask, or the mask a command wrote.

A participant controls every byte of these files, so nothing is loaded before the cheap checks
have passed, each failing with one :class:`~lesionbench.errors.InputError` line naming the case,
the file and the problem (the case is then recorded ``failed``; other cases are not affected):

1. the path stays inside its folder: the pattern names no absolute path and no ``..``, and the
   file, once every symbolic link (of the file or of a folder on its way) is followed, is still
   inside the folder (:func:`inside_folder`);
2. it is a regular file (not a folder, FIFO or device) and its first bytes are a single-file
   NIfTI-1 (``n+1``) or NIfTI-2 (``n+2``) header, gzip-compressed or not; only the header is read
   (at most 540 bytes, inflated through a bounded reader);
3. the header declares a 3-D image (trailing dimensions of length 1 allowed) of positive
   dimensions and a plain integer or float voxel type, and dimensions x bytes per voxel stay
   below ``max_image_mb`` (a header declaring 10^12 voxels fails here, nothing allocated);
4. with a reference grid (the case's raw FLAIR), the header's shape and affine are on it;
5. a gzip stream is inflated in 1 MiB steps, counting, and refused as soon as it passes
   ``max_inflated_mb`` or the size its header declares (plus :data:`INFLATE_SLACK_BYTES`): a few
   MB of gzip that would inflate to gigabytes costs a few MB of memory and stops early;
6. only then is the image loaded (:func:`lesionbench.io.load_volume`: NaN and infinite voxels
   are refused); the value checks (binary, or probabilities in [0, 1]) are the caller's
   (:func:`lesionbench.methods.participants.check_result_volume`).
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import string
import zlib
from pathlib import Path, PurePosixPath

import nibabel as nib
import numpy as np

from ..errors import (
    DimensionError,
    MissingFileError,
    OversizeImageError,
    PathEscapeError,
    UnreadableImageError,
)
from ..io import AFFINE_TOLERANCE_MM, Volume, check_same_grid, load_volume

#: Default cap on the uncompressed image a header may declare, and on a gzip stream's inflated size (MB).
DEFAULT_MAX_IMAGE_MB = 2048
DEFAULT_MAX_INFLATED_MB = 2048
#: How far past ``vox_offset + dimensions x bytes per voxel`` a gzip stream may inflate (trailing bytes).
INFLATE_SLACK_BYTES = 1 << 20
_CHUNK = 1 << 20
_MB = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
#: Voxel types accepted: numpy kinds bool, signed and unsigned integers, floats up to 8 bytes.
_KINDS = "biuf"


def check_pattern(pattern: str, *, case: str | None = None, folder: str | Path | None = None) -> None:
    """A submission pattern is a relative file name under its folder with ``{case}`` as its only
    placeholder: no absolute path, no ``..``, no other field, format or conversion. The error
    names ``folder``/``pattern`` as its file, unformatted."""
    path = None if folder is None else f"{folder}/{pattern}"
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(pattern) if name is not None]
    except ValueError as exc:
        raise PathEscapeError(
            f"submission pattern {pattern!r} is not a valid template ({exc})", case=case, path=path
        ) from None
    if any(name != "case" or spec or conv for name, spec, conv in fields):
        raise PathEscapeError(
            f"submission pattern {pattern!r} may only hold the placeholder {{case}}", case=case, path=path
        )
    if PurePosixPath(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts or "\\" in pattern:
        raise PathEscapeError(
            f"submission pattern {pattern!r} leaves its folder (absolute or ..)", case=case, path=path
        )


def inside_folder(path: str | Path, folder: str | Path, *, case: str | None = None) -> Path:
    """``path`` after following every symbolic link, when that stays inside ``folder`` (itself
    resolved); a :class:`PathEscapeError` otherwise, naming ``path`` (never where it points)."""
    try:
        lexical = Path(os.path.normpath(os.path.abspath(path)))
        if not lexical.is_relative_to(os.path.normpath(os.path.abspath(folder))):
            raise PathEscapeError(f"the file name leaves the folder {folder}", case=case, path=path)
        real = Path(os.path.realpath(lexical))
        root = Path(os.path.realpath(folder))
    except (OSError, ValueError) as exc:
        raise PathEscapeError(f"the path cannot be resolved ({type(exc).__name__})", case=case, path=path) from None
    if not real.is_relative_to(root):
        raise PathEscapeError(
            f"is a symbolic link (or lies under one) that leads outside the folder {folder}", case=case, path=path
        )
    return real


def _regular_file(path: Path, case: str | None) -> int:
    """The file's size; a :class:`MissingFileError` unless it is a regular file."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise MissingFileError(f"cannot be opened ({exc.strerror})", case=case, path=path) from None
    if not stat.S_ISREG(info.st_mode):
        raise MissingFileError("is not a regular file", case=case, path=path)
    return info.st_size


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def _read_prefix(path: Path, n: int, *, gz: bool, case: str | None) -> bytes:
    """The first ``n`` bytes of the (inflated) file: reading them inflates little more than ``n``."""
    try:
        if gz:
            with gzip.open(path, "rb") as stream:
                return stream.read(n)
        with open(path, "rb") as handle:
            return handle.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableImageError(
            f"is not a readable gzip stream ({type(exc).__name__}: {exc})", case=case, path=path
        ) from None


def read_header(path: Path, *, case: str | None = None) -> tuple[nib.Nifti1Header, bool]:
    """The NIfTI header of ``path`` (NIfTI-1 or -2, gzip or not) from its first bytes, and
    whether the file is gzip-compressed. Anything else is an :class:`UnreadableImageError`."""
    gz = _is_gzip(path)
    prefix = _read_prefix(path, 540, gz=gz, case=case)
    header_class: type[nib.Nifti1Header]
    if len(prefix) >= 348 and prefix[344:348] in (b"n+1\x00", b"ni1\x00"):
        if prefix[344:347] == b"ni1":
            raise UnreadableImageError(
                "is the header of a NIfTI-1 .hdr/.img pair (magic ni1); submit one .nii or .nii.gz file",
                case=case,
                path=path,
            )
        header_class, size = nib.Nifti1Header, 348
    elif len(prefix) >= 540 and prefix[4:8] == b"n+2\x00":
        header_class, size = nib.Nifti2Header, 540
    else:
        what = "a gzip stream" if gz else "a file"
        raise UnreadableImageError(
            f"is {what} without a NIfTI-1/NIfTI-2 header (no n+1 or n+2 magic); a .nii or .nii.gz mask is required",
            case=case,
            path=path,
        )
    try:
        header = header_class.from_fileobj(io.BytesIO(prefix[:size]), check=True)
    except Exception as exc:  # nibabel raises several types for a malformed header
        raise UnreadableImageError(
            f"has a malformed NIfTI header ({type(exc).__name__}: {exc})", case=case, path=path
        ) from None
    return header, gz


def declared_image(
    header: nib.Nifti1Header, *, path: Path, case: str | None, max_image_mb: float
) -> tuple[tuple[int, int, int], int]:
    """The 3-D shape the header declares and the bytes its data takes (``vox_offset`` + data),
    refusing bad dimensions, unsupported voxel types and images above ``max_image_mb``."""
    dims = [int(d) for d in header["dim"]]
    ndim = dims[0]
    if not 1 <= ndim <= 7:
        raise DimensionError(f"header declares {ndim} dimensions (dim[0] must be 1 to 7)", case=case, path=path)
    shape = dims[1 : ndim + 1]
    if any(d <= 0 for d in shape):
        raise DimensionError(f"header declares a non-positive dimension in {tuple(shape)}", case=case, path=path)
    if len(shape) < 3 or any(d != 1 for d in shape[3:]):
        raise DimensionError(f"header declares shape {tuple(shape)}; a 3-D volume is required", case=case, path=path)
    try:
        dtype = np.dtype(header.get_data_dtype())
    except Exception as exc:  # an unknown datatype code
        raise UnreadableImageError(f"header declares an unknown voxel type ({exc})", case=case, path=path) from None
    if dtype.kind not in _KINDS or dtype.fields is not None or dtype.itemsize > 8:
        raise UnreadableImageError(
            f"header declares voxel type {dtype}; a mask must be integer or float (at most 8 bytes per voxel)",
            case=case,
            path=path,
        )
    n_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize  # Python ints: no overflow
    if n_bytes > max_image_mb * _MB:
        raise OversizeImageError(
            f"header declares {tuple(shape)} voxels of {dtype} = {n_bytes / _MB:.6g} MB, over the "
            f"participants.max_image_mb cap of {max_image_mb:g} MB (nothing was loaded)",
            case=case,
            path=path,
        )
    offset = max(int(header.get_data_offset()), header.sizeof_hdr)
    if offset + n_bytes > max_image_mb * _MB:
        raise OversizeImageError(
            f"header puts the voxels at byte offset {offset}, past the participants.max_image_mb cap of "
            f"{max_image_mb:g} MB (nothing was loaded)",
            case=case,
            path=path,
        )
    return (shape[0], shape[1], shape[2]), offset + n_bytes


def check_inflation(path: Path, *, case: str | None, declared_bytes: int, max_inflated_mb: float) -> int:
    """Inflate the gzip stream in 1 MiB steps, counting, and stop past ``max_inflated_mb`` or past
    ``declared_bytes`` + :data:`INFLATE_SLACK_BYTES`; returns the inflated size."""
    cap = max_inflated_mb * _MB
    total = 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if total > cap:
                    raise OversizeImageError(
                        f"gzip stream inflates past the participants.max_inflated_mb cap of {max_inflated_mb:g} MB "
                        "(stopped there)",
                        case=case,
                        path=path,
                    )
                if total > declared_bytes + INFLATE_SLACK_BYTES:
                    raise OversizeImageError(
                        f"gzip stream inflates past the {declared_bytes} bytes its NIfTI header declares "
                        f"(stopped at {total / _MB:.6g} MB)",
                        case=case,
                        path=path,
                    )
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableImageError(
            f"gzip stream is corrupt or truncated ({type(exc).__name__}: {exc})", case=case, path=path
        ) from None
    return total


def load_untrusted_volume(
    path: str | Path,
    *,
    folder: str | Path,
    case: str | None = None,
    reference: Volume | None = None,
    max_image_mb: float = DEFAULT_MAX_IMAGE_MB,
    max_inflated_mb: float = DEFAULT_MAX_INFLATED_MB,
    atol_mm: float = AFFINE_TOLERANCE_MM,
) -> Volume:
    """Check ``path`` (a participant's file inside ``folder``) in the order of the module
    docstring, then load it as float64; with ``reference`` its grid must be the reference's,
    checked from the header before any voxel is read."""
    shown = Path(path)
    inside_folder(shown, folder, case=case)
    size = _regular_file(shown, case)
    if size == 0:
        raise UnreadableImageError("is empty", case=case, path=shown)
    header, gz = read_header(shown, case=case)
    shape, declared_bytes = declared_image(header, path=shown, case=case, max_image_mb=max_image_mb)
    if reference is not None:
        # a zero-strided stand-in carries the declared shape without allocating it
        stand_in = Volume(np.broadcast_to(np.uint8(0), shape), np.asarray(header.get_best_affine()), str(shown))
        check_same_grid(stand_in, reference, what="result is not on the case's FLAIR grid", case=case, atol_mm=atol_mm)
    if gz:
        check_inflation(shown, case=case, declared_bytes=declared_bytes, max_inflated_mb=max_inflated_mb)
    elif size > max_inflated_mb * _MB or size > declared_bytes + INFLATE_SLACK_BYTES:
        raise OversizeImageError(
            f"file holds {size} bytes, more than its header declares ({declared_bytes}) or the cap",
            case=case,
            path=shown,
        )
    return load_volume(shown, case=case, dtype=np.float64)
