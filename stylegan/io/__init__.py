"""Files in and out, each kind with one reader and one writer: regular files only, atomic writes, text/JSON
records and array bundles (`files`), paths as typed (`paths`), images (`images`), ws, direction and noise files
(`latents`), videos (`video`), and the output side of every verb (`outputs`: writability checked before any
work, file-system faults as one line, settings records)."""
from __future__ import annotations

from ..lazy import exports

__getattr__ = exports(__name__, {
    "atomic_path": "files", "regular_file_size": "files", "open_regular": "files", "read_bytes": "files",
    "read_text": "files", "read_json": "files", "write_json": "files",
    "load_arrays": "files", "save_arrays": "files", "to_uint8": "images", "save_png": "images",
    "make_grid": "images", "ALPHA_MODES": "images", "SIXTEEN_BIT_MODES": "images", "decode_image": "images",
    "fit_image": "images", "read_image": "images", "save_ws": "latents", "load_ws": "latents",
    "split_index": "latents", "load_directions": "latents", "load_direction": "latents",
    "save_directions": "latents", "save_noise": "latents", "load_noise": "latents", "projection_noise": "latents",
    "OutputError": "outputs", "describe_os_error": "outputs", "check_outputs": "outputs", "RunRecord": "outputs",
    "network_identity": "outputs", "user_path": "paths", "VIDEO_SUFFIXES": "video", "open_video": "video",
    "write_video": "video",
})

__all__ = ["atomic_path", "regular_file_size", "open_regular", "read_bytes", "read_text", "read_json", "write_json",
           "load_arrays", "save_arrays", "to_uint8", "save_png", "make_grid", "ALPHA_MODES", "SIXTEEN_BIT_MODES",
           "decode_image", "fit_image", "read_image", "save_ws", "load_ws", "split_index", "load_directions",
           "load_direction", "save_directions", "save_noise", "load_noise", "projection_noise", "OutputError",
           "describe_os_error", "check_outputs", "RunRecord", "network_identity", "user_path", "VIDEO_SUFFIXES",
           "open_video", "write_video"]
