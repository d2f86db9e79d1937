"""MMGeneration config files, read without executing them.

An MMGeneration config is a Python file of module-level assignments (`model = dict(...)` and helper
variables) over a `_base_` list of files merged underneath. Here it is parsed with `ast` and only literal
values are evaluated: constants, lists, tuples, dicts, `dict(...)` calls, names assigned earlier in the
same file and arithmetic on them; anything else (imports, attribute access, function calls) is never
run, and a value that needs it reads as unknown. Bases merge as mmcv merges them: dicts recursively,
`_delete_=True` replaces. The configs of MMGeneration's StyleGAN model zoo also work without their files:
MODEL_ZOO holds their `model` entries.
"""
from __future__ import annotations

import ast
import copy
import operator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io.files import read_text

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}


class Unknown:
    """A config value that cannot be read without running code; says why when used."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unknown({self.name}: {self.reason})"


class _Unsupported(Exception):
    pass


def _evaluate(node: ast.AST, names: dict[str, Any]) -> Any:
    """The value of a literal expression; raises _Unsupported for anything that would need code to run."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_evaluate(e, names) for e in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    if isinstance(node, ast.Dict):
        out: dict = {}
        for key, value in zip(node.keys, node.values):
            if key is None:
                out.update(_evaluate(value, names))
            else:
                out[_evaluate(key, names)] = _evaluate(value, names)
        return out
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise _Unsupported(f"'{node.id}' is not defined in this file")
        value = names[node.id]
        if isinstance(value, Unknown):
            raise _Unsupported(f"'{node.id}' {value.reason}")
        return copy.deepcopy(value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        out = {}
        for arg in node.args:
            out.update(_evaluate(arg, names))
        for kw in node.keywords:
            value = _evaluate(kw.value, names)
            out.update(value) if kw.arg is None else out.__setitem__(kw.arg, value)
        return out
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left, names), _evaluate(node.right, names)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise _Unsupported("uses a large power")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand, names))
    raise _Unsupported(f"needs Python code to compute ({type(node).__name__})")


def parse_text(text: str, source: str = "<config>") -> dict[str, Any]:
    """The top-level variables of one config file's text (bases not merged); unreadable ones are Unknown."""
    try:
        tree = ast.parse(text, filename=source)
    except SyntaxError as exc:
        raise InputError(f"{source}: not a readable MMGeneration config (syntax error on line {exc.lineno})") from None
    names: dict[str, Any] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                try:
                    names[target.id] = _evaluate(value, names)
                except _Unsupported as exc:
                    names[target.id] = Unknown(target.id, str(exc))
                except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
                    names[target.id] = Unknown(target.id, f"does not evaluate ({exc})")
    return names


def merge(child: Any, base: Any) -> Any:
    """mmcv's merge: dicts merge key by key unless the child says `_delete_=True`; other values replace."""
    if isinstance(child, dict) and isinstance(base, dict) and not child.get("_delete_", False):
        out = dict(base)
        for key, value in child.items():
            out[key] = merge(value, base.get(key)) if key in base else _strip(value)
        return out
    return _strip(child)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "_delete_"}
    return value


