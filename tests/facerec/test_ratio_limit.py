"""The ratio limit: look-alikes within the distance threshold are nearly as close to a second enrolled person,
genuine samples distinctly closer to one; the limit guards the people look-alikes were taken for and never costs
a measured cross-session genuine sample."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facerec.evidence import PRIOR_RATIO, Distances, choose_threshold, ratio_limit
from facerec.model import UNKNOWN, FaceModel, RatioGuard, classify, load_model, save_model, scores


def _distances(genuine: list[tuple[float, float]], strangers: list[tuple[float, float]],
               cross_session: bool = True) -> Distances:
    """(distance, ratio) per held-out genuine sample of people p0..p3 (named right) and per stranger."""
    people = np.array([f"p{i % 4}" for i in range(len(genuine))], str)
    return Distances(genuine=np.array([d for d, _ in genuine], float), correct=np.ones(len(genuine), bool),
                     people=people, sessions=np.array(["s"] * len(genuine), str),
                     cross_session=np.full(len(genuine), cross_session),
                     strangers=np.array([d for d, _ in strangers], float),
                     stranger_pairs=np.array([("x", "p0")] * len(strangers), str).reshape(-1, 2),
                     genuine_ratio=np.array([r for _, r in genuine], float),
                     stranger_ratio=np.array([r for _, r in strangers], float))


GENUINE = [(d, r) for d, r in zip(np.linspace(0.2, 0.4, 40), np.linspace(0.4, 0.8, 40), strict=True)]
FAR_STRANGERS = [(d, 0.9) for d in np.linspace(0.5, 0.9, 100)]


def test_no_look_alikes_no_ratio_limit():
    evidence = choose_threshold(_distances(GENUINE, FAR_STRANGERS))
    assert math.isinf(evidence.ratio_limit) and "no stranger within" in evidence.ratio_rule
    assert evidence.to_dict()["ratio_limit"] is None


def test_look_alikes_between_two_people_become_unknown_and_genuine_samples_stay_named():
    look_alikes = [(0.3, 0.95), (0.35, 0.97)]
    distances = _distances(GENUINE, FAR_STRANGERS + look_alikes)
    evidence = choose_threshold(distances)
    assert evidence.threshold >= 0.35  # the look-alikes are within the distance threshold
    genuine_tail = distances.genuine_ratio[distances.genuine <= evidence.threshold].max()
    assert evidence.genuine_ratio_tail == genuine_tail and evidence.look_alike_ratio_tail == 0.95
    # the midpoint of the tails, shrunk towards the prior ratio by the weight of 4 people (4/6)
    assert evidence.ratio_limit == pytest.approx(4 / 6 * (genuine_tail + 0.95) / 2 + 2 / 6 * PRIOR_RATIO)
    assert evidence.ratio_limit < 0.95 and "midpoint of the ratio tails" in evidence.ratio_rule
    assert evidence.unknown_rejection == 1.0
    assert evidence.cross_session_accuracy == (distances.genuine <= evidence.threshold).mean()  # as without it
    assert evidence.look_alikes == () and evidence.look_alikes_within_distance == 2
    assert evidence.ratio_people == ("p0",)  # whom the look-alikes were taken for


def test_overlapping_ratio_tails_keep_every_genuine_sample():
    distances = _distances(GENUINE, [*FAR_STRANGERS, (0.3, 0.5), (0.3, 0.99)])
    evidence = choose_threshold(distances)
    assert evidence.ratio_limit >= evidence.genuine_ratio_tail > 0.5
    assert "overlap" in evidence.ratio_rule
    assert evidence.cross_session_accuracy == (distances.genuine <= evidence.threshold).mean()
    assert evidence.look_alikes == ("x named p0 in 1 of 102",)  # the 0.5-ratio one is still named


def test_without_cross_session_evidence_there_is_no_ratio_limit():
    distances = _distances(GENUINE, [*FAR_STRANGERS, (0.3, 0.99)], cross_session=False)
    assert math.isinf(choose_threshold(distances).ratio_limit)


def test_without_recorded_ratios_nothing_is_limited():
    distances = _distances(GENUINE, [*FAR_STRANGERS, (0.3, 0.99)])
    bare = Distances(distances.genuine, distances.correct, distances.people, distances.sessions,
                     distances.cross_session, distances.strangers, distances.stranger_pairs)
    assert math.isinf(ratio_limit(bare, 0.42, 0.5).guard.limit)
    assert choose_threshold(bare).unknown_rejection < 1.0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(0.05, 0.6), st.floats(0.0, 1.2)), min_size=2, max_size=40),
       st.lists(st.tuples(st.floats(0.05, 1.0), st.floats(0.0, 1.2)), min_size=2, max_size=60))
def test_the_ratio_limit_never_costs_a_cross_session_genuine_sample(genuine, strangers):
    distances = _distances(genuine, strangers)
    evidence = choose_threshold(distances)
    within = distances.genuine <= evidence.threshold
    assert evidence.cross_session_accuracy == pytest.approx(within.mean())
    if math.isfinite(evidence.ratio_limit):
        assert evidence.ratio_limit >= distances.genuine_ratio[within].max()


def _two_people() -> FaceModel:
    """ann and bob, unit templates 0.62 apart, and a head that prefers ann on the ann side."""
    gallery = np.zeros((2, 128), np.float32)
    gallery[:, 0] = 0.95
    gallery[0, 1], gallery[1, 1] = 0.312, -0.312
    weight = np.zeros((2, 128), np.float32)
    weight[0, 1], weight[1, 1] = 1.0, -1.0
    return FaceModel(("ann", "bob"), weight, np.zeros(2, np.float32), gallery, np.array([0, 1]), 0.45, ("s", "s"))


def _unit(*values: float) -> np.ndarray:
    vector = np.zeros(128, np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def test_ratio_is_the_distance_over_the_nearest_other_person():
    model = _two_people()
    between, near_ann = _unit(1.0, 0.02), _unit(0.95, 0.312, 0.1)
    found = scores(np.stack([between, near_ann]), model)
    assert found.predicted.tolist() == [0, 0]
    (between_ann, between_bob), (near_ann_ann, near_ann_bob) = (np.linalg.norm(v - model.gallery, axis=1)
                                                              for v in (between, near_ann))
    assert found.ratio.tolist() == pytest.approx([between_ann / between_bob, near_ann_ann / near_ann_bob])
    assert 0.8 < found.ratio[0] < 1 and found.ratio[1] < 0.3
    alone = scores(near_ann[None, :], model, exclude="bob")
    assert alone.ratio[0] == 0.0  # nobody else left to be confused with


def test_a_face_between_two_people_is_unknown_when_the_person_it_is_taken_for_is_guarded(tmp_path):
    model = _two_people()
    between, near_ann = _unit(1.0, 0.02), _unit(0.95, 0.312, 0.1)
    assert [m.name for m in classify(np.stack([between, near_ann]), model)] == ["ann", "ann"]
    save_model(FaceModel(**{**model.__dict__, "ratio_guard": RatioGuard(0.8, ("ann",))}), tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.ratio_guard == RatioGuard(0.8, ("ann",))
    between_match, near_match = classify(np.stack([between, near_ann]), loaded)
    assert between_match.name == UNKNOWN and near_match.name == "ann"
    assert between_match.distance == pytest.approx(classify(between[None, :], model)[0].distance)


def test_a_guard_on_someone_else_leaves_the_name_to_the_distance():
    model = FaceModel(**{**_two_people().__dict__, "ratio_guard": RatioGuard(0.8, ("bob",))})
    assert classify(_unit(1.0, 0.02)[None, :], model)[0].name == "ann"


def test_a_model_without_a_ratio_limit_stores_none_and_keeps_its_version(tmp_path):
    saved = save_model(_two_people(), tmp_path / "m")
    manifest = (tmp_path / "m" / "model.json").read_text()
    assert '"ratio"' not in manifest and math.isinf(load_model(tmp_path / "m").ratio_guard.limit)
    assert saved.version == load_model(tmp_path / "m").version
