"""Training options with the official presets per configuration, and the networks they describe.

The presets follow the official training scripts: StyleGAN2 (8 mapping layers, style mixing 0.9, path
length weight 2 with lazy regularisation every 4 minibatches, G lr 0.002), StyleGAN3-T/-R (2 mapping
layers, G lr 0.0025, magnitude EMA, R: 1x1 convolutions, doubled widths, radial filters, discriminator
blur fading out over the first 200 kimg per 32 images of batch) and StyleGAN1 (progressive growing from
8x8 with 600 kimg per level and 600 kimg of fade-in, style mixing 0.9, R1 on reals).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from torch import nn

from ..errors import InputError
from ..models import G_ARCHITECTURES, Discriminator, StyleGAN2Generator, StyleGAN3Generator
from ..models.stylegan1 import Discriminator as StyleGAN1Discriminator
from ..models.stylegan1 import Generator as StyleGAN1Generator
from . import AUGMENT_MODES, CONFIGS, LOSSES


@dataclass
class TrainOptions:
    """Everything a training run depends on; saved with every snapshot and restored on resume."""
    outdir: str
    data: str
    cfg: str = "stylegan2"
    gpus: int = 1
    batch: int = 32
    batch_gpu: int | None = None
    gamma: float = 10.0
    kimg: float = 25000
    tick: float = 4
    snap: int = 50
    mirror: bool = False
    cond: bool = False
    aug: str = "ada"
    p: float = 0.2
    target: float = 0.6
    augpipe: str = "bgc"
    ada_kimg: float = 500
    ada_interval: int = 4
    resume: str | None = None
    freezed: int = 0
    glr: float | None = None
    dlr: float = 0.002
    map_depth: int | None = None
    g_arch: str = "skip"
    mbstd_group: int = 4
    cbase: int = 32768
    cmax: int = 512
    fp32: bool = False
    bf16: bool = False
    seed: int = 0
    workers: int = 3
    metrics: list[str] = field(default_factory=list)
    loss: str = "logistic"
    z_dim: int = 512
    w_dim: int = 512
    max_size: int | None = None
    lod_kimg: float = 600
    lod_transition_kimg: float = 600
    lod_initial_resolution: int = 8

    @property
    def batch_per_gpu(self) -> int:
        """Samples one process handles at a time."""
        return self.batch_gpu or self.batch // self.gpus

    @property
    def g_lr(self) -> float:
        """The generator learning rate: --glr, else the configuration's default."""
        return self.glr if self.glr is not None else (0.002 if self.cfg in ("stylegan2", "stylegan1") else 0.0025)

    @property
    def mapping_layers(self) -> int:
        """Mapping network depth: --map-depth, else 8 for StyleGAN1/2 and 2 for StyleGAN3."""
        return self.map_depth if self.map_depth is not None else (2 if self.cfg.startswith("stylegan3") else 8)

    @property
    def ema_kimg(self) -> float:
        """Half-life of the generator EMA: 10 kimg per 32 images of batch, as the official presets."""
        return self.batch * 10 / 32

    @property
    def style_mixing(self) -> float:
        """Style-mixing regularisation probability."""
        return 0.9 if self.cfg in ("stylegan2", "stylegan1") else 0.0

    @property
    def pl_weight(self) -> float:
        """Path-length regularisation weight (StyleGAN2 only)."""
        return 2.0 if self.cfg == "stylegan2" else 0.0

    @property
    def g_reg_interval(self) -> int | None:
        """Lazy path-length regularisation interval, None when there is no G regulariser."""
        return 4 if self.pl_weight > 0 else None

    @property
    def d_reg_interval(self) -> int | None:
        """Lazy R1 interval (16); WGAN-GP computes its penalty every minibatch."""
        return 16 if self.loss == "logistic" and self.gamma > 0 else None

    @property
    def blur_fade_kimg(self) -> float:
        """StyleGAN3-R blurs what D sees, fading out over this many kimg."""
        return self.batch * 200 / 32 if self.cfg == "stylegan3-r" else 0.0

    def validate(self) -> None:
        """Raise InputError for option combinations that cannot run, naming the option."""
        if self.cfg not in CONFIGS:
            raise InputError(f"--cfg must be one of {', '.join(CONFIGS)}, got {self.cfg!r}")
        if self.aug not in AUGMENT_MODES:
            raise InputError(f"--aug must be one of {', '.join(AUGMENT_MODES)}, got {self.aug!r}")
        from .augment import PRESETS
        if self.aug != "noaug" and self.augpipe not in PRESETS:
            raise InputError(f"--augpipe must be one of {', '.join(PRESETS)}, got {self.augpipe!r}")
        if self.g_arch not in G_ARCHITECTURES:
            raise InputError(f"--g-arch must be one of {', '.join(G_ARCHITECTURES)}, got {self.g_arch!r}")
        if (self.lod_kimg, self.lod_transition_kimg) != (600, 600) and self.cfg != "stylegan1":
            raise InputError(f"--lod-kimg and --lod-transition-kimg apply to --cfg stylegan1 only (progressive "
                             f"growing; got --cfg {self.cfg})")
        if self.lod_kimg <= 0 or self.lod_transition_kimg < 0:
            raise InputError("--lod-kimg must be positive and --lod-transition-kimg at least 0")
        if self.g_arch != "skip" and self.cfg != "stylegan2":
            raise InputError(f"--g-arch {self.g_arch} applies to --cfg stylegan2 only (got --cfg {self.cfg})")
        if self.loss not in LOSSES:
            raise InputError(f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.gpus < 1 or self.batch < 1:
            raise InputError("--gpus and --batch must be at least 1")
        if self.batch % self.gpus:
            raise InputError(f"--batch ({self.batch}) must be a multiple of --gpus ({self.gpus})")
        if self.batch % (self.gpus * self.batch_per_gpu):
            raise InputError(f"--batch ({self.batch}) must be a multiple of --gpus times --batch-gpu "
                             f"({self.gpus} x {self.batch_per_gpu})")
        if self.batch_per_gpu < self.mbstd_group:
            raise InputError(f"--batch-gpu ({self.batch_per_gpu}) cannot be smaller than --mbstd-group "
                             f"({self.mbstd_group})")
        if self.kimg <= 0 or self.tick <= 0 or self.snap < 1:
            raise InputError("--kimg and --tick must be positive and --snap at least 1")

    def to_json(self) -> str:
        """The options as JSON (saved with each snapshot)."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainOptions":
        """Options from a saved dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def build_networks(opts: TrainOptions, resolution: int, channels: int, c_dim: int) -> tuple[nn.Module, nn.Module]:
    """Fresh G and D for the configuration, the dataset's shape and labels."""
    fp16 = dict(num_fp16_res=0, conv_clamp=None) if opts.fp32 else dict(num_fp16_res=4, conv_clamp=256)
    common = dict(c_dim=c_dim, img_resolution=resolution, img_channels=channels)
    mapping = dict(num_layers=opts.mapping_layers)
    d_kwargs = dict(channel_base=opts.cbase, channel_max=opts.cmax, block_kwargs=dict(freeze_layers=opts.freezed),
                    epilogue_kwargs=dict(mbstd_group_size=opts.mbstd_group), **fp16, **common)
    if opts.cfg == "stylegan2":
        G = StyleGAN2Generator(z_dim=opts.z_dim, w_dim=opts.w_dim, mapping_kwargs=mapping, channel_base=opts.cbase,
                               channel_max=opts.cmax, fused_modconv_default="inference_only", architecture=opts.g_arch,
                               **fp16, **common)
        return G, Discriminator(**d_kwargs)
    if opts.cfg.startswith("stylegan3"):
        r = opts.cfg == "stylegan3-r"
        G = StyleGAN3Generator(z_dim=opts.z_dim, w_dim=opts.w_dim, mapping_kwargs=mapping,
                               channel_base=opts.cbase * (2 if r else 1), channel_max=opts.cmax * (2 if r else 1),
                               magnitude_ema_beta=0.5 ** (opts.batch / (20 * 1e3)), conv_kernel=1 if r else 3,
                               use_radial_filters=r, num_fp16_res=fp16["num_fp16_res"],
                               conv_clamp=fp16["conv_clamp"], **common)
        return G, Discriminator(**d_kwargs)
    G = StyleGAN1Generator(z_dim=opts.z_dim, w_dim=opts.w_dim, mapping_kwargs=mapping, channel_base=opts.cbase // 2,
                           channel_max=opts.cmax, **common)
    D = StyleGAN1Discriminator(channel_base=opts.cbase // 2, channel_max=opts.cmax,
                               mbstd_group_size=opts.mbstd_group, **common)
    return G, D


def lod_at(opts: TrainOptions, resolution: int, kimg: float) -> float:
    """StyleGAN1 progressive growing: the level of detail after `kimg` (0 = full resolution).

    Each level trains for `lod_kimg` and then fades into the next over `lod_transition_kimg`, starting at
    `lod_initial_resolution`.
    """
    phase = opts.lod_kimg + opts.lod_transition_kimg
    index = int(kimg // phase) if phase > 0 else 0
    within = kimg - index * phase
    lod = (resolution.bit_length() - 1) - (opts.lod_initial_resolution.bit_length() - 1) - index
    if opts.lod_transition_kimg > 0:
        lod -= max(within - opts.lod_kimg, 0.0) / opts.lod_transition_kimg
    return max(float(lod), 0.0)


def run_dir_name(opts: TrainOptions, existing: list[str]) -> str:
    """The next numbered run folder name, as the official tools: 00003-stylegan2-ffhq-gpus1-batch32-gamma10."""
    ids = [int(name.split("-")[0]) for name in existing if name.split("-")[0].isdigit()]
    return (f"{max(ids, default=-1) + 1:05d}-{opts.cfg}-{Path(opts.data).stem.replace(':', '-')}-gpus{opts.gpus}-batch{opts.batch}"
            f"-gamma{opts.gamma:g}")
