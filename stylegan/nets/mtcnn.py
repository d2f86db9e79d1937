"""The three networks of MTCNN (Zhang et al. 2016, "Joint Face Detection and Alignment using Multi-task Cascaded
Convolutional Networks"), with the weights that ship inside this package (`weights/mtcnn.safetensors`).

- P-Net, fully convolutional: for every 12x12 window (stride 2) a face probability and a box correction.
- R-Net, on 24x24 crops: a face probability and a box correction.
- O-Net, on 48x48 crops: a face probability, a box correction and five landmarks (the eye centres, the nose
  tip and the mouth corners, left to right as seen in the picture), x coordinates first, as fractions of the
  crop.

Inputs are RGB, (pixel - 127.5) / 128. The dense layers of the published weights read their input in
(width, height, channel) order, a legacy of the original Caffe models. The weight file holds the tensors of
the facenet-pytorch 2.6.0 wheel's `pnet.pt`, `rnet.pt` and `onet.pt` (MIT, see `weights/mtcnn-LICENSE.md`),
unchanged, under the prefixes `pnet.`, `rnet.` and `onet.`.
"""
from __future__ import annotations

import functools
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError

WEIGHTS = Path(__file__).parents[1] / "weights" / "mtcnn.safetensors"


def _conv(cin: int, cout: int, kernel: int, index: int) -> dict[str, nn.Module]:
    return {f"conv{index}": nn.Conv2d(cin, cout, kernel), f"prelu{index}": nn.PReLU(cout)}


def _flatten_width_first(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 2, 1).flatten(1)


class PNet(nn.Module):
    """Proposal network: [N, 3, H, W] -> box corrections [N, 4, h, w] and face probabilities [N, h, w]."""

    def __init__(self):
        super().__init__()
        for name, layer in {**_conv(3, 10, 3, 1), **_conv(10, 16, 3, 2), **_conv(16, 32, 3, 3)}.items():
            self.add_module(name, layer)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Box corrections and face probabilities of every 12x12 window."""
        x = nn.functional.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.conv4_1(x).softmax(dim=1)[:, 1]


class RNet(nn.Module):
    """Refinement network: [N, 3, 24, 24] -> box corrections [N, 4] and face probabilities [N]."""

    def __init__(self):
        super().__init__()
        for name, layer in {**_conv(3, 28, 3, 1), **_conv(28, 48, 3, 2), **_conv(48, 64, 2, 3)}.items():
            self.add_module(name, layer)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Box corrections and face probabilities of each crop."""
        pool = functools.partial(nn.functional.max_pool2d, kernel_size=3, stride=2, ceil_mode=True)
        x = pool(self.prelu2(self.conv2(pool(self.prelu1(self.conv1(x))))))
        x = self.prelu4(self.dense4(_flatten_width_first(self.prelu3(self.conv3(x)))))
        return self.dense5_2(x), self.dense5_1(x).softmax(dim=1)[:, 1]


class ONet(nn.Module):
    """Output network: [N, 3, 48, 48] -> box corrections [N, 4], landmarks [N, 10] (x0..x4, y0..y4, fractions
    of the crop) and face probabilities [N]."""

    def __init__(self):
        super().__init__()
        layers = {**_conv(3, 32, 3, 1), **_conv(32, 64, 3, 2), **_conv(64, 64, 3, 3), **_conv(64, 128, 2, 4)}
        for name, layer in layers.items():
            self.add_module(name, layer)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Box corrections, landmarks and face probabilities of each crop."""
        pool = functools.partial(nn.functional.max_pool2d, kernel_size=3, stride=2, ceil_mode=True)
        x = pool(self.prelu1(self.conv1(x)))
        x = pool(self.prelu2(self.conv2(x)))
        x = nn.functional.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu5(self.dense5(_flatten_width_first(self.prelu4(self.conv4(x)))))
        return self.dense6_2(x), self.dense6_3(x), self.dense6_1(x).softmax(dim=1)[:, 1]


class MTCNN(nn.Module):
    """The three networks together (`pnet`, `rnet`, `onet`), in eval mode without gradients."""

    def __init__(self):
        super().__init__()
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()


@functools.lru_cache(maxsize=1)
def load_mtcnn(path: str | Path = WEIGHTS) -> MTCNN:
    """MTCNN with the weights of `path` (default: the file shipped in the package), read as data."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: cannot read the face detector's weights ({exc}); reinstall the "
                              f"package") from None
    net = MTCNN()
    expected = net.state_dict()
    wrong = sorted(k for k in set(expected) | set(state)
                   if k not in state or k not in expected or state[k].shape != expected[k].shape)
    if wrong:
        raise CheckpointError(f"{path}: not the MTCNN weights (mismatched tensors: {', '.join(wrong[:3])})")
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)
