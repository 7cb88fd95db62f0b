"""Training: one shared loop; each algorithm is a step function and a ``train_*`` entry point on it.

Names resolve lazily, so importing the loop does not import every trainer.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "EarlyStopping": "early_stopping",
    "LoopHooks": "loop",
    "LossOutput": "loop",
    "Progress": "loop",
    "RunOptions": "loop",
    "StepFn": "loop",
    "TrainConfig": "loop",
    "causal_lm_step": "loop",
    "train": "loop",
    "train_sft": "sft",
    "train_reward_model": "reward_model",
    "reward_model_from": "reward_model",
    "reward_model_fn": "reward_model",
    "score_with_reward_model": "reward_model",
    "train_verifier": "process_reward",
    "verifier_from": "process_reward",
    "step_probabilities": "process_reward",
    "train_dpo": "preference",
    "train_kto": "preference",
    "KTOConfig": "preference",
    "train_ppo": "ppo",
    "PPOConfig": "ppo",
    "train_grpo": "grpo",
    "GRPOConfig": "grpo",
    "train_distill": "distill",
    "Rollout": "rollout",
    "sample_rollout": "rollout",
    "RemoteRollouts": "remote_rollouts",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
