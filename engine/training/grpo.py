"""GRPO through TRL's GRPOTrainer: prompts in, the run's reward functions score the sampled completions.

Each reward is its own TRL reward function (charted as rewards_<name>_mean / _std), weighted by the
config. Every `sample_log_steps` steps a few completions with their rewards go to the run's log: in an
RL run they show what the rewards are really teaching.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from engine.config.train_config import TrainConfig
from engine.rewards.reward_set import RewardSet
from engine.training.arguments import training_kwargs

SAMPLES_SHOWN = 3


class SampleLogCallback(TrainerCallback):
    def __init__(self, rewards: RewardSet, every: int, log: Any):
        self.rewards, self.every, self.log = rewards, every, log
        self.last_step = -1

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        step = state.global_step
        if not self.every or step == self.last_step or (step % self.every and step != 1):
            return
        lines = self.rewards.sample_lines(SAMPLES_SHOWN)
        if lines:
            self.last_step = step
            self.log(f"step {step}: sampled completions [total: each reward]\n" + "\n".join(lines))


def grpo_trainer(config: TrainConfig, model: Any, tok: Any, train: list[Any], val: list[Any], output_dir: Path,
                 precision: str, callbacks: list[Any], log: Any) -> Any:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    rewards = RewardSet(config)
    if val:
        log(f"{len(val)} validation prompts kept out of training (GRPO is judged by its rewards, not a loss)")
    kwargs = training_kwargs(config, output_dir, precision, has_eval=False)
    kwargs["include_num_input_tokens_seen"] = "no"  # GRPO's batches hold prompts, not input_ids: it cannot count
    args = GRPOConfig(**kwargs,
                      num_generations=config.grpo_num_generations,
                      max_completion_length=config.grpo_max_completion_length,
                      temperature=config.grpo_temperature, beta=config.grpo_beta, reward_weights=rewards.weights)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return GRPOTrainer(model=model, reward_funcs=rewards.funcs, args=args, train_dataset=Dataset.from_list(train),
                       processing_class=tok,
                       callbacks=[*callbacks, SampleLogCallback(rewards, config.sample_log_steps, log)])
