"""StyleGAN3 generator (Karras et al. 2021, "Alias-Free GAN"), configs T and R.

Fourier-feature input with a learned rotation/translation and a user transform, 14 layers of modulated
convolution + filtered leaky ReLU whose sampling rates and cutoffs follow the paper's geometric
schedule, and a ToRGB layer; 16 ws. Names follow the published checkpoints.
"""
from __future__ import annotations

import numpy as np
import scipy.signal
import scipy.special
import torch
from torch import nn

from ..errors import InputError
from ..ops import FullyConnectedLayer, normalized_modulated_conv2d
from ..ops.filtered_lrelu import filtered_lrelu
from .common import GeneratorBase, check_ws
from .noise import NOISE_MODES
from .precision import activation_format, layer_dtype, modconv_fused


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float,
                          radial: bool = False) -> torch.Tensor | None:
    """Kaiser-windowed low-pass filter: separable sinc (1-D taps) or radially symmetric jinc (2-D).

    Returns None for a single tap (identity).
    """
    if numtaps == 1:
        return None
    if not radial:
        return torch.as_tensor(scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs),
                               dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    f = scipy.special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    w = np.kaiser(numtaps, beta)
    f = f * np.outer(w, w)
    return torch.as_tensor(f / np.sum(f), dtype=torch.float32)


def layer_schedule(img_resolution: int, img_channels: int, channel_base: int = 32768, channel_max: int = 512,
                   num_layers: int = 14, num_critical: int = 2, first_cutoff: float = 2,
                   first_stopband: float = 2 ** 2.1, last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10,
                   num_fp16_res: int = 4) -> tuple[dict, list[dict]]:
    """The paper's per-layer sampling rates, cutoffs, transition bands, sizes and widths.

    Returns the input spec and one spec per layer (num_layers + 1 including ToRGB).
    """
    last_cutoff = img_resolution / 2
    last_stopband = last_cutoff * last_stopband_rel
    exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
    stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
    sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
    half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
    sizes = sampling_rates + margin_size * 2
    sizes[-2:] = img_resolution
    channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    channels[-1] = img_channels
    input_spec = dict(channels=int(channels[0]), size=int(sizes[0]), sampling_rate=float(sampling_rates[0]),
                      bandwidth=float(cutoffs[0]))
    layers = []
    for idx in range(num_layers + 1):
        prev = max(idx - 1, 0)
        layers.append(dict(
            is_torgb=idx == num_layers, is_critically_sampled=idx >= num_layers - num_critical,
            use_fp16=bool(sampling_rates[idx] * 2 ** num_fp16_res > img_resolution),
            in_channels=int(channels[prev]), out_channels=int(channels[idx]),
            in_size=int(sizes[prev]), out_size=int(sizes[idx]),
            in_sampling_rate=int(sampling_rates[prev]), out_sampling_rate=int(sampling_rates[idx]),
            in_cutoff=float(cutoffs[prev]), out_cutoff=float(cutoffs[idx]),
            in_half_width=float(half_widths[prev]), out_half_width=float(half_widths[idx])))
    return input_spec, layers


def layer_resampling(in_sampling_rate: float, out_sampling_rate: float, is_torgb: bool, filter_size: int,
                     lrelu_upsampling: int) -> tuple[float, int, int, int, int]:
    """A layer's intermediate sampling rate, up and down factors, and the taps of its up and down filters (1: no
    filter); InputError unless the rates are integer multiples of each other."""
    tmp_sampling_rate = max(in_sampling_rate, out_sampling_rate) * (1 if is_torgb else lrelu_upsampling)
    up_factor = int(np.rint(tmp_sampling_rate / in_sampling_rate))
    down_factor = int(np.rint(tmp_sampling_rate / out_sampling_rate))
    if in_sampling_rate * up_factor != tmp_sampling_rate or out_sampling_rate * down_factor != tmp_sampling_rate:
        raise InputError("StyleGAN3 sampling rates must be integer multiples of each other")
    up_taps = filter_size * up_factor if up_factor > 1 and not is_torgb else 1
    down_taps = filter_size * down_factor if down_factor > 1 and not is_torgb else 1
    return tmp_sampling_rate, up_factor, down_factor, up_taps, down_taps


