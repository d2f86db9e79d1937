"""The demo model's coverage checks (benchmarks.demo_coverage, benchmarks.demo_border) on known inputs."""
import numpy as np
import torch

from benchmarks.demo_border import edge_steps
from benchmarks.demo_coverage import (FACTORS, _mirror_labels, coverage_rows, factor_classes, histograms,
                                      shape_diversity, side_by_side)
from stylegan.data.toonfaces import toonface, toonface_factors


def test_factor_classes_read_the_drawn_factors():
    f = toonface_factors(3)
    classes = factor_classes(f | {"hair": "afro", "tilt": -10.0, "turn": 0.9, "glasses": "round"})
    assert classes["hair"] == FACTORS["hair"].index("afro")
    assert (classes["tilt"], classes["turn"], classes["glasses"]) == (0, 2, 1)
    assert factor_classes(f | {"squareness": 3.0})["head shape"] == 1
    assert factor_classes(f | {"squareness": 2.1})["head shape"] == 0
    assert set(classes) == set(FACTORS)


def test_mirroring_swaps_tilt_and_turn_ends_only():
    labels = torch.tensor([[0] * len(FACTORS), [2] * len(FACTORS)])
    mirrored = _mirror_labels(labels)
    names = list(FACTORS)
    for k, name in enumerate(names):
        if name in ("tilt", "turn"):
            assert mirrored[:, k].tolist() == [2, 0]
        else:
            assert mirrored[:, k].tolist() == labels[:, k].tolist()


def test_total_variation_is_zero_for_the_same_classes_and_one_for_disjoint_ones():
    same = np.zeros([10, len(FACTORS)], dtype=np.int64)
    other = same.copy()
    other[:, 0] = 1  # every face another hair style
    rows = {r["factor"]: float(r["TV"]) for r in coverage_rows(other, same, dict.fromkeys(FACTORS, 1.0))}
    assert rows["hair"] == 1.0 and all(v == 0.0 for name, v in rows.items() if name != "hair")
    assert abs(histograms(same)["hair"].sum() - 1) < 1e-9


def test_shape_diversity_is_zero_for_copies_and_grows_with_different_faces():
    faces = np.stack([toonface(i, 32) for i in range(8)])
    assert shape_diversity(np.repeat(faces[:1], 8, axis=0)) < 1e-6
    assert shape_diversity(faces) > 0.3


def test_edge_steps_find_an_off_colour_bottom_row():
    x = torch.randn(4, 3, 16, 16)
    plain = edge_steps(x)
    x[:, :, -1] += 5
    marked = edge_steps(x)
    assert marked["bottom"] > 3 * plain["bottom"] and abs(marked["top"] - plain["top"]) < 1e-6


def test_side_by_side_puts_generated_left_of_data():
    a, b = np.zeros([32, 8, 8, 3], np.uint8), np.full([32, 8, 8, 3], 200, np.uint8)
    figure = side_by_side(a, b)
    assert figure.shape[0] == 4 * 8 + 3 and figure[:8, :8].max() == 0 and figure[:8, -8:].min() == 200
