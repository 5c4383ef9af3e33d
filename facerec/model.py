"""The model artifact (a folder: model.json, head.npz, gallery.npy), open-set classification, save/load.

Every file is plain data: JSON and numpy arrays read with allow_pickle=False; nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from contract.keys import utc_stamp
from facerec.cohort_norm import NO_COHORT, CohortNorm
from facerec.config import Config
from facerec.detectors import DETECTORS
from facerec.embedding import EMBEDDING_DIM, EMBEDDING_MODEL_ID, normalise
from facerec.errors import ModelError

log = logging.getLogger(__name__)

FORMAT = "facerec-model"
FORMAT_VERSION = 2  # 2: head.npz instead of a torch head.pt; exemplar sessions; threshold tails
UNKNOWN = "unknown"
MANIFEST, HEAD_FILE, GALLERY_FILE, COHORT_FILE = "model.json", "head.npz", "gallery.npy", "cohort.npy"
ARTIFACT_FILES = (MANIFEST, HEAD_FILE, GALLERY_FILE, COHORT_FILE)
ARRAY_FILES = ARTIFACT_FILES[1:]
VERSION_RE = re.compile(r"^[0-9a-f]{16}$")
INFO_KEYS = ("metrics", "evidence", "enrolment")  # descriptive, kept at top level


class Match(NamedTuple):
    """A classification: name ("unknown" beyond the limits), confidence 0..1, distance to the gallery."""

    name: str
    confidence: float
    distance: float


class Scores(NamedTuple):
    """Per embedding: the head's pick, its probability, the distance to that person's nearest template, the
    ratio of that distance to the distance to anyone else's nearest template (near 1: as close to someone else),
    and the distance normalised against the impostor cohort (cohort_norm; 0 without a cohort)."""

    predicted: np.ndarray
    probability: np.ndarray
    distance: np.ndarray
    ratio: np.ndarray
    normalised: np.ndarray


@dataclass(frozen=True)
class RatioGuard:
    """A limit on Scores.ratio for the people look-alikes were taken for on the enrolment evidence; anyone else is
    named on distance alone."""

    limit: float = math.inf
    people: tuple[str, ...] = ()

    def limits(self, names: np.ndarray | str) -> np.ndarray:
        """The ratio limit for each named person: the limit if guarded, inf otherwise."""
        return np.where(np.isin(names, self.people), self.limit, math.inf)

    def to_dict(self) -> dict[str, Any]:
        """As model.json stores it under threshold.ratio."""
        return {"limit": self.limit, "people": list(self.people)}


NO_RATIO_GUARD = RatioGuard()


@dataclass(frozen=True, eq=False)
class FaceModel:
    """A linear softmax head over unit embeddings plus a per-person gallery and a distance threshold."""

    labels: tuple[str, ...]
    weight: np.ndarray  # (len(labels), 128)
    bias: np.ndarray  # (len(labels),)
    gallery: np.ndarray  # (m, 128) unit gallery templates (one per person and session)
    gallery_labels: np.ndarray  # (m,) indices into labels
    threshold: float  # largest distance to the predicted person's nearest template still named
    gallery_sessions: tuple[str, ...] = ()  # (m,) the session each exemplar came from ("" when not recorded)
    config: Config = field(default_factory=Config)
    info: dict[str, Any] = field(default_factory=dict)  # metrics, evidence, enrolment description
    version: str = ""
    created_at: str = ""
    ratio_guard: RatioGuard = NO_RATIO_GUARD
    cohort: CohortNorm = NO_COHORT


def classify(embeddings: np.ndarray, model: FaceModel, threshold: float | None = None,
             exclude: str | None = None) -> list[Match]:
    """Name each embedding (or "unknown"); `exclude` drops one person as if never enrolled."""
    limit = model.threshold if threshold is None else threshold
    found = scores(embeddings, model, exclude)
    names = [model.labels[c] for c in found.predicted]
    ratio_limits = model.ratio_guard.limits(np.array(names, dtype=str))
    return [_match(name, p, d, float(r_limit), limit, Margins(r, n, model.cohort.limit)) for name, p, d, r, n, r_limit
            in zip(names, found.probability, found.distance, found.ratio, found.normalised, ratio_limits, strict=True)]


def accepted(distance: np.ndarray | float, ratio: np.ndarray | float, threshold: float,
             ratio_limit: np.ndarray | float = math.inf, normalised: np.ndarray | float = 0.0,
             cohort_limit: float = math.inf) -> np.ndarray:
    """Named rather than unknown: near enough to the predicted person, where guarded distinctly nearer them than
    anyone else, and near enough for that template and face once both are normalised against the cohort."""
    return ((np.asarray(distance) <= threshold) & (np.asarray(ratio) <= ratio_limit)
            & (np.asarray(normalised) <= cohort_limit))


def scores(embeddings: np.ndarray, model: FaceModel, exclude: str | None = None) -> Scores:
    """Score embeddings against the head and the gallery; `exclude` drops one person as if never enrolled."""
    vectors = normalise(embeddings)
    logits = vectors @ model.weight.T + model.bias
    per_label, nearest = _distance_per_label(vectors, model)
    if exclude is not None:
        logits[:, model.labels.index(exclude)] = -np.inf
        per_label[:, model.labels.index(exclude)] = np.inf
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    best = probabilities.argmax(axis=1)
    rows = np.arange(len(best))
    distance = per_label[rows, best]
    normalised = model.cohort.normalised(vectors, distance, nearest[rows, best])
    per_label[rows, best] = np.inf
    runner_up = per_label.min(axis=1, initial=np.inf)
    ratio = np.divide(distance, runner_up, out=np.zeros_like(distance), where=np.isfinite(runner_up))
    return Scores(best, probabilities[rows, best], distance, ratio, normalised)


def _distance_per_label(vectors: np.ndarray, model: FaceModel) -> tuple[np.ndarray, np.ndarray]:
    """Each person's nearest template: the distance and the template's gallery index, (faces, people) each."""
    distances = np.linalg.norm(vectors[:, None, :] - model.gallery[None, :, :], axis=2)
    per_label = np.full((len(vectors), len(model.labels)), np.inf, dtype=np.float32)
    nearest = np.zeros((len(vectors), len(model.labels)), dtype=np.int64)
    for index in range(len(model.labels)):
        members = np.flatnonzero(model.gallery_labels == index)
        if len(members) and len(vectors):
            closest = distances[:, members].argmin(axis=1)
            nearest[:, index] = members[closest]
            per_label[:, index] = distances[np.arange(len(vectors)), nearest[:, index]]
    return per_label, nearest


class Margins(NamedTuple):
    """A face's ratio and cohort-normalised score, with the cohort limit (the ratio limit depends on the name)."""

    ratio: float
    normalised: float
    cohort_limit: float


