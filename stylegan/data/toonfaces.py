"""`builtin:toonfaces`: procedural cartoon faces, drawn with Pillow, deterministic per index.

Each face is drawn at 4x its size and box-filtered down (anti-aliasing). Its random factors sit at the
three scales a StyleGAN separates, so a model trained on them shows what its layers control:

- coarse: head shape, size and position, head tilt and turn (pose), hair silhouette (bald, short, long,
  bob, spiky, afro);
- middle: eye shape, size and spacing, brows, nose, mouth expression (sad to smiling, open or closed),
  glasses;
- fine: skin tone, hair colour, eye colour, shirt colour, background colours and gradient, freckles,
  blush, film grain (monochrome per-pixel noise of standard deviation 6-18 of 255: visible detail that
  nothing else in the face predicts, which is what a StyleGAN's noise inputs carry).

`toonface(index, resolution)` draws one face; `toonface_factors(index)` lists its factors and
`FACTOR_SCALES` names those of each scale, so that `toonface(i, overrides=...)` can swap one scale's factors
between two faces: the dataset's own answer to what style mixing should do.
"""
from __future__ import annotations

import math

import numpy as np
import PIL.Image
import PIL.ImageDraw
import PIL.ImageFilter

NAME = "builtin:toonfaces"
NUM_IMAGES = 100_000  # the size of the dataset (any index draws a face; this is what training iterates over)
DEFAULT_RESOLUTION = 64
SUPERSAMPLE = 4
SEED = 20190  # the dataset's identity: changing it would change every face
DRAWING_VERSION = 2  # raised with every change that alters any face (2: film grain 6-18 instead of 0-5)

HAIR_STYLES = ("bald", "short", "long", "bob", "spiky", "afro")
NOSE_STYLES = ("dot", "hook", "triangle")
GLASSES = ("none", "round", "square")
SKIN_TONES = np.array([(255, 224, 196), (241, 194, 158), (224, 172, 128), (198, 134, 92), (141, 85, 54),
                       (94, 58, 38)], dtype=np.float64)
HAIR_COLOURS = np.array([(30, 24, 20), (85, 55, 35), (150, 100, 55), (225, 190, 110), (170, 60, 30),
                         (180, 180, 185), (60, 90, 200), (220, 90, 150)], dtype=np.float64)
EYE_COLOURS = np.array([(90, 55, 30), (60, 120, 200), (60, 140, 80), (130, 110, 60), (110, 120, 130)],
                       dtype=np.float64)
OUTLINE = (40, 28, 24, 255)
FACTOR_SCALES = {
    "coarse": ("head_w", "head_h", "squareness", "chin", "cx", "cy", "tilt", "turn", "hair", "hairline", "parting"),
    "middle": ("eye_w", "eye_aspect", "eye_gap", "eye_y", "brow_angle", "brow_lift", "brow_width", "nose",
               "nose_size", "smile", "mouth_w", "mouth_open", "glasses"),
    "fine": ("skin", "hair_colour", "eye_colour", "shirt", "background", "gradient_angle", "freckles", "blush",
             "grain", "light", "texture_seed"),
}


