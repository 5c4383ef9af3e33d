"""Training: a seeded PyTorch linear softmax head on unit embeddings, and the gallery of session templates."""

from __future__ import annotations

import logging

import numpy as np

from facerec.config import Config
from facerec.embedding import normalise
from facerec.model import FaceModel

log = logging.getLogger(__name__)

SEED = 0


def fit(embeddings: np.ndarray, targets: np.ndarray, labels: tuple[str, ...], threshold: float,
        config: Config, epochs: int = 300, sessions: np.ndarray | None = None) -> FaceModel:
    """Train the head and build session templates; targets index labels, sessions name each sample's session."""
    vectors = normalise(embeddings)
    weight, bias = train_head(vectors, targets, len(labels), epochs)
    origin = np.full(len(vectors), "") if sessions is None else np.asarray(sessions, dtype=str)
    templates, owners, template_sessions = session_templates(vectors, np.asarray(targets), origin)
    return FaceModel(labels, weight, bias, templates.astype(np.float32), owners, threshold,
                     tuple(template_sessions.tolist()), config)


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


def session_templates(vectors: np.ndarray, targets: np.ndarray, sessions: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One unit template per person and session, the normalised mean of that session's embeddings.

    Averaging a sitting's frames cancels per-frame noise (blur, compression, a half-turned head), so strangers
    do not get close through one odd frame, while another day's photo is compared with the person as a whole.
    Returns templates (k, 128), their target indices and session names, ordered by person then session.
    """
    groups = sorted({(int(t), str(s)) for t, s in zip(targets, sessions, strict=True)})
    means = [vectors[(targets == t) & (sessions == s)].mean(axis=0) for t, s in groups]
    return (normalise(np.array(means)), np.array([t for t, _ in groups], np.int64),
            np.array([s for _, s in groups], dtype=str))
