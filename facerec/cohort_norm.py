"""Score normalisation against an impostor cohort: how close is this face to its template, compared with how close
each of them usually is to strangers?

The normalised score of a probe x and its nearest template g of the named person is

    s = d(x, g) / sqrt(spread(x) * spread(g)),   spread(v) = mean distance from v to its K nearest cohort faces

the ratio form of adaptive symmetric normalisation (AS-norm, top-K cohort on both sides: Matějka et al., "Analysis
of score normalization in multilingual speaker recognition", Interspeech 2017). A hub template, one that many
strangers sit close to, has a small spread and so pushes its matches back; so does a probe that resembles many
faces. Per face at serving it costs one (faces x cohort) distance matrix and a partial sort.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from facerec.embedding import EMBEDDING_DIM

TARGET_FAR = 0.005  # by default the limit may name 0.5 % of the cohort's strangers, cross-validated (issue 24)
COHORT_K = 30  # nearest cohort faces averaged into a spread (chosen among 1, 10, 30 by measurement: docs/facerec.md)


def pairwise_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of two sets of unit vectors, (len(a), len(b))."""
    return np.sqrt(np.maximum(2.0 - 2.0 * (a @ b.T), 0.0))


def normalised_score(distance: np.ndarray, probe_spread: np.ndarray, template_spread: np.ndarray) -> np.ndarray:
    """The distance over the geometric mean of the probe's and the template's spreads."""
    return distance / np.sqrt(probe_spread * template_spread)


@dataclass(frozen=True, eq=False)
class CohortNorm:
    """The cohort embeddings, K, the limit on the normalised score and each gallery template's spread."""

    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, EMBEDDING_DIM), np.float32))
    k: int = COHORT_K
    limit: float = math.inf
    template_spread: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @classmethod
    def fit(cls, embeddings: np.ndarray, gallery: np.ndarray, k: int = COHORT_K, limit: float = math.inf
            ) -> CohortNorm:
        """A cohort for a gallery: the templates' spreads measured now, once."""
        cohort = cls(np.ascontiguousarray(embeddings, np.float32), k, limit)
        return cls(cohort.embeddings, k, limit, cohort.spread(gallery))

    @property
    def active(self) -> bool:
        """A cohort is stored (the limit may still be infinite)."""
        return len(self.embeddings) > 0

    def spread(self, vectors: np.ndarray) -> np.ndarray:
        """Mean distance from each vector to its K nearest cohort faces."""
        k = min(self.k, len(self.embeddings))
        distances = pairwise_distance(np.asarray(vectors, np.float32), self.embeddings)
        return np.partition(distances, k - 1, axis=1)[:, :k].mean(axis=1)

    def normalised(self, vectors: np.ndarray, distance: np.ndarray, templates: np.ndarray) -> np.ndarray:
        """The normalised score of each vector against its template (an index into the gallery); 0 without a
        cohort."""
        if not self.active or not len(vectors):
            return np.zeros(len(distance), np.float32)
        return normalised_score(distance, self.spread(vectors), self.template_spread[templates])

    def to_dict(self) -> dict:
        """As model.json stores it under threshold.cohort."""
        return {"limit": self.limit if math.isfinite(self.limit) else None, "k": self.k,
                "faces": len(self.embeddings)}


NO_COHORT = CohortNorm()
