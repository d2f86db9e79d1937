"""Quality metrics with the official definitions: FID, KID, precision/recall, PPL and equivariance.

    from stylegan.metrics import MetricOptions, calc_metric
    opts = MetricOptions(G=G, dataset_kwargs=dict(path="ffhq.zip", resolution=G.img_resolution))
    result = calc_metric("fid50k_full", opts)      # {"results": {"fid50k_full": ...}, "metric": ..., ...}
"""
from __future__ import annotations

from ..lazy import exports

METRIC_DESCRIPTIONS = {
    "fid50k_full": "Frechet inception distance, 50k generated images against the whole dataset",
    "kid50k_full": "Kernel inception distance, 50k generated images against the whole dataset",
    "pr50k3_full": "Precision and recall (k = 3), 50k generated images against up to 200k real ones",
    "ppl2_wend": "Perceptual path length in W, path endpoints, full image",
    "eqt50k_int": "Equivariance to integer translation (EQ-T), PSNR in dB",
    "eqt50k_frac": "Equivariance to fractional translation (EQ-T_frac), PSNR in dB",
    "eqr50k": "Equivariance to rotation (EQ-R), PSNR in dB",
    "fid50k": "Legacy: FID against 50k real images (mirrored when the dataset is)",
    "kid50k": "Legacy: KID against 50k real images",
    "pr50k3": "Legacy: precision and recall against 50k real images",
}

__getattr__ = exports(__name__, {
    "METRICS": "registry", "calc_metric": "registry", "format_table": "registry", "parse_metric_names": "registry",
    "report_metric": "registry", "MetricOptions": "options", "FeatureStats": "stats", "frechet_distance": "fid",
    "kernel_distance": "kid", "precision_recall": "manifold", "manifold_coverage": "manifold",
    "path_lengths": "ppl", "trimmed_mean": "ppl", "equivariance_psnrs": "equivariance",
})

__all__ = ["METRIC_DESCRIPTIONS", "METRICS", "MetricOptions", "FeatureStats", "calc_metric", "report_metric",
           "format_table", "parse_metric_names", "frechet_distance", "kernel_distance", "precision_recall",
           "manifold_coverage", "path_lengths", "trimmed_mean", "equivariance_psnrs"]
