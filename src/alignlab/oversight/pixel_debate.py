"""Sparse-pixel debate (Irving et al. 2018, section 3.1) on small images.

A judge classifies an image from ``k`` revealed pixels only. In a debate, an honest agent claims the true
label and a liar claims another; taking turns, each reveals one pixel, and after ``k`` reveals the judge
picks whichever of the two labels it finds likelier. Agents here are greedy: each reveals the pixel that
most raises the judge's log-odds of its own label over the other's (Irving et al. also use Monte Carlo
tree search; greedy play is the weaker, cheaper opponent).

Pixels are drawn from an image's nonzero pixels, for the judge's training masks and for the agents alike.
"""

from dataclasses import dataclass

import numpy as np


def masked_features(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The judge's input: the revealed pixel values (others 0) next to the mask itself, so a revealed 0 and
    a hidden pixel differ."""
    return np.concatenate([images * masks, masks.astype(images.dtype)], axis=1)


def random_masks(images: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """For each image, ``k`` of its nonzero pixels chosen uniformly (all of them if it has fewer)."""
    masks = np.zeros(images.shape, dtype=bool)
    for i, image in enumerate(images):
        nonzero = np.flatnonzero(image)
        masks[i, rng.choice(nonzero, size=min(k, len(nonzero)), replace=False)] = True
    return masks


class SparsePixelJudge:
    """An MLP (scikit-learn) trained on images with ``k`` random nonzero pixels revealed."""

    def __init__(self, k: int, hidden: int = 256, masks_per_image: int = 20, seed: int = 0) -> None:
        from sklearn.neural_network import MLPClassifier

        self.k, self.masks_per_image, self.seed = k, masks_per_image, seed
        self.model = MLPClassifier(
            hidden_layer_sizes=(hidden,), max_iter=60, early_stopping=True, random_state=seed
        )

    def fit(self, images: np.ndarray, labels: np.ndarray) -> "SparsePixelJudge":
        rng = np.random.default_rng(self.seed)
        repeated = np.repeat(images, self.masks_per_image, axis=0)
        features = masked_features(repeated, random_masks(repeated, self.k, rng))
        self.model.fit(features, np.repeat(labels, self.masks_per_image))
        return self

    def log_proba(self, images: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """log p(label | revealed pixels), shape (n, classes); classes are the labels seen in training."""
        return np.log(np.clip(self.model.predict_proba(masked_features(images, masks)), 1e-12, None))


@dataclass
class PixelDebate:
    masks: np.ndarray
    """The pixels revealed in each debate."""
    honest_wins: np.ndarray
    """Per debate: did the judge prefer the true label over the lie?"""


def greedy_debate(
    judge: SparsePixelJudge,
    images: np.ndarray,
    truth: np.ndarray,
    lies: np.ndarray,
    *,
    honest_first: bool = True,
) -> PixelDebate:
    """``judge.k`` alternating reveals per image; each agent greedily maximises its own label's log-odds
    against the other's: score(pixel) = ± (log p(truth) − log p(lie)) after revealing it."""
    n, d = images.shape
    classes = list(judge.model.classes_)
    t_col, l_col = np.array([classes.index(t) for t in truth]), np.array([classes.index(x) for x in lies])
    rows = np.arange(n)
    masks = np.zeros((n, d), dtype=bool)
    for turn in range(judge.k):
        sign = 1.0 if (turn % 2 == 0) == honest_first else -1.0  # +1: the honest agent's turn
        candidates = (images != 0) & ~masks
        trial = np.repeat(masks[:, None, :], d, axis=1) | np.eye(d, dtype=bool)[None]  # (n, pixel, d)
        log_p = judge.log_proba(np.repeat(images, d, axis=0), trial.reshape(n * d, d)).reshape(n, d, -1)
        score = sign * (log_p[rows, :, t_col] - log_p[rows, :, l_col])
        score[~candidates] = -np.inf
        best = score.argmax(axis=1)
        has_move = candidates.any(axis=1)
        masks[rows[has_move], best[has_move]] = True
    final = judge.log_proba(images, masks)
    return PixelDebate(masks, final[rows, t_col] > final[rows, l_col])