def _match(label: str, probability: float, distance: float, ratio_limit: float, threshold: float,
           margins: Margins) -> Match:
    """Confidence: head probability x the lowest of three logistics, of the distance, ratio and normalised-score
    margins (each 0.5 at its limit); for unknown, 1 - that."""
    agreement = min(_logistic(distance, threshold), _logistic(margins.ratio, ratio_limit),
                    _logistic(margins.normalised, margins.cohort_limit))
    if accepted(distance, margins.ratio, threshold, ratio_limit, margins.normalised, margins.cohort_limit):
        return Match(label, float(probability * agreement), float(distance))
    return Match(UNKNOWN, float(1.0 - agreement), float(distance))


def _logistic(value: float, limit: float) -> float:
    """1 well inside the limit, 0.5 at it, towards 0 beyond (a tenth of the limit per unit of the exponent)."""
    if math.isinf(limit):
        return 1.0
    return 1.0 / (1.0 + math.exp(min(50.0, (value - limit) / (0.1 * limit))))


def save_model(model: FaceModel, model_dir: str | Path) -> FaceModel:
    """Write the artifact folder; returns the model with its content-hash version and created_at set."""
    directory = Path(model_dir)
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / HEAD_FILE, weight=np.asarray(model.weight, np.float32),
             bias=np.asarray(model.bias, np.float32))
    np.save(directory / GALLERY_FILE, np.ascontiguousarray(model.gallery, np.float32), allow_pickle=False)
    np.save(directory / COHORT_FILE, model.cohort.embeddings, allow_pickle=False)
    manifest = _manifest(model, directory)
    saved = replace(model, version=content_version(manifest),
                    created_at=utc_stamp())
    manifest.update(version=saved.version, created_at=saved.created_at)
    (directory / MANIFEST).write_text(_dump(manifest))
    log.info("saved model %s to %s", saved.version, directory)
    return saved


