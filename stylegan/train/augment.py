"""ADA: the differentiable augmentation pipeline of "Training Generative Adversarial Networks with Limited
Data" (Karras et al. 2020) and the controller that adapts its strength `p` while training.

`AugmentPipe` has the official constructor options, presets and state (`p`, `Hz_geom`, `Hz_fbank`), and
draws its random numbers in the official order, so that for the same seed and input it returns what the
official pipeline returns (to float32 rounding). Samples that no augmentation touched come back bit for
bit, so `p = 0` is exactly the identity. Images are float [N, C, H, W]; every stage is differentiable.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..ops import downsample2d, setup_filter, upsample2d

# Low-pass taps of the Symlet-6 wavelet: the orthogonal filter used for 2x resampling around the warp.
SYM6 = [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148]

# Low-pass taps of the Symlet-2 (= Daubechies-2) wavelet, the basis of the band filters: the published
# values the official buffers were made from, which differ from the closed form
# (1 - sqrt(3), 3 - sqrt(3), 3 + sqrt(3), 1 + sqrt(3)) / (4 sqrt(2)) by about 3e-13.
SYM2 = [-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025]

# The augmentation groups of the official train.py (`--augpipe`); 'bgc' is its default.
_BLIT = dict(xflip=1, rotate90=1, xint=1)
_GEOM = dict(scale=1, rotate=1, aniso=1, xfrac=1)
_COLOR = dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
PRESETS: dict[str, dict[str, float]] = {
    "blit": _BLIT, "geom": _GEOM, "color": _COLOR,
    "filter": dict(imgfilter=1), "noise": dict(noise=1), "cutout": dict(cutout=1),
    "bg": {**_BLIT, **_GEOM},
    "bgc": {**_BLIT, **_GEOM, **_COLOR},
    "bgcf": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1},
    "bgcfn": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1},
    "bgcfnc": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1, "cutout": 1},
}

# Relative power of the four bands of the image-space filter bank, lowest first (a 1/f spectrum).
_BAND_POWER = [10 / 13, 1 / 13, 1 / 13, 1 / 13]


def band_filters(lowpass=SYM2, num_bands: int = 4) -> np.ndarray:
    """Zero-phase FIR filters [num_bands, taps] that split an image into octave bands, lowest first.

    Built à trous from the wavelet's power-complementary pair |H(z)|²/2 and |H(-z)|²/2: at each level the
    existing bands are dilated by 2 and low-passed, and the new, finer band gets the high-pass. The rows
    sum to a unit impulse, so unit gains leave an image unchanged.
    """
    lo = np.asarray(lowpass, dtype=np.float64)
    hi = lo * (-1.0) ** np.arange(lo.size)
    lo2, hi2 = np.convolve(lo, lo[::-1]) / 2, np.convolve(hi, hi[::-1]) / 2
    bank = np.zeros([num_bands, 1])
    bank[0, 0] = 1
    for band in range(1, num_bands):
        dilated = np.zeros([num_bands, bank.shape[1] * 2 - 1])
        dilated[:, ::2] = bank
        bank = np.stack([np.convolve(row, lo2) for row in dilated])
        start = (bank.shape[1] - hi2.size) // 2
        bank[band, start:start + hi2.size] += hi2
    return bank


def _matrices(rows: list[list], n: int, device: torch.device) -> torch.Tensor:
    """Stack per-sample matrices [n, R, C] from rows of entries, each a number or a [n] tensor."""
    def column(e):
        return e.reshape(n).to(torch.float32) if isinstance(e, torch.Tensor) else \
            torch.full([n], float(e), device=device)
    return torch.stack([torch.stack([column(e) for e in row], dim=-1) for row in rows], dim=-2)


def _translate2d(tx, ty, n, device):
    return _matrices([[1, 0, tx], [0, 1, ty], [0, 0, 1]], n, device)


def _scale2d(sx, sy, n, device):
    return _matrices([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], n, device)


def _rotate2d(theta, n, device):
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrices([[c, -s, 0], [s, c, 0], [0, 0, 1]], n, device)


def _reflect_indices(size: int, before: int, after: int, device: torch.device) -> torch.Tensor:
    """Source indices of a mirror padding (edge pixel not repeated), reflecting as often as needed."""
    i = torch.arange(-before, size + after, device=device)
    if size == 1:
        return torch.zeros_like(i)
    period = 2 * (size - 1)
    i = i.remainder(period)
    return torch.where(i < size, i, period - i)


def _reflect_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Mirror-pad the last two dims by `pad`, for any image size (F.pad's reflect needs pad < size)."""
    x = x.index_select(3, _reflect_indices(x.shape[3], pad, pad, x.device))
    return x.index_select(2, _reflect_indices(x.shape[2], pad, pad, x.device))


