"""Enrolment: quality-filter labelled samples, train the head, choose the unknown threshold from evidence."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from facerec.config import DEFAULT, Config
from facerec.errors import EnrolmentError
from facerec.evidence import Evidence, choose_threshold
from facerec.model import FaceModel, scores
from facerec.pipeline import Face, preprocess
from facerec.sources import Sample
from facerec.train import fit

log = logging.getLogger(__name__)

VALIDATION_SHARE = 0.3  # the last 30 % of each person's samples, in source order


@dataclass(frozen=True)
class Rejection:
    """A sample left out of enrolment, and why."""

    label: str
    origin: str
    frame: int | None
    reason: str


@dataclass
class Enrolled:
    """Accepted embeddings (source order) with their labels."""

    embeddings: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class EnrolmentResult:
    """The trained model, what went in, and the evidence behind its threshold."""

    model: FaceModel
    accepted: Counter
    rejections: list[Rejection]
    evidence: Evidence
    known_correct: np.ndarray
    known_distance: np.ndarray
    stranger_distance: np.ndarray


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
    return enrolled


def _embed(sample: Sample, config: Config) -> tuple[np.ndarray | None, str | None]:
    if sample.error is not None:
        return None, sample.error
    if sample.embedding is not None:
        return sample.embedding, None
    faces = preprocess(sample.image, config)
    problem = quality_problem(faces, config)
    return (None, problem) if problem else (faces[0].embedding, None)


def train(enrolled: Enrolled, config: Config = DEFAULT, description: dict | None = None) -> EnrolmentResult:
    """Choose the threshold on a split (validation + leave-one-person-out), then fit on everything.

    `description` (sources, frame window, ...) is stored in model.json under "enrolment".
    """
    if not enrolled.embeddings:
        raise EnrolmentError("no usable face in any source")
    labels = tuple(sorted(set(enrolled.labels)))
    vectors = np.stack(enrolled.embeddings).astype(np.float32)
    targets = np.array([labels.index(x) for x in enrolled.labels])
    validation = validation_mask(targets)
    split = fit(vectors[~validation], targets[~validation], labels, 1.0, config)
    known_correct, known_distance = _known_evidence(split, vectors[validation], targets[validation])
    stranger_distance = _stranger_evidence(split, vectors, targets)
    evidence = choose_threshold(known_correct, known_distance, stranger_distance)
    model = fit(vectors, targets, labels, evidence.threshold, config)
    enrolment = dict(description or {})
    enrolment.update(samples={label: int((targets == i).sum()) for i, label in enumerate(labels)},
                     left_out=dict(Counter(r.reason.split(" (")[0] for r in enrolled.rejections)))
    metrics = _metrics(split, model, vectors, targets, validation, evidence)
    model = replace(model, info={"enrolment": enrolment, "metrics": metrics, "evidence": evidence.to_dict()})
    return EnrolmentResult(model, Counter(enrolled.labels), enrolled.rejections, evidence,
                           known_correct, known_distance, stranger_distance)


def validation_mask(targets: np.ndarray) -> np.ndarray:
    """True for the last 30 % (rounded down) of each person's samples in source order."""
    mask = np.zeros(len(targets), dtype=bool)
    for label in np.unique(targets):
        members = np.flatnonzero(targets == label)
        count = int(len(members) * VALIDATION_SHARE)
        if count:
            mask[members[-count:]] = True
    return mask


def _known_evidence(model: FaceModel, vectors: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    predicted, _, distance = scores(vectors, model)
    return predicted == targets, distance


def _stranger_evidence(model: FaceModel, vectors: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Distances of each person's samples with that person taken out of the model (leave-one-person-out)."""
    if len(model.labels) < 2:
        return np.zeros(0, np.float32)
    parts = [scores(vectors[targets == i], model, exclude=label)[2] for i, label in enumerate(model.labels)]
    return np.concatenate(parts)


def _metrics(split: FaceModel, model: FaceModel, vectors: np.ndarray, targets: np.ndarray,
             validation: np.ndarray, evidence: Evidence) -> dict:
    def accuracy(m: FaceModel, rows: np.ndarray, threshold: float) -> float | None:
        if not rows.any():
            return None
        predicted, _, distance = scores(vectors[rows], m)
        return round(float(((predicted == targets[rows]) & (distance <= threshold)).mean()), 4)

    everything = np.ones(len(targets), dtype=bool)
    return {
        "train_accuracy": accuracy(split, ~validation, evidence.threshold),
        "validation_accuracy": accuracy(split, validation, evidence.threshold),
        "validation_closed_set_accuracy": accuracy(split, validation, np.inf),
        "lopo_unknown_rejection": evidence.unknown_rejection,
        "final_fit_accuracy": accuracy(model, everything, evidence.threshold),
        "train_samples": int((~validation).sum()),
        "validation_samples": int(validation.sum()),
    }
