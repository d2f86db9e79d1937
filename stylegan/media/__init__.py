"""Pictures and videos made from a network: the papers' figures (`figures`), latent walks and noise loops
(`video`), and `stylegan demo`'s page of every main figure (`demo`)."""
from __future__ import annotations

from ..lazy import exports

# The demo's projection panel: pivotal tuning, its pivot found in W by this many steps, then the generator
# tuned for DEMO_TUNE_STEPS steps at DEMO_TUNE_LR (a small model needs a larger rate than PTI's 3e-4).
DEMO_PROJECTION_STEPS = 100
DEMO_TUNE_STEPS = 300
DEMO_TUNE_LR = 3e-3

__getattr__ = exports(__name__, {
    "labeled_grid": "figures", "style_mixing": "figures", "truncation_sweep": "figures",
    "stochastic_variation": "figures", "noise_in_layers": "figures", "layer_swaps": "figures",
    "walk_ws": "video", "walk_frames": "video", "noise_loop_frames": "video", "run_demo": "demo",
})

__all__ = ["DEMO_PROJECTION_STEPS", "DEMO_TUNE_STEPS", "DEMO_TUNE_LR", "labeled_grid", "style_mixing", "truncation_sweep", "stochastic_variation",
           "noise_in_layers", "layer_swaps", "walk_ws", "walk_frames", "noise_loop_frames", "run_demo"]
