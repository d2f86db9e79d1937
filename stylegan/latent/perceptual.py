"""Image distances for projection: pixel MSE, MS-SSIM, discriminator features (and VGG16/LPIPS when
their weights are present). Every loss takes images in [0, 255], shape [N, C, H, W], and returns one
value per sample."""
from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..nets import WeightsMissingError, load_vgg16_net

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def pixel_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error per sample, on images scaled to [0, 1]."""
    return ((a - b) / 255).square().flatten(1).mean(dim=1)


def _gaussian_window(size: int, sigma: float, channels: int, device, dtype) -> torch.Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-x.square() / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def _ssim_terms(a: torch.Tensor, b: torch.Tensor, window: torch.Tensor, data_range: float):
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    groups = a.shape[1]
    mu_a, mu_b = F.conv2d(a, window, groups=groups), F.conv2d(b, window, groups=groups)
    var_a = F.conv2d(a * a, window, groups=groups) - mu_a.square()
    var_b = F.conv2d(b * b, window, groups=groups) - mu_b.square()
    cov = F.conv2d(a * b, window, groups=groups) - mu_a * mu_b
    contrast_structure = (2 * cov + c2) / (var_a + var_b + c2)
    luminance = (2 * mu_a * mu_b + c1) / (mu_a.square() + mu_b.square() + c1)
    return (luminance * contrast_structure).flatten(1).mean(1), contrast_structure.flatten(1).mean(1)


def ms_ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 255.0, window_size: int = 11,
            sigma: float = 1.5, weights: Sequence[float] = MS_SSIM_WEIGHTS) -> torch.Tensor:
    """Multi-scale SSIM (Wang et al. 2003) per sample: Gaussian window 11 / sigma 1.5, five scales with the
    published weights; scales that would be smaller than the window are dropped (weights renormalised)."""
    window = _gaussian_window(window_size, sigma, a.shape[1], a.device, a.dtype)
    levels = max(1, min(len(weights), 1 + int(torch.tensor(min(a.shape[2:]) / window_size).log2().floor())))
    w = torch.tensor(weights[:levels], dtype=a.dtype, device=a.device)
    w = w / w.sum()
    values = []
    for level in range(levels):
        ssim, cs = _ssim_terms(a, b, window, data_range)
        values.append(ssim if level == levels - 1 else cs)
        if level < levels - 1:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    stacked = torch.stack(values, dim=1).clamp_min(1e-6)  # negative cs would make the power undefined
    return (stacked ** w).prod(dim=1)


def ms_ssim_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """1 - MS-SSIM per sample."""
    return 1 - ms_ssim(a, b)


class DiscriminatorFeatures(nn.Module):
    """Intermediate activations of a StyleGAN2/3 discriminator as a perceptual feature extractor; works
    offline for any checkpoint that holds `D`."""

    def __init__(self, D: nn.Module):
        super().__init__()
        self.D = D.eval().requires_grad_(False)

    def forward(self, img: torch.Tensor) -> list[torch.Tensor]:
        x, image, feats = None, img / 127.5 - 1, []
        for res in self.D.block_resolutions:
            x, image = getattr(self.D, f"b{res}")(x, image, force_fp32=True)
            feats.append(x)
        return feats


def feature_distance(extract: Callable[[torch.Tensor], list[torch.Tensor]], target: torch.Tensor,
                     normalize: bool = True) -> Callable[[torch.Tensor], torch.Tensor]:
    """A loss against `target` from a feature extractor: the sum over layers of the mean (per element, when
    `normalize`) or the sum of squared feature differences. The target's features are computed once."""
    with torch.no_grad():
        target_feats = [f.detach() for f in extract(target)]

    def loss(synth: torch.Tensor) -> torch.Tensor:
        total = 0
        for fs, ft in zip(extract(synth), target_feats):
            diff = (fs - ft).square().flatten(1)
            total = total + (diff.mean(1) if normalize else diff.sum(1))
        return total
    return loss


VGG_TAPS = {"conv1_1": 1, "conv1_2": 3, "conv2_1": 6, "conv2_2": 8, "conv3_1": 11, "conv3_2": 13, "conv3_3": 15,
            "conv4_1": 18, "conv4_2": 20, "conv4_3": 22, "conv5_1": 25, "conv5_2": 27, "conv5_3": 29}
IMAGE2STYLEGAN_LAYERS = ("conv1_1", "conv1_2", "conv3_2", "conv4_2")
PERCEPTUAL_SIZE = 256  # images larger than this are area-downsampled before VGG16, as the official projector does


def _to_perceptual_size(img: torch.Tensor) -> torch.Tensor:
    return F.interpolate(img, size=(PERCEPTUAL_SIZE,) * 2, mode="area") if img.shape[2] > PERCEPTUAL_SIZE else img


def _rgb(img: torch.Tensor) -> torch.Tensor:
    return img.expand(-1, 3, -1, -1) if img.shape[1] == 1 else img


