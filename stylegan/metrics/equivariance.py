"""Equivariance metrics of the Alias-Free GAN paper (Karras et al. 2021, appendix E): EQ-T (integer
translation), EQ-T_frac (sub-pixel translation) and EQ-R (rotation), each a PSNR in dB between
  * the generator's image rendered with a transformed input, and
  * its reference image transformed the same way after rendering,
counted only where both images hold valid pixels. Peak-to-peak range is 2 (images in [-1, 1]):
PSNR = 20 log10(2) - 10 log10(MSE).

StyleGAN3 generators take the transform through `G.synthesis.input.transform` (the inverse of the image
transform). StyleGAN2 generators have no such input; for them the learned 4x4 constant is resampled
as one period of a band-limited periodic signal at the transformed coordinates, which is the nearest
thing they have to moving their input.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..errors import InputError
from ..ops.upfirdn2d import filter2d, upsample2d
from .distributed import sum_all
from .options import MetricOptions
from .ppl import randomize_noise


def sinc(x: torch.Tensor) -> torch.Tensor:
    """Normalised sinc, sin(pi x) / (pi x), with sinc(0) = 1."""
    y = (x * np.pi).abs()
    return torch.where(y < 1e-30, torch.ones_like(x), torch.sin(y) / y.clamp(1e-30, float("inf")))


def lanczos_window(x: torch.Tensor, a: float) -> torch.Tensor:
    """sinc(x / a) inside |x| < a, zero outside."""
    x = x.abs() / a
    return torch.where(x < 1, sinc(x), torch.zeros_like(x))


def rotation_matrix(angle: torch.Tensor | float) -> torch.Tensor:
    """3x3 homogeneous matrix [[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]]."""
    angle = torch.as_tensor(angle).to(torch.float32)
    m = torch.eye(3, device=angle.device)
    m[0, 0] = m[1, 1] = angle.cos()
    m[0, 1] = angle.sin()
    m[1, 0] = -angle.sin()
    return m


def translate_integer(x: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift images by (tx, ty) image widths, rounded to whole pixels; returns (shifted, valid mask)."""
    _, _, h, w = x.shape
    ix = int(torch.as_tensor(tx * w).to(torch.float32).round())
    iy = int(torch.as_tensor(ty * h).to(torch.float32).round())
    out, mask = torch.zeros_like(x), torch.zeros_like(x)
    if abs(ix) < w and abs(iy) < h:
        dst = (slice(None), slice(None), slice(max(iy, 0), h + min(iy, 0)), slice(max(ix, 0), w + min(ix, 0)))
        out[dst] = x[:, :, max(-iy, 0):h + min(-iy, 0), max(-ix, 0):w + min(-ix, 0)]
        mask[dst] = 1
    return out, mask


