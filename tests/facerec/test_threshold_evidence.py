"""Threshold choice: the documented rule and its fallbacks, and the trade-off curve's shape."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from facerec.evidence import PRIOR_THRESHOLD, THRESHOLDS, choose_threshold, plot_tradeoff, tradeoff


def test_separable_evidence_picks_the_middle_of_the_gap():
    known = np.linspace(0.05, 0.20, 100)
    strangers = np.linspace(0.40, 0.90, 100)
    evidence = choose_threshold(np.ones(100, bool), known, strangers)
    assert 0.25 <= evidence.threshold <= 0.35
    assert evidence.known_accuracy == 1.0 and evidence.unknown_rejection == 1.0


def test_overlap_keeps_99_percent_of_known_people():
    rng = np.random.default_rng(0)
    known, strangers = rng.normal(0.25, 0.05, 2000), rng.normal(0.45, 0.05, 2000)
    evidence = choose_threshold(np.ones(2000, bool), known, strangers)
    assert evidence.known_accuracy >= 0.99
    assert 0.3 < evidence.threshold < 0.45


def test_without_known_samples_rejects_95_percent_of_strangers():
    strangers = np.linspace(0.4, 0.6, 100)
    evidence = choose_threshold(np.zeros(0, bool), np.zeros(0), strangers)
    assert evidence.unknown_rejection >= 0.95 and "no known-person" in evidence.rule


def test_without_strangers_uses_the_prior():
    evidence = choose_threshold(np.ones(5, bool), np.full(5, 0.1), np.zeros(0))
    assert evidence.threshold == PRIOR_THRESHOLD


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1.2), min_size=1, max_size=50), st.lists(st.floats(0, 1.2), min_size=1, max_size=50))
def test_curve_is_monotonic(known, strangers):
    accuracy, rejection = tradeoff(np.ones(len(known), bool), np.array(known), np.array(strangers))
    assert np.all(np.diff(accuracy) >= 0) and np.all(np.diff(rejection) <= 0)
    assert len(accuracy) == len(THRESHOLDS)


def test_plot_is_a_png(tmp_path):
    path = plot_tradeoff(np.ones(3, bool), np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.6]), 0.4,
                         tmp_path / "c.png", "t")
    assert path.read_bytes()[:4] == b"\x89PNG"