class VGGFeatures(nn.Module):
    """VGG16 activations (after ReLU) at named layers, e.g. Image2StyleGAN's conv1_1, conv1_2, conv3_2, conv4_2."""

    def __init__(self, vgg: nn.Module, layers: Sequence[str] = IMAGE2STYLEGAN_LAYERS):
        super().__init__()
        unknown = [name for name in layers if name not in VGG_TAPS]
        if unknown:
            raise InputError(f"unknown VGG16 layers {unknown}; choose from {', '.join(VGG_TAPS)}")
        self.vgg, self.taps = vgg, sorted(VGG_TAPS[name] for name in layers)

    def forward(self, img: torch.Tensor) -> list[torch.Tensor]:
        x, feats = self.vgg._normalize(_rgb(_to_perceptual_size(img))), []
        for i, layer in enumerate(self.vgg.features[:self.taps[-1] + 1]):
            x = layer(x)
            if i in self.taps:
                feats.append(x)
        return feats


def lpips_distance(vgg: nn.Module, target: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """LPIPS(VGG) distance to `target` per sample, on images downsampled to 256² when larger."""
    with torch.no_grad():
        target_feats = vgg.lpips_features(_rgb(_to_perceptual_size(target)))
    return lambda synth: (vgg.lpips_features(_rgb(_to_perceptual_size(synth))) - target_feats).square().sum(dim=1)


PROJECTION_LOSSES = "the projection's LPIPS and VGG losses"


def choose_loss(spec: str, D: nn.Module | None = None, vgg: nn.Module | str | None = None,
                auto: str = "lpips") -> tuple[str, nn.Module | None]:
    """The loss spec that `spec` stands for and the VGG16 it needs (loaded when `vgg` is a weight file or
    None): 'auto' means `auto` when VGG16 weights are found, else pixel + MS-SSIM (+ discriminator features
    when D is given), with one warning. A folder of targets resolves it once, so it warns once."""
    spec = spec.lower().strip()
    needs_vgg = spec == "auto" or any(p.strip() in ("vgg", "lpips") for p in spec.split("+"))
    if not needs_vgg or isinstance(vgg, nn.Module):
        return (auto if spec == "auto" else spec), vgg
    try:
        vgg = load_vgg16_net(vgg, PROJECTION_LOSSES)
        if spec == "auto" and "lpips" in auto and not vgg.has_lpips:
            raise WeightsMissingError("the VGG16 weights have no LPIPS heads (install the lpips package or "
                                      "use NVIDIA's vgg16.pt)")
        return (auto if spec == "auto" else spec), vgg
    except WeightsMissingError as exc:
        if spec != "auto":
            raise
        fallback = "pixel+msssim" + ("+discriminator" if D is not None else "")
        warnings.warn(f"{exc}; projecting with the offline losses {fallback} instead", stacklevel=3)
        return fallback, None


def make_loss(spec: str, target: torch.Tensor, D: nn.Module | None = None, vgg: nn.Module | str | None = None,
              auto: str = "lpips", weights: dict[str, float] | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """The per-sample loss against `target` (images in [0, 255]) for a '+'-separated spec of 'pixel',
    'msssim', 'discriminator', 'vgg' (Image2StyleGAN layers, per-element means) and 'lpips'.

    'auto' means `auto` (e.g. 'lpips' or 'pixel+vgg') when VGG16 weights are found, else pixel + MS-SSIM
    (+ discriminator features when D is given), saying so once. `vgg` is a loaded VGG16, a weight file,
    or None to search $STYLEGAN_VGG16 and the torch hub cache.
    """
    weights = weights or {}
    spec, vgg = choose_loss(spec, D, vgg, auto)
    parts = []
    for name in (part.strip() for part in spec.split("+")):
        if name == "pixel":
            parts.append((name, lambda s: pixel_mse(s, target)))
        elif name == "msssim":
            parts.append((name, lambda s: ms_ssim_loss(s, target)))
        elif name == "discriminator":
            if D is None:
                raise InputError("the discriminator loss needs a checkpoint that holds D (this one has none)")
            parts.append((name, feature_distance(DiscriminatorFeatures(D), target)))
        elif name == "vgg":
            parts.append((name, feature_distance(VGGFeatures(vgg).to(target.device), target)))
        elif name == "lpips":
            parts.append((name, lpips_distance(vgg.to(target.device), target)))
        else:
            raise InputError(f"unknown loss {name!r}; choose from pixel, msssim, discriminator, vgg, lpips, auto")
    def loss(synth: torch.Tensor) -> torch.Tensor:
        return sum(weights.get(name, 1.0) * fn(synth) for name, fn in parts)

    loss.spec = "+".join(name for name, _ in parts)
    return loss


@torch.no_grad()
def lpips_between(vgg: nn.Module, a: np.ndarray, b: np.ndarray) -> float:
    """LPIPS(VGG) distance between two uint8 images [H, W, C]."""
    ta, tb = (torch.from_numpy(np.array(x)).permute(2, 0, 1)[None].float() for x in (a, b))
    return float(lpips_distance(vgg, tb)(ta)[0])