def read_config(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """All variables of a config file with its `_base_` chain merged underneath."""
    path = Path(path).resolve()
    if path in _seen:
        raise InputError(f"{path}: the _base_ chain of this config loops back to itself")
    text = read_text(path, "config")
    names = parse_text(text, str(path))
    bases = names.pop("_base_", [])
    if isinstance(bases, Unknown):
        raise InputError(f"{path}: its _base_ list {bases.reason}")
    merged: dict[str, Any] = {}
    for base in [bases] if isinstance(bases, str) else bases:
        base_path = path.parent / base
        if not base_path.exists():
            raise InputError(f"{path}: its base config {base} is missing (looked for {base_path})")
        merged = merge(read_config(base_path, _seen + (path,)), merged)
    return merge(names, merged)


def model_config(config: str | Path | dict) -> dict[str, Any]:
    """The `model` dict of a config: a file (bases merged), a model-zoo config name, or a dict already."""
    if isinstance(config, dict):
        model = config.get("model", config)
    elif Path(config).is_file():
        model = read_config(config).get("model")
    elif Path(config).stem in MODEL_ZOO:
        model = MODEL_ZOO[Path(config).stem]
    else:
        raise InputError(f"{config}: no such config file, and not the name of a config of MMGeneration's StyleGAN "
                         f"model zoo ({', '.join(sorted(MODEL_ZOO))})")
    if isinstance(model, Unknown):
        raise InputError(f"{config}: its model settings cannot be read without running code ({model.reason})")
    if not isinstance(model, dict) or not isinstance(model.get("generator"), dict):
        raise InputError(f"{config}: holds no `model = dict(generator=dict(...))` entry")
    return copy.deepcopy(model)


def _sg1(size: int) -> dict:
    return dict(type="StyleGANV1", generator=dict(type="StyleGANv1Generator", out_size=size, style_channels=512),
                discriminator=dict(type="StyleGAN1Discriminator", in_size=size))


def _sg2(size: int) -> dict:
    return dict(type="StaticUnconditionalGAN",
                generator=dict(type="StyleGANv2Generator", out_size=size, style_channels=512),
                discriminator=dict(type="StyleGAN2Discriminator", in_size=size))


def _sg3(size: int, rgb2bgr: bool, discriminator: dict, **synthesis) -> dict:
    synthesis = dict(type="SynthesisNetwork", magnitude_ema_beta=0.999, **synthesis)
    generator = dict(type="StyleGANv3Generator", noise_size=512, style_channels=512, out_size=size, img_channels=3,
                     synthesis_cfg=synthesis, **(dict(rgb2bgr=True) if rgb2bgr else {}))
    return dict(type="StaticUnconditionalGAN", generator=generator,
                discriminator={"type": "StyleGAN2Discriminator", "in_size": size, **discriminator})


_T = dict(channel_base=32768, channel_max=512)
_R = dict(channel_base=65536, channel_max=1024, conv_kernel=1, use_radial_filters=True)
_D1 = dict(channel_multiplier=1)
_D_ADA = dict(type="ADAStyleGAN2Discriminator", input_bgr2rgb=True)

# The `model` entries of MMGeneration's StyleGAN model-zoo configs (configs/styleganv1, v2, v3), by file name.
MODEL_ZOO: dict[str, dict] = {
    "styleganv1_ffhq_256_g8_25Mimg": _sg1(256),
    "styleganv1_ffhq_1024_g8_25Mimg": _sg1(1024),
    "stylegan2_c2_ffhq_1024_b4x8": _sg2(1024),
    "stylegan2_c2_ffhq_256_b4x8_800k": _sg2(256),
    "stylegan2_c2_lsun-car_384x512_b4x8": _sg2(512),
    "stylegan2_c2_lsun-cat_256_b4x8_800k": _sg2(256),
    "stylegan2_c2_lsun-church_256_b4x8_800k": _sg2(256),
    "stylegan2_c2_lsun-horse_256_b4x8_800k": _sg2(256),
    # fp16 training variants: same networks (half precision affects training only)
    "stylegan2_c2_apex_fp16_PL-R1-no-scaler_ffhq_256_b4x8_800k": _sg2(256),
    "stylegan2_c2_apex_fp16_quicktest_ffhq_256_b4x8_800k": _sg2(256),
    "stylegan2_c2_fp16-globalG-partialD_PL-R1-no-scaler_ffhq_256_b4x8_800k": _sg2(256),
    "stylegan2_c2_fp16-global_quicktest_ffhq_256_b4x8_800k": _sg2(256),
    "stylegan2_c2_fp16_partial-GD_PL-no-scaler_ffhq_256_b4x8_800k": _sg2(256),
    "stylegan2_c2_fp16_quicktest_ffhq_256_b4x8_800k": _sg2(256),
    "stylegan3_t_ffhqu_256_b4x8_cvt_official_rgb": _sg3(256, True, _D1, channel_base=16384, channel_max=512),
    "stylegan3_t_afhqv2_512_b4x8_cvt_official_rgb": _sg3(512, True, {}, **_T),
    "stylegan3_t_ffhq_1024_b4x8_cvt_official_rgb": _sg3(1024, True, {}, **_T),
    "stylegan3_r_ffhqu_256_b4x8_cvt_official_rgb": _sg3(256, True, _D1, **{**_R, "channel_base": 32768}),
    "stylegan3_r_afhqv2_512_b4x8_cvt_official_rgb": _sg3(512, True, {}, **_R),
    "stylegan3_r_ffhq_1024_b4x8_cvt_official_rgb": _sg3(1024, True, {}, **_R),
    "stylegan3_t_noaug_fp16_gamma2.0_ffhq_256_b4x8": _sg3(256, False, _D1, channel_base=16384, channel_max=512),
    "stylegan3_t_noaug_fp16_gamma32.8_ffhq_1024_b4x8": _sg3(1024, False, {}, **_T),
    "stylegan3_t_ada_fp16_gamma6.6_metfaces_1024_b4x8": _sg3(1024, True, _D_ADA, **_T),
    "stylegan3_r_ada_fp16_gamma3.3_metfaces_1024_b4x8": _sg3(1024, True, _D_ADA, **_R),
}
