"""Evaluation: frame-level answers on labelled sources, same- and cross-session accuracy, unknown rejection."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from facerec.embedding import EMBEDDING_DIM
from facerec.evidence import Distances, look_alikes
from facerec.model import NO_RATIO_GUARD, UNKNOWN, FaceModel, RatioGuard, accepted, scores
from facerec.pipeline import detect_faces, embed_faces
from facerec.sources import Sample

NO_FACE = "(no face)"


@dataclass(frozen=True)
class FrameScore:
    """A frame's best face (smallest distance to its predicted person), with and without its true person."""

    label: str
    origin: str
    frame: int | None
    session: str
    cross_session: bool  # an enrolled person seen in a session the model was not enrolled from
    faces: int
    predicted: str | None
    distance: float
    ratio: float  # model.Scores.ratio of the best face
    normalised: float  # model.Scores.normalised of the best face
    lopo_predicted: str | None  # the answer with the true person taken out of the model (None if not enrolled)
    lopo_distance: float
    lopo_ratio: float
    lopo_normalised: float


@dataclass(frozen=True)
class Limits:
    """The limits a name must be within: distance, the distance ratio for guarded people, the cohort-normalised
    score."""

    threshold: float
    guard: RatioGuard = NO_RATIO_GUARD
    cohort_limit: float = math.inf

    def answer(self, predicted: str | None, distance: float, ratio: float, normalised: float) -> str:
        """The frame's answer: the best face's person within the limits, else unknown; NO_FACE without faces."""
        if predicted is None:
            return NO_FACE
        within = accepted(distance, ratio, self.threshold, self.guard.limits(predicted), normalised, self.cohort_limit)
        return predicted if within else UNKNOWN


@dataclass
class ServingCost:
    """Wall time of the serving path's stages over an evaluation: detection per frame, alignment + embedding per
    face, and classification per face (head, gallery distances, cohort normalisation)."""

    seconds: dict[str, float] = field(default_factory=lambda: {"detect": 0.0, "embed": 0.0, "classify": 0.0})
    frames: int = 0  # images run through the detector (not precomputed embeddings)
    embedded: int = 0  # faces aligned and embedded
    classified: int = 0  # faces classified

    def timed(self, stage: str, work: Callable[[], object]) -> object:
        """Run `work`, adding its wall time to `stage`."""
        start = time.perf_counter()
        result = work()
        self.seconds[stage] += time.perf_counter() - start
        return result

    def to_dict(self) -> dict:
        """Milliseconds per frame (detection) and per face (embedding, classification); None without any."""
        def per(stage: str, count: int) -> float | None:
            return round(1000 * self.seconds[stage] / count, 2) if count else None

        return {"frames": self.frames, "faces": self.classified, "detect_ms_per_frame": per("detect", self.frames),
                "embed_ms_per_face": per("embed", self.embedded),
                "classify_ms_per_face": per("classify", self.classified)}


def score_samples(samples: Iterable[Sample], model: FaceModel, progress: Callable[[Sample], None] | None = None,
                  cost: ServingCost | None = None) -> list[FrameScore]:
    """Score every sample through the serving path (all faces, no quality filter); `cost` collects stage times."""
    cost = ServingCost() if cost is None else cost
    results = []
    for sample in samples:
        if progress:
            progress(sample)
        results.append(_score(sample, model, cost))
    return results


def _score(sample: Sample, model: FaceModel, cost: ServingCost) -> FrameScore:
    vectors = _embeddings(sample, model, cost)
    best = cost.timed("classify", lambda: _best(vectors, model, None))
    cost.classified += len(vectors)
    enrolled = sample.label in model.labels and len(model.labels) > 1
    lopo = _best(vectors, model, sample.label) if enrolled else (None, math.inf, math.inf, math.inf)
    cross = sample.label in model.labels and sample.session not in enrolled_sessions(model)[sample.label]
    return FrameScore(sample.label, sample.origin, sample.frame, sample.session, cross, len(vectors), *best, *lopo)


def _embeddings(sample: Sample, model: FaceModel, cost: ServingCost) -> np.ndarray:
    """The sample's face embeddings: given, or detected and embedded as serving does (timed)."""
    if sample.embedding is not None:
        return sample.embedding[None, :]
    if sample.image is None:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    image = sample.image
    boxes = cost.timed("detect", lambda: detect_faces(image, model.config))
    cost.frames += 1
    cost.embedded += len(boxes)
    return cost.timed("embed", lambda: embed_faces(image, boxes))


def enrolled_sessions(model: FaceModel) -> dict[str, set[str]]:
    """Each person's enrolment sessions, as recorded in model.json (else those of their exemplars)."""
    recorded = model.info.get("enrolment", {}).get("sessions")
    if recorded:
        return {label: set(names) for label, names in recorded.items()}
    owners = [model.labels[i] for i in model.gallery_labels]
    return {label: {s for o, s in zip(owners, model.gallery_sessions, strict=True) if o == label}
            for label in model.labels}


def _best(vectors: np.ndarray, model: FaceModel, exclude: str | None) -> tuple[str | None, float, float, float]:
    """The face nearest its predicted person: that person, the distance, the ratio and the normalised score."""
    if not len(vectors):
        return None, math.inf, math.inf, math.inf
    found = scores(vectors, model, exclude)
    best = int(found.distance.argmin())
    return (model.labels[found.predicted[best]], float(found.distance[best]), float(found.ratio[best]),
            float(found.normalised[best]))


