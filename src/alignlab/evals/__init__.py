"""Behavioral evaluations on Inspect's shapes: a Task is samples + solvers + scorers (+ metrics, epochs);
``eval_task`` runs one on any Generator into a run folder with an Inspect ``.eval`` log."""

from .._lazy import lazy_exports

_EXPORTS = {
    "looks_like_refusal": "refusal",
    "Sample": "samples",
    "load_samples": "samples",
    "TaskState": "state",
    "Roles": "state",
    "Task": "task",
    "task": "task",
    "get_task": "task",
    "TASKS": "task",
    "SystemMessage": "solvers",
    "PromptTemplate": "solvers",
    "ChainOfThought": "solvers",
    "Generate": "solvers",
    "MultipleChoice": "solvers",
    "AreYouSure": "solvers",
    "SelfCritique": "solvers",
    "PTrue": "solvers",
    "choice_logprobs": "solvers",
    "Score": "scorers",
    "Match": "scorers",
    "Includes": "scorers",
    "Choice": "scorers",
    "RefusalMatch": "scorers",
    "RefusalProbability": "scorers",
    "ModelGraded": "scorers",
    "value_to_float": "metrics",
    "compute_metrics": "metrics",
    "expected_calibration_error": "metrics",
    "RefusalJudge": "judges",
    "judge_agreement": "judges",
    "validate_judge": "judges",
    "JudgeAgreement": "judges",
    "eval_task": "runner",
    "EvalRun": "runner",
    "write_eval_log": "inspect_log",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
