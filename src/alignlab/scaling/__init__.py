"""Scaling laws: fits of loss against parameters, data and compute (Kaplan et al. 2020; Hoffmann et al. 2022,
approaches 1-3; Besiroglu et al. 2024's refit), and a resumable, parallel-safe sweep runner to feed them."""

from .._lazy import lazy_exports

_EXPORTS = {
    "PowerLaw": "fits",
    "fit_power_law": "fits",
    "ChinchillaFit": "fits",
    "fit_chinchilla": "fits",
    "chinchilla_loss": "fits",
    "compute_optimal_exponent": "fits",
    "envelope_exponent": "fits",
    "isoflop_exponent": "fits",
    "bootstrap_chinchilla": "fits",
    "run_sweep": "sweep",
    "language_point": "toy_lm",
    "train_language_point": "toy_lm",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
