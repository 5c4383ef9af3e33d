"""Threshold choice: between the cross-session genuine tail and the stranger tail, shrunk towards the prior."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facerec.evidence import (
    PRIOR_THRESHOLD,
    THRESHOLDS,
    Distances,
    choose_threshold,
    look_alikes,
    plot_tradeoff,
    tradeoff,
)


def _distances(cross: dict[str, list[float]], strangers: list[float], same: dict[str, list[float]] | None = None
               ) -> Distances:
    """Held-out genuine distances per person (all named by the head) and stranger distances."""
    rows = [(p, d, True) for p, ds in cross.items() for d in ds] + [(p, d, False) for p, ds in (same or {}).items()
                                                                     for d in ds]
    return Distances(genuine=np.array([d for _, d, _ in rows], float), correct=np.ones(len(rows), bool),
                     people=np.array([p for p, _, _ in rows], str), sessions=np.array(["s"] * len(rows), str),
                     cross_session=np.array([c for _, _, c in rows], bool), strangers=np.array(strangers, float))


def _people(count: int, low: float, high: float) -> dict[str, list[float]]:
    return {f"p{i}": list(np.linspace(low, high, 5)) for i in range(count)}


def test_new_photos_at_0_31_to_0_35_are_named_and_strangers_from_0_45_are_not():
    # the kept-out set of issue 11: independent photos 0.31-0.35 from their person, strangers 0.45-0.55
    evidence = choose_threshold(_distances(_people(6, 0.25, 0.35), list(np.linspace(0.45, 0.55, 60))))
    assert 0.35 < evidence.threshold < 0.45
    assert evidence.cross_session_accuracy == 1.0 and evidence.unknown_rejection == 1.0


def test_tight_same_session_evidence_alone_does_not_pull_the_threshold_down():
    # what the old rule saw: neighbouring frames at <= 0.21, strangers from 0.36; it chose 0.285
    evidence = choose_threshold(_distances({}, list(np.linspace(0.36, 0.8, 200)), same=_people(8, 0.02, 0.21)),
                                enrolled=tuple(f"p{i}" for i in range(8)))
    assert "no cross-session evidence" in evidence.rule
    assert evidence.threshold > 0.31 and evidence.genuine_tail_from == "same-session"
    assert evidence.without_cross_session == tuple(f"p{i}" for i in range(8))


def test_threshold_sits_in_the_middle_of_the_gap_not_at_the_genuine_edge():
    evidence = choose_threshold(_distances(_people(40, 0.1, 0.3), list(np.linspace(0.5, 0.9, 300))))
    gap = 0.5 - 0.3
    assert evidence.genuine_tail == 0.3 and evidence.stranger_tail == pytest.approx(0.5, abs=0.005)
    assert 0.3 + gap / 4 <= evidence.threshold <= 0.5 - gap / 4
    assert abs(evidence.threshold - 0.4) < 0.01  # plenty of evidence: close to the midpoint


def test_thin_evidence_falls_back_towards_the_prior():
    strangers = list(np.linspace(0.36, 0.9, 300))
    thin = choose_threshold(_distances(_people(1, 0.1, 0.2), strangers))
    thick = choose_threshold(_distances(_people(30, 0.1, 0.2), strangers))
    assert abs(thin.threshold - PRIOR_THRESHOLD) < abs(thick.threshold - PRIOR_THRESHOLD)
    assert thin.evidence_weight < thick.evidence_weight


def test_overlapping_tails_keep_the_threshold_inside_the_overlap():
    evidence = choose_threshold(_distances(_people(8, 0.2, 0.42), list(np.linspace(0.36, 0.6, 200))))
    assert evidence.stranger_tail < evidence.genuine_tail
    assert evidence.stranger_tail <= evidence.threshold <= evidence.genuine_tail


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.05, 0.8), min_size=1, max_size=30), st.lists(st.floats(0.05, 1.2), min_size=2,
                                                                          max_size=60))
def test_never_below_the_largest_cross_session_genuine_distance_unless_a_stranger_is_closer(genuine, strangers):
    evidence = choose_threshold(_distances({"a": genuine[::2], "b": genuine[1::2] or genuine}, strangers))
    if max(genuine) < min(strangers):
        assert max(genuine) < evidence.threshold < min(strangers)
    else:
        assert evidence.threshold >= min(strangers)


def test_without_strangers_uses_the_prior_raised_to_the_genuine_tail():
    assert choose_threshold(_distances(_people(1, 0.1, 0.2), [])).threshold == PRIOR_THRESHOLD
    assert choose_threshold(_distances(_people(1, 0.1, 0.5), [])).threshold == 0.5


def test_evidence_records_both_tails_and_the_rule():
    record = choose_threshold(_distances(_people(3, 0.1, 0.3), list(np.linspace(0.5, 0.9, 50)))).to_dict()
    assert record["genuine_tail"] == 0.3 and record["stranger_tail"] == 0.5 and "midpoint" in record["rule"]
    assert record["prior"] == PRIOR_THRESHOLD and record["cross_session_people"] == 3


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1.2), min_size=1, max_size=50), st.lists(st.floats(0, 1.2), min_size=1, max_size=50))
def test_curve_is_monotonic(known, strangers):
    accuracy, rejection = tradeoff(np.ones(len(known), bool), np.array(known), np.array(strangers))
    assert np.all(np.diff(accuracy) >= 0) and np.all(np.diff(rejection) <= 0)
    assert len(accuracy) == len(THRESHOLDS)


def test_plot_is_a_png(tmp_path):
    distances = _distances(_people(2, 0.1, 0.3), [0.5, 0.6], same={"c": [0.1]})
    path = plot_tradeoff(distances, 0.4, tmp_path / "c.png", "t", choose_threshold(distances))
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_look_alikes_name_who_was_taken_for_whom_within_the_threshold():
    distances = _distances(_people(3, 0.2, 0.3), [0.30, 0.32, 0.6, 0.35, 0.7])
    pairs = np.array([("ann", "bob"), ("ann", "bob"), ("ann", "cid"), ("bob", "ann"), ("bob", "cid")], str)
    distances = Distances(distances.genuine, distances.correct, distances.people, distances.sessions,
                          distances.cross_session, distances.strangers, pairs)
    assert look_alikes(distances, 0.4) == ("ann named bob in 2 of 3", "bob named ann in 1 of 2")
    assert look_alikes(distances, 0.31) == ("ann named bob in 1 of 3",)
    assert choose_threshold(distances).look_alikes == look_alikes(distances, choose_threshold(distances).threshold)


def test_no_look_alikes_without_recorded_pairs():
    assert look_alikes(_distances(_people(3, 0.2, 0.3), [0.1, 0.2]), 0.5) == ()