def summarise(results: list[FrameScore], model: FaceModel, threshold: float | None = None) -> dict:
    """Accuracy, per-person precision/recall, per-source majority, unknown rejection and a confusion count."""
    limits = Limits(model.threshold if threshold is None else threshold, model.ratio_guard, model.cohort.limit)
    known = [r for r in results if r.label in model.labels]
    strangers = [r for r in results if r.label not in model.labels]
    answers = [limits.answer(r.predicted, r.distance, r.ratio, r.normalised) for r in results]
    confusion = Counter((r.label if r.label in model.labels else UNKNOWN, a)
                        for r, a in zip(results, answers, strict=True))
    lopo = [limits.answer(r.lopo_predicted, r.lopo_distance, r.lopo_ratio, r.lopo_normalised) == UNKNOWN for r in known
            if r.lopo_predicted is not None]
    named = [limits.answer(r.predicted, r.distance, r.ratio, r.normalised) == r.label for r in known]
    cross = [r.cross_session for r in known]
    return {
        "threshold": limits.threshold,
        "ratio_limit": limits.guard.limit if math.isfinite(limits.guard.limit) else None,
        "ratio_people": list(limits.guard.people),
        "frames": len(results),
        "known_frames": len(known),
        "accuracy": sum(named) / len(known) if known else None,
        "same_session_frames": cross.count(False),
        "same_session_accuracy": _share(named, cross, False),
        "cross_session_frames": cross.count(True),
        "cross_session_accuracy": _share(named, cross, True),
        "no_face_frames": sum(1 for a in answers if a == NO_FACE),
        "per_person": _per_person(confusion, model.labels),
        "sources": _majorities(results, answers, model),
        "given_strangers": len(strangers),
        "given_stranger_rejection": confusion[(UNKNOWN, UNKNOWN)] / len(strangers) if strangers else None,
        "lopo_frames": len(lopo),
        "lopo_rejection": sum(lopo) / len(lopo) if lopo else None,
        "look_alikes": list(look_alikes(tradeoff_inputs(results, model), limits.threshold, limits.guard)),
        "confusion": confusion,
    }


def _share(named: list[bool], cross: list[bool], flag: bool) -> float | None:
    chosen = [n for n, c in zip(named, cross, strict=True) if c == flag]
    return sum(chosen) / len(chosen) if chosen else None


def tradeoff_inputs(results: list[FrameScore], model: FaceModel) -> Distances:
    """Known frames (same- and cross-session) and strangers (given + leave-one-person-out) for the curve; a face
    beyond the cohort limit counts as infinitely far (unknown at any distance)."""
    known = [r for r in results if r.label in model.labels]
    given = [(_within_cohort(r.distance, r.normalised, model), r.label, r.predicted, r.ratio) for r in results
             if r.label not in model.labels and r.predicted]
    left_out = [(_within_cohort(r.lopo_distance, r.lopo_normalised, model), r.label, r.lopo_predicted, r.lopo_ratio)
                for r in known if r.lopo_predicted is not None]
    strangers = given + left_out
    return Distances(genuine=np.array([_within_cohort(r.distance, r.normalised, model) for r in known],
                                      dtype=np.float64),
                     correct=np.array([r.predicted == r.label for r in known], dtype=bool),
                     people=np.array([r.label for r in known], dtype=str),
                     sessions=np.array([r.session for r in known], dtype=str),
                     cross_session=np.array([r.cross_session for r in known], dtype=bool),
                     strangers=np.array([d for d, _, _, _ in strangers], dtype=np.float64),
                     stranger_pairs=np.array([(who, whom) for _, who, whom, _ in strangers], dtype=str).reshape(-1, 2),
                     genuine_ratio=np.array([r.ratio for r in known], dtype=np.float64),
                     stranger_ratio=np.array([ratio for _, _, _, ratio in strangers], dtype=np.float64))


def _within_cohort(distance: float, normalised: float, model: FaceModel) -> float:
    return distance if normalised <= model.cohort.limit else math.inf


def _per_person(confusion: Counter, labels: tuple[str, ...]) -> dict[str, dict]:
    table = {}
    for label in labels:
        truly = sum(n for (t, _), n in confusion.items() if t == label)
        said = sum(n for (_, a), n in confusion.items() if a == label)
        hit = confusion[(label, label)]
        table[label] = {"frames": truly, "precision": hit / said if said else None,
                        "recall": hit / truly if truly else None}
    return table


def _majorities(results: list[FrameScore], answers: list[str], model: FaceModel) -> dict[str, dict]:
    per_source: dict[str, Counter] = {}
    truth: dict[str, str] = {}
    for result, said in zip(results, answers, strict=True):
        per_source.setdefault(result.origin, Counter())[said] += 1
        truth[result.origin] = result.label if result.label in model.labels else UNKNOWN
    return {origin: {"label": truth[origin], "majority": counts.most_common(1)[0][0],
                     "correct": counts.most_common(1)[0][0] == truth[origin], "frames": sum(counts.values())}
            for origin, counts in per_source.items()}
