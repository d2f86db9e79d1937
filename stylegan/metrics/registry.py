"""The metrics by name, with the official sample counts and options, and how results are reported.

Each result is a dict like the official one: {"results": {...}, "metric", "total_time",
"total_time_str", "num_gpus"}; `report_metric` adds "snapshot_pkl" and "timestamp" and appends it as one
JSON line to `metric-<name>.jsonl`.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import InputError
from ..io.files import atomic_path
from .equivariance import compute_equivariance
from .fid import compute_fid
from .kid import compute_kid
from .manifold import compute_pr
from .options import MetricOptions
from .ppl import compute_ppl

_FULL = dict(max_size=None, xflip=False)   # every image of the dataset, not mirrored


@dataclass(frozen=True)
class Metric:
    """A metric function, its arguments (sample counts, ...), and the dataset options it imposes."""
    fn: Callable[..., dict]
    params: dict
    dataset: dict = field(default_factory=dict)


METRICS: dict[str, Metric] = {
    "fid50k_full": Metric(compute_fid, dict(max_real=None, num_gen=50000), _FULL),
    "kid50k_full": Metric(compute_kid, dict(max_real=1000000, num_gen=50000, num_subsets=100, max_subset_size=1000),
                          _FULL),
    "pr50k3_full": Metric(compute_pr, dict(max_real=200000, num_gen=50000, nhood_size=3, row_batch_size=10000,
                                           col_batch_size=10000), _FULL),
    "ppl2_wend": Metric(compute_ppl, dict(num_samples=50000, epsilon=1e-4, space="w", sampling="end", crop=False,
                                          batch_size=2)),
    "eqt50k_int": Metric(compute_equivariance, dict(num_samples=50000, batch_size=4, eqt_int=True)),
    "eqt50k_frac": Metric(compute_equivariance, dict(num_samples=50000, batch_size=4, eqt_frac=True)),
    "eqr50k": Metric(compute_equivariance, dict(num_samples=50000, batch_size=4, eqr=True)),
    "fid50k": Metric(compute_fid, dict(max_real=50000, num_gen=50000), dict(max_size=None)),
    "kid50k": Metric(compute_kid, dict(max_real=50000, num_gen=50000, num_subsets=100, max_subset_size=1000),
                     dict(max_size=None)),
    "pr50k3": Metric(compute_pr, dict(max_real=50000, num_gen=50000, nhood_size=3, row_batch_size=10000,
                                      col_batch_size=10000), dict(max_size=None)),
}


def format_time(seconds: float) -> str:
    """'12s', '3m 05s', '2h 01m 00s', '1d 02h 03m' as the official tools print durations."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s // 60 % 60:02d}m {s % 60:02d}s"
    return f"{s // 86400}d {s // 3600 % 24:02d}h {s // 60 % 60:02d}m"


def parse_metric_names(text: str) -> list[str]:
    """'fid50k_full,eqt50k_int' -> names, each checked against METRICS; 'none' or '' -> []."""
    names = [] if text.strip().lower() in ("", "none") else [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise InputError(f"unknown metric {unknown[0]!r}; choose from: {', '.join(METRICS)}")
    return names


def calc_metric(name: str, opts: MetricOptions, num_gen: int | None = None, max_real: int | None = None) -> dict:
    """Compute metric `name`. `num_gen` replaces its number of generated samples (or pairs) and
    `max_real` caps the real images used: for quick checks only, the numbers are then not comparable
    with published ones."""
    if name not in METRICS:
        raise InputError(f"unknown metric {name!r}; choose from: {', '.join(METRICS)}")
    metric = METRICS[name]
    params = dict(metric.params)
    applied = {}
    if num_gen is not None:
        params["num_gen" if "num_gen" in params else "num_samples"] = applied["num_gen"] = num_gen
    if max_real is not None and "max_real" in params:
        params["max_real"] = max_real if params["max_real"] is None else min(params["max_real"], max_real)
        applied["max_real"] = max_real
    if metric.dataset:
        params["dataset_overrides"] = metric.dataset
    start = time.time()
    values = metric.fn(opts, **params)
    total = time.time() - start
    results = {(f"{name}_{key}" if key else name): float(value) for key, value in values.items()}
    out = dict(results=results, metric=name, total_time=total, total_time_str=format_time(total),
               num_gpus=opts.num_gpus)
    if applied:
        out["sample_overrides"] = applied
    return out


def report_metric(result: dict, run_dir: str | Path | None = None, snapshot_pkl: str | Path | None = None) -> str:
    """Append `result` as one JSON line to run_dir/metric-<name>.jsonl (when run_dir is given); return the line.
    The snapshot path is stored relative to run_dir, as the official tools do."""
    if run_dir is not None and snapshot_pkl is not None:
        snapshot_pkl = os.path.relpath(snapshot_pkl, run_dir)
    line = json.dumps(dict(result, snapshot_pkl=None if snapshot_pkl is None else str(snapshot_pkl),
                           timestamp=time.time()))
    if run_dir is not None:
        path = Path(run_dir) / f"metric-{result['metric']}.jsonl"
        earlier = path.read_text(encoding="utf-8") if path.is_file() else ""
        with atomic_path(path) as tmp:  # the earlier lines and the new one, never a half-written line
            tmp.write_text(earlier + line + "\n", encoding="utf-8")
    return line


def format_table(results: list[dict]) -> str:
    """A short plain-text table: one row per result value, with the time each metric took."""
    rows = [(key, f"{value:.6g}", r["total_time_str"]) for r in results for key, value in r["results"].items()]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(("metric", "value", "time"))] \
        if rows else [6, 5, 4]
    lines = [f"{'metric':<{widths[0]}}  {'value':>{widths[1]}}  {'time':>{widths[2]}}"]
    lines += [f"{k:<{widths[0]}}  {v:>{widths[1]}}  {t:>{widths[2]}}" for k, v, t in rows]
    return "\n".join(lines)