class SynthesisInput(nn.Module):
    """Fourier features on a grid, rotated/translated by a learned affine of w and by `transform`."""

    def __init__(self, w_dim: int, channels: int, size, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.w_dim = w_dim
        self.channels = channels
        self.size = np.broadcast_to(np.asarray(size), [2])
        self.sampling_rate = sampling_rate
        self.bandwidth = bandwidth
        # Frequencies drawn uniformly from a disc of radius `bandwidth`; random phases.
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs /= radii * radii.square().exp().pow(0.25)
        freqs *= bandwidth
        phases = torch.rand([channels]) - 0.5
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3, 3))  # inverse of the user's transform of the image
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", phases)

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        """Features [N, C, H, W] for w [N, w_dim]; `transform` ([3, 3] or [N, 3, 3]) replaces the stored one."""
        batch = w.shape[0]
        t = self.affine(w)  # (r_cos, r_sin, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        m_r = torch.eye(3, device=w.device).unsqueeze(0).repeat([batch, 1, 1])
        m_r[:, 0, 0] = t[:, 0]
        m_r[:, 0, 1] = -t[:, 1]
        m_r[:, 1, 0] = t[:, 1]
        m_r[:, 1, 1] = t[:, 0]
        m_t = torch.eye(3, device=w.device).unsqueeze(0).repeat([batch, 1, 1])
        m_t[:, 0, 2] = -t[:, 2]
        m_t[:, 1, 2] = -t[:, 3]
        transforms = m_r @ m_t @ (self.transform if transform is None else transform.to(torch.float32))

        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]
        # Fade out frequencies pushed beyond the band by the user transform.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)

        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = 0.5 * self.size[0] / self.sampling_rate
        theta[1, 1] = 0.5 * self.size[1] / self.sampling_rate
        grids = torch.nn.functional.affine_grid(theta.unsqueeze(0), [1, 1, int(self.size[1]), int(self.size[0])],
                                                align_corners=False)
        x = (grids.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # [N, H, W, C]
        x = x + phases.unsqueeze(1).unsqueeze(2)
        x = torch.sin(x * (np.pi * 2))
        x = x * amplitudes.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return (f"w_dim={self.w_dim}, channels={self.channels}, size={list(self.size)}, "
                f"sampling_rate={self.sampling_rate:g}, bandwidth={self.bandwidth:g}")


class SynthesisLayer(nn.Module):
    """Modulated conv (input-magnitude normalised) + filtered leaky ReLU between two sampling rates."""

    def __init__(self, w_dim: int, is_torgb: bool, is_critically_sampled: bool, use_fp16: bool,
                 in_channels: int, out_channels: int, in_size, out_size, in_sampling_rate: float,
                 out_sampling_rate: float, in_cutoff: float, out_cutoff: float, in_half_width: float,
                 out_half_width: float, conv_kernel: int = 3, filter_size: int = 6, lrelu_upsampling: int = 2,
                 use_radial_filters: bool = False, conv_clamp: float | None = 256, magnitude_ema_beta: float = 0.999):
        super().__init__()
        self.w_dim = w_dim
        self.is_torgb = is_torgb
        self.is_critically_sampled = is_critically_sampled
        self.use_fp16 = use_fp16
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_size = np.broadcast_to(np.asarray(in_size), [2])
        self.out_size = np.broadcast_to(np.asarray(out_size), [2])
        self.in_sampling_rate = in_sampling_rate
        self.out_sampling_rate = out_sampling_rate
        self.tmp_sampling_rate, self.up_factor, self.down_factor, self.up_taps, self.down_taps = layer_resampling(
            in_sampling_rate, out_sampling_rate, is_torgb, filter_size, lrelu_upsampling)
        self.in_cutoff = in_cutoff
        self.out_cutoff = out_cutoff
        self.in_half_width = in_half_width
        self.out_half_width = out_half_width
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp = conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta

        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, self.conv_kernel, self.conv_kernel]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))

        self.down_radial = use_radial_filters and not is_critically_sampled
        self.register_buffer("up_filter", design_lowpass_filter(self.up_taps, in_cutoff, in_half_width * 2,
                                                                self.tmp_sampling_rate))
        self.register_buffer("down_filter", design_lowpass_filter(self.down_taps, out_cutoff, out_half_width * 2,
                                                                  self.tmp_sampling_rate, radial=self.down_radial))
        # Padding so that samples sit symmetrically (the paper's Appendix C.3).
        pad_total = (self.out_size - 1) * self.down_factor + 1
        pad_total -= (self.in_size + self.conv_kernel - 1) * self.up_factor
        pad_total += self.up_taps + self.down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2
        pad_hi = pad_total - pad_lo
        self.padding = [int(pad_lo[0]), int(pad_hi[0]), int(pad_lo[1]), int(pad_hi[1])]

    def forward(self, x: torch.Tensor, w: torch.Tensor, force_fp32: bool = False,
                update_emas: bool = False, precision: str = "official", fused_modconv: bool = True) -> torch.Tensor:
        if update_emas:
            magnitude = x.detach().to(torch.float32).square().mean()
            self.magnitude_ema.copy_(magnitude.lerp(self.magnitude_ema, self.magnitude_ema_beta))
        input_gain = self.magnitude_ema.rsqrt()
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / np.sqrt(self.in_channels * self.conv_kernel ** 2))
        dtype = layer_dtype(self.use_fp16, precision, x.device, force_fp32)
        x = normalized_modulated_conv2d(x.to(dtype), self.weight, styles, padding=self.conv_kernel - 1,
                                        demodulate=not self.is_torgb, input_gain=input_gain, bias=self.bias,
                                        fused=fused_modconv)
        if dtype == torch.bfloat16 and x.device.type == "cpu":
            x = x.float()  # oneDNN has fast bf16 convolutions but slow bf16 depthwise filters
        gain = 1 if self.is_torgb else np.sqrt(2)
        slope = 1 if self.is_torgb else 0.2
        return filtered_lrelu(x, fu=self.up_filter, fd=self.down_filter, up=self.up_factor,
                              down=self.down_factor, padding=self.padding, gain=gain, slope=slope,
                              clamp=self.conv_clamp)

    def extra_repr(self) -> str:
        return (f"w_dim={self.w_dim}, is_torgb={self.is_torgb}, is_critically_sampled={self.is_critically_sampled}, "
                f"use_fp16={self.use_fp16}, in_sampling_rate={self.in_sampling_rate:g}, "
                f"out_sampling_rate={self.out_sampling_rate:g}, in_cutoff={self.in_cutoff:g}, "
                f"out_cutoff={self.out_cutoff:g}, in_size={list(self.in_size)}, out_size={list(self.out_size)}, "
                f"in_channels={self.in_channels}, out_channels={self.out_channels}")