def _manifest(model: FaceModel, directory: Path) -> dict[str, Any]:
    sessions = sorted(set(model.gallery_sessions))
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "embedding_model": EMBEDDING_MODEL_ID,
        "embedding_dim": EMBEDDING_DIM,
        "detector": model.config.detector,
        "detector_id": DETECTORS[model.config.detector].id,
        "config": asdict(model.config),
        "labels": list(model.labels),
        "head": {"file": HEAD_FILE, "kind": "linear-softmax"},
        "gallery": {"file": GALLERY_FILE, "labels": [int(i) for i in model.gallery_labels],
                    "session_names": sessions, "sessions": [sessions.index(s) for s in model.gallery_sessions]},
        "threshold": {"distance": model.threshold, **_ratio_entry(model.ratio_guard),
                      **({"cohort": model.cohort.to_dict()} if model.cohort.active else {})},
        "files": {name: _sha256(directory / name) for name in ARRAY_FILES},
        **{key: model.info[key] for key in INFO_KEYS if key in model.info},
    }


def _ratio_entry(guard: RatioGuard) -> dict[str, Any]:
    """The ratio guard as model.json stores it: absent when there is none (so such models keep their version)."""
    return {} if math.isinf(guard.limit) else {"ratio": guard.to_dict()}


def _dump(manifest: dict[str, Any]) -> str:
    """Indented JSON with lists of numbers kept on one line."""
    text = json.dumps(manifest, indent=1)
    return re.sub(r"\[\s+([-\d.,\s]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


def content_version(manifest: dict[str, Any]) -> str:
    """First 16 hex digits of the SHA-256 of the manifest without version/created_at (covers file hashes)."""
    core = {k: v for k, v in manifest.items() if k not in ("version", "created_at")}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]


def load_model(model_dir: str | Path) -> FaceModel:
    """Read and validate an artifact folder; raises ModelError naming what is wrong."""
    directory = Path(model_dir)
    manifest = _read_manifest(directory)
    _check_files(directory, manifest)
    try:
        return _build(directory, manifest)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{directory}: malformed manifest: {exc!r}") from exc


def _build(directory: Path, manifest: dict[str, Any]) -> FaceModel:
    labels = tuple(manifest["labels"])
    state = _load_arrays(directory / HEAD_FILE)
    gallery = _load_arrays(directory / GALLERY_FILE)
    gallery_labels = np.asarray(manifest["gallery"]["labels"], dtype=np.int64)
    _check_arrays(labels, state, gallery, gallery_labels)
    names = manifest["gallery"]["session_names"]
    gallery_sessions = tuple(names[i] for i in manifest["gallery"]["sessions"])
    if len(gallery_sessions) != len(gallery):
        raise ModelError(f"{directory}: {len(gallery_sessions)} exemplar sessions for {len(gallery)} exemplars")
    threshold = float(manifest["threshold"]["distance"])
    if not 0 < threshold <= 2:
        raise ModelError(f"{directory}: threshold {threshold} outside (0, 2]")
    guard = _ratio_guard(manifest["threshold"].get("ratio"), labels, directory)
    cohort = _cohort(directory, manifest["threshold"].get("cohort"), gallery)
    config = Config.from_dict(manifest["config"])
    if config.detector not in DETECTORS:
        raise ModelError(f"{directory}: unknown detector {config.detector!r}")
    if manifest.get("detector_id") != DETECTORS[config.detector].id:
        log.warning("%s was enrolled with detector %r; this build has %r", directory, manifest.get("detector_id"),
                    DETECTORS[config.detector].id)
    info = {key: manifest[key] for key in INFO_KEYS if key in manifest}
    return FaceModel(labels, state["weight"], state["bias"], gallery, gallery_labels, threshold, gallery_sessions,
                     config, info, manifest["version"], manifest.get("created_at", ""), guard, cohort)


def _ratio_guard(entry: dict[str, Any] | None, labels: tuple[str, ...], directory: Path) -> RatioGuard:
    if entry is None:
        return NO_RATIO_GUARD
    guard = RatioGuard(float(entry["limit"]), tuple(entry["people"]))
    if not guard.limit > 0:  # also refuses NaN
        raise ModelError(f"{directory}: ratio limit {guard.limit} must be above 0")
    if not set(guard.people) <= set(labels):
        raise ModelError(f"{directory}: ratio limit for people not enrolled: {sorted(set(guard.people) - set(labels))}")
    return guard


