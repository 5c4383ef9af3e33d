"""Choosing the unknown threshold between the genuine and the stranger tails, the trade-off curve, its plot.

Genuine evidence that counts is cross-session: samples of a person's session held out whole and scored against
a model fitted on that person's other sessions. Neighbouring frames of the enrolment video sit almost on top
of each other and say little about a photo taken another day, so same-session samples only set a floor.

Look-alikes (strangers within the distance threshold) get a second limit, on the ratio of the distance to the
named person over the distance to anyone else: a look-alike is nearly as close to a second enrolled person,
where a genuine sample is distinctly closer to one. It guards the people look-alikes were taken for.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from facerec.model import NO_RATIO_GUARD, RatioGuard, accepted

THRESHOLDS = np.round(np.arange(0.05, 1.0001, 0.005), 3)
# dlib's documented 0.6 on raw descriptors, whose norms measure 1.28-1.48 here: ~0.43 on unit vectors.
PRIOR_THRESHOLD = 0.43
PRIOR_PEOPLE = 2  # the prior weighs as much as this many people's cross-session evidence
STRANGER_QUANTILE = 0.01  # the stranger lower tail: 1st percentile (the nearest stranger below 100 samples)
TAIL_MARGIN = 0.25  # when the tails are apart, the threshold stays in the middle half of the gap
# A ratio of 1: as close to someone else as to the person named, so the name is a coin toss.
PRIOR_RATIO = 1.0


@dataclass(frozen=True)
class Distances:
    """Distances to the predicted person's nearest template: held-out genuine samples and strangers."""

    genuine: np.ndarray  # (n,) float
    correct: np.ndarray  # (n,) bool: the head named the right person
    people: np.ndarray  # (n,) str: whose sample
    sessions: np.ndarray  # (n,) str: which session it came from
    cross_session: np.ndarray  # (n,) bool: scored by a model that never saw that session
    strangers: np.ndarray  # (k,) float: people scored as if never enrolled (leave-one-person-out)
    # (k, 2) str: each stranger sample's person and whom the head named; empty when not recorded
    stranger_pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), str))
    # model.Scores.ratio of each genuine (n,) and stranger (k,) sample; empty when not recorded (no ratio limit)
    genuine_ratio: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stranger_ratio: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # model.Scores.normalised of each genuine sample against an impostor cohort; empty without one
    genuine_normalised: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def has_ratios(self) -> bool:
        """Whether every sample's ratio, and whom each stranger was taken for, was recorded."""
        return (len(self.genuine_ratio) == len(self.genuine) and len(self.stranger_ratio) == len(self.strangers)
                and len(self.stranger_pairs) == len(self.strangers))

    def genuine_accepted(self, threshold: float, guard: RatioGuard) -> np.ndarray:
        """Per genuine sample: within the limits for the person it belongs to (counts only where named right)."""
        if not self.has_ratios():
            return self.genuine <= threshold
        return accepted(self.genuine, self.genuine_ratio, threshold, guard.limits(self.people))

    def strangers_accepted(self, threshold: float, guard: RatioGuard) -> np.ndarray:
        """Per stranger: within the limits for the person the head took them for (the distance alone if unknown)."""
        if not self.has_ratios():
            return self.strangers <= threshold
        return accepted(self.strangers, self.stranger_ratio, threshold, guard.limits(self.stranger_pairs[:, 1]))

    @classmethod
    def empty(cls) -> Distances:
        """No evidence at all."""
        none = np.zeros(0)
        return cls(none, none.astype(bool), none.astype(str), none.astype(str), none.astype(bool), none)


