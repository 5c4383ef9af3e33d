"""An impostor cohort: photos of people nobody enrolled, embedded once and stored with the model.

A cohort folder holds `strangers/` (one photo per person, nobody enrolled) and, optionally, `pairs/NAME/` (two
photos of one person taken on different occasions: genuine evidence across sessions). Photos are news-style
portraits centred on their subject (Labeled Faces in the Wild), so the face nearest the centre is the person's.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from facerec.cohort_norm import COHORT_K, TARGET_FAR, CohortNorm, normalised_score, pairwise_distance
from facerec.config import DEFAULT, Config
from facerec.detectors import DETECTORS
from facerec.embedding import EMBEDDING_DIM
from facerec.errors import EnrolmentError, FacerecError
from facerec.evidence import Distances
from facerec.imageio import load_image
from facerec.model import FaceModel, accepted, scores
from facerec.pipeline import preprocess
from facerec.sources import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

STRANGERS, PAIRS = "strangers", "pairs"


@dataclass(frozen=True)
class CohortPhotos:
    """Embedded cohort photos: strangers (one per person) and pairs (two per person, other occasions)."""

    strangers: np.ndarray  # (n, 128) unit embeddings
    stranger_names: tuple[str, ...]  # the photo's file stem, e.g. "Aaron_Eckhart_0001"
    pairs: np.ndarray  # (p, 2, 128): each person's first and second photo
    pair_names: tuple[str, ...]
    missing: tuple[str, ...]  # photos without a face (left out)


def photo_paths(folder: Path) -> list[Path]:
    """The images of a folder, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_cohort(root: str | Path, config: Config = DEFAULT, cache: Path | None = None,
                progress: Callable[[Path], None] | None = None) -> CohortPhotos:
    """Embed a cohort folder's photos (reusing `cache`, an .npz of earlier embeddings made with the same detector)."""
    root = Path(root)
    if not (root / STRANGERS).is_dir():
        raise EnrolmentError(f"{root} is not a cohort folder: it has no {STRANGERS}/ folder of photos")
    strangers = photo_paths(root / STRANGERS)
    pair_folders = sorted(p for p in (root / PAIRS).iterdir() if p.is_dir()) if (root / PAIRS).is_dir() else []
    pairs = [photo_paths(folder)[:2] for folder in pair_folders]
    pairs = [photos for photos in pairs if len(photos) == 2]
    embedded = _embed_all(root, strangers + [p for photos in pairs for p in photos], config, cache, progress)
    missing = tuple(name for name, vector in embedded.items() if vector is None)
    kept_strangers = [p for p in strangers if embedded[_key(root, p)] is not None]
    kept_pairs = [photos for photos in pairs if all(embedded[_key(root, p)] is not None for p in photos)]
    if not kept_strangers:
        raise EnrolmentError(f"no face found in any photo of {root / STRANGERS}")
    return CohortPhotos(
        strangers=np.stack([embedded[_key(root, p)] for p in kept_strangers]),
        stranger_names=tuple(p.stem for p in kept_strangers),
        pairs=np.array([[embedded[_key(root, p)] for p in photos] for photos in kept_pairs],
                       np.float32).reshape(-1, 2, EMBEDDING_DIM),
        pair_names=tuple(photos[0].parent.name for photos in kept_pairs),
        missing=missing)