def _cohort(directory: Path, entry: dict[str, Any] | None, gallery: np.ndarray) -> CohortNorm:
    embeddings = _load_arrays(directory / COHORT_FILE)
    if not isinstance(embeddings, np.ndarray) or embeddings.ndim != 2 or embeddings.shape[1] != EMBEDDING_DIM \
            or embeddings.dtype != np.float32 or not np.isfinite(embeddings).all():
        raise ModelError(f"{directory}: {COHORT_FILE} must be finite float32 (n, {EMBEDDING_DIM})")
    if (entry is None) != (len(embeddings) == 0) or (entry and entry["faces"] != len(embeddings)):
        raise ModelError(f"{directory}: {COHORT_FILE} holds {len(embeddings)} faces, model.json's threshold.cohort "
                         f"says {entry and entry['faces']}")
    if entry is None:
        return NO_COHORT
    limit = math.inf if entry["limit"] is None else float(entry["limit"])
    if not limit > 0 or not 1 <= int(entry["k"]) <= len(embeddings):
        raise ModelError(f"{directory}: cohort limit {limit} must be above 0 and k {entry['k']} within 1.."
                         f"{len(embeddings)}")
    return CohortNorm.fit(embeddings, gallery, int(entry["k"]), limit)


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise ModelError(f"{directory} is not a model folder (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelError(f"{path} is not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path}: format_version {manifest.get('format_version')} (this build reads "
                         f"{FORMAT_VERSION})")
    if manifest.get("embedding_model") != EMBEDDING_MODEL_ID or manifest.get("embedding_dim") != EMBEDDING_DIM:
        raise ModelError(f"{path} was made for embedding model {manifest.get('embedding_model')!r}; "
                         f"this build embeds with {EMBEDDING_MODEL_ID!r}")
    labels = manifest.get("labels")
    if not labels or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels):
        raise ModelError(f"{path}: labels must be distinct non-empty strings")
    if UNKNOWN in labels:
        raise ModelError(f"{path}: {UNKNOWN!r} cannot be an enrolled name")
    if manifest.get("version") != content_version(manifest):
        raise ModelError(f"{path}: version does not match the content (edited or corrupt manifest)")
    return manifest


def _check_files(directory: Path, manifest: dict[str, Any]) -> None:
    hashes = manifest.get("files")
    if not isinstance(hashes, dict):
        raise ModelError(f"{directory}: manifest lists no file checksums")
    for name in ARRAY_FILES:
        path = directory / name
        if not path.is_file():
            raise ModelError(f"{directory}: missing {name}")
        if _sha256(path) != hashes.get(name):
            raise ModelError(f"{path}: checksum mismatch (corrupt or replaced)")


def _load_arrays(path: Path) -> Any:
    """A .npy array, or a .npz file's arrays as a dict; never unpickles."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                return {name: loaded[name] for name in loaded.files}
        return loaded
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path} is not a readable numpy file: {exc}") from exc


def _check_arrays(labels: tuple[str, ...], state: Any, gallery: Any, gallery_labels: np.ndarray) -> None:
    if not isinstance(state, dict) or not isinstance(gallery, np.ndarray):
        raise ModelError(f"{HEAD_FILE} must hold named arrays and {GALLERY_FILE} one array")
    weight, bias = state.get("weight"), state.get("bias")
    if weight is None or bias is None or weight.shape != (len(labels), EMBEDDING_DIM) or bias.shape != (
            len(labels),):
        raise ModelError(f"head shapes do not fit {len(labels)} labels x {EMBEDDING_DIM}")
    if gallery.ndim != 2 or gallery.shape[1] != EMBEDDING_DIM or gallery.dtype != np.float32:
        raise ModelError(f"gallery must be float32 (m, {EMBEDDING_DIM}), got {gallery.dtype} {gallery.shape}")
    if gallery_labels.shape != (len(gallery),) or set(gallery_labels.tolist()) != set(range(len(labels))):
        raise ModelError("gallery labels must give every enrolled person at least one exemplar")
    if not (np.isfinite(weight).all() and np.isfinite(bias).all() and np.isfinite(gallery).all()):
        raise ModelError("model arrays contain NaN or infinity")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
