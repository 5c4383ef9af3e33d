"""Choosing the unknown threshold from evidence, the known-vs-unknown trade-off curve, and its plot."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

THRESHOLDS = np.round(np.arange(0.05, 1.0001, 0.005), 3)
MIN_KNOWN_ACCURACY = 0.99
MIN_REJECTION = 0.95
# dlib's documented 0.6 on raw descriptors, whose norms measure 1.28-1.48 here: ~0.43 on unit vectors.
PRIOR_THRESHOLD = 0.43


@dataclass(frozen=True)
class Evidence:
    """The chosen threshold, the rule that chose it, and what it achieves on the evidence."""

    threshold: float
    rule: str
    known_accuracy: float | None
    unknown_rejection: float | None
    known_samples: int
    stranger_samples: int
    max_known_distance: float | None
    min_stranger_distance: float | None

    def to_dict(self) -> dict:
        """JSON-ready form, floats rounded."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def tradeoff(known_correct: np.ndarray, known_distance: np.ndarray, stranger_distance: np.ndarray,
             thresholds: np.ndarray = THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """Per threshold: share of known samples named correctly, share of strangers called unknown."""
    t = thresholds[:, None]
    accuracy = ((known_distance[None, :] <= t) & known_correct[None, :]).mean(axis=1) if len(
        known_distance) else np.full(len(thresholds), np.nan)
    rejection = (stranger_distance[None, :] > t).mean(axis=1) if len(stranger_distance) else np.full(
        len(thresholds), np.nan)
    return accuracy, rejection


def choose_threshold(known_correct: np.ndarray, known_distance: np.ndarray,
                     stranger_distance: np.ndarray) -> Evidence:
    """Max unknown rejection subject to known accuracy >= 99 % (middle of ties); fallbacks when data lacks."""
    accuracy, rejection = tradeoff(known_correct, known_distance, stranger_distance)
    if not len(stranger_distance):
        return _evidence(PRIOR_THRESHOLD, "no strangers to test (one person): dlib's prior", known_correct,
                         known_distance, stranger_distance)
    if not len(known_distance):
        ok = THRESHOLDS[rejection >= MIN_REJECTION]
        value = float(ok.max()) if len(ok) else float(THRESHOLDS[0])
        return _evidence(value, "no known-person validation samples: largest threshold rejecting >= 95 % "
                         "of leave-one-person-out strangers", known_correct, known_distance, stranger_distance)
    feasible = accuracy >= MIN_KNOWN_ACCURACY
    if not feasible.any():
        best = np.flatnonzero(accuracy + rejection == (accuracy + rejection).max())
        rule = "no threshold keeps 99 % of known people: maximises known accuracy + unknown rejection"
    else:
        top = rejection[feasible].max()
        best = np.flatnonzero(feasible & (rejection == top))
        rule = "maximises unknown rejection while known accuracy >= 99 % (middle of the tied range)"
    value = float(THRESHOLDS[best[len(best) // 2]])
    return _evidence(value, rule, known_correct, known_distance, stranger_distance)


def _evidence(value: float, rule: str, known_correct: np.ndarray, known_distance: np.ndarray,
              stranger_distance: np.ndarray) -> Evidence:
    accuracy, rejection = tradeoff(known_correct, known_distance, stranger_distance, np.array([value]))
    return Evidence(
        threshold=value, rule=rule,
        known_accuracy=None if np.isnan(accuracy[0]) else float(accuracy[0]),
        unknown_rejection=None if np.isnan(rejection[0]) else float(rejection[0]),
        known_samples=len(known_distance), stranger_samples=len(stranger_distance),
        max_known_distance=float(known_distance.max()) if len(known_distance) else None,
        min_stranger_distance=float(stranger_distance.min()) if len(stranger_distance) else None,
    )


def plot_tradeoff(known_correct: np.ndarray, known_distance: np.ndarray, stranger_distance: np.ndarray,
                  chosen: float, path: str | Path, title: str) -> Path:
    """Write a PNG: known accuracy and unknown rejection against the threshold, chosen one marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    accuracy, rejection = tradeoff(known_correct, known_distance, stranger_distance)
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=100)
    axes.plot(THRESHOLDS, accuracy, label=f"known named correctly (n={len(known_distance)})")
    axes.plot(THRESHOLDS, rejection, label=f"strangers called unknown (n={len(stranger_distance)})")
    axes.axvline(chosen, color="grey", linestyle="--", label=f"threshold {chosen:.3f}")
    axes.axhline(MIN_KNOWN_ACCURACY, color="lightgrey", linewidth=0.8)
    axes.set(xlabel="distance threshold (unit embeddings)", ylabel="rate", ylim=(-0.02, 1.02), title=title)
    axes.set_xlim(THRESHOLDS[0], 0.8)
    axes.legend(loc="center right")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    plt.close(figure)
    return path
