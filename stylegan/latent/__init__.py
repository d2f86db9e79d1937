"""Everything between a network and its pictures, in latent space: seeds and ws (`space`, `seeds`), generation
(`generate`, `bulk`), editing directions (`edit`), projection of images into W / W+ (`projection`, with the
losses of `perceptual`, and photos' faces aligned as FFHQ was made by `align` and `align_files`) and the
settings record that describes one image (`settings`, the studio's and `generate --settings`'s).

All functions work on ws tensors [N, num_ws, w_dim] (W+ when rows differ) and on any generation.
"""
from __future__ import annotations

from ..lazy import exports

# The projection methods and their defaults: the official StyleGAN2 projector (W, noise optimised),
# Image2StyleGAN (W+), pivotal tuning (the official projector's w as the pivot, then the generator tuned), and
# a learned encoder's one pass.
PROJECTION_METHODS = {
    "official": dict(space="w", loss="auto", num_steps=1000, lr=0.1, optimize_noise=True),
    "image2stylegan": dict(space="w+", loss="auto", num_steps=5000, lr=0.01, optimize_noise=False),
    "pti": dict(space="w", loss="auto", num_steps=1000, lr=0.1, optimize_noise=True),
    "encoder": dict(space="w+", loss="auto", num_steps=0, lr=0.0, optimize_noise=False),
}
ALIGN_MAX_SIZE = 4096  # the largest size of an aligned face (its crop is resampled at 4x that size)

__getattr__ = exports(__name__, {
    "seed_to_z": "space", "seeds_to_z": "space", "device_of": "space", "class_label": "space",
    "seeds_to_ws": "space", "resolve_layers": "space", "mix": "space", "blend": "space", "crossover": "space",
    "expression": "space", "lerp": "space", "slerp": "space", "interpolate": "space", "sources_to_ws": "space",
    "MAX_SEED": "seeds", "parse_seeds": "seeds", "truncate": ".models.mapping", "style_ranges": ".models.common",
    "noise_modes": ".models.noise", "random_noise": ".models.noise", "load_ws": ".io.latents",
    "save_ws": ".io.latents", "render": "generate", "generate_for_seeds": "generate",
    "set_input_transform": "generate", "input_transform": "generate", "check_truncation": "space",
    "Directions": "edit", "sefa": "edit", "ganspace": "edit", "interfacegan": "edit", "apply_direction": "edit",
    "Projection": "projection", "project": "projection", "project_image": "projection",
    "project_files": "projection", "psnr": "projection", "tune": "pti", "Settings": "settings",
    "render_settings": "settings", "load_settings": "settings", "save_settings": "settings", "Framing": "align",
    "face_quad": "align", "crop_quad": "align", "align_face": "align", "align_photo": "align_files",
    "align_files": "align_files", "detect_landmarks": "align_files",
})

__all__ = ["PROJECTION_METHODS", "seed_to_z", "seeds_to_z", "device_of", "class_label", "seeds_to_ws",
           "resolve_layers", "mix", "blend", "crossover", "expression", "lerp", "slerp", "interpolate",
           "sources_to_ws", "MAX_SEED", "parse_seeds", "truncate", "style_ranges", "noise_modes", "random_noise",
           "load_ws", "save_ws", "render", "generate_for_seeds", "set_input_transform", "input_transform",
           "check_truncation", "Directions", "sefa", "ganspace", "interfacegan", "apply_direction", "Projection",
           "project", "project_image", "project_files", "psnr", "tune", "Settings", "render_settings",
           "load_settings", "save_settings", "ALIGN_MAX_SIZE", "Framing", "face_quad", "crop_quad", "align_face",
           "align_photo", "align_files", "detect_landmarks"]
