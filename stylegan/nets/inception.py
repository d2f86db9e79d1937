"""InceptionV3 as used for FID and KID: the 2015-12-05 TensorFlow graph, 2048 pool features.

Layer names follow pytorch-fid (`Conv2d_1a_3x3.conv.weight`, `Mixed_5b.branch1x1.bn.running_mean`, ...)
so its `pt_inception-2015-12-05-6726825d.pth` loads directly; NVIDIA's TorchScript
`inception-2015-12-05.pt` holds the same weights under TensorFlow-style names and is mapped onto them.
This graph differs from torchvision's InceptionV3 in its pooling: the branch average pools leave the
zero padding out of the mean, and the last block max-pools. Input pixels are 0..255; they are resized
to 299x299 the way TensorFlow 1 did and scaled by (x - 128) / 128, as in the official metric code.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError
from .resize import resize_tf1

INPUT_SIZE = 299
FEATURES = 2048


class ConvBN(nn.Module):
    """Convolution without bias, batch normalisation with the stored statistics (no gamma in the
    original graph: it loads as ones), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn = self.bn
        x = F.batch_norm(self.conv(x), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
        return F.relu(x)


def _avg3(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class MixedA(nn.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = ConvBN(cin, 64, 1)
        self.branch5x5_1 = ConvBN(cin, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_avg3(x))], 1)


class MixedB(nn.Module):
    """35 -> 17 reduction block."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = ConvBN(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, stride=2)], 1)


class MixedC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (1x7 and 7x1)."""

    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = ConvBN(cin, 192, 1)
        self.branch7x7_1 = ConvBN(cin, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = ConvBN(cin, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d7 = x
        for i in range(1, 6):
            d7 = getattr(self, f"branch7x7dbl_{i}")(d7)
        return torch.cat([self.branch1x1(x), b7, d7, self.branch_pool(_avg3(x))], 1)


class MixedD(nn.Module):
    """17 -> 8 reduction block."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = ConvBN(cin, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(cin, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = x
        for i in range(1, 5):
            b7 = getattr(self, f"branch7x7x3_{i}")(b7)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)], 1)


class MixedE(nn.Module):
    """8x8 block with split 1x3/3x1 outputs; `pool` is 'avg' (first block) or 'max' (last block)."""

    def __init__(self, cin: int, pool: str):
        super().__init__()
        self.pool = pool
        self.branch1x1 = ConvBN(cin, 320, 1)
        self.branch3x3_1 = ConvBN(cin, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(cin, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3_1(x)
        b = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _avg3(x) if self.pool == "avg" else F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(a), self.branch3x3_2b(a),
                          self.branch3x3dbl_3a(b), self.branch3x3dbl_3b(b), self.branch_pool(pooled)], 1)

    def extra_repr(self) -> str:
        return f"pool={self.pool}"


class InceptionV3(nn.Module):
    """uint8-range images [N, 3, H, W] -> 2048 features [N, 2048] (the pool layer before the classifier)."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = MixedA(192, 32)
        self.Mixed_5c = MixedA(256, 64)
        self.Mixed_5d = MixedA(288, 64)
        self.Mixed_6a = MixedB(288)
        self.Mixed_6b = MixedC(768, 128)
        self.Mixed_6c = MixedC(768, 160)
        self.Mixed_6d = MixedC(768, 160)
        self.Mixed_6e = MixedC(768, 192)
        self.Mixed_7a = MixedD(768)
        self.Mixed_7b = MixedE(1280, "avg")
        self.Mixed_7c = MixedE(2048, "max")
        self.fingerprint = ""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = resize_tf1(images.to(torch.float32), INPUT_SIZE)
        x = (x - 128) / 128
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return x.mean(dim=[2, 3])


# NVIDIA's TorchScript graph names its blocks mixed, mixed_1, ... and the branches by TensorFlow scope
# (tower, tower_1, ...). Scopes are compared with '.' replaced by '_', so nested and flat spellings agree.
_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3", "conv_3": "Conv2d_3b_1x1",
         "conv_4": "Conv2d_4a_3x3"}
_BRANCHES = {
    "A": {"conv": "branch1x1", "tower_conv": "branch5x5_1", "tower_conv_1": "branch5x5_2",
          "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2", "tower_1_conv_2": "branch3x3dbl_3",
          "tower_2_conv": "branch_pool"},
    "B": {"conv": "branch3x3", "tower_conv": "branch3x3dbl_1", "tower_conv_1": "branch3x3dbl_2",
          "tower_conv_2": "branch3x3dbl_3"},
    "C": {"conv": "branch1x1", "tower_conv": "branch7x7_1", "tower_conv_1": "branch7x7_2", "tower_conv_2": "branch7x7_3",
          "tower_1_conv": "branch7x7dbl_1", "tower_1_conv_1": "branch7x7dbl_2", "tower_1_conv_2": "branch7x7dbl_3",
          "tower_1_conv_3": "branch7x7dbl_4", "tower_1_conv_4": "branch7x7dbl_5", "tower_2_conv": "branch_pool"},
    "D": {"tower_conv": "branch3x3_1", "tower_conv_1": "branch3x3_2", "tower_1_conv": "branch7x7x3_1",
          "tower_1_conv_1": "branch7x7x3_2", "tower_1_conv_2": "branch7x7x3_3", "tower_1_conv_3": "branch7x7x3_4"},
    "E": {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
          "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
          "tower_1_mixed_conv": "branch3x3dbl_3a", "tower_1_mixed_conv_1": "branch3x3dbl_3b",
          "tower_2_conv": "branch_pool"},
}
_MIXED = [("Mixed_5b", "A"), ("Mixed_5c", "A"), ("Mixed_5d", "A"), ("Mixed_6a", "B"), ("Mixed_6b", "C"),
          ("Mixed_6c", "C"), ("Mixed_6d", "C"), ("Mixed_6e", "C"), ("Mixed_7a", "D"), ("Mixed_7b", "E"),
          ("Mixed_7c", "E")]
_PARAMS = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}


def _nvidia_layer(scope: str) -> str | None:
    """Our layer name for a TorchScript conv scope such as 'mixed_9.tower_mixed_conv', or None."""
    block, _, rest = scope.partition(".")
    if block in _STEM and not rest:
        return _STEM[block]
    if block == "mixed" or block.startswith("mixed_"):
        index = 0 if block == "mixed" else int(block[6:]) if block[6:].isdigit() else -1
        if 0 <= index < len(_MIXED):
            name, kind = _MIXED[index]
            branch = _BRANCHES[kind].get(rest.replace(".", "_"))
            return f"{name}.{branch}" if branch else None
    return None


def from_nvidia_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the tensors of NVIDIA's TorchScript InceptionV3 (`layers.mixed_3.tower.conv_1.beta`, ...)."""
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        if not key.startswith("layers."):
            continue  # the classifier ("output") and any other top-level tensors are not used for features
        scope, _, param = key.removeprefix("layers.").rpartition(".")
        layer = _nvidia_layer(scope) if param in _PARAMS else None
        if layer is None:
            unknown.append(key)
            continue
        out[f"{layer}.{_PARAMS[param]}"] = value
        if param == "beta":
            out[f"{layer}.bn.weight"] = torch.ones_like(value)
    if unknown:
        raise CheckpointError(f"unexpected tensors in the TorchScript InceptionV3: {', '.join(unknown[:5])}")
    return out


def load_inception(state: dict[str, torch.Tensor], fingerprint: str = "") -> InceptionV3:
    """An InceptionV3 in eval mode with the weights of a pytorch-fid state dict or of NVIDIA's archive."""
    if "layers.conv.weight" in state:
        state = from_nvidia_names(state)
    state = {k: v for k, v in state.items() if not k.startswith("fc.") and not k.endswith("num_batches_tracked")}
    net = InceptionV3()
    expected = {k for k in net.state_dict() if not k.endswith("num_batches_tracked")}
    missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or extra:
        raise CheckpointError(f"not InceptionV3 (FID) weights: missing {missing[:3]}, unexpected {extra[:3]}")
    for key, value in state.items():
        if tuple(value.shape) != tuple(net.state_dict()[key].shape):
            raise CheckpointError(f"InceptionV3 weight {key} has shape {tuple(value.shape)}, "
                                  f"expected {tuple(net.state_dict()[key].shape)}")
    net.load_state_dict(state, strict=False)
    net.fingerprint = fingerprint
    return net.eval().requires_grad_(False)