def translate_fractional(x: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor, a: int = 3
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift images by (tx, ty) image widths with a separable Lanczos-`a` interpolation filter;
    returns (shifted, mask of pixels whose whole filter footprint was inside the image)."""
    _, _, h, w = x.shape
    sx = torch.as_tensor(tx * w).to(dtype=torch.float32, device=x.device)
    sy = torch.as_tensor(ty * h).to(dtype=torch.float32, device=x.device)
    ix, iy = int(sx.floor()), int(sy.floor())
    fx, fy = sx - ix, sy - iy
    b = a - 1
    out = torch.zeros_like(x)
    x0, y0, x1, y1 = max(ix - b, 0), max(iy - b, 0), min(ix + a, 0) + w, min(iy + a, 0) + h
    if x0 < x1 and y0 < y1:
        taps = torch.arange(a * 2, device=x.device) - b
        kx = (sinc(taps - fx) * sinc((taps - fx) / a)).unsqueeze(0)
        ky = (sinc(taps - fy) * sinc((taps - fy) / a)).unsqueeze(1)
        y = filter2d(x, kx / kx.sum(), padding=[b, a, 0, 0])
        y = filter2d(y, ky / ky.sum(), padding=[0, 0, b, a])
        out[:, :, y0:y1, x0:x1] = y[:, :, max(b - iy, 0):h + b + a + min(-iy - a, 0),
                                     max(b - ix, 0):w + b + a + min(-ix - a, 0)]
    mask = torch.zeros_like(x)
    mx0, my0, mx1, my1 = max(ix + a, 0), max(iy + a, 0), min(ix - b, 0) + w, min(iy - b, 0) + h
    if mx0 < mx1 and my0 < my1:
        mask[:, :, my0:my1, mx0:mx1] = 1
    return out, mask


def bandlimit_filter(mat: torch.Tensor, a: int = 3, amax: int = 16, aflt: int = 64, up: int = 4,
                     cutoff_in: float = 1, cutoff_out: float = 1) -> torch.Tensor:
    """2-D FIR filter (odd size, at `up`x resolution) that limits an image to the band that survives both
    before and after the affine map `mat`: the convolution of an axis-aligned and a transformed sinc
    low-pass, windowed by the convolution of the matching Lanczos windows."""
    mat = torch.as_tensor(mat).to(torch.float32)
    taps = ((torch.arange(aflt * up * 2 - 1, device=mat.device) + 1) / up - aflt).roll(1 - aflt * up)
    yi, xi = torch.meshgrid(taps, taps, indexing="ij")
    xo, yo = (torch.stack([xi, yi], dim=2) @ mat[:2, :2].t()).unbind(2)

    def conv(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return torch.fft.ifftn(torch.fft.fftn(p) * torch.fft.fftn(q)).real

    lowpass = conv(sinc(xi * cutoff_in) * sinc(yi * cutoff_in), sinc(xo * cutoff_out) * sinc(yo * cutoff_out))
    window = conv(lanczos_window(xi, a) * lanczos_window(yi, a), lanczos_window(xo, a) * lanczos_window(yo, a))
    f = lowpass * window
    c = (aflt - amax) * up
    f = f.roll([aflt * up - 1] * 2, dims=[0, 1])[c:-c, c:-c]
    f = F.pad(f, [0, 1, 0, 1]).reshape(amax * 2, up, amax * 2, up)
    f = f / f.sum([0, 2], keepdim=True) / (up ** 2)  # unit DC gain for each of the up x up phases
    return f.reshape(amax * 2 * up, amax * 2 * up)[:-1, :-1]


def affine_transform(x: torch.Tensor, mat: torch.Tensor, up: int = 4, **filter_kwargs
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the affine map `mat` (3x3, image units) to images: band-limit while upsampling by `up`,
    then resample bilinearly; returns (transformed, mask of pixels that came from inside the image)."""
    _, _, h, w = x.shape
    mat = torch.as_tensor(mat).to(dtype=torch.float32, device=x.device)
    f = bandlimit_filter(mat, up=up, **filter_kwargs)
    p = f.shape[0] // 2
    theta = mat.inverse()
    theta[:2, 2] *= 2
    theta[0, 2] += 1 / up / w
    theta[1, 2] += 1 / up / h
    theta[0, :] *= w / (w + p / up * 2)
    theta[1, :] *= h / (h + p / up * 2)
    grid = F.affine_grid(theta[:2, :3].unsqueeze(0).repeat([x.shape[0], 1, 1]), x.shape, align_corners=False)
    big = upsample2d(x, f, up=up, padding=p)
    out = F.grid_sample(big, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    mask = torch.zeros_like(big)
    mask[:, :, p * 2 + 1:-(p * 2 + 1), p * 2 + 1:-(p * 2 + 1)] = 1
    mask = F.grid_sample(mask, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return out, mask


def rotate_fractional(x: torch.Tensor, angle: torch.Tensor, a: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate images by `angle` radians with band-limited resampling; returns (rotated, mask)."""
    return affine_transform(x, rotation_matrix(angle), a=a, amax=a * 2)


def rotate_pseudo(x: torch.Tensor, angle: torch.Tensor, a: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Filter images as `rotate_fractional` would, without rotating them (the paper's R*)."""
    f = bandlimit_filter(rotation_matrix(-angle), a=a, amax=a * 2, up=1)
    out = filter2d(x, f)
    mask = torch.zeros_like(out)
    c = f.shape[0] // 2
    mask[:, :, c:-c, c:-c] = 1
    return out, mask


def resample_periodic(const: torch.Tensor, mat: torch.Tensor) -> torch.Tensor:
    """Resample a square map [C, N, N] covering the image once at coordinates `mat` @ (x, y, 1), treating
    it as one period of a band-limited periodic signal (trigonometric interpolation; the Nyquist
    frequency of an even N is taken as a cosine, so the result stays real)."""
    n = const.shape[-1]
    spectrum = torch.fft.fft2(const.to(torch.float64))
    centers = (torch.arange(n, dtype=torch.float64) + 0.5) / n - 0.5
    yy, xx = torch.meshgrid(centers, centers, indexing="ij")
    pts = torch.stack([xx, yy, torch.ones_like(xx)], dim=-1) @ mat.to(torch.float64).t()
    sx, sy = (pts[..., 0] + 0.5) * n - 0.5, (pts[..., 1] + 0.5) * n - 0.5  # in source pixel units
    k = torch.fft.fftfreq(n, 1 / n).to(torch.float64)

    def basis(s: torch.Tensor) -> torch.Tensor:  # [N, N, n] complex exponentials, Nyquist as a cosine
        phase = 2 * np.pi * s[..., None] * k / n
        b = torch.polar(torch.ones_like(phase), phase)
        if n % 2 == 0:
            b[..., n // 2] = torch.cos(np.pi * s).to(b.dtype)
        return b

    out = torch.einsum("cuv,ijv,iju->cij", spectrum, basis(sx), basis(sy)).real / (n * n)
    return out.to(const.dtype)


class _InputTransform:
    """Sets the user transform (the inverse image transform, 3x3) of a StyleGAN3 or StyleGAN2 generator."""

    def __init__(self, G: nn.Module):
        self.sg3 = getattr(getattr(G.synthesis, "input", None), "transform", None)
        self.block = getattr(G.synthesis, "b4", None)
        if self.sg3 is None and getattr(self.block, "const", None) is None:
            raise InputError("equivariance metrics need a generator whose input can be transformed "
                             "(StyleGAN3, or StyleGAN2 with its constant input)")
        self.const = None if self.sg3 is not None else self.block.const.detach().clone()

    def set(self, mat: torch.Tensor) -> None:
        if self.sg3 is not None:
            self.sg3.copy_(mat)
        else:
            self.block.const.copy_(resample_periodic(self.const, mat.cpu()).to(self.block.const.device))


def equivariance_psnrs(opts: MetricOptions, num_samples: int, batch_size: int = 4, translate_max: float = 0.125,
                       rotate_max: float = 1.0, eqt_int: bool = False, eqt_frac: bool = False, eqr: bool = False
                       ) -> list[float]:
    """PSNRs (dB) of the selected metrics, in the order EQ-T, EQ-T_frac, EQ-R, over `num_samples` latents.
    Translations are uniform in +-translate_max image widths, rotations in +-rotate_max * 180 degrees."""
    if not (eqt_int or eqt_frac or eqr):
        raise ValueError("select at least one equivariance metric")
    G = copy.deepcopy(opts.G).eval().requires_grad_(False).to(opts.device)
    transform = _InputTransform(G)
    eye = torch.eye(3, device=opts.device)
    labels = opts.label_sampler(batch_size)
    gen = opts.torch_generator()
    sums = None
    with torch.no_grad(), tqdm(total=num_samples, desc="equivariance", unit="img",
                               disable=not (opts.progress and opts.rank == 0)) as bar:
        for _ in range(0, num_samples, batch_size * opts.num_gpus):
            randomize_noise(G, gen)
            z = torch.randn([batch_size, G.z_dim], generator=gen).to(opts.device)
            ws = G.mapping(z, next(labels))

            def synth() -> torch.Tensor:
                return G.synthesis(ws, noise_mode="const", force_fp32=True, **opts.G_kwargs)

            transform.set(eye)
            orig = synth()
            terms = []
            if eqt_int:
                t = (torch.rand(2, generator=gen).to(opts.device) * 2 - 1) * translate_max
                t = (t * G.img_resolution).round() / G.img_resolution
                transform.set(_translation(-t, eye))
                ref, mask = translate_integer(orig, t[0], t[1])
                terms += [(ref - synth()).square() * mask, mask]
            if eqt_frac:
                t = (torch.rand(2, generator=gen).to(opts.device) * 2 - 1) * translate_max
                transform.set(_translation(-t, eye))
                ref, mask = translate_fractional(orig, t[0], t[1])
                terms += [(ref - synth()).square() * mask, mask]
            if eqr:
                angle = (torch.rand([], generator=gen).to(opts.device) * 2 - 1) * (rotate_max * np.pi)
                transform.set(rotation_matrix(-angle).to(opts.device))
                ref, ref_mask = rotate_fractional(orig, angle)
                pseudo, pseudo_mask = rotate_pseudo(synth(), angle)
                mask = ref_mask * pseudo_mask
                terms += [(ref - pseudo).square() * mask, mask]
            batch_sums = torch.stack([term.to(torch.float64).sum() for term in terms])
            sums = batch_sums if sums is None else sums + batch_sums
            bar.update(min(batch_size * opts.num_gpus, num_samples - bar.n))
    sums = sum_all(sums, opts.num_gpus).cpu()
    mse = sums[0::2] / sums[1::2]
    return [float(v) for v in math.log10(2) * 20 - mse.log10() * 10]


def _translation(offset: torch.Tensor, eye: torch.Tensor) -> torch.Tensor:
    m = eye.clone()
    m[:2, 2] = offset
    return m


def compute_equivariance(opts: MetricOptions, num_samples: int, batch_size: int, **which: bool) -> dict:
    """One equivariance metric (PSNR in dB) as a metric result."""
    return {"": equivariance_psnrs(opts, num_samples, batch_size, **which)[0]}
