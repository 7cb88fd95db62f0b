"""Red teaming on the eval layer: prompt converters and attempts logged as eval samples."""

from .._lazy import lazy_exports

_EXPORTS = {
    "CONVERTERS": "converters",
    "Converter": "converters",
    "convert": "converters",
    "converter": "converters",
    "attempts_task": "attempts",
    "success_by_stack": "attempts",
    "StackResult": "attempts",
    "many_shot_nll": "many_shot",
    "fit_power_law": "many_shot",
    "gcg": "gcg",
    "GCGResult": "gcg",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
