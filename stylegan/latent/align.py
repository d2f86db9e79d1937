"""Face alignment as FFHQ was made: a square crop placed by the eyes and the mouth, for projecting photos
into networks trained on FFHQ-style data.

From the eye centres and the mouth corners (`key_points`): eye_avg = the eyes' mean, eye_to_eye = right -
left, eye_to_mouth = the mouth corners' mean - eye_avg; x = eye_to_eye - flipud(eye_to_mouth) * (-1, 1),
normalised and scaled to max(2 |eye_to_eye|, 1.8 |eye_to_mouth|); y = flipud(x) * (-1, 1); centre c =
eye_avg + 0.1 eye_to_mouth; the quad is c - x - y, c - x + y, c + x + y, c + x - y (`face_quad`).

The photo is then cut as the dataset's procedure does (`crop_quad`): very large photos are first shrunk
(by the whole factor floor(quad size / output size / 2) when that exceeds 1), the photo is cropped to the
quad with a border of 10% of its size, and where the quad leaves the photo it is reflect-padded (at least
30% of the quad size on every side), the padding blurred (sigma 2% of the quad size) and blended toward the
median colour; the quad is resampled (bilinear) to 4x the output size, then resized to it with Lanczos.

`Framing` selects the alignment of FFHQ (the default) or the unaligned framing of FFHQ-U, on which
StyleGAN3 was trained: no rotation, the crop centre moved by a normal draw of 0.2 times the quad size
(drawn again, up to 1000 times, until the crop lies inside the photo) and no padding.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import PIL.Image
from scipy.ndimage import gaussian_filter

from ..errors import InputError

SHIFT_TRIES = 1000


class NoFaceError(InputError):
    """Nothing to align in a photo: no face found, no landmarks given for it, or no shifted crop that fits."""


@dataclass(frozen=True)
class Framing:
    """How the crop follows the face: `rotation` (turn it so that the eyes are level), `shift` (standard
    deviation of a random move of its centre, in units of its size; redrawn until the crop lies inside the
    photo) and `padding` (fill where the crop leaves the photo with blurred reflections; else black)."""
    rotation: bool = True
    shift: float = 0.0
    padding: bool = True


FFHQ = Framing()
UNALIGNED = Framing(rotation=False, shift=0.2, padding=False)


def key_points(landmarks: np.ndarray) -> np.ndarray:
    """Left eye, right eye, left and right mouth corner [4, 2] from 5 landmarks (eyes, nose, mouth corners)
    or dlib's 68 (the means of the eye contours 36-41 and 42-47, the outer mouth corners 48 and 54)."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape == (5, 2):
        return points[[0, 1, 3, 4]]
    if points.shape == (68, 2):
        return np.stack([points[36:42].mean(0), points[42:48].mean(0), points[48], points[54]])
    raise InputError(f"expected 5 or 68 landmarks [x, y], got an array of shape {points.shape}")


def face_quad(landmarks: np.ndarray, rotation: bool = True) -> np.ndarray:
    """The FFHQ crop quad [4, 2] (top-left, bottom-left, bottom-right, top-right corner, in pixels) of a face's
    5 or 68 landmarks; with rotation=False the quad keeps its centre and size but is upright."""
    eye_left, eye_right, mouth_left, mouth_right = key_points(landmarks)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = (mouth_left + mouth_right) / 2 - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    length = np.hypot(*x)
    scale = max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    if not np.isfinite(length) or length == 0 or scale == 0:
        raise InputError("these landmarks give no face: the eyes and the mouth coincide")
    x = x / length * scale if rotation else np.array([scale, 0.0])
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def shifted_quad(quad: np.ndarray, shift: float, width: int, height: int, rng: np.random.Generator,
                 tries: int = SHIFT_TRIES) -> np.ndarray | None:
    """The quad moved by a normal draw of `shift` times its size, drawn again until it lies inside a photo of
    width x height; None when no draw of `tries` does."""
    size = np.hypot(*(quad[3] - quad[0]))
    for _ in range(tries):
        moved = quad + rng.normal(0.0, 1.0, 2) * shift * size
        if moved.min() >= 0 and (moved[:, 0] <= width - 1).all() and (moved[:, 1] <= height - 1).all():
            return moved
    return None


