"""Calibration of the stance models (training only): the temperature that makes their
probabilities honest on dev (measured by ``scoring.stance_metrics.expected_calibration_error``)."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood (grid, then refine)."""
    lt = torch.from_numpy(np.asarray(logits, dtype=np.float32))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))

    def nll(t: float) -> float:
        return float(F.cross_entropy(lt / t, y))

    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 200))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.9, best * 1.1, 41)
    return float(min(fine, key=nll))
