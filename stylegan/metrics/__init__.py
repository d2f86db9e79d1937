"""Quality metrics with the official definitions: FID, KID, precision/recall, PPL and equivariance.

    from stylegan.metrics import MetricOptions, calc_metric
    opts = MetricOptions(G=G, dataset_kwargs=dict(path="ffhq.zip", resolution=G.img_resolution))
    result = calc_metric("fid50k_full", opts)      # {"results": {"fid50k_full": ...}, "metric": ..., ...}
"""
from .equivariance import equivariance_psnrs
from .fid import frechet_distance
from .kid import kernel_distance
from .options import MetricOptions
from .ppl import path_lengths, trimmed_mean
from .precision_recall import manifold_coverage, precision_recall
from .registry import METRICS, calc_metric, format_table, parse_metric_names, report_metric
from .stats import FeatureStats

__all__ = ["METRICS", "MetricOptions", "FeatureStats", "calc_metric", "report_metric", "format_table",
           "parse_metric_names", "frechet_distance", "kernel_distance", "precision_recall", "manifold_coverage",
           "path_lengths", "trimmed_mean", "equivariance_psnrs"]
