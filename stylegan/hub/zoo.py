"""Published StyleGAN checkpoints by short name: `DATASET-RES-GEN`, e.g. `ffhq-1024-sg3t`.

GEN is sg1 (StyleGAN, TensorFlow pickles), sg2 (StyleGAN2 config F, TensorFlow pickles, and the
StyleGAN2 re-releases on NGC), sg2ada (StyleGAN2-ADA, PyTorch pickles), sg3t / sg3r (StyleGAN3 config T /
R). RES is the output width; `resolution` gives both sides. URLs are the official ones from the
authors' READMEs. A SHA-256 is recorded only when measured from the published file; where it is None,
the digest of the first download is recorded in the cache and later uses are checked against it.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ..errors import CheckpointError


@dataclass(frozen=True)
class Checkpoint:
    """One published checkpoint."""
    name: str
    generation: str
    dataset: str
    resolution: str
    url: str
    file: str
    sha256: str | None = None

    @property
    def download_url(self) -> str:
        """The address the bytes are fetched from: Google Drive share links go through Drive's direct
        download endpoint (the share link answers large files with a web page); others unchanged."""
        parts = urlsplit(self.url)
        if parts.netloc == "drive.google.com":
            file_id = parse_qs(parts.query)["id"][0]
            return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"
        return self.url


_SG1 = "https://drive.google.com/uc?id="
_SG2 = "https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/"
_NGC2 = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan2/versions/1/files/"
_ADA = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"
_NGC3 = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/"


def _sg1(name: str, dataset: str, resolution: str, drive_id: str, file: str) -> Checkpoint:
    return Checkpoint(name, "StyleGAN", dataset, resolution, _SG1 + drive_id, file)


def _url(name: str, generation: str, dataset: str, resolution: str, base: str, file: str) -> Checkpoint:
    return Checkpoint(name, generation, dataset, resolution, base + file, file)


ZOO: tuple[Checkpoint, ...] = (
    _sg1("ffhq-1024-sg1", "FFHQ", "1024x1024", "1MEGjdvVpUsu1jB4zrXZN7Y4kBBOzizDQ",
         "karras2019stylegan-ffhq-1024x1024.pkl"),
    _sg1("celebahq-1024-sg1", "CelebA-HQ", "1024x1024", "1MGqJl28pN4t7SAtSrPdSRJSQJqahkzUf",
         "karras2019stylegan-celebahq-1024x1024.pkl"),
    _sg1("bedrooms-256-sg1", "LSUN Bedroom", "256x256", "1MOSKeGF0FJcivpBI7s63V9YHloUTORiF",
         "karras2019stylegan-bedrooms-256x256.pkl"),
    _sg1("cars-512-sg1", "LSUN Car", "512x384", "1MJ6iCfNtMIRicihwRorsM3b7mmtmK9c3",
         "karras2019stylegan-cars-512x384.pkl"),
    _sg1("cats-256-sg1", "LSUN Cat", "256x256", "1MQywl0FNt6lHu8E_EUqnRbviagS7fbiJ",
         "karras2019stylegan-cats-256x256.pkl"),
    _url("ffhq-1024-sg2", "StyleGAN2 config F", "FFHQ", "1024x1024", _SG2, "stylegan2-ffhq-config-f.pkl"),
    _url("car-512-sg2", "StyleGAN2 config F", "LSUN Car", "512x384", _SG2, "stylegan2-car-config-f.pkl"),
    _url("horse-256-sg2", "StyleGAN2 config F", "LSUN Horse", "256x256", _SG2, "stylegan2-horse-config-f.pkl"),
    _url("church-256-sg2", "StyleGAN2 config F", "LSUN Church", "256x256", _SG2, "stylegan2-church-config-f.pkl"),
    _url("cat-256-sg2", "StyleGAN2 config F", "LSUN Cat", "256x256", _SG2, "stylegan2-cat-config-f.pkl"),
    _url("ffhq-512-sg2", "StyleGAN2", "FFHQ", "512x512", _NGC2, "stylegan2-ffhq-512x512.pkl"),
    _url("ffhq-256-sg2", "StyleGAN2", "FFHQ", "256x256", _NGC2, "stylegan2-ffhq-256x256.pkl"),
    _url("ffhqu-1024-sg2", "StyleGAN2", "FFHQ-U", "1024x1024", _NGC2, "stylegan2-ffhqu-1024x1024.pkl"),
    _url("ffhqu-256-sg2", "StyleGAN2", "FFHQ-U", "256x256", _NGC2, "stylegan2-ffhqu-256x256.pkl"),
    _url("metfacesu-1024-sg2", "StyleGAN2", "MetFaces-U", "1024x1024", _NGC2, "stylegan2-metfacesu-1024x1024.pkl"),
    _url("afhqv2-512-sg2", "StyleGAN2", "AFHQv2", "512x512", _NGC2, "stylegan2-afhqv2-512x512.pkl"),
    _url("celebahq-256-sg2", "StyleGAN2", "CelebA-HQ", "256x256", _NGC2, "stylegan2-celebahq-256x256.pkl"),
    _url("lsundog-256-sg2", "StyleGAN2", "LSUN Dog", "256x256", _NGC2, "stylegan2-lsundog-256x256.pkl"),
    _url("ffhq-1024-sg2ada", "StyleGAN2-ADA", "FFHQ", "1024x1024", _ADA, "ffhq.pkl"),
    _url("metfaces-1024-sg2ada", "StyleGAN2-ADA", "MetFaces", "1024x1024", _ADA, "metfaces.pkl"),
    _url("afhqcat-512-sg2ada", "StyleGAN2-ADA", "AFHQ Cat", "512x512", _ADA, "afhqcat.pkl"),
    _url("afhqdog-512-sg2ada", "StyleGAN2-ADA", "AFHQ Dog", "512x512", _ADA, "afhqdog.pkl"),
    _url("afhqwild-512-sg2ada", "StyleGAN2-ADA", "AFHQ Wild", "512x512", _ADA, "afhqwild.pkl"),
    _url("brecahad-512-sg2ada", "StyleGAN2-ADA", "BreCaHAD", "512x512", _ADA, "brecahad.pkl"),
    _url("cifar10-32-sg2ada", "StyleGAN2-ADA", "CIFAR-10 (10 classes)", "32x32", _ADA, "cifar10.pkl"),
    _url("ffhq-1024-sg3t", "StyleGAN3-T", "FFHQ", "1024x1024", _NGC3, "stylegan3-t-ffhq-1024x1024.pkl"),
    _url("ffhqu-1024-sg3t", "StyleGAN3-T", "FFHQ-U", "1024x1024", _NGC3, "stylegan3-t-ffhqu-1024x1024.pkl"),
    _url("ffhqu-256-sg3t", "StyleGAN3-T", "FFHQ-U", "256x256", _NGC3, "stylegan3-t-ffhqu-256x256.pkl"),
    _url("metfaces-1024-sg3t", "StyleGAN3-T", "MetFaces", "1024x1024", _NGC3, "stylegan3-t-metfaces-1024x1024.pkl"),
    _url("metfacesu-1024-sg3t", "StyleGAN3-T", "MetFaces-U", "1024x1024", _NGC3,
         "stylegan3-t-metfacesu-1024x1024.pkl"),
    _url("afhqv2-512-sg3t", "StyleGAN3-T", "AFHQv2", "512x512", _NGC3, "stylegan3-t-afhqv2-512x512.pkl"),
    _url("ffhq-1024-sg3r", "StyleGAN3-R", "FFHQ", "1024x1024", _NGC3, "stylegan3-r-ffhq-1024x1024.pkl"),
    _url("ffhqu-1024-sg3r", "StyleGAN3-R", "FFHQ-U", "1024x1024", _NGC3, "stylegan3-r-ffhqu-1024x1024.pkl"),
    _url("ffhqu-256-sg3r", "StyleGAN3-R", "FFHQ-U", "256x256", _NGC3, "stylegan3-r-ffhqu-256x256.pkl"),
    _url("metfaces-1024-sg3r", "StyleGAN3-R", "MetFaces", "1024x1024", _NGC3, "stylegan3-r-metfaces-1024x1024.pkl"),
    _url("metfacesu-1024-sg3r", "StyleGAN3-R", "MetFaces-U", "1024x1024", _NGC3,
         "stylegan3-r-metfacesu-1024x1024.pkl"),
    _url("afhqv2-512-sg3r", "StyleGAN3-R", "AFHQv2", "512x512", _NGC3, "stylegan3-r-afhqv2-512x512.pkl"),
)
_BY_NAME = {entry.name: entry for entry in ZOO}


def find(name: str) -> Checkpoint | None:
    """The zoo entry called `name` (case-insensitive), or None."""
    return _BY_NAME.get(str(name).strip().lower())


def suggest(name: str) -> str:
    """'; did you mean A, B?' for the entries closest to a mistyped `name`, else ''."""
    close = difflib.get_close_matches(str(name).lower(), list(_BY_NAME), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


def get(name: str) -> Checkpoint:
    """The zoo entry called `name`; an unknown name is an error that lists close names."""
    entry = find(name)
    if entry is None:
        raise CheckpointError(f"{name}: not a published checkpoint name (see `stylegan models`){suggest(name)}")
    return entry
