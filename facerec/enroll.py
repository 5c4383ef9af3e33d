"""Enrolment: quality-filter labelled samples, hold sessions out, train the head, choose the unknown threshold.

Validation holds out whole sessions: for every person with more than one session, each session in turn is
scored by a model fitted without it (cross-session evidence). A person with a single session can only give
the last 30 % of it (same-session evidence, which says little about new photos: enrol then warns).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from facerec.cohort import CohortPhotos, CohortReport, stored_photos, with_cohort
from facerec.cohort_norm import TARGET_FAR, CohortNorm
from facerec.config import DEFAULT, Config
from facerec.errors import EnrolmentError
from facerec.evidence import Distances, Evidence, choose_threshold, named_share
from facerec.model import FaceModel, accepted, scores
from facerec.pipeline import Face, preprocess
from facerec.sources import ALL_FRAMES, FrameWindow, Reading, Sample, iter_samples
from facerec.train import fit

log = logging.getLogger(__name__)

VALIDATION_SHARE = 0.3  # single-session people: the last 30 % of their samples, in source order
NO_CROSS_SESSION_WARNING = "threshold chosen without cross-session evidence; expect misses on new photos"
LOOK_ALIKE_WARNING = "with one of them left out, the other was named: a stranger who resembles them may be too"


@dataclass(frozen=True)
class Rejection:
    """A sample left out of enrolment, and why."""

    label: str
    origin: str
    frame: int | None
    reason: str


@dataclass
class Enrolled:
    """Accepted embeddings (source order) with their labels and sessions."""

    embeddings: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class EnrolmentResult:
    """The trained model, what went in, and the evidence behind its threshold."""

    model: FaceModel
    accepted: Counter
    rejections: list[Rejection]
    evidence: Evidence
    distances: Distances
    cohort: CohortReport | None = None  # the cohort limit and what it achieves, when enrolled with a cohort


def enroll(sources: Iterable[str | Path], labels: dict[str, str] | None = None,
           sessions: dict[str, str] | None = None, frames: FrameWindow = ALL_FRAMES, add_to: FaceModel | None = None,
           config: Config = DEFAULT, progress: Callable[[Sample], None] | None = None,
           cohort: CohortPhotos | None = None, target_far: float = TARGET_FAR) -> EnrolmentResult:
    """Enrol the people of `sources` (see facerec.sources), or add them to `add_to`; save with save_model.

    `labels` and `sessions` map file names to person and session names; `frames` picks each video's frames.
    With a `cohort` (facerec.cohort.read_cohort) the model stores it and a limit on the normalised score that names
    at most `target_far` of its strangers, cross-validated; adding to a model that has a cohort keeps that one.
    """
    if add_to is not None and config != add_to.config:
        raise EnrolmentError(f"adding to model {add_to.version} needs its settings (detector "
                             f"{add_to.config.detector!r}), not {config}")
    specs = [str(source) for source in sources]
    enrolled = collect(iter_samples(specs, Reading(labels or {}, sessions or {}, frames, config)), config, progress)
    description = {"sources": specs, "frames": str(frames),
                   "validation": "each session of a person with several, held out in turn; else the last 30 % "
                                 "of their samples",
                   "strangers": "leave-one-person-out: each person scored with itself removed"}
    if add_to is not None:
        enrolled = merge(from_model(add_to), enrolled)
        description["added_to"] = {"version": add_to.version,
                                   "sources": add_to.info.get("enrolment", {}).get("sources")}
        if cohort is None and add_to.cohort.active:
            cohort = stored_photos(add_to)
    return train(enrolled, config, description, cohort, target_far)


def quality_problem(faces: list[Face], config: Config = DEFAULT) -> str | None:
    """Why faces found in one enrolment image are unusable, or None when there is exactly one good face."""
    if not faces:
        return "no face"
    if len(faces) > 1:
        return f"{len(faces)} faces"
    face = faces[0]
    if min(face.box.width, face.box.height) < config.min_enrol_face_px:
        return f"tiny face ({face.box.width}x{face.box.height} px)"
    if face.sharpness < config.min_sharpness:
        return f"blurred (sharpness {face.sharpness:.0f} < {config.min_sharpness:g})"
    return None


def collect(samples: Iterable[Sample], config: Config = DEFAULT,
            progress: Callable[[Sample], None] | None = None) -> Enrolled:
    """Embed every sample through the shared preprocess, keeping only good single faces."""
    enrolled = Enrolled()
    for sample in samples:
        if progress:
            progress(sample)
        embedding, reason = _embed(sample, config)
        if reason is not None:
            enrolled.rejections.append(Rejection(sample.label, sample.origin, sample.frame, reason))
            log.info("left out %s frame %s: %s", sample.origin, sample.frame, reason)
            continue
        enrolled.embeddings.append(embedding)
        enrolled.labels.append(sample.label)
        enrolled.sessions.append(sample.session)
    return enrolled


def from_model(model: FaceModel) -> Enrolled:
    """An existing model's gallery templates as enrolment samples, with their sessions (for `enroll --add`)."""
    if not all(model.gallery_sessions):
        raise EnrolmentError(f"model {model.version} does not record its exemplars' sessions: re-enrol everyone")
    return Enrolled(embeddings=list(model.gallery), labels=[model.labels[i] for i in model.gallery_labels],
                    sessions=list(model.gallery_sessions))