def _key(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _embed_all(root: Path, paths: list[Path], config: Config, cache: Path | None,
               progress: Callable[[Path], None] | None) -> dict[str, np.ndarray | None]:
    """Each photo's central face embedding (None without a face), from the cache where it has them."""
    known = _read_cache(cache, config)
    result: dict[str, np.ndarray | None] = {}
    for path in paths:
        key = _key(root, path)
        if key not in known:
            if progress:
                progress(path)
            known[key] = central_face(path, config)
        result[key] = known[key]
    if cache is not None:
        _write_cache(cache, known, config)
    return result


def central_face(path: Path, config: Config = DEFAULT) -> np.ndarray | None:
    """The embedding of the face whose box centre is nearest the image centre; None when there is no face."""
    try:
        image = load_image(path, config)
    except FacerecError as exc:
        log.warning("cohort photo %s left out: %s", path, exc)
        return None
    faces = preprocess(image, config)
    if not faces:
        return None
    height, width = image.shape[:2]

    def off_centre(face) -> float:
        box = face.box
        return ((box.left + box.right) / 2 - width / 2) ** 2 + ((box.top + box.bottom) / 2 - height / 2) ** 2

    return min(faces, key=off_centre).embedding


def _read_cache(cache: Path | None, config: Config) -> dict[str, np.ndarray | None]:
    if cache is None or not cache.is_file():
        return {}
    with np.load(cache, allow_pickle=False) as data:
        if str(data["detector_id"]) != DETECTORS[config.detector].id:
            log.info("embedding cache %s was made with another detector: not used", cache)
            return {}
        found = data["found"]
        return {str(name): (vector if ok else None)
                for name, vector, ok in zip(data["names"], data["embeddings"], found, strict=True)}


def _write_cache(cache: Path, known: dict[str, np.ndarray | None], config: Config) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(known)
    vectors = np.array([known[n] if known[n] is not None else np.zeros(EMBEDDING_DIM) for n in names], np.float32)
    np.savez(cache, names=np.array(names, dtype=str), embeddings=vectors.reshape(-1, EMBEDDING_DIM),
             found=np.array([known[n] is not None for n in names]), detector_id=DETECTORS[config.detector].id)


FOLDS = 5  # a stranger is scored by a cohort made of the other folds, never one that holds them
Z95 = 1.959964


@dataclass(frozen=True)
class Trials:
    """Scores of one kind of trial under both rules: the distance (inf where the distance rules say unknown) and
    the cohort-normalised score (inf likewise)."""

    distance: np.ndarray
    normalised: np.ndarray

    def named(self, threshold: float, cohort_limit: float) -> np.ndarray:
        """Named within the distance threshold and the cohort limit."""
        return (self.distance <= threshold) & (self.normalised <= cohort_limit)


@dataclass(frozen=True)
class CohortReport:
    """The cohort limit, what it achieves cross-validated, and who attracts strangers."""

    limit: float
    rule: str
    strangers: Trials
    pairs: Trials
    course: Trials  # the enrolment's cross-session genuine samples (empty unless enrolling)
    hubs: tuple[str, ...]  # "person (session): n strangers within the distance limits, m within all"
    threshold: float
    target: float  # the false-accept rate the limit was chosen for

    def rates(self) -> dict:
        """Strangers named (false-accept rate) and pairs named, with 95 % Wilson intervals."""
        accepts = int(self.strangers.named(self.threshold, self.limit).sum())
        named = int(self.pairs.named(self.threshold, self.limit).sum())
        before = int(self.strangers.named(self.threshold, np.inf).sum())
        pairs_before = int(self.pairs.named(self.threshold, np.inf).sum())
        course = int(self.course.named(self.threshold, self.limit).sum())
        return {
            "strangers": len(self.strangers.distance), "strangers_named": accepts,
            "false_accept_rate": _rate(accepts, len(self.strangers.distance)),
            "false_accept_rate_ci95": wilson(accepts, len(self.strangers.distance)),
            "strangers_named_by_distance_alone": before,
            "pair_trials": len(self.pairs.distance), "pairs_named": named,
            "pair_genuine_rate": _rate(named, len(self.pairs.distance)),
            "pair_genuine_rate_ci95": wilson(named, len(self.pairs.distance)),
            "pairs_named_by_distance_alone": pairs_before,
            "course_cross_session_samples": len(self.course.distance), "course_cross_session_named": course,
            "course_cross_session_named_by_distance_alone": int(self.course.named(self.threshold, np.inf).sum()),
        }

    def to_dict(self) -> dict:
        """JSON-ready: the limit, the rule, the rates and the hubs."""
        return {"limit": _round(self.limit), "rule": self.rule, "folds": FOLDS, "target_far": self.target,
                **self.rates(), "hubs": list(self.hubs)}


def _round(value: float) -> float | None:
    return round(float(value), 4) if np.isfinite(value) else None


def _rate(hits: int, trials: int) -> float | None:
    return round(hits / trials, 4) if trials else None


def wilson(hits: int, trials: int, z: float = Z95) -> list[float] | None:
    """The Wilson score interval of a binomial proportion (95 % by default); None without trials."""
    if not trials:
        return None
    share = hits / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return [round(float(max(0.0, centre - half)), 4), round(float(min(1.0, centre + half)), 4)]


def calibrate(model: FaceModel, photos: CohortPhotos, limit: float | None = None, target: float = TARGET_FAR,
              course: Distances | None = None) -> CohortReport:
    """Score every stranger and pair with a cohort built from the other folds' strangers; choose the cohort limit
    (the largest normalised score keeping the cross-validated false-accept rate within `target`) unless given.

    `course`: the enrolment's held-out evidence with normalised scores, reported as the course's cross-session
    genuine samples (they are no cohort member, so the whole cohort judged them)."""
    folds = np.arange(len(photos.strangers)) % FOLDS
    pair_folds = np.arange(len(photos.pairs)) % FOLDS
    stranger_parts, pair_parts, hub_counts = [], [], Counter()
    for fold in range(FOLDS):
        norm = CohortNorm.fit(photos.strangers[folds != fold], model.gallery, COHORT_K)
        judged = replace(model, cohort=norm)
        trials, templates = _stranger_trials(judged, photos.strangers[folds == fold])
        stranger_parts.append((trials, templates))
        pair_parts.append(_pair_trials(judged, photos.pairs[pair_folds == fold]))
    strangers = Trials(*(np.concatenate([t.distance if i == 0 else t.normalised for t, _ in stranger_parts])
                         for i in range(2)))
    pairs = Trials(*(np.concatenate([getattr(t, name) for t in pair_parts]) for name in ("distance", "normalised")))
    templates = np.concatenate([t for _, t in stranger_parts])
    rule = "given"
    if limit is None:
        limit, rule = choose_limit(strangers.normalised[np.isfinite(strangers.distance)], len(strangers.distance),
                                   target)
    for template, named in zip(templates, strangers.named(model.threshold, np.inf), strict=True):
        hub_counts[(int(template), "distance")] += int(named)
    within = strangers.named(model.threshold, limit)
    for template, named in zip(templates, within, strict=True):
        hub_counts[(int(template), "all")] += int(named)
    return CohortReport(limit, rule, strangers, pairs, _course_trials(model, course), _hubs(model, hub_counts),
                        model.threshold, target)


def _course_trials(model: FaceModel, course: Distances | None) -> Trials:
    """Cross-session genuine samples named right within the distance limits, with their normalised scores."""
    if course is None or len(course.genuine_normalised) != len(course.genuine):
        return Trials(np.zeros(0), np.zeros(0))
    within = course.correct & course.genuine_accepted(model.threshold, model.ratio_guard)
    rows = course.cross_session
    return Trials(np.where(within, course.genuine, np.inf)[rows], np.where(within, course.genuine_normalised,
                                                                           np.inf)[rows])


def choose_limit(scores_within: np.ndarray, strangers: int, target: float) -> tuple[float, str]:
    """The largest limit naming at most floor(target x strangers) of them: midway between the last stranger
    allowed and the first refused (inf when the distance rules already refuse enough)."""
    allowed = int(np.floor(target * strangers))
    ordered = np.sort(scores_within)
    if len(ordered) <= allowed:
        return np.inf, f"no cohort limit: the distance rules already name at most {allowed} of {strangers} strangers"
    below = ordered[allowed - 1] if allowed else ordered[0] * 0.99
    limit = float((below + ordered[allowed]) / 2)
    return limit, (f"midway between the {allowed}th and {allowed + 1}th smallest cross-validated normalised scores "
                   f"of the {len(ordered)} strangers within the distance limits ({strangers} strangers, "
                   f"{FOLDS}-fold; target false-accept rate {target:.1%})")


def _stranger_trials(model: FaceModel, strangers: np.ndarray) -> tuple[Trials, np.ndarray]:
    """Strangers scored as serving does; each one's nearest template of the person named (for the hub list)."""
    found = scores(strangers, model)
    names = np.array(model.labels)[found.predicted]
    within = accepted(found.distance, found.ratio, model.threshold, model.ratio_guard.limits(names))
    distances = pairwise_distance(strangers, model.gallery)
    distances[model.gallery_labels[None, :] != found.predicted[:, None]] = np.inf
    trials = Trials(np.where(within, found.distance, np.inf), np.where(within, found.normalised, np.inf))
    return trials, distances.argmin(axis=1)


def _pair_trials(model: FaceModel, pairs: np.ndarray) -> Trials:
    """Each pair both ways: one photo enrolled as a template beside the model's, the other its probe; named when
    its own template is the nearest of all, within the limits."""
    parts = []
    for enrolled, probe in ((0, 1), (1, 0)):
        templates, probes = pairs[:, enrolled], pairs[:, probe]
        own = np.linalg.norm(probes - templates, axis=1)
        nearest_other = pairwise_distance(probes, model.gallery).min(axis=1, initial=np.inf)
        normalised = normalised_score(own, model.cohort.spread(probes), model.cohort.spread(templates))
        named = own < nearest_other
        parts.append(Trials(np.where(named, own, np.inf), np.where(named, normalised, np.inf)))
    return Trials(*(np.concatenate([getattr(t, name) for t in parts]) for name in ("distance", "normalised")))


def _hubs(model: FaceModel, counts: Counter) -> tuple[str, ...]:
    """Templates strangers were named as, most first."""
    rows = [(counts[(t, "distance")], counts[(t, "all")], t) for t in range(len(model.gallery))
            if counts[(t, "distance")]]
    return tuple(f"{model.labels[model.gallery_labels[t]]} ({model.gallery_sessions[t] or 'template'} template): "
                 f"{before} strangers within the distance limits, {after} within all" for before, after, t
                 in sorted(rows, key=lambda row: (-row[0], row[2])))


def _det_curve(strangers: np.ndarray, genuine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strangers named and genuine samples missed at every score cut (floored at 1e-4 for the log axes)."""
    cuts = np.unique(np.concatenate([strangers[np.isfinite(strangers)], genuine[np.isfinite(genuine)]]))
    far = (strangers[None, :] <= cuts[:, None]).mean(axis=1)
    miss = 1 - (genuine[None, :] <= cuts[:, None]).mean(axis=1)
    return np.maximum(far, 1e-4), np.maximum(miss, 1e-4)


def plot_det(report: CohortReport, path: str | Path, title: str) -> Path:
    """Write a DET plot (PNG): pairs missed against strangers named, for the distance alone and for the
    cohort-normalised score at the model's distance limits, with the operating point."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7.2, 5.6), dpi=100)
    genuine_sets = [(f"LFW pairs (n={len(report.pairs.distance)})", report.pairs, "-")]
    if len(report.course.distance):
        genuine_sets.append((f"course cross-session (n={len(report.course.distance)})", report.course, "--"))
    for genuine_name, genuine, style in genuine_sets:
        for score, colour in (("distance", "tab:blue"), ("normalised", "tab:orange")):
            far, miss = _det_curve(getattr(report.strangers, score), getattr(genuine, score))
            axes.plot(far, miss, style, color=colour, label=f"{genuine_name}, {score} score")
    rates = report.rates()
    axes.plot(max(rates["false_accept_rate"], 1e-4), max(1 - rates["pair_genuine_rate"], 1e-4), "ko",
              label=f"model: {rates['false_accept_rate']:.2%} strangers named, "
                    f"{rates['pair_genuine_rate']:.1%} pairs named")
    axes.axvline(report.target, color="grey", linestyle=":", label=f"target {report.target:.1%} strangers named")
    axes.set(xscale="log", yscale="log", xlabel=f"strangers named (n={len(report.strangers.distance)}, "
             f"{FOLDS}-fold)", ylabel="genuine samples missed", title=title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    plt.close(figure)
    return path


def with_cohort(model: FaceModel, photos: CohortPhotos, target: float = TARGET_FAR,
                course: Distances | None = None) -> tuple[FaceModel, CohortReport]:
    """The model with the cohort stored, its limit chosen by cross-validation, and the report in its evidence."""
    report = calibrate(model, photos, target=target, course=course)
    cohort = CohortNorm.fit(photos.strangers, model.gallery, COHORT_K, report.limit)
    evidence = {**model.info.get("evidence", {}), "cohort": report.to_dict()}
    return replace(model, cohort=cohort, info={**model.info, "evidence": evidence}), report


def stored_photos(model: FaceModel) -> CohortPhotos:
    """A model's stored cohort as strangers (no pairs): to choose the limit again after `enroll --add`."""
    return CohortPhotos(model.cohort.embeddings, tuple(f"cohort_{i}" for i in range(len(model.cohort.embeddings))),
                        np.zeros((0, 2, EMBEDDING_DIM), np.float32), (), ())


def default_cache(root: str | Path, config: Config = DEFAULT) -> Path:
    """Where `--cohort` keeps a folder's embeddings between runs: build/facerec-cache/ (not shipped)."""
    return Path("build") / "facerec-cache" / f"{Path(root).resolve().name}-{config.detector}.npz"
