"""Sparse-pixel debate (Irving et al. 2018, section 3.1) on small images.

A judge classifies an image from ``k`` revealed pixels only. In a debate, an honest agent claims the true
label and a liar claims another; taking turns, each reveals one pixel, and after ``k`` reveals the judge
picks whichever of the two labels it finds likelier. Agents are greedy (each reveals the pixel that most
raises the judge's log-odds of its own label over the other's), or, for a stronger liar, search two plies:
the liar picks the pixel whose worst case after the honest agent's best reply is best for it (Irving et al.
use Monte Carlo tree search; two-ply search is the affordable step towards it on 8×8 digits).

Agents can also be best-of-n (``best_of_n_reveal``): each move draws n candidate pixels and reveals the one
that most persuades the judge, so n is the optimisation pressure for persuasiveness (n = 1: random pixels), in
debate and in consultancy (one agent, assigned the true label or a lie, reveals every pixel) alike, as in Khan
et al.'s (2024) comparison of the two protocols as debaters grow more persuasive.

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
    liar_lookahead: bool = False,
) -> PixelDebate:
    """``judge.k`` alternating reveals per image; each agent greedily maximises its own label's log-odds
    against the other's, score(pixel) = ± (log p(truth) − log p(lie)) after revealing it. With
    ``liar_lookahead`` the liar searches two plies wherever the honest agent still has a reply to come."""
    n, d = images.shape
    classes = list(judge.model.classes_)
    t_col, l_col = np.array([classes.index(t) for t in truth]), np.array([classes.index(x) for x in lies])
    rows = np.arange(n)
    masks = np.zeros((n, d), dtype=bool)
    for turn in range(judge.k):
        honest_turn = (turn % 2 == 0) == honest_first
        if liar_lookahead and not honest_turn and turn + 1 < judge.k:
            best, has_move = _two_ply_liar_moves(judge, images, masks, t_col, l_col)
        else:
            sign = 1.0 if honest_turn else -1.0
            candidates = (images != 0) & ~masks
            trial = np.repeat(masks[:, None, :], d, axis=1) | np.eye(d, dtype=bool)[None]  # (n, pixel, d)
            log_p = judge.log_proba(np.repeat(images, d, axis=0), trial.reshape(n * d, d)).reshape(n, d, -1)
            score = sign * (log_p[rows, :, t_col] - log_p[rows, :, l_col])
            score[~candidates] = -np.inf
            best, has_move = score.argmax(axis=1), candidates.any(axis=1)
        masks[rows[has_move], best[has_move]] = True
    final = judge.log_proba(images, masks)
    return PixelDebate(masks, final[rows, t_col] > final[rows, l_col])


def _two_ply_liar_moves(
    judge: SparsePixelJudge,
    images: np.ndarray,
    masks: np.ndarray,
    t_col: np.ndarray,
    l_col: np.ndarray,
    chunk: int = 100_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the liar's pixel p maximising min over honest replies q of −(log p(truth) − log p(lie))
    after revealing p and q; only unrevealed nonzero pixels are candidates. Images without a candidate get
    no move (``has_move`` False); an image with a single candidate takes it."""
    n = len(images)
    owners, firsts, seconds = [], [], []
    for i in range(n):
        candidates = np.flatnonzero((images[i] != 0) & ~masks[i])
        if len(candidates) == 1:
            candidates = np.repeat(candidates, 2)  # reply = the same pixel: the position is just p
        p, q = np.repeat(candidates, len(candidates)), np.tile(candidates, len(candidates))
        keep = (p != q) | (len(set(candidates)) == 1)
        owners.append(np.full(keep.sum(), i))
        firsts.append(p[keep])
        seconds.append(q[keep])
    owner, first, second = (np.concatenate(x) if x else np.zeros(0, int) for x in (owners, firsts, seconds))
    scores = np.empty(len(owner))
    for start in range(0, len(owner), chunk):
        part = slice(start, start + chunk)
        trial = masks[owner[part]].copy()
        trial[np.arange(len(trial)), first[part]] = True
        trial[np.arange(len(trial)), second[part]] = True
        log_p = judge.log_proba(images[owner[part]], trial)
        rows = np.arange(len(trial))
        scores[part] = -(log_p[rows, t_col[owner[part]]] - log_p[rows, l_col[owner[part]]])
    best = np.zeros(n, dtype=int)
    has_move = np.zeros(n, dtype=bool)
    for i in range(n):
        mine = owner == i
        if mine.any():
            pixels, inverse = np.unique(first[mine], return_inverse=True)
            worst = np.full(len(pixels), np.inf)
            np.minimum.at(worst, inverse, scores[mine])
            best[i], has_move[i] = pixels[worst.argmax()], True
    return best, has_move