@dataclass(frozen=True)
class Evidence:
    """The chosen threshold, the rule that chose it, the two tails, and what it achieves on the evidence."""

    threshold: float
    rule: str
    genuine_tail: float | None  # largest held-out genuine distance
    genuine_tail_from: str  # "cross-session", "same-session" or "none"
    stranger_tail: float | None
    closest_stranger: float | None
    prior: float
    evidence_weight: float  # share of the threshold taken from the tails; the rest is the prior
    cross_session_people: int
    cross_session_samples: int
    same_session_samples: int
    stranger_samples: int
    cross_session_accuracy: float | None
    same_session_accuracy: float | None
    unknown_rejection: float | None
    without_cross_session: tuple[str, ...]  # enrolled people none of whose validation came from another session
    look_alikes: tuple[str, ...] = ()  # "who named whom in n of m" for strangers within the limits
    ratio_limit: float = np.inf  # largest distance ratio still named (inf, None in JSON: no limit) ...
    ratio_people: tuple[str, ...] = ()  # ... for these people: those look-alikes were taken for
    ratio_rule: str = ""
    genuine_ratio_tail: float | None = None  # largest ratio of a cross-session genuine sample named
    look_alike_ratio_tail: float | None = None  # smallest ratio of a stranger within the distance threshold
    look_alikes_within_distance: int = 0  # strangers within the distance threshold, before the ratio limit

    @property
    def guard(self) -> RatioGuard:
        """The ratio limit and the people it guards, as the model applies them."""
        return RatioGuard(self.ratio_limit, self.ratio_people)

    def to_dict(self) -> dict:
        """JSON-ready form, floats rounded, an absent limit as None."""
        return {k: _json_ready(v) for k, v in asdict(self).items()}


def _json_ready(value: object) -> object:
    if isinstance(value, float):
        return round(value, 4) if np.isfinite(value) else None
    return list(value) if isinstance(value, tuple) else value


