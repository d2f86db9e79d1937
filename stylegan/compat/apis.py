"""MMGeneration-style entry points, so that scripts written against `mmgen.apis` run with their imports changed.

    from stylegan.apis import init_model, sample_unconditional_model
    from stylegan.utils import mkdir_or_exist, save_image
    model = init_model(config_file, checkpoint_file, device='cpu')
    results = sample_unconditional_model(model, 16)       # [16, 3, R, R] float, CPU, about [-1, 1], BGR
    results = (results[:, [2, 1, 0]] + 1.) / 2.
    mkdir_or_exist('work_dirs'); save_image(results, 'work_dirs/output.png', nrow=4)

Images come back as MMGeneration returns them, in BGR channel order; the networks themselves (`model.
generator_ema`, ...) are this package's, which speak RGB like every other network here.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .. import hub
from ..errors import InputError
from ..formats import mmgen, mmgen_config
from ..models.mapping import truncate

SAMPLE_MODELS = ("ema", "orig", "ema/orig")


def _apply_options(model_cfg: dict, options: dict) -> dict:
    """Set dotted config keys ('model.generator.out_size': 256) in the model dict, as mmcv's merge_from_dict."""
    cfg = {"model": copy.deepcopy(model_cfg)}
    for dotted, value in options.items():
        node = cfg
        *parents, last = str(dotted).split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return cfg["model"]


class UnconditionalGAN(nn.Module):
    """What `init_model` returns: a checkpoint's generators (and discriminator) with MMGeneration's sampling call."""

    def __init__(self, generator: nn.Module, generator_ema: nn.Module | None = None,
                 discriminator: nn.Module | None = None, cfg: dict | None = None):
        super().__init__()
        self.generator = generator
        self.generator_ema = generator_ema
        self.discriminator = discriminator
        self._cfg = cfg or {}

    @property
    def use_ema(self) -> bool:
        return self.generator_ema is not None

    def _generate(self, G: nn.Module, z: torch.Tensor, input_is_latent: bool = False, truncation: float = 1,
                  truncation_latent: torch.Tensor | None = None, num_truncation_layer: int | None = None,
                  randomize_noise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        if input_is_latent:
            ws = z.to(torch.float32).unsqueeze(1).repeat([1, G.num_ws, 1])
        else:
            ws = G.mapping(z, None)
        if truncation < 1:
            avg = G.mapping.w_avg if truncation_latent is None else truncation_latent.reshape(-1).to(ws)
            ws = truncate(ws, avg, truncation, num_truncation_layer)
        img = G.synthesis(ws, noise_mode="random" if randomize_noise else "const")
        lod = float(getattr(G.synthesis, "lod", 0))
        if lod >= 1:  # a StyleGAN1 snapshot taken while growing draws at its current, lower scale
            step = 2 ** int(np.floor(lod))
            img = img[:, :, ::step, ::step]
        if img.shape[1] == 3:
            img = img[:, [2, 1, 0]]
        return img, ws

    @torch.no_grad()
    def sample_from_noise(self, noise: torch.Tensor | Callable | None, num_batches: int = 0,
                          sample_model: str = "ema/orig", return_noise: bool = False, return_latents: bool = False,
                          **kwargs: Any) -> torch.Tensor | dict:
        """Images [N, C, R, R] in BGR order from z (a tensor, a sampler called with (N, z_dim), or None: N(0, 1)).

        kwargs as MMGeneration's generators take them: truncation, truncation_latent, num_truncation_layer,
        input_is_latent, randomize_noise (default True: fresh noise maps, as there).
        """
        if sample_model not in SAMPLE_MODELS:
            raise InputError(f"sample_model must be one of {SAMPLE_MODELS}, got {sample_model!r}")
        if sample_model == "ema" and not self.use_ema:
            raise InputError("sample_model='ema' asked for, but this model has no EMA generator")
        G = self.generator_ema if sample_model != "orig" and self.use_ema else self.generator
        device = next(G.parameters()).device
        width = G.w_dim if kwargs.get("input_is_latent") else G.z_dim
        if isinstance(noise, torch.Tensor):
            z = noise
        elif callable(noise):
            z = noise((num_batches, width))
        else:
            if num_batches < 1:
                raise InputError("num_batches must be at least 1 when no noise is given")
            z = torch.randn([num_batches, width])
        z = z.to(device)
        img, ws = self._generate(G, z, **kwargs)
        if sample_model == "ema/orig" and self.use_ema:
            img = torch.cat([img, self._generate(self.generator, z, **kwargs)[0]])
        if return_noise or return_latents:
            return dict(fake_img=img, noise_batch=z, latent=ws)
        return img


def init_model(config: str | Path | dict | None, checkpoint: str | Path | None = None,
               device: str | torch.device = "cuda:0", cfg_options: dict | None = None) -> UnconditionalGAN:
    """Build the model a config describes and load a checkpoint into it, as `mmgen.apis.init_model` does.

    `config`: an MMGeneration config file (read without running it), the name of a config of its StyleGAN
    model zoo (its file need not exist), a dict, or None to take everything from the checkpoint.
    `checkpoint`: any file this package reads (MMGeneration, NVIDIA, rosinality, native); None gives
    randomly initialised networks. The model is returned in eval mode on `device`.
    """
    if config is None and checkpoint is None:
        raise InputError("init_model needs a config, a checkpoint, or both")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device} was asked for, but PyTorch sees no CUDA GPU; pass device='cpu'")
    model_cfg = mmgen_config.model_config(config) if config is not None else None
    if model_cfg is not None and cfg_options:
        model_cfg = _apply_options(model_cfg, cfg_options)
    if checkpoint is None:
        nets = mmgen.build_from_config(model_cfg)
    else:
        nets = hub.load_networks(checkpoint, config=model_cfg)
    if "G" not in nets and "G_ema" not in nets:
        raise InputError(f"{checkpoint}: holds no generator")
    model = UnconditionalGAN(nets.get("G", nets.get("G_ema")), nets.get("G_ema"), nets.get("D"),
                             {"model": model_cfg} if model_cfg else {})
    return model.to(device).eval()


@torch.no_grad()
def sample_unconditional_model(model: UnconditionalGAN, num_samples: int = 16, num_batches: int = 4,
                               sample_model: str = "ema", **kwargs: Any) -> torch.Tensor:
    """`num_samples` images drawn `num_batches` at a time: float CPU tensor [N, C, R, R], about [-1, 1], BGR.

    With sample_model='ema/orig' each batch holds the EMA images followed by the original generator's.
    """
    if num_samples < 1 or num_batches < 1:
        raise InputError(f"num_samples and num_batches must be at least 1, got {num_samples} and {num_batches}")
    model.eval()
    sizes = [num_batches] * (num_samples // num_batches) + ([num_samples % num_batches] if num_samples % num_batches
                                                              else [])
    return torch.cat([model.sample_from_noise(None, num_batches=n, sample_model=sample_model, **kwargs).cpu()
                      for n in sizes])


__all__ = ["UnconditionalGAN", "init_model", "sample_unconditional_model", "SAMPLE_MODELS"]