def best_of_n_reveal(
    judge: SparsePixelJudge,
    images: np.ndarray,
    masks: np.ndarray,
    own: np.ndarray,
    other: np.ndarray,
    n: int,
    rng: np.random.Generator,
) -> None:
    """One move per image, in place: draw ``n`` of its unrevealed nonzero pixels at random and reveal the one
    after which the judge's log-odds of ``own`` over ``other`` (judge columns) are highest. ``n = 1`` is a
    random agent; as ``n`` grows the agent optimises harder for persuading the judge (best-of-n selection of
    arguments, the cheapest optimiser against a judge)."""
    rows = np.arange(len(images))
    candidates = [
        rng.permutation(np.flatnonzero((image != 0) & ~mask))[:n]
        for image, mask in zip(images, masks, strict=True)
    ]
    owner = np.concatenate([np.full(len(c), i) for i, c in enumerate(candidates)]).astype(int)
    pixel = np.concatenate(candidates).astype(int)
    if not len(pixel):
        return
    trial = masks[owner].copy()
    trial[np.arange(len(pixel)), pixel] = True
    log_p = judge.log_proba(images[owner], trial)
    score = log_p[np.arange(len(pixel)), own[owner]] - log_p[np.arange(len(pixel)), other[owner]]
    best = np.full(len(images), -np.inf)
    choice = np.full(len(images), -1)
    for i, p, s in zip(owner, pixel, score, strict=True):
        if s > best[i]:
            best[i], choice[i] = s, p
    moved = rows[choice >= 0]
    masks[moved, choice[moved]] = True


def _columns(judge: SparsePixelJudge, labels: np.ndarray) -> np.ndarray:
    classes = list(judge.model.classes_)
    return np.array([classes.index(label) for label in labels])


def best_of_n_debate(
    judge: SparsePixelJudge,
    images: np.ndarray,
    truth: np.ndarray,
    lies: np.ndarray,
    n: int,
    rng: np.random.Generator,
    *,
    honest_first: bool = True,
) -> PixelDebate:
    """An honest agent (``truth``) and a liar (``lies``), both best-of-``n``, take turns revealing ``judge.k``
    pixels; the honest agent wins where the judge then prefers the truth."""
    t_col, l_col = _columns(judge, truth), _columns(judge, lies)
    masks = np.zeros(images.shape, dtype=bool)
    for turn in range(judge.k):
        honest_turn = (turn % 2 == 0) == honest_first
        own, other = (t_col, l_col) if honest_turn else (l_col, t_col)
        best_of_n_reveal(judge, images, masks, own, other, n, rng)
    final = judge.log_proba(images, masks)
    rows = np.arange(len(images))
    return PixelDebate(masks, final[rows, t_col] > final[rows, l_col])


def best_of_n_consultancy(
    judge: SparsePixelJudge,
    images: np.ndarray,
    truth: np.ndarray,
    lies: np.ndarray,
    argues_truth: np.ndarray,
    n: int,
    rng: np.random.Generator,
) -> PixelDebate:
    """One best-of-``n`` consultant reveals all ``judge.k`` pixels for its assigned label (the truth where
    ``argues_truth``, else the lie); ``honest_wins`` says where the judge then prefers the truth."""
    t_col, l_col = _columns(judge, truth), _columns(judge, lies)
    own, other = np.where(argues_truth, t_col, l_col), np.where(argues_truth, l_col, t_col)
    masks = np.zeros(images.shape, dtype=bool)
    for _ in range(judge.k):
        best_of_n_reveal(judge, images, masks, own, other, n, rng)
    final = judge.log_proba(images, masks)
    rows = np.arange(len(images))
    return PixelDebate(masks, final[rows, t_col] > final[rows, l_col])