def merge(first: Enrolled, second: Enrolled) -> Enrolled:
    """Both sets of samples, first then second."""
    return Enrolled(first.embeddings + second.embeddings, first.labels + second.labels,
                    first.sessions + second.sessions, first.rejections + second.rejections)


def _embed(sample: Sample, config: Config) -> tuple[np.ndarray | None, str | None]:
    if sample.error is not None:
        return None, sample.error
    if sample.embedding is not None:
        return sample.embedding, None
    faces = preprocess(sample.image, config)
    problem = quality_problem(faces, config)
    return (None, problem) if problem else (faces[0].embedding, None)


def train(enrolled: Enrolled, config: Config = DEFAULT, description: dict | None = None,
          cohort: CohortPhotos | None = None, target_far: float = TARGET_FAR) -> EnrolmentResult:
    """Measure held-out genuine and leave-one-person-out stranger distances, choose the threshold, fit on all;
    with a cohort, choose the cohort limit too (facerec.cohort.calibrate).

    `description` (sources, frame window, ...) is stored in model.json under "enrolment".
    """
    if not enrolled.embeddings:
        raise EnrolmentError("no usable face in any source")
    labels = tuple(sorted(set(enrolled.labels)))
    vectors = np.stack(enrolled.embeddings).astype(np.float32)
    targets = np.array([labels.index(x) for x in enrolled.labels])
    sessions = np.array(enrolled.sessions, dtype=str)
    model = fit(vectors, targets, labels, 1.0, config, sessions=sessions)
    strangers = None if cohort is None else cohort.strangers
    distances = validation_distances(vectors, targets, sessions, labels, config, model, strangers)
    evidence = choose_threshold(distances, labels)
    if evidence.without_cross_session:
        log.warning("%s: %s (enrol them from a second session: another video or photo set)",
                    ", ".join(evidence.without_cross_session), NO_CROSS_SESSION_WARNING)
    if evidence.look_alikes:
        log.warning("look-alikes within the limits: %s (%s)", "; ".join(evidence.look_alikes), LOOK_ALIKE_WARNING)
    enrolment = dict(description or {})
    enrolment.update(
        samples={label: int((targets == i).sum()) for i, label in enumerate(labels)},
        sessions={label: sorted(set(sessions[targets == i].tolist())) for i, label in enumerate(labels)},
        left_out=dict(Counter(r.reason.split(" (")[0] for r in enrolled.rejections)))
    model = replace(model, threshold=evidence.threshold, ratio_guard=evidence.guard)
    metrics = _metrics(model, vectors, targets, distances, evidence)
    model = replace(model, info={"enrolment": enrolment, "metrics": metrics, "evidence": evidence.to_dict()})
    report = None
    if cohort is not None:
        model, report = with_cohort(model, cohort, target_far, distances)
    return EnrolmentResult(model, Counter(enrolled.labels), enrolled.rejections, evidence, distances, report)