def toonface_factors(index: int) -> dict:
    """The random factors of face `index`, in canvas units (the image spans 0..1), degrees and RGB."""
    if index < 0:
        raise ValueError(f"toonface index must be >= 0, got {index}")
    rng = np.random.default_rng([SEED, int(index)])
    u = rng.uniform

    def colour(palette: np.ndarray, jitter: float) -> tuple[int, int, int]:
        i = rng.integers(len(palette))
        j = rng.integers(len(palette))
        c = palette[i] + (palette[j] - palette[i]) * u(0, 0.35) + rng.normal(0, jitter, 3)
        return tuple(int(v) for v in np.clip(c, 0, 255))

    head_w = u(0.24, 0.33)
    f = dict(  # in the order of FACTOR_SCALES
        # coarse
        head_w=head_w, head_h=head_w * u(1.05, 1.35), squareness=u(2.0, 3.2), chin=u(0.0, 1.0),
        cx=0.5 + u(-0.06, 0.06), cy=0.5 + u(-0.04, 0.05), tilt=u(-18, 18), turn=u(-1, 1),
        hair=HAIR_STYLES[rng.integers(len(HAIR_STYLES))], hairline=u(0.22, 0.42), parting=u(-0.6, 0.6),
        # middle
        eye_w=u(0.13, 0.22), eye_aspect=u(0.45, 1.1), eye_gap=u(0.34, 0.5), eye_y=u(-0.12, 0.02),
        brow_angle=u(-22, 22), brow_lift=u(0.06, 0.16), brow_width=u(0.02, 0.05),
        nose=NOSE_STYLES[rng.integers(len(NOSE_STYLES))], nose_size=u(0.05, 0.11),
        smile=u(-1, 1), mouth_w=u(0.25, 0.5), mouth_open=float(u() < 0.35) * u(0.3, 1.0),
        glasses=GLASSES[rng.choice(3, p=[0.7, 0.15, 0.15])],
        # fine
        skin=colour(SKIN_TONES, 6), hair_colour=colour(HAIR_COLOURS, 10), eye_colour=colour(EYE_COLOURS, 12),
        shirt=tuple(int(v) for v in rng.integers(30, 230, 3)),
        background=(tuple(int(v) for v in rng.integers(40, 256, 3)), tuple(int(v) for v in rng.integers(40, 256, 3))),
        gradient_angle=u(0, 360), freckles=int(u() < 0.3) * int(rng.integers(6, 22)),
        blush=float(u() < 0.35) * u(0.25, 0.6), grain=u(6, 18), light=u(-1, 1),
        texture_seed=int(rng.integers(2 ** 31)),
    )
    return f


def toonface(index: int, resolution: int = DEFAULT_RESOLUTION, overrides: dict | None = None) -> np.ndarray:
    """Face `index` as a uint8 RGB array [resolution, resolution, 3]; the same index always gives the same
    face, at any resolution. `overrides` replaces some of its factors (names as in `toonface_factors`)."""
    if resolution < 4:
        raise ValueError(f"toonface resolution must be at least 4, got {resolution}")
    f = toonface_factors(index)
    unknown = set(overrides or {}) - set(f)
    if unknown:
        raise ValueError(f"unknown toonface factors {sorted(unknown)}; known: {sorted(f)}")
    f.update(overrides or {})
    size = resolution * SUPERSAMPLE
    canvas = _background(f, size)
    face = PIL.Image.new("RGBA", (size, size), (0, 0, 0, 0))
    _draw_face(face, f, size)
    pivot = (f["cx"] * size, f["cy"] * size)
    face = face.rotate(f["tilt"], resample=PIL.Image.BICUBIC, center=pivot)
    canvas.alpha_composite(face)
    image = np.asarray(canvas.convert("RGB").reduce(SUPERSAMPLE), dtype=np.float64)
    grain = np.random.default_rng(f["texture_seed"]).normal(0, f["grain"], image.shape[:2])[..., None]
    return np.clip(np.rint(image + grain), 0, 255).astype(np.uint8)


def _background(f: dict, size: int) -> PIL.Image.Image:
    """A linear gradient between the two background colours, in the direction `gradient_angle`."""
    a = math.radians(f["gradient_angle"])
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1) - 0.5
    t = np.clip((xx * math.cos(a) + yy * math.sin(a)) / math.sqrt(0.5) * 0.5 + 0.5, 0, 1)[..., None]
    c0, c1 = (np.array(c, dtype=np.float64) for c in f["background"])
    rgb = (c0 + (c1 - c0) * t).astype(np.uint8)
    return PIL.Image.fromarray(np.concatenate([rgb, np.full_like(rgb[..., :1], 255)], axis=2), "RGBA")