class AugmentPipe(torch.nn.Module):
    """The ADA augmentations, each applied to a sample with probability (its multiplier) × `p`.

    Groups, in the order applied: pixel blitting (xflip, rotate90, xint), general geometry (scale,
    rotate, aniso, xfrac; done by reflect padding, 2x Symlet-6 upsampling, a bilinear warp and 2x
    downsampling), colour (brightness, contrast, lumaflip, hue, saturation; on 3-channel images, while
    other channel counts get brightness, contrast and lumaflip as grey-level maps on every channel), image
    filtering (imgfilter: random gains on four frequency bands) and corruptions (noise, cutout). The
    multipliers and ranges are those of the official code; `PRESETS` holds its named pipelines.
    """

    def __init__(self, xflip: float = 0, rotate90: float = 0, xint: float = 0, xint_max: float = 0.125,
                 scale: float = 0, rotate: float = 0, aniso: float = 0, xfrac: float = 0, scale_std: float = 0.2,
                 rotate_max: float = 1, aniso_std: float = 0.2, xfrac_std: float = 0.125,
                 brightness: float = 0, contrast: float = 0, lumaflip: float = 0, hue: float = 0,
                 saturation: float = 0, brightness_std: float = 0.2, contrast_std: float = 0.5, hue_max: float = 1,
                 saturation_std: float = 1, imgfilter: float = 0, imgfilter_bands=(1, 1, 1, 1),
                 imgfilter_std: float = 1, noise: float = 0, cutout: float = 0, noise_std: float = 0.1,
                 cutout_size: float = 0.5):
        super().__init__()
        self.register_buffer("p", torch.ones([]))  # overall strength: every multiplier is scaled by it
        # Pixel blitting: multipliers, and the translation range as a fraction of the image size.
        self.xflip, self.rotate90, self.xint = float(xflip), float(rotate90), float(xint)
        self.xint_max = float(xint_max)
        # General geometry: multipliers; log2 std of scalings, rotation range (1 = full circle), translation std.
        self.scale, self.rotate, self.aniso, self.xfrac = float(scale), float(rotate), float(aniso), float(xfrac)
        self.scale_std, self.rotate_max = float(scale_std), float(rotate_max)
        self.aniso_std, self.xfrac_std = float(aniso_std), float(xfrac_std)
        # Colour: multipliers; brightness std, log2 std of contrast and saturation, hue range (1 = full circle).
        self.brightness, self.contrast, self.lumaflip = float(brightness), float(contrast), float(lumaflip)
        self.hue, self.saturation = float(hue), float(saturation)
        self.brightness_std, self.contrast_std = float(brightness_std), float(contrast_std)
        self.hue_max, self.saturation_std = float(hue_max), float(saturation_std)
        # Image filtering: multiplier, per-band multipliers, log2 std of the band gains.
        self.imgfilter, self.imgfilter_bands = float(imgfilter), [float(b) for b in imgfilter_bands]
        if len(self.imgfilter_bands) != len(_BAND_POWER):
            raise ValueError(f"imgfilter_bands needs {len(_BAND_POWER)} values, got {len(self.imgfilter_bands)}")
        self.imgfilter_std = float(imgfilter_std)
        # Corruptions: multipliers; noise std, cutout square size as a fraction of the image.
        self.noise, self.cutout = float(noise), float(cutout)
        self.noise_std, self.cutout_size = float(noise_std), float(cutout_size)

        self.register_buffer("Hz_geom", setup_filter(SYM6))
        self.register_buffer("Hz_fbank", torch.as_tensor(band_filters(SYM2, len(_BAND_POWER)), dtype=torch.float32))

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "AugmentPipe":
        """A pipeline named as in the official train.py's `--augpipe` ('bgc', 'bgcfnc', ...)."""
        if name not in PRESETS:
            raise ValueError(f"unknown augmentation preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def extra_repr(self) -> str:
        names = ["xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac", "brightness", "contrast",
                 "lumaflip", "hue", "saturation", "imgfilter", "noise", "cutout"]
        on = [f"{n}={getattr(self, n):g}" for n in names if getattr(self, n) > 0]
        return f"p={float(self.p):.4f}, " + (", ".join(on) if on else "no augmentations")

    def forward(self, images: torch.Tensor, debug_percentile: float | None = None) -> torch.Tensor:
        """Augment a batch [N, C, H, W]. `debug_percentile` in [0, 1] sets every random parameter of every
        enabled augmentation, for all samples and whatever p, to one fixed value derived from it, as the
        official option does (for figures and deterministic comparisons)."""
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            raise ValueError(f"AugmentPipe expects images [N, C, H, W], got {getattr(images, 'shape', images)}")
        q = None if debug_percentile is None else \
            torch.as_tensor(debug_percentile, dtype=torch.float32, device=images.device)
        G_inv = self._geometry(images, q)
        if G_inv is not None:
            images = self._warp(images, G_inv)
        C = self._colour(images, q)
        if C is not None:
            images = self._apply_colour(images, C)
        if self.imgfilter > 0:
            images = self._filter_bands(images, q)
        if self.noise > 0:
            images = self._add_noise(images, q)
        if self.cutout > 0:
            images = self._cut_out(images, q)
        return images

    # -- random parameters -------------------------------------------------------------------------

    def _gate(self, value: torch.Tensor, probability, neutral: float, fixed=None) -> torch.Tensor:
        """Keep each sample's `value` with `probability` (one uniform draw per sample), else `neutral`;
        in debug mode return `fixed` everywhere instead."""
        chosen = torch.rand([value.shape[0]], device=value.device) < probability
        value = torch.where(chosen.reshape([-1] + [1] * (value.ndim - 1)), value,
                            torch.full_like(value, neutral))
        return value if fixed is None else torch.zeros_like(value) + fixed

    def _geometry(self, images: torch.Tensor, q) -> torch.Tensor | None:
        """Per-sample inverse transforms [N, 3, 3] (output pixel -> input pixel, centred coordinates), or
        None when no geometric augmentation is enabled."""
        n, _, h, w = images.shape
        dev, p = images.device, self.p
        steps = []
        if self.xflip > 0:
            i = self._gate(torch.floor(torch.rand([n], device=dev) * 2), self.xflip * p, 0,
                           None if q is None else torch.floor(q * 2))
            steps.append(_scale2d(1 - 2 * i, 1, n, dev))
        if self.rotate90 > 0:
            i = self._gate(torch.floor(torch.rand([n], device=dev) * 4), self.rotate90 * p, 0,
                           None if q is None else torch.floor(q * 4))
            steps.append(_rotate2d(math.pi / 2 * i, n, dev))
        if self.xint > 0:
            t = self._gate((torch.rand([n, 2], device=dev) * 2 - 1) * self.xint_max, self.xint * p, 0,
                           None if q is None else (q * 2 - 1) * self.xint_max)
            steps.append(_translate2d(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h), n, dev))
        if self.scale > 0:
            s = self._gate(torch.exp2(torch.randn([n], device=dev) * self.scale_std), self.scale * p, 1,
                           None if q is None else torch.exp2(torch.erfinv(q * 2 - 1) * self.scale_std))
            steps.append(_scale2d(1 / s, 1 / s, n, dev))
        # Rotation happens before and after the anisotropic scaling, each with the probability that makes
        # "at least one of the two" happen with probability rotate * p.
        p_rot = 1 - torch.sqrt((1 - self.rotate * p).clamp(0, 1))
        if self.rotate > 0:
            theta = self._gate((torch.rand([n], device=dev) * 2 - 1) * math.pi * self.rotate_max, p_rot, 0,
                               None if q is None else (q * 2 - 1) * math.pi * self.rotate_max)
            steps.append(_rotate2d(theta, n, dev))
        if self.aniso > 0:
            s = self._gate(torch.exp2(torch.randn([n], device=dev) * self.aniso_std), self.aniso * p, 1,
                           None if q is None else torch.exp2(torch.erfinv(q * 2 - 1) * self.aniso_std))
            steps.append(_scale2d(1 / s, s, n, dev))
        if self.rotate > 0:
            theta = self._gate((torch.rand([n], device=dev) * 2 - 1) * math.pi * self.rotate_max, p_rot, 0,
                               None if q is None else torch.zeros([], device=dev))
            steps.append(_rotate2d(theta, n, dev))
        if self.xfrac > 0:
            t = self._gate(torch.randn([n, 2], device=dev) * self.xfrac_std, self.xfrac * p, 0,
                           None if q is None else torch.erfinv(q * 2 - 1) * self.xfrac_std)
            steps.append(_translate2d(-t[:, 0] * w, -t[:, 1] * h, n, dev))
        if not steps:
            return None
        G_inv = steps[0]
        for step in steps[1:]:
            G_inv = G_inv @ step
        return G_inv

    def _colour(self, images: torch.Tensor, q) -> torch.Tensor | None:
        """Per-sample affine colour transforms [N, 4, 4] acting on (r, g, b, 1), or None when disabled.
        Unselected samples get an exact identity matrix."""
        n, channels = images.shape[:2]
        dev, p = images.device, self.p
        luma = torch.full([3], 1 / math.sqrt(3), device=dev)  # the grey axis
        eye = torch.eye(4, device=dev)
        vv = torch.zeros([4, 4], device=dev)
        vv[:3, :3] = torch.outer(luma, luma)
        chroma = torch.eye(4, device=dev)  # projection onto the plane orthogonal to the grey axis
        chroma[:3, :3] -= vv[:3, :3]
        chroma[3, 3] = 0
        steps = []
        if self.brightness > 0:
            b = self._gate(torch.randn([n], device=dev) * self.brightness_std, self.brightness * p, 0,
                           None if q is None else torch.erfinv(q * 2 - 1) * self.brightness_std)
            steps.append(_matrices([[1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1]], n, dev))
        if self.contrast > 0:
            c = self._gate(torch.exp2(torch.randn([n], device=dev) * self.contrast_std), self.contrast * p, 1,
                           None if q is None else torch.exp2(torch.erfinv(q * 2 - 1) * self.contrast_std))
            steps.append(_matrices([[c, 0, 0, 0], [0, c, 0, 0], [0, 0, c, 0], [0, 0, 0, 1]], n, dev))
        if self.lumaflip > 0:  # Householder reflection through the plane orthogonal to the grey axis
            i = self._gate(torch.floor(torch.rand([n, 1, 1], device=dev) * 2), self.lumaflip * p, 0,
                           None if q is None else torch.floor(q * 2))
            steps.append(eye - 2 * vv * i)
        if self.hue > 0 and channels == 3:  # rotation about the grey axis (Rodrigues' formula)
            theta = self._gate((torch.rand([n], device=dev) * 2 - 1) * math.pi * self.hue_max, self.hue * p, 0,
                               None if q is None else (q * 2 - 1) * math.pi * self.hue_max)
            cross = torch.zeros([4, 4], device=dev)  # cross-product matrix of the grey axis
            cross[0, 1], cross[0, 2], cross[1, 2] = -luma[2], luma[1], -luma[0]
            cross = cross - cross.T
            c, s = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
            steps.append(eye + s * cross + (c - 1) * chroma)
        if self.saturation > 0 and channels == 3:  # scale the distance from the grey axis
            s = self._gate(torch.exp2(torch.randn([n, 1, 1], device=dev) * self.saturation_std),
                           self.saturation * p, 1,
                           None if q is None else torch.exp2(torch.erfinv(q * 2 - 1) * self.saturation_std))
            steps.append(eye + (s - 1) * chroma)
        if not steps:
            return None
        C = steps[0]
        for step in steps[1:]:
            C = step @ C
        return C

    # -- execution ----------------------------------------------------------------------------------

    def _warp(self, images: torch.Tensor, G_inv: torch.Tensor) -> torch.Tensor:
        """Resample each image at G_inv @ (output pixel). Only samples whose transform is not the identity
        are computed; the others are returned untouched."""
        n, channels, h, w = images.shape
        dev = images.device
        reach = self.Hz_geom.shape[0] // 4  # the resampling filters' reach, in input pixels
        cx, cy = (w - 1) / 2, (h - 1) / 2

        # Padding: how far beyond the image the corners of the output land in the input, plus the filter
        # reach on both sides (reflect padding cannot exceed the image size minus one).
        corners = torch.tensor([[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1, 1, 1, 1]], device=dev)
        landed = (G_inv @ corners)[:, :2, :].permute(1, 0, 2).reshape(2, -1)
        margin = torch.cat([-landed, landed]).amax(dim=1)
        margin = margin + torch.tensor([reach * 2 - cx, reach * 2 - cy] * 2, device=dev)
        margin = torch.minimum(margin.clamp(min=0), torch.tensor([w - 1, h - 1] * 2, device=dev, dtype=torch.float32))
        moving = (G_inv != torch.eye(3, device=dev)).flatten(1).any(dim=1)
        host = torch.cat([margin.ceil(), moving.to(torch.float32)]).tolist()  # one device sync
        mx0, my0, mx1, my1 = (int(v) for v in host[:4])
        index = [i for i, flag in enumerate(host[4:]) if flag]
        if not index:
            return images
        index_t = torch.tensor(index, device=dev)
        x = images if len(index) == n else images.index_select(0, index_t)
        G = G_inv if len(index) == n else G_inv.index_select(0, index_t)
        m = len(index)

        # Pad, then move the origin to the centre of the padded image.
        x = F.pad(x, [mx0, mx1, my0, my1], mode="reflect")
        G = _translate2d((mx0 - mx1) / 2, (my0 - my1) / 2, m, dev) @ G
        # Upsample 2x; in the finer grid the same transform needs coordinates scaled by 2 and pixel centres
        # shifted by half a pixel.
        x = upsample2d(x, self.Hz_geom, up=2)
        G = _scale2d(2, 2, m, dev) @ G @ _scale2d(0.5, 0.5, m, dev)
        G = _translate2d(-0.5, -0.5, m, dev) @ G @ _translate2d(0.5, 0.5, m, dev)
        # Warp into a 2x grid that keeps `reach` extra pixels around the image for the downsampling filter;
        # affine_grid works in [-1, 1] coordinates of the output and input.
        out_h, out_w = (h + reach * 2) * 2, (w + reach * 2) * 2
        G = _scale2d(2 / x.shape[3], 2 / x.shape[2], m, dev) @ G @ _scale2d(out_w / 2, out_h / 2, m, dev)
        grid = F.affine_grid(G[:, :2, :].to(x.dtype), [m, channels, out_h, out_w], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        # Downsample 2x with the mirrored filter and drop the extra border.
        x = downsample2d(x, self.Hz_geom, down=2, padding=-reach * 2, flip_filter=True)
        return x if len(index) == n else images.index_copy(0, index_t, x)

    @staticmethod
    def _apply_colour(images: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
        """Apply [N, 4, 4] colour matrices: to RGB for 3 channels; otherwise every channel is treated as a
        grey level g, mapped to the mean of C's output for (g, g, g)."""
        n, channels, h, w = images.shape
        C = C.to(images.dtype)
        if channels == 3:
            x = images.reshape(n, 3, h * w)
            return (C[:, :3, :3] @ x + C[:, :3, 3:]).reshape(n, 3, h, w)
        gain = C[:, :3, :3].sum(dim=2).mean(dim=1)
        offset = C[:, :3, 3].mean(dim=1)
        return images * gain.reshape(n, 1, 1, 1) + offset.reshape(n, 1, 1, 1)

    def _filter_bands(self, images: torch.Tensor, q) -> torch.Tensor:
        """Amplify or attenuate each frequency band by a random gain, keeping the expected power."""
        n, channels, h, w = images.shape
        dev = images.device
        num_bands = self.Hz_fbank.shape[0]
        power = torch.tensor(_BAND_POWER, device=dev)
        gains = torch.ones([n, num_bands], device=dev)
        touched = torch.zeros([n], dtype=torch.bool, device=dev)
        for band, strength in enumerate(self.imgfilter_bands):
            fixed = None
            if q is not None:
                fixed = torch.exp2(torch.erfinv(q * 2 - 1) * self.imgfilter_std) if strength > 0 else \
                    torch.ones([], device=dev)
            t_band = self._gate(torch.exp2(torch.randn([n], device=dev) * self.imgfilter_std),
                                self.imgfilter * self.p * strength, 1, fixed)
            t = torch.ones([n, num_bands], device=dev)
            t[:, band] = t_band
            gains = gains * (t / (power * t.square()).sum(dim=1, keepdim=True).sqrt())
            touched = touched | (t_band != 1)
        taps = (gains @ self.Hz_fbank).to(images.dtype)  # [N, taps]
        kernel = taps.repeat_interleave(channels, dim=0)[:, None, None, :]  # [N*C, 1, 1, taps]
        x = _reflect_pad(images.reshape(1, n * channels, h, w), taps.shape[1] // 2)
        x = F.conv2d(x, kernel, groups=n * channels)
        x = F.conv2d(x, kernel.transpose(2, 3), groups=n * channels)
        return torch.where(touched.reshape(n, 1, 1, 1), x.reshape(n, channels, h, w), images)

    def _add_noise(self, images: torch.Tensor, q) -> torch.Tensor:
        """Add Gaussian noise whose std is drawn per sample from |N(0, noise_std²)|."""
        n = images.shape[0]
        dev = images.device
        sigma = self._gate(torch.randn([n, 1, 1, 1], device=dev).abs() * self.noise_std, self.noise * self.p, 0,
                           None if q is None else torch.erfinv(q) * self.noise_std)
        return images + torch.randn(images.shape, device=dev, dtype=images.dtype) * sigma.to(images.dtype)

    def _cut_out(self, images: torch.Tensor, q) -> torch.Tensor:
        """Zero a square of side cutout_size (relative to the image) at a uniformly drawn centre."""
        n, _, h, w = images.shape
        dev = images.device
        size = self._gate(torch.full([n, 2, 1, 1, 1], self.cutout_size, device=dev), self.cutout * self.p, 0,
                          None if q is None else torch.full([], self.cutout_size, device=dev))
        centre = torch.rand([n, 2, 1, 1, 1], device=dev)
        if q is not None:
            centre = torch.zeros_like(centre) + q
        x = (torch.arange(w, device=dev).reshape(1, 1, 1, -1) + 0.5) / w
        y = (torch.arange(h, device=dev).reshape(1, 1, -1, 1) + 0.5) / h
        keep = ((x - centre[:, 0]).abs() >= size[:, 0] / 2) | ((y - centre[:, 1]).abs() >= size[:, 1] / 2)
        return images * keep.to(images.dtype)


class AdaController:
    """Adaptive discriminator augmentation: steer an AugmentPipe's `p` so that D's sign on real images,
    r_t = E[sign(D(x_real))], stays near `target` (0.6).

    Call `accumulate(real_logits)` whenever D scores real images, and `step(batch_size)` once per training
    iteration. Every `interval` iterations p moves by sign(r_t - target) × (images since the last move) /
    (kimg × 1000), and never below 0 (as published: there is no upper clamp), so p can traverse 0 -> 1 in
    `kimg` thousand images. With several processes, pass `reduce`: a callable that sums a float64 tensor
    over all processes and returns it (e.g. wrapping torch.distributed.all_reduce); every process must then
    call `step` (and `state_dict`) together, and all of them compute the same p.
    """

    def __init__(self, pipe: AugmentPipe, target: float = 0.6, interval: int = 4, kimg: float = 500,
                 reduce: Callable[[torch.Tensor], torch.Tensor] | None = None):
        if interval < 1 or kimg <= 0:
            raise ValueError(f"ADA needs interval >= 1 and kimg > 0, got interval={interval}, kimg={kimg}")
        self.pipe = pipe
        self.target, self.interval, self.kimg = float(target), int(interval), float(kimg)
        self.reduce = reduce
        self.last_signs: float | None = None  # r_t at the last adjustment, for logging
        self._sign_sum: torch.Tensor | None = None  # float64 on the logits' device: no sync per call
        self._count = 0
        self._batches = 0
        self._images = 0

    @property
    def p(self) -> float:
        return float(self.pipe.p)

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Add the signs of D's outputs on real images (NaN counts as 0)."""
        signs = torch.nan_to_num(real_logits.detach().to(torch.float64).sign(), nan=0.0).sum()
        self._sign_sum = signs if self._sign_sum is None else self._sign_sum + signs.to(self._sign_sum.device)
        self._count += real_logits.numel()

    def step(self, batch_size: int) -> bool:
        """Count one training iteration of `batch_size` real images (all processes together); adjust p
        every `interval` iterations. Returns whether p was adjusted."""
        self._batches += 1
        self._images += int(batch_size)
        if self._batches < self.interval:
            return False
        sign_sum, count = self._totals()
        if count > 0:
            self.last_signs = sign_sum / count
            adjust = float(np.sign(self.last_signs - self.target)) * self._images / (self.kimg * 1000)
            p = self.pipe.p
            p.copy_((p + adjust).clamp(min=0))
        self._sign_sum, self._count, self._batches, self._images = None, 0, 0, 0
        return True

    def _totals(self) -> tuple[float, float]:
        """The sign sum and count since the last adjustment, summed over processes."""
        device = self.pipe.p.device if self._sign_sum is None else self._sign_sum.device
        local = torch.zeros([], dtype=torch.float64, device=device) if self._sign_sum is None else self._sign_sum
        stats = torch.stack([local, torch.tensor(float(self._count), dtype=torch.float64, device=device)])
        if self.reduce is not None:
            stats = self.reduce(stats)
        sign_sum, count = stats.tolist()
        return sign_sum, count

    def state_dict(self) -> dict:
        """Everything needed to continue exactly: p, the statistics not yet used (summed over processes:
        with `reduce`, call it on every process) and the position in the adjustment interval."""
        sign_sum, count = self._totals()
        return {"p": self.p, "sign_sum": sign_sum, "count": count, "batches": self._batches,
                "images": self._images}

    def load_state_dict(self, state: dict, primary: bool = True) -> None:
        """Restore `state_dict()`. With several processes pass `primary=True` on exactly one of them, so
        that the saved statistics are counted once when they are next summed."""
        self.pipe.p.fill_(float(state["p"]))
        self._batches, self._images = int(state["batches"]), int(state["images"])
        self._sign_sum, self._count = None, 0
        if primary:
            self._sign_sum = torch.tensor(float(state["sign_sum"]), dtype=torch.float64, device=self.pipe.p.device)
            self._count = int(state["count"])
