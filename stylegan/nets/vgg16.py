"""VGG16 for precision/recall features and for LPIPS distances (perceptual path length, projection).

Layer names are torchvision's (`features.0.weight` ... `classifier.3.bias`), so its
`vgg16-397923af.pth` loads directly; NVIDIA's TorchScript `vgg16.pt` stores the same layers as
`layers.conv1` ... `layers.fc3` plus the LPIPS heads `lpips0` ... `lpips4`, and is mapped onto them.
With torchvision's file the LPIPS heads come from the `lpips` package's `vgg.pth` (see weights.py).

Input pixels are 0..255, RGB. Both uses normalise with the ImageNet mean and deviation (the LPIPS
"scaling layer" is the same affine map written for [-1, 1] input).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError
from .resize import resize_tf1

INPUT_SIZE = 224
CONV_LAYERS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)   # indices in torchvision's `features`
LPIPS_TAPS = (3, 8, 15, 22, 29)                                  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
_WIDTHS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)


class VGG16(nn.Module):
    """VGG16 with the classifier up to fc2 and optional LPIPS heads (one weight per channel of each tap)."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width in _WIDTHS:
            if width == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
                channels = width
        self.features = nn.Sequential(*layers)
        # fc1 and fc2 keep torchvision's positions (classifier.0, classifier.3); fc3, the classes, is not needed.
        self.classifier = nn.Sequential(OrderedDict([("0", nn.Linear(512 * 7 * 7, 4096)), ("3", nn.Linear(4096, 4096))]))
        self.lpips = nn.ParameterList([nn.Parameter(torch.ones(c)) for c in LPIPS_CHANNELS])
        self.has_lpips = False
        self.fingerprint = ""
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def _normalize(self, images: torch.Tensor) -> torch.Tensor:
        return (images.to(torch.float32) - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The 4096 fc2 features after ReLU (the precision/recall embedding), from images resized to 224."""
        x = self.features(self._normalize(resize_tf1(images.to(torch.float32), INPUT_SIZE)))
        x = F.adaptive_avg_pool2d(x, (7, 7)).flatten(1)
        fc1, fc2 = self.classifier
        return F.relu(fc2(F.relu(fc1(x))))

    def lpips_features(self, images: torch.Tensor) -> torch.Tensor:
        """A vector per image whose squared distance between two images is their LPIPS distance.

        At each of the five taps the features are scaled to unit length over channels, weighted by the
        square root of the LPIPS head, divided by sqrt(H * W) (the spatial mean), and flattened.
        Images are used at their own size, as the PPL metric does.
        """
        if not self.has_lpips:
            raise CheckpointError("these VGG16 weights have no LPIPS heads: use NVIDIA's vgg16.pt, install the "
                                  "lpips package, or set STYLEGAN_LPIPS to its weights/v0.1/vgg.pth")
        x = self._normalize(images)
        out = []
        for i, layer in enumerate(self.features[:LPIPS_TAPS[-1] + 1]):
            x = layer(x)
            if i in LPIPS_TAPS:
                head = self.lpips[LPIPS_TAPS.index(i)]
                unit = x / (x.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
                scale = head.clamp(min=0).sqrt().view(1, -1, 1, 1) / (x.shape[2] * x.shape[3]) ** 0.5
                out.append((unit * scale).flatten(1))
        return torch.cat(out, dim=1)


def from_nvidia_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the tensors of NVIDIA's TorchScript VGG16 (`layers.conv1.weight`, `lpips0`, ...)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name, _, param = key.removeprefix("layers.").partition(".")
        if key.startswith("lpips") and key[5:].isdigit():
            out[f"lpips.{int(key[5:])}"] = value.flatten()
        elif name.startswith("conv") and name[4:].isdigit() and 1 <= int(name[4:]) <= len(CONV_LAYERS):
            out[f"features.{CONV_LAYERS[int(name[4:]) - 1]}.{param}"] = value
        elif name in ("fc1", "fc2"):
            out[f"classifier.{0 if name == 'fc1' else 3}.{param}"] = value
    return out


def lpips_heads(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The LPIPS heads of the `lpips` package's vgg.pth (`lin0.model.1.weight`, [1, C, 1, 1]) as lpips.i."""
    heads = {}
    for i in range(len(LPIPS_CHANNELS)):
        for key in (f"lin{i}.model.1.weight", f"lin{i}.model.0.weight"):
            if key in state:
                heads[f"lpips.{i}"] = state[key].flatten()
                break
    if len(heads) != len(LPIPS_CHANNELS):
        raise CheckpointError("not an LPIPS VGG heads file (expected lin0.model.1.weight ... lin4.model.1.weight)")
    return heads


def load_vgg16(state: dict[str, torch.Tensor], heads: dict[str, torch.Tensor] | None = None,
               fingerprint: str = "") -> VGG16:
    """A VGG16 in eval mode from torchvision's or NVIDIA's weights; `heads` adds LPIPS heads."""
    if "layers.conv1.weight" in state:
        state = from_nvidia_names(state)
    net = VGG16()
    wanted = {k: v for k, v in net.state_dict().items() if not k.startswith("lpips.")}
    state = {k: v for k, v in state.items() if k in wanted or k.startswith("lpips.")}
    state.update(heads or {})
    missing = sorted(set(wanted) - set(state))
    if missing:
        raise CheckpointError(f"not VGG16 weights: missing {', '.join(missing[:3])}")
    reference = net.state_dict()
    for key, value in state.items():
        if key not in reference or tuple(value.shape) != tuple(reference[key].shape):
            raise CheckpointError(f"VGG16 weight {key} has shape {tuple(value.shape)}, expected "
                                  f"{tuple(reference[key].shape) if key in reference else 'no such weight'}")
    net.load_state_dict(state, strict=False)
    net.has_lpips = all(f"lpips.{i}" in state for i in range(len(LPIPS_CHANNELS)))
    net.fingerprint = fingerprint
    return net.eval().requires_grad_(False)