def _shade(colour, amount: float) -> tuple[int, int, int, int]:
    """The colour darkened (amount < 0) or lightened (amount > 0), opaque."""
    c = np.array(colour[:3], dtype=np.float64)
    c = c + (255 - c) * amount if amount > 0 else c * (1 + amount)
    return tuple(int(v) for v in np.clip(c, 0, 255)) + (255,)


def _head_outline(f: dict, size: int, scale: float = 1.0, n: int = 72) -> list[tuple[float, float]]:
    """The head as a polygon: a superellipse whose lower half narrows towards the chin."""
    a, b = f["head_w"] * scale * size, f["head_h"] * scale * size
    cx, cy = f["cx"] * size, f["cy"] * size
    e = 2.0 / f["squareness"]
    points = []
    for k in range(n):
        t = 2 * math.pi * k / n
        c, s = math.cos(t), math.sin(t)
        x = math.copysign(abs(c) ** e, c)
        y = math.copysign(abs(s) ** e, s)
        if y > 0:
            x *= 1 - 0.35 * f["chin"] * y ** 2
        points.append((cx + a * x, cy + b * y))
    return points


def _draw_face(layer: PIL.Image.Image, f: dict, size: int) -> None:
    d = PIL.ImageDraw.Draw(layer)
    s = size
    lw = max(1, round(0.008 * s))
    cx, cy, hw, hh = f["cx"] * s, f["cy"] * s, f["head_w"] * s, f["head_h"] * s
    skin, hair = f["skin"] + (255,), f["hair_colour"] + (255,)
    turn = f["turn"] * 0.12 * hw  # features shift sideways when the head turns

    # body: shoulders and neck
    d.ellipse([cx - 1.9 * hw, cy + 1.05 * hh, cx + 1.9 * hw, cy + 2.6 * hh], fill=f["shirt"] + (255,),
              outline=OUTLINE, width=lw)
    d.rectangle([cx - 0.38 * hw, cy + 0.6 * hh, cx + 0.38 * hw, cy + 1.15 * hh], fill=_shade(skin, -0.15))

    # hair behind the head
    top = cy - hh
    if f["hair"] == "long":
        d.rounded_rectangle([cx - 1.22 * hw, top - 0.08 * hh, cx + 1.22 * hw, cy + 1.25 * hh], radius=0.9 * hw,
                            fill=hair, outline=OUTLINE, width=lw)
    elif f["hair"] == "bob":
        d.ellipse([cx - 1.2 * hw, top - 0.12 * hh, cx + 1.2 * hw, cy + 0.75 * hh], fill=hair, outline=OUTLINE,
                  width=lw)
    elif f["hair"] == "afro":
        r = 1.45 * hw
        d.ellipse([cx - r, cy - 0.45 * hh - r, cx + r, cy - 0.45 * hh + r], fill=hair, outline=OUTLINE, width=lw)

    # ears, then the head
    ear_y = cy + (f["eye_y"] + 0.1) * hh
    for side in (-1, 1):
        ex = cx + side * hw * (0.97 - 0.1 * side * f["turn"])
        d.ellipse([ex - 0.16 * hw, ear_y - 0.2 * hh, ex + 0.16 * hw, ear_y + 0.12 * hh], fill=skin, outline=OUTLINE,
                  width=lw)
    d.polygon(_head_outline(f, s), fill=skin, outline=OUTLINE, width=lw)

    # light from one side
    light = PIL.Image.new("RGBA", layer.size, (0, 0, 0, 0))
    PIL.ImageDraw.Draw(light).polygon(_head_outline(f, s, 0.8), fill=(255, 255, 255, int(40 * abs(f["light"]))))
    light = light.transform(layer.size, PIL.Image.AFFINE, (1, 0, -math.copysign(0.25 * hw, f["light"]), 0, 1, 0.15 * hh))
    mask = PIL.Image.new("L", layer.size, 0)
    PIL.ImageDraw.Draw(mask).polygon(_head_outline(f, s), fill=255)
    layer.paste(PIL.Image.alpha_composite(layer, light), (0, 0), mask)

    # hair on top of the head
    if f["hair"] in ("short", "long", "bob", "spiky", "afro"):
        _hair_cap(layer, f, s, hair, lw)

    # freckles and blush on the cheeks
    rng = np.random.default_rng(f["texture_seed"])
    cheek_y = cy + (f["eye_y"] + 0.32) * hh
    for side in (-1, 1):
        ccx = cx + turn + side * 0.5 * hw
        if f["blush"] > 0:
            blush = PIL.Image.new("RGBA", layer.size, (0, 0, 0, 0))
            PIL.ImageDraw.Draw(blush).ellipse([ccx - 0.17 * hw, cheek_y - 0.08 * hh, ccx + 0.17 * hw, cheek_y + 0.08 * hh],
                                              fill=(230, 80, 90, int(255 * f["blush"] * 0.6)))
            layer.alpha_composite(blush)
        for _ in range(f["freckles"] // 2):
            fx, fy = ccx + rng.uniform(-0.2, 0.2) * hw, cheek_y + rng.uniform(-0.1, 0.1) * hh
            r = 0.012 * s
            d.ellipse([fx - r, fy - r, fx + r, fy + r], fill=_shade(skin, -0.35))

    _eyes(d, f, s, lw, turn)
    _nose(d, f, s, lw, turn)
    _mouth(d, f, s, lw, turn)
    if f["glasses"] != "none":
        _glasses(d, f, s, lw, turn)


def _hair_cap(layer: PIL.Image.Image, f: dict, s: int, hair, lw: int) -> None:
    """Hair over the top of the head down to the hairline (tilted by the parting), or spikes."""
    cx, cy, hw, hh = f["cx"] * s, f["cy"] * s, f["head_w"] * s, f["head_h"] * s
    mask = PIL.Image.new("L", layer.size, 0)
    md = PIL.ImageDraw.Draw(mask)
    grow = 1.1 if f["hair"] != "afro" else 1.2
    md.polygon(_head_outline(f, s, grow), fill=255)
    line_y = cy - hh + f["hairline"] * 2 * hh * (0.6 if f["hair"] == "afro" else 1.0)
    slope = f["parting"] * 0.35 * hh
    md.polygon([(0, line_y - slope), (s, line_y + slope), (s, s), (0, s)], fill=0)
    if f["hair"] == "spiky":
        n = 7
        for k in range(n):
            x0 = cx - hw + 2 * hw * k / n
            md.polygon([(x0, cy - 0.8 * hh), (x0 + hw / n, cy - 1.35 * hh), (x0 + 2 * hw / n, cy - 0.8 * hh)],
                       fill=255)
    layer.paste(PIL.Image.new("RGBA", layer.size, OUTLINE), (0, 0), mask.filter(PIL.ImageFilter.MaxFilter(2 * lw + 1)))
    layer.paste(PIL.Image.new("RGBA", layer.size, hair), (0, 0), mask)


def _eyes(d: PIL.ImageDraw.ImageDraw, f: dict, s: int, lw: int, turn: float) -> None:
    cx, cy, hw, hh = f["cx"] * s, f["cy"] * s, f["head_w"] * s, f["head_h"] * s
    ey = cy + f["eye_y"] * hh
    rw = f["eye_w"] * hw
    rh = rw * f["eye_aspect"]
    for side in (-1, 1):
        ex = cx + turn + side * f["eye_gap"] * hw
        w = rw * (1 - 0.25 * max(0.0, side * f["turn"]))  # the far eye looks narrower
        d.ellipse([ex - w, ey - rh, ex + w, ey + rh], fill=(250, 250, 250, 255), outline=OUTLINE, width=lw)
        ir = min(w, rh) * 0.75
        ix = ex + f["turn"] * 0.3 * w
        d.ellipse([ix - ir, ey - ir, ix + ir, ey + ir], fill=f["eye_colour"] + (255,))
        pr = ir * 0.45
        d.ellipse([ix - pr, ey - pr, ix + pr, ey + pr], fill=(15, 12, 12, 255))
        hr = ir * 0.25
        d.ellipse([ix - ir * 0.35 - hr, ey - ir * 0.35 - hr, ix - ir * 0.35 + hr, ey - ir * 0.35 + hr],
                  fill=(255, 255, 255, 255))
        # brow: a thick line tilted by brow_angle (mirrored), above the eye
        by = ey - rh - f["brow_lift"] * hh
        a = math.radians(f["brow_angle"]) * side
        dx, dy = math.cos(a) * rw * 1.1, math.sin(a) * rw * 1.1
        d.line([(ex - dx, by + dy), (ex + dx, by - dy)], fill=_shade(f["hair_colour"], -0.3),
               width=max(1, round(f["brow_width"] * hh)))


def _nose(d: PIL.ImageDraw.ImageDraw, f: dict, s: int, lw: int, turn: float) -> None:
    cx, cy, hw, hh = f["cx"] * s, f["cy"] * s, f["head_w"] * s, f["head_h"] * s
    nx, ny, r = cx + 1.6 * turn, cy + (f["eye_y"] + 0.3) * hh, f["nose_size"] * hw
    colour = _shade(f["skin"], -0.35)
    if f["nose"] == "dot":
        d.ellipse([nx - r * 0.6, ny - r * 0.4, nx + r * 0.6, ny + r * 0.4], fill=colour)
    elif f["nose"] == "hook":
        side = 1 if f["turn"] >= 0 else -1
        d.line([(nx, ny - 1.6 * r), (nx + side * r, ny + 0.3 * r), (nx - side * 0.2 * r, ny + 0.5 * r)],
               fill=colour, width=lw, joint="curve")
    else:
        d.polygon([(nx, ny - 1.4 * r), (nx - 0.8 * r, ny + 0.5 * r), (nx + 0.8 * r, ny + 0.5 * r)],
                  fill=_shade(f["skin"], -0.12), outline=colour, width=lw)


def _mouth(d: PIL.ImageDraw.ImageDraw, f: dict, s: int, lw: int, turn: float) -> None:
    """A curve through the corners and the middle: the middle drops for a smile and rises for a frown."""
    cx, cy, hw, hh = f["cx"] * s, f["cy"] * s, f["head_w"] * s, f["head_h"] * s
    mx, my = cx + 1.3 * turn, cy + (f["eye_y"] + 0.58) * hh
    half = f["mouth_w"] * hw
    bend = f["smile"] * 0.13 * hh
    top = [(mx + half * t, my + bend * (1 - t * t)) for t in np.linspace(-1, 1, 17)]
    if f["mouth_open"] > 0:
        depth = f["mouth_open"] * 0.12 * hh
        bottom = [(x, y + depth * (1 - ((x - mx) / half) ** 2)) for x, y in reversed(top)]
        d.polygon(top + bottom, fill=(110, 30, 40, 255), outline=OUTLINE, width=lw)
    else:
        d.line(top, fill=OUTLINE, width=max(1, round(1.4 * lw)), joint="curve")


def _glasses(d: PIL.ImageDraw.ImageDraw, f: dict, s: int, lw: int, turn: float) -> None:
    cx, cy, hw, hh = f["cx"] * s, f["cy"] * s, f["head_w"] * s, f["head_h"] * s
    ey = cy + f["eye_y"] * hh
    r = max(f["eye_w"] * hw * 1.45, 0.16 * hw)
    width = max(1, round(1.5 * lw))
    centres = [cx + turn + side * f["eye_gap"] * hw for side in (-1, 1)]
    for gx in centres:
        box = [gx - r, ey - r * 0.85, gx + r, ey + r * 0.85]
        if f["glasses"] == "round":
            d.ellipse(box, outline=(20, 20, 25, 255), width=width)
        else:
            d.rounded_rectangle(box, radius=r * 0.25, outline=(20, 20, 25, 255), width=width)
    d.line([(centres[0] + r, ey), (centres[1] - r, ey)], fill=(20, 20, 25, 255), width=width)
