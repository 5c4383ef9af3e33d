"""Training: a seeded PyTorch linear softmax head on unit embeddings, and gallery exemplar selection."""

from __future__ import annotations

import logging

import numpy as np

from facerec.config import Config
from facerec.embedding import normalise
from facerec.model import FaceModel

log = logging.getLogger(__name__)

EXEMPLARS_PER_PERSON = 16
SEED = 0


def fit(embeddings: np.ndarray, targets: np.ndarray, labels: tuple[str, ...], threshold: float,
        config: Config, epochs: int = 300, sessions: np.ndarray | None = None) -> FaceModel:
    """Train the head and pick exemplars; targets are indices into labels, sessions name each sample's session."""
    vectors = normalise(embeddings)
    weight, bias = train_head(vectors, targets, len(labels), epochs)
    picked = select_exemplars(vectors, targets, len(labels))
    origin = np.full(len(vectors), "") if sessions is None else np.asarray(sessions, dtype=str)
    return FaceModel(labels, weight, bias, vectors[picked].astype(np.float32), targets[picked].astype(np.int64),
                     threshold, tuple(origin[picked].tolist()), config)


def train_head(vectors: np.ndarray, targets: np.ndarray, n_labels: int, epochs: int = 300
               ) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch Adam on class-balanced cross-entropy; deterministic for given inputs."""
    import torch

    torch.manual_seed(SEED)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.from_numpy(np.ascontiguousarray(vectors, np.float32))
        y = torch.from_numpy(np.asarray(targets, np.int64))
        counts = torch.bincount(y, minlength=n_labels).clamp(min=1).float()
        head = torch.nn.Linear(x.shape[1], n_labels)
        optimiser = torch.optim.Adam(head.parameters(), lr=0.05, weight_decay=1e-4)
        loss_fn = torch.nn.CrossEntropyLoss(weight=counts.sum() / counts / n_labels)
        for _ in range(epochs):
            optimiser.zero_grad()
            loss = loss_fn(head(x), y)
            loss.backward()
            optimiser.step()
        log.debug("head trained: %d samples, %d labels, final loss %.4f", len(y), n_labels, loss.item())
        return head.weight.detach().numpy().copy(), head.bias.detach().numpy().copy()
    finally:
        torch.set_num_threads(threads)


def select_exemplars(vectors: np.ndarray, targets: np.ndarray, n_labels: int,
                     per_person: int = EXEMPLARS_PER_PERSON) -> np.ndarray:
    """Indices of up to per_person exemplars each, by farthest-point sampling from the sample nearest the mean."""
    chosen: list[np.ndarray] = []
    for label in range(n_labels):
        members = np.flatnonzero(targets == label)
        chosen.append(members[_farthest_points(vectors[members], per_person)])
    return np.concatenate(chosen)


def _farthest_points(members: np.ndarray, count: int) -> list[int]:
    first = int(np.linalg.norm(members - members.mean(axis=0), axis=1).argmin())
    picked = [first]
    nearest = np.linalg.norm(members - members[first], axis=1)
    while len(picked) < min(count, len(members)):
        candidate = int(nearest.argmax())
        if nearest[candidate] <= 0:
            break
        picked.append(candidate)
        nearest = np.minimum(nearest, np.linalg.norm(members - members[candidate], axis=1))
    return picked
