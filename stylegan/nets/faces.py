"""Face detection with five landmarks: the MTCNN cascade (Zhang et al. 2016) over an image pyramid.

1. P-Net scores every 12x12 window of each pyramid level (the photo scaled by 12 / min_face, then by 0.709
   per level down to 12 pixels); windows above the first threshold become boxes in the photo, corrected by
   the network's offsets after a non-maximum suppression per level and one over all levels.
2. The boxes, made square, are cut out at 24x24 for R-Net, which rescores and corrects them.
3. Once more at 48x48 for O-Net, which adds the landmarks; the final suppression compares each overlap
   with the smaller box, so that a box inside another is dropped.

Coordinates are pixel indices: (0, 0) is the centre of the top-left pixel; boxes are [x0, y0, x1, y1) with
x0, y0 the first pixel inside.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .mtcnn import MTCNN, load_mtcnn

THRESHOLDS = (0.6, 0.7, 0.7)  # the published face probability thresholds of P-Net, R-Net, O-Net
PYRAMID_FACTOR = 0.709
MAX_SIDE = 1024  # photos are searched at most this large (longer side); landmarks are given in the photo


@dataclass
class Face:
    """One detected face: its box [x0, y0, x1, y1], the O-Net probability, and five landmarks [5, 2] (x, y):
    left eye, right eye, nose, left and right mouth corner, left and right as seen in the picture."""
    box: np.ndarray
    score: float
    landmarks: np.ndarray

    @property
    def area(self) -> float:
        """The area of the box, in pixels."""
        return float((self.box[2] - self.box[0]) * (self.box[3] - self.box[1]))


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, smaller: bool = False) -> np.ndarray:
    """Greedy non-maximum suppression: the indices of the boxes [N, 4] kept, best score first. A box is dropped
    when its overlap with a kept, better box exceeds `threshold`; the overlap is the intersection over the
    union, or over the smaller of the two boxes with `smaller`."""
    order = np.argsort(-scores, kind="stable")
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        width = np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0])
        height = np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1])
        inter = np.clip(width, 0, None) * np.clip(height, 0, None)
        base = np.minimum(area[best], area[rest]) if smaller else area[best] + area[rest] - inter
        order = rest[inter <= threshold * np.maximum(base, 1e-12)]
    return np.asarray(keep, dtype=np.int64)


def _corrected(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Boxes moved by the networks' corrections, which are fractions of the box's width and height."""
    size = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, axis=1)
    return boxes + offsets * size


def _squared(boxes: np.ndarray) -> np.ndarray:
    """Square boxes of the longer side, on the same centres, snapped to whole pixels."""
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    x0 = np.round((boxes[:, 0] + boxes[:, 2] - side) / 2)
    y0 = np.round((boxes[:, 1] + boxes[:, 3] - side) / 2)
    side = np.maximum(np.round(side), 1)
    return np.stack([x0, y0, x0 + side, y0 + side], axis=1)


def _crops(image: torch.Tensor, boxes: np.ndarray, size: int) -> torch.Tensor:
    """The square boxes cut out of `image` [3, H, W] (zero outside it) and resized to size x size."""
    _, height, width = image.shape
    out = []
    for x0, y0, x1, y1 in boxes.astype(np.int64):
        crop = image.new_zeros(3, y1 - y0, x1 - x0)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if sx1 > sx0 and sy1 > sy0:
            crop[:, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[:, sy0:sy1, sx0:sx1]
        out.append(F.interpolate(crop[None], size=(size, size), mode="bilinear", antialias=True,
                                 align_corners=False))
    return torch.cat(out)


def _proposals(net: MTCNN, image: torch.Tensor, min_face: float) -> tuple[np.ndarray, np.ndarray]:
    """Stage 1: boxes [N, 4] and scores [N] from P-Net over the pyramid."""
    _, height, width = image.shape
    scale = 12.0 / min_face
    boxes, scores = [], []
    while min(height, width) * scale >= 12:
        h, w = max(math.ceil(height * scale), 12), max(math.ceil(width * scale), 12)
        level = F.interpolate(image[None], size=(h, w), mode="bilinear", antialias=True, align_corners=False)
        offsets, probability = net.pnet(level)
        rows, cols = torch.nonzero(probability[0] >= THRESHOLDS[0], as_tuple=True)
        if len(rows):
            sx, sy = w / width, h / height
            found = np.stack([2 * cols / sx, 2 * rows / sy, (2 * cols + 12) / sx, (2 * rows + 12) / sy], 1)
            found_scores = probability[0, rows, cols].numpy()
            found_offsets = offsets[0, :, rows, cols].T.numpy()
            keep = nms(found, found_scores, 0.5)
            boxes.append(_corrected(found[keep], found_offsets[keep]))
            scores.append(found_scores[keep])
        scale *= PYRAMID_FACTOR
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0)
    boxes, scores = np.concatenate(boxes), np.concatenate(scores)
    keep = nms(boxes, scores, 0.7)
    return boxes[keep], scores[keep]


@torch.no_grad()
def detect_faces(image: np.ndarray, min_face: float = 20.0, net: MTCNN | None = None) -> list[Face]:
    """The faces in an RGB uint8 image [H, W, 3] with their landmarks, largest box first. Faces smaller than
    `min_face` pixels (in the photo shrunk to `MAX_SIDE`, when it is larger) are not looked for."""
    net = net or load_mtcnn()
    photo = torch.tensor(np.asarray(image, dtype=np.uint8)).permute(2, 0, 1).float()
    shrink = max(photo.shape[1:]) / MAX_SIDE
    if shrink > 1:
        size = (round(photo.shape[1] / shrink), round(photo.shape[2] / shrink))
        photo = F.interpolate(photo[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
        shrink = np.array([image.shape[1] / size[1], image.shape[0] / size[0]])
    else:
        shrink = np.ones(2)
    photo = (photo - 127.5) / 128.0
    boxes, _ = _proposals(net, photo, min_face)
    if len(boxes):
        boxes = _squared(boxes)
        offsets, scores = net.rnet(_crops(photo, boxes, 24))
        passed = (scores > THRESHOLDS[1]).numpy()
        boxes, scores, offsets = boxes[passed], scores.numpy()[passed], offsets.numpy()[passed]
        keep = nms(boxes, scores, 0.7)
        boxes = _squared(_corrected(boxes[keep], offsets[keep]))
    if not len(boxes):
        return []
    offsets, points, scores = net.onet(_crops(photo, boxes, 48))
    passed = (scores > THRESHOLDS[2]).numpy()
    boxes, offsets, points, scores = boxes[passed], offsets.numpy()[passed], points.numpy()[passed], \
        scores.numpy()[passed]
    size = boxes[:, 2:] - boxes[:, :2]
    landmarks = boxes[:, None, :2] + np.stack([points[:, :5], points[:, 5:]], axis=2) * size[:, None]
    boxes = _corrected(boxes, offsets)
    keep = nms(boxes, scores, 0.7, smaller=True)
    faces = [Face(boxes[i] * np.tile(shrink, 2), float(scores[i]), (landmarks[i] + 0.5) * shrink - 0.5) for i in keep]
    return sorted(faces, key=lambda face: -face.area)