def _blur_padded(image: PIL.Image.Image, pad: np.ndarray, qsize: float) -> PIL.Image.Image:
    """Reflect-pad by pad (left, top, right, bottom; each > 0), blur the padding and fade it to the median."""
    array = np.asarray(image, dtype=np.float32)
    array = array[:, :, None] if array.ndim == 2 else array
    array = np.pad(array, ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), mode="reflect")
    height, width = array.shape[:2]
    y, x = np.ogrid[:height, :width]
    outside = np.maximum(1 - np.minimum(x / pad[0], (width - 1 - x) / pad[2]),
                         1 - np.minimum(y / pad[1], (height - 1 - y) / pad[3])).astype(np.float32)[:, :, None]
    blur = qsize * 0.02
    array += (gaussian_filter(array, [blur, blur, 0]) - array) * np.clip(outside * 3 + 1, 0, 1)
    array += (np.median(array, axis=(0, 1)) - array) * np.clip(outside, 0, 1)
    array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    return PIL.Image.fromarray(array[:, :, 0] if image.mode == "L" else array, image.mode)


def crop_quad(image: PIL.Image.Image, quad: np.ndarray, size: int, padding: bool = True) -> PIL.Image.Image:
    """The quad [4, 2] of an RGB or L photo as a size x size image, by the dataset's procedure (see the module
    docstring); without `padding`, what lies outside the photo is black. A NoFaceError when the quad lies
    wholly outside the photo."""
    quad = np.asarray(quad, dtype=np.float64)
    qsize = np.hypot(*(quad[3] - quad[0]))
    shrink = int(np.floor(qsize / size * 0.5))
    if shrink > 1:
        small = (max(round(image.width / shrink), 1), max(round(image.height / shrink), 1))
        factor = np.array([small[0] / image.width, small[1] / image.height])
        image = image.resize(small, PIL.Image.LANCZOS)
        quad = (quad + 0.5) * factor - 0.5
        qsize = np.hypot(*(quad[3] - quad[0]))

    border = max(int(round(qsize * 0.1)), 3)
    low, high = np.floor(quad.min(0)).astype(int), np.ceil(quad.max(0)).astype(int)
    if (high <= 0).any() or low[0] >= image.width or low[1] >= image.height:
        raise NoFaceError("the face's crop lies wholly outside the photo")
    box = (max(low[0] - border, 0), max(low[1] - border, 0), min(high[0] + border, image.width),
           min(high[1] + border, image.height))
    if box[2] - box[0] < image.width or box[3] - box[1] < image.height:
        image = image.crop(box)
        quad = quad - box[:2]
        low, high = low - box[:2], high - box[:2]

    pad = np.maximum([border - low[0], border - low[1], high[0] - image.width + border,
                      high[1] - image.height + border], 0)
    if padding and pad.max() > border - 4:
        pad = np.maximum(pad, int(round(qsize * 0.3)))
        image = _blur_padded(image, pad, qsize)
        quad = quad + pad[:2]

    big = 4 * size
    image = image.transform((big, big), PIL.Image.QUAD, tuple((quad + 0.5).flatten()), PIL.Image.BILINEAR)
    return image.resize((size, size), PIL.Image.LANCZOS)


def face_rng(seed: int, name: str, index: int) -> np.random.Generator:
    """The random numbers of one face's crop: the same for the same seed, image name and face, in any order."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8")), index])


def align_face(image: PIL.Image.Image, landmarks: np.ndarray, size: int = 1024, framing: Framing = FFHQ,
               rng: np.random.Generator | None = None) -> PIL.Image.Image:
    """One face of a photo, aligned by its 5 or 68 landmarks and cut out at size x size with `framing`.
    With a random shift, `rng` draws it (default: seeded with 0); a NoFaceError when no shifted crop fits."""
    if size < 1:
        raise InputError(f"the output size must be at least 1 pixel, got {size}")
    quad = face_quad(landmarks, framing.rotation)
    if framing.shift > 0:
        quad = shifted_quad(quad, framing.shift, image.width, image.height, rng or np.random.default_rng(0))
        if quad is None:
            raise NoFaceError(f"no randomly shifted crop of this face lies inside the photo in {SHIFT_TRIES} tries")
    return crop_quad(image, quad, size, framing.padding)