def holdouts(targets: np.ndarray, sessions: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(held-out mask, cross-session mask) per fold: fold k holds out the k-th session (by name) of every person
    with several sessions; fold 0 also holds out the last 30 % of each single-session person's samples."""
    per_person = {int(t): sorted(set(sessions[targets == t].tolist())) for t in np.unique(targets)}
    folds = max([len(names) for names in per_person.values() if len(names) > 1], default=1)
    plan = []
    for k in range(folds):
        held, cross = np.zeros(len(targets), bool), np.zeros(len(targets), bool)
        for person, names in per_person.items():
            members = targets == person
            if len(names) > 1 and k < len(names):
                chosen = members & (sessions == names[k])
                held |= chosen
                cross |= chosen
            elif len(names) == 1 and k == 0:
                rows = np.flatnonzero(members)
                count = int(len(rows) * VALIDATION_SHARE)
                held[rows[len(rows) - count:]] = True
        if held.any():
            plan.append((held, cross))
    return plan


def validation_distances(vectors: np.ndarray, targets: np.ndarray, sessions: np.ndarray, labels: tuple[str, ...],
                         config: Config, model: FaceModel, cohort: np.ndarray | None = None) -> Distances:
    """Held-out genuine samples scored by models fitted without them (normalised against `cohort` embeddings
    too, when given); strangers by leave-one-person-out."""
    parts = []
    for held, cross in holdouts(targets, sessions):
        split = fit(vectors[~held], targets[~held], labels, 1.0, config, sessions=sessions[~held])
        if cohort is not None:
            split = replace(split, cohort=CohortNorm.fit(cohort, split.gallery))
        found = scores(vectors[held], split)
        parts.append((found.distance, found.predicted == targets[held], targets[held], sessions[held], cross[held],
                      found.ratio, found.normalised))
    strangers, pairs, ratios = _strangers(model, vectors, targets)
    if not parts:
        return replace(Distances.empty(), strangers=strangers, stranger_pairs=pairs, stranger_ratio=ratios)
    genuine, correct, people, held_sessions, cross, genuine_ratio, normalised = (
        np.concatenate(column) for column in zip(*parts, strict=True))
    return Distances(genuine, correct, np.array(labels)[people], held_sessions, cross, strangers, pairs,
                     genuine_ratio, ratios, normalised if cohort is not None else np.zeros(0))


def _strangers(model: FaceModel, vectors: np.ndarray, targets: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leave-one-person-out: each person's samples scored with that person taken out of the model.

    Returns the distances, per sample (the person, whom the head named instead), and the distance ratios.
    """
    if len(model.labels) < 2:
        return np.zeros(0, np.float32), np.zeros((0, 2), str), np.zeros(0, np.float32)
    distances, pairs, ratios = [], [], []
    for index, label in enumerate(model.labels):
        found = scores(vectors[targets == index], model, exclude=label)
        distances.append(found.distance)
        ratios.append(found.ratio)
        pairs += [(label, model.labels[n]) for n in found.predicted]
    return np.concatenate(distances), np.array(pairs, dtype=str).reshape(-1, 2), np.concatenate(ratios)


def _metrics(model: FaceModel, vectors: np.ndarray, targets: np.ndarray, distances: Distances,
             evidence: Evidence) -> dict:
    found = scores(vectors, model)
    rounded = evidence.to_dict()
    by_session = {}
    for session in sorted(set(distances.sessions[distances.cross_session].tolist())):
        rows = distances.cross_session & (distances.sessions == session)
        by_session[session] = {"samples": int(rows.sum()),
                               "accuracy": round(named_share(distances, rows, evidence.threshold, evidence.guard),
                                                 4)}
    return {
        "final_fit_accuracy": round(float(((found.predicted == targets) & accepted(
            found.distance, found.ratio, model.threshold, model.ratio_guard.limits(np.array(model.labels)[targets]))
        ).mean()), 4),
        "cross_session_accuracy": rounded["cross_session_accuracy"],
        "same_session_accuracy": rounded["same_session_accuracy"],
        "lopo_unknown_rejection": rounded["unknown_rejection"],
        "cross_session_by_held_out_session": by_session,
    }