class SynthesisNetwork(nn.Module):
    """ws [N, 16, w_dim] -> image; ws[0] drives the input features, ws[1 + i] layer i (the last: ToRGB)."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_layers: int = 14, num_critical: int = 2, first_cutoff: float = 2,
                 first_stopband: float = 2 ** 2.1, last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10,
                 output_scale: float = 0.25, num_fp16_res: int = 4, input_spec: dict | None = None,
                 layer_specs: list[dict] | None = None, **layer_kwargs):
        super().__init__()
        if (input_spec is None) != (layer_specs is None):
            raise InputError("give both input_spec and layer_specs, or neither")
        if layer_specs is None:
            input_spec, layer_specs = layer_schedule(
                img_resolution, img_channels, channel_base, channel_max, num_layers, num_critical, first_cutoff,
                first_stopband, last_stopband_rel, margin_size, num_fp16_res)
        self.w_dim = w_dim
        self.num_ws = len(layer_specs) + 1
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.num_layers = len(layer_specs) - 1
        self.num_critical = sum(bool(s["is_critically_sampled"]) for s in layer_specs) - 1
        self.margin_size = margin_size
        self.output_scale = output_scale
        self.num_fp16_res = num_fp16_res
        self.precision = "official"  # see models.precision
        self.input_spec = dict(input_spec)
        self.layer_specs = [dict(s) for s in layer_specs]
        self.input = SynthesisInput(w_dim=w_dim, **input_spec)
        self.layer_names = []
        for spec in layer_specs:
            layer = SynthesisLayer(w_dim=w_dim, **spec, **layer_kwargs)
            name = f"L{len(self.layer_names)}_{layer.out_size[0]}_{layer.out_channels}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool | None = None,
                update_emas: bool = False, fused_modconv: bool | str | None = True,
                input_transform: torch.Tensor | None = None) -> torch.Tensor:
        """Render ws. StyleGAN3 has no noise inputs; `noise_mode` is accepted for a common interface.

        `force_fp32` as in StyleGAN2; `fused_modconv` follows `precision.modconv_fused` with fused as the
        default (on the CPU too: one sample then runs as a plain convolution); False runs one shared
        convolution per layer (any batch size, as exporters need); `input_transform` [3, 3] replaces
        `input.transform` for this call.
        """
        if noise_mode not in NOISE_MODES:
            raise InputError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        ws = check_ws(ws, self.num_ws, self.w_dim).to(torch.float32).unbind(dim=1)
        fused_modconv = modconv_fused(fused_modconv, True, ws[0].device, self.training)
        x = self.input(ws[0], input_transform)
        if x.device.type == "cpu":  # the layout of precision.activation_format; on CUDA the official one stays
            x = x.contiguous(memory_format=activation_format(x.device, x.dtype, False))
        for name, w in zip(self.layer_names, ws[1:]):
            x = getattr(self, name)(x, w, force_fp32=force_fp32, update_emas=update_emas, precision=self.precision,
                                    fused_modconv=fused_modconv)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.to(torch.float32)

    def noise_layers(self) -> list[nn.Module]:
        """None: StyleGAN3 has no per-layer noise inputs (the common interface of `stylegan.models.noise`)."""
        return []

    def ws_resolutions(self) -> list[int]:
        """The detail scale each w row controls, as the resolution whose Nyquist limit is the row's cutoff
        (2 x cutoff, rounded to a power of two): 4 for the input features up to img_resolution for ToRGB."""
        cutoffs = [self.input.bandwidth] + [getattr(self, n).out_cutoff for n in self.layer_names]
        return [int(min(2 ** round(np.log2(2 * f)), self.img_resolution)) for f in cutoffs]

    def extra_repr(self) -> str:
        return (f"w_dim={self.w_dim}, num_ws={self.num_ws}, img_resolution={self.img_resolution}, "
                f"img_channels={self.img_channels}, num_layers={self.num_layers}, num_critical={self.num_critical}, "
                f"margin_size={self.margin_size}, num_fp16_res={self.num_fp16_res}")


class Generator(GeneratorBase):
    """StyleGAN3 generator: G(z, c) = G.synthesis(G.mapping(z, c)); 2 mapping layers by default."""

    generation = 3
    synthesis_class = SynthesisNetwork
    mapping_defaults = {"num_layers": 2}

    def synthesis_config(self) -> dict:
        return {"input_spec": self.synthesis.input_spec, "layer_specs": self.synthesis.layer_specs}
