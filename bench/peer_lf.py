"""Runs inside LLaMA-Factory's own virtual environment (started by bench/peer.py): `run_exp` on a YAML
file, with a callback that writes each logged step's wall-clock time, loss and real tokens seen.
LLaMA-Factory's own trainer_log.jsonl rounds time to whole seconds; nothing here changes how it trains.

    <llamafactory venv>/bin/python bench/peer_lf.py JOB.yaml STEPS.jsonl
"""

from __future__ import annotations

import json
import sys
import time

import torch
import yaml
from transformers import Trainer, TrainerCallback

_count = Trainer._track_num_input_tokens


def _count_real_tokens(self, inputs):  # noqa: ANN001, ANN202
    """neat_packing turns the attention mask into a 4-D float mask, whose sum the Trainer's non-padding
    count would take: there a real position is one that may attend to itself (a zero on the diagonal)."""
    mask = inputs.get("attention_mask")
    if mask is None or mask.dim() != 4:
        return _count(self, inputs)
    real = (mask[:, 0].diagonal(dim1=-2, dim2=-1) == 0).sum().to(torch.int64)
    self.state.num_input_tokens_seen += self.accelerator.gather(real.reshape(1)).sum().item()
    return None


class StepClock(TrainerCallback):
    def __init__(self, path: str):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN201
        if logs and "loss" in logs:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"step": state.global_step, "time": time.time(), "loss": logs["loss"],
                                     "tokens": state.num_input_tokens_seen}) + "\n")


if __name__ == "__main__":
    from llamafactory.train.tuner import run_exp

    Trainer._track_num_input_tokens = _count_real_tokens
    with open(sys.argv[1], encoding="utf-8") as fh:
        run_exp(yaml.safe_load(fh), callbacks=[StepClock(sys.argv[2])])