def tradeoff(known_correct: np.ndarray, known_distance: np.ndarray, stranger_distance: np.ndarray,
             thresholds: np.ndarray = THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """Per threshold: share of known samples named correctly, share of strangers called unknown."""
    t = thresholds[:, None]
    accuracy = ((known_distance[None, :] <= t) & known_correct[None, :]).mean(axis=1) if len(
        known_distance) else np.full(len(thresholds), np.nan)
    rejection = (stranger_distance[None, :] > t).mean(axis=1) if len(stranger_distance) else np.full(
        len(thresholds), np.nan)
    return accuracy, rejection


def choose_threshold(distances: Distances, enrolled: tuple[str, ...] = ()) -> Evidence:
    """The midpoint of the genuine upper tail and the stranger lower tail, shrunk towards the prior.

    The evidence weight is p / (p + PRIOR_PEOPLE) for p people with cross-session evidence (0 without any:
    the prior alone). The result is then kept between the tails: in the middle half of the gap when they are
    apart (so never below the largest held-out genuine distance unless a measured stranger is closer), and
    inside the overlap when they overlap. Strangers still within it then set a ratio limit (ratio_limit).
    """
    genuine_tail, tail_from = _genuine_tail(distances)
    stranger_tail = (float(np.quantile(distances.strangers, STRANGER_QUANTILE, method="lower"))
                     if len(distances.strangers) else None)
    people = len(np.unique(distances.people[distances.cross_session]))
    weight = people / (people + PRIOR_PEOPLE)
    if stranger_tail is None:
        value, rule = PRIOR_THRESHOLD, "no strangers to measure (one person): the prior"
    elif not people:
        value, rule = PRIOR_THRESHOLD, "no cross-session evidence: the prior"
    else:
        value = weight * (genuine_tail + stranger_tail) / 2 + (1 - weight) * PRIOR_THRESHOLD
        rule = (f"midpoint of the cross-session genuine tail and the stranger tail, weight {weight:.2f} "
                f"({people} people with cross-session evidence) against the prior's {PRIOR_PEOPLE}")
    value, bound = _between_tails(value, genuine_tail, stranger_tail)
    ratio = ratio_limit(distances, value, weight)
    return _evidence(value, rule + bound, distances, enrolled, genuine_tail, tail_from, stranger_tail, weight, ratio)


@dataclass(frozen=True)
class RatioLimit:
    """The ratio guard, the rule that set it, and the two ratio tails it was chosen from."""

    guard: RatioGuard
    rule: str
    genuine_tail: float | None = None
    look_alike_tail: float | None = None
    look_alikes: int = 0


def ratio_limit(distances: Distances, threshold: float, weight: float) -> RatioLimit:
    """A limit on the distance ratio for the people the distance threshold lets strangers be taken for, if any.

    Cross-session genuine samples named within the threshold give the genuine ratio tail (their largest ratio),
    strangers within it the look-alike tail (their smallest). The limit is the tails' midpoint when they are
    apart, else the genuine tail, shrunk towards PRIOR_RATIO by the same weight as the threshold, and never
    below the genuine tail: it never costs a measured cross-session genuine sample. It guards only the people
    the look-alikes were taken for, so nobody else's other-day photos pay for it. No look-alikes, or no
    cross-session evidence to bound the cost to genuine samples, give no limit.
    """
    if not distances.has_ratios():
        return RatioLimit(NO_RATIO_GUARD, "no ratio limit: ratios not recorded")
    cross = distances.cross_session & distances.correct & (distances.genuine <= threshold)
    close = distances.strangers <= threshold
    if not close.any():
        return RatioLimit(NO_RATIO_GUARD, "no ratio limit: no stranger within the distance threshold")
    if not cross.any():
        return RatioLimit(NO_RATIO_GUARD, "no ratio limit: no cross-session genuine evidence to bound it",
                          look_alikes=int(close.sum()))
    genuine_tail = float(distances.genuine_ratio[cross].max())
    look_alike_tail = float(distances.stranger_ratio[close].min())
    apart = genuine_tail < look_alike_tail
    centre = (genuine_tail + look_alike_tail) / 2 if apart else genuine_tail
    limit = max(genuine_tail, weight * centre + (1 - weight) * PRIOR_RATIO)
    people = tuple(sorted(set(distances.stranger_pairs[close, 1].tolist())))
    where = "midpoint of the ratio tails" if apart else "the genuine ratio tail (the ratio tails overlap)"
    rule = (f"{int(close.sum())} strangers within the distance threshold, taken for {', '.join(people)}: {where}, "
            f"weight {weight:.2f} against the prior ratio {PRIOR_RATIO:g}")
    return RatioLimit(RatioGuard(limit, people), rule, genuine_tail, look_alike_tail, int(close.sum()))


def _genuine_tail(distances: Distances) -> tuple[float | None, str]:
    """The largest cross-session genuine distance, else the largest same-session one."""
    for flag, name in ((True, "cross-session"), (False, "same-session")):
        chosen = distances.genuine[distances.cross_session == flag]
        if len(chosen):
            return float(chosen.max()), name
    return None, "none"


def _between_tails(value: float, genuine_tail: float | None, stranger_tail: float | None) -> tuple[float, str]:
    """Clip into the middle half of the gap between the tails (or into their overlap); say so when it moved."""
    if genuine_tail is None and stranger_tail is None:
        return value, ""
    if stranger_tail is None:
        low, high, where = genuine_tail, np.inf, "at least the genuine tail"
    elif genuine_tail is None:
        low, high, where = -np.inf, stranger_tail, "at most the stranger tail"
    elif genuine_tail < stranger_tail:
        gap = stranger_tail - genuine_tail
        low, high = genuine_tail + TAIL_MARGIN * gap, stranger_tail - TAIL_MARGIN * gap
        where = "in the middle half of the gap between the tails"
    else:
        low, high, where = stranger_tail, genuine_tail, "inside the overlap of the tails"
    clipped = float(np.clip(value, low, high))
    return clipped, "" if clipped == value else f"; moved {where}"


def _evidence(value: float, rule: str, distances: Distances, enrolled: tuple[str, ...], genuine_tail: float | None,
              tail_from: str, stranger_tail: float | None, weight: float, ratio: RatioLimit) -> Evidence:
    cross = distances.cross_session
    return Evidence(
        threshold=value, rule=rule, genuine_tail=genuine_tail, genuine_tail_from=tail_from,
        stranger_tail=stranger_tail,
        closest_stranger=float(distances.strangers.min()) if len(distances.strangers) else None,
        prior=PRIOR_THRESHOLD, evidence_weight=weight,
        cross_session_people=len(np.unique(distances.people[cross])),
        cross_session_samples=int(cross.sum()), same_session_samples=int((~cross).sum()),
        stranger_samples=len(distances.strangers),
        cross_session_accuracy=named_share(distances, cross, value, ratio.guard),
        same_session_accuracy=named_share(distances, ~cross, value, ratio.guard),
        unknown_rejection=unknown_share(distances, value, ratio.guard),
        without_cross_session=tuple(sorted(set(enrolled) - set(distances.people[cross]))),
        look_alikes=look_alikes(distances, value, ratio.guard),
        ratio_limit=ratio.guard.limit, ratio_people=ratio.guard.people, ratio_rule=ratio.rule,
        genuine_ratio_tail=ratio.genuine_tail,
        look_alike_ratio_tail=ratio.look_alike_tail, look_alikes_within_distance=ratio.look_alikes,
    )


def look_alikes(distances: Distances, threshold: float, guard: RatioGuard = NO_RATIO_GUARD) -> tuple[str, ...]:
    """Strangers the limits would name, per (person, named as) pair, most first: "a named b in n of m"."""
    if len(distances.stranger_pairs) != len(distances.strangers):
        return ()
    per_person = Counter(distances.stranger_pairs[:, 0].tolist())
    within = distances.strangers_accepted(threshold, guard)
    named = Counter(map(tuple, distances.stranger_pairs[within].tolist()))
    return tuple(f"{who} named {whom} in {n} of {per_person[who]}" for (who, whom), n in named.most_common())


def unknown_share(distances: Distances, threshold: float, guard: RatioGuard = NO_RATIO_GUARD) -> float | None:
    """Share of the strangers called unknown by the limits; None without strangers."""
    if not len(distances.strangers):
        return None
    return float(1 - distances.strangers_accepted(threshold, guard).mean())


def named_share(distances: Distances, rows: np.ndarray, threshold: float, guard: RatioGuard = NO_RATIO_GUARD
                ) -> float | None:
    """Share of the selected genuine samples named correctly within the limits; None when none is selected."""
    if not rows.any():
        return None
    return float((distances.correct & distances.genuine_accepted(threshold, guard))[rows].mean())


def within_ratio_limit(distances: Distances, guard: RatioGuard) -> Distances:
    """The evidence as the distance threshold meets it: samples beyond the ratio limit (unknown at any distance)
    moved to an infinite distance."""
    if np.isinf(guard.limit) or not distances.has_ratios():
        return distances
    genuine_beyond = ~distances.genuine_accepted(np.inf, guard)
    strangers_beyond = ~distances.strangers_accepted(np.inf, guard)
    return replace(distances, genuine=np.where(genuine_beyond, np.inf, distances.genuine),
                   strangers=np.where(strangers_beyond, np.inf, distances.strangers))


def plot_tradeoff(distances: Distances, threshold: float, path: str | Path, title: str,
                  evidence: Evidence | None = None, guard: RatioGuard = NO_RATIO_GUARD) -> Path:
    """Write a PNG: cross- and same-session genuine accuracy and stranger rejection against the threshold, at the
    ratio limit (and stranger rejection without it, dotted, when there is one)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 4.8), dpi=100)
    limited = within_ratio_limit(distances, guard)
    for flag, name in ((True, "cross-session"), (False, "same-session")):
        rows = limited.cross_session == flag
        if rows.any():
            accuracy, _ = tradeoff(limited.correct[rows], limited.genuine[rows], np.zeros(0))
            axes.plot(THRESHOLDS, accuracy, label=f"{name} genuine named correctly (n={rows.sum()})")
    if len(distances.strangers):
        _, rejection = tradeoff(np.zeros(0, bool), np.zeros(0), limited.strangers)
        axes.plot(THRESHOLDS, rejection, color="tab:green",
                  label=f"strangers called unknown (n={len(distances.strangers)})")
        if limited is not distances:
            _, rejection = tradeoff(np.zeros(0, bool), np.zeros(0), distances.strangers)
            axes.plot(THRESHOLDS, rejection, color="tab:green", linestyle="-.", alpha=0.5,
                      label=f"strangers unknown without the ratio limit {guard.limit:.3f}")
    axes.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    if evidence is not None:
        for value, name, colour in ((evidence.genuine_tail, f"{evidence.genuine_tail_from} genuine tail", "tab:blue"),
                                    (evidence.stranger_tail, "stranger tail (1st percentile)", "tab:green"),
                                    (evidence.prior, "prior (dlib 0.6)", "grey")):
            if value is not None:
                axes.axvline(value, color=colour, linestyle=":", label=f"{name} {value:.3f}")
    axes.set(xlabel="distance to the nearest template (unit embeddings)", ylabel="rate", ylim=(-0.02, 1.02),
             title=title)
    axes.set_xlim(THRESHOLDS[0], 0.8)
    axes.legend(loc="center left", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    plt.close(figure)
    return path
