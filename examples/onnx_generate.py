"""Generate and style-mix images with an exported StyleGAN, using onnxruntime and numpy only (no PyTorch).

Export the two halves of a generator once:

    stylegan export --network ffhq.pkl --format onnx --part mapping --out mapping.onnx
    stylegan export --network ffhq.pkl --format onnx --part synthesis --out synthesis.onnx

then, anywhere onnxruntime runs:

    python onnx_generate.py --mapping mapping.onnx --synthesis synthesis.onnx --seeds 85,100,75 --trunc 0.7
    python onnx_generate.py --mapping mapping.onnx --synthesis synthesis.onnx --seeds 85,100,75 \
        --mix 55,821,1789 --styles coarse --trunc 0.7 --out mix.png

Without --mix the image is a row of the seeds' images. With --mix it is the style-mixing grid: the top row
holds the --mix images B, the left column the --seeds images A, and each cell is A with B's --styles
(coarse, middle, fine, or ws rows like 0-3). num_ws, w_avg and the style ranges come from the sidecar
JSON written beside each exported file; truncation toward w_avg happens here, in numpy.
"""
from __future__ import annotations

import argparse
import json
import struct
import zlib

import numpy as np
import onnxruntime as ort


def load(path: str) -> tuple[ort.InferenceSession, dict]:
    """An onnxruntime session and the sidecar JSON (path + '.json') of an exported file."""
    with open(path + ".json") as f:
        meta = json.load(f)
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"]), meta


def map_seeds(session: ort.InferenceSession, meta: dict, seeds: list[int], class_idx: int) -> np.ndarray:
    """ws [N, num_ws, w_dim] for seeds, with the official z of each seed and no truncation."""
    if meta["truncation"]["psi"] not in ("input", 1):
        raise SystemExit("export the mapping without --trunc: this example truncates in numpy")
    feeds = {"z": np.concatenate([np.random.RandomState(s).randn(1, meta["z_dim"]) for s in seeds]).astype(np.float32)}
    if meta["c_dim"] > 0:
        feeds["c"] = np.eye(meta["c_dim"], dtype=np.float32)[[class_idx] * len(seeds)]
    if meta["truncation"]["psi"] == "input":
        feeds["truncation_psi"] = np.array(1, np.float32)
    return session.run(None, feeds)[0]


def synthesize(session: ort.InferenceSession, ws: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """uint8 images [N, H, W, C] for ws; `transform` feeds StyleGAN3's input transform when there is one."""
    feeds = {"ws": ws.astype(np.float32)}
    if any(i.name == "transform" for i in session.get_inputs()):
        feeds["transform"] = transform
    img = session.run(None, feeds)[0]
    return np.floor(np.clip(img * 127.5 + 128, 0, 255)).astype(np.uint8).transpose(0, 2, 3, 1)


def style_rows(meta: dict, spec: str) -> list[int]:
    """ws rows from 'coarse', 'middle', 'fine', '0-3' or '0,2,5', combined with commas."""
    rows: list[int] = []
    for part in spec.split(","):
        if part in meta["style_ranges"]:
            rows += meta["style_ranges"][part]
        else:
            lo, _, hi = part.partition("-")
            rows += list(range(int(lo), int(hi or lo) + 1))
    return rows


def image_transform(translate: tuple[float, float], rotate: float) -> np.ndarray:
    """StyleGAN3's input transform: the inverse of the image transform (rotation in degrees)."""
    a = np.radians(rotate)
    m = np.array([[np.cos(a), np.sin(a), translate[0]], [-np.sin(a), np.cos(a), translate[1]], [0, 0, 1]])
    return np.linalg.inv(m).astype(np.float32)


def write_png(path: str, image: np.ndarray) -> None:
    """Write uint8 [H, W, 1 or 3] as an 8-bit grayscale or RGB PNG."""
    h, w, c = image.shape

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + image[y].tobytes() for y in range(h))
    header = struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))


def grid(cells: list[list[np.ndarray | None]], like: np.ndarray) -> np.ndarray:
    """Tile rows of images into one image; None leaves a cell black."""
    blank = np.zeros_like(like)
    return np.concatenate([np.concatenate([blank if c is None else c for c in row], axis=1) for row in cells])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mapping", required=True, help="Exported mapping part (.onnx)")
    parser.add_argument("--synthesis", required=True, help="Exported synthesis part (.onnx)")
    parser.add_argument("--seeds", required=True, help="Seeds, e.g. 85,100,75")
    parser.add_argument("--mix", default=None, help="Seeds whose styles are mixed in, e.g. 55,821")
    parser.add_argument("--styles", default="coarse", help="Rows taken from --mix: coarse, middle, fine, 0-3, ...")
    parser.add_argument("--trunc", type=float, default=1.0, help="Truncation psi")
    parser.add_argument("--class", dest="class_idx", type=int, default=0, help="Class of conditional networks")
    parser.add_argument("--translate", type=float, nargs=2, default=(0.0, 0.0), help="StyleGAN3: translate X Y")
    parser.add_argument("--rotate", type=float, default=0.0, help="StyleGAN3: rotate, degrees")
    parser.add_argument("--out", default="onnx_images.png")
    args = parser.parse_args()

    mapping, map_meta = load(args.mapping)
    synthesis, meta = load(args.synthesis)
    w_avg = np.asarray(meta["w_avg"], np.float32)
    transform = image_transform(args.translate, args.rotate)

    def ws_for(seeds: str) -> np.ndarray:
        ws = map_seeds(mapping, map_meta, [int(s) for s in seeds.split(",")], args.class_idx)
        return w_avg + args.trunc * (ws - w_avg)

    ws_a = ws_for(args.seeds)
    images_a = synthesize(synthesis, ws_a, transform)
    if args.mix is None:
        image = np.concatenate(list(images_a), axis=1)
    else:
        ws_b = ws_for(args.mix)
        rows = style_rows(meta, args.styles)
        mixed = np.repeat(ws_a, len(ws_b), axis=0)
        mixed[:, rows] = np.tile(ws_b, (len(ws_a), 1, 1))[:, rows]
        images_mixed = synthesize(synthesis, mixed, transform)
        images_b = synthesize(synthesis, ws_b, transform)
        cells = [[None] + list(images_b)]
        cells += [[images_a[i]] + list(images_mixed[i * len(ws_b):(i + 1) * len(ws_b)]) for i in range(len(ws_a))]
        image = grid(cells, images_a[0])
    write_png(args.out, image)
    print(f"{args.out}: {image.shape[1]}x{image.shape[0]}")


if __name__ == "__main__":
    main()
