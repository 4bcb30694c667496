"""Did the GRPO run learn what its rewards asked? Base and tuned model answer the same prompts (greedy),
and the run's own reward functions score both. Prompts the run never trained on show whether the
behaviour generalises; the report is saved as reward_check.json in the run.
"""

from __future__ import annotations

import time
from typing import Any

from engine.data.prompts import read_prompts
from engine.data.sources import load_source
from engine.errors import DataError, ModelError
from engine.inference.decode import Sampling
from engine.inference.generate import answer
from engine.inference.pool import POOL
from engine.inference.sides import plan_side
from engine.rewards.builtin import count_words
from engine.rewards.reward_set import RewardSet
from engine.rewards.spec import REFERENCE_COLUMN
from engine.runs.rundir import write_json_atomic


def reward_check(manager: Any, run_id: str, prompts: str = "", limit: int = 50, log: Any = None) -> dict[str, Any]:
    log = log or (lambda message: None)
    run = manager.run(run_id)
    config = run.config()
    if config.method != "grpo":
        raise ModelError(f"run {run_id} trained with {config.method}; the reward check is for GRPO runs "
                         "(use Compare Chat's batch comparison for the others)")
    rewards = RewardSet(config)
    source = load_source(prompts or config.dataset, limit)
    samples, _, _, bad = read_prompts(source.rows, source.meta, rewards.needs_reference)
    if not samples:
        raise DataError(f"{prompts or config.dataset}: no usable prompt ({'; '.join(bad[:3]) or 'no rows'})")
    sides = POOL.sides([plan_side(f"base:{config.model_name_or_path}", manager), plan_side(f"run:{run_id}", manager)])
    sampling = Sampling(temperature=0.0, max_new_tokens=config.grpo_max_completion_length)
    started = time.time()
    texts: list[list[str]] = [[], []]
    for n, sample in enumerate(samples, 1):
        left, right = answer(sides, [sample.messages, sample.messages], sampling)
        texts[0].append(left)
        texts[1].append(right)
        log(f"{n}/{len(samples)} prompts answered")
    prompts_in = [s.messages for s in samples]
    columns = {REFERENCE_COLUMN: [s.reference for s in samples]}
    scored = [{name: fn(prompts_in, side_texts, **columns) for name, fn in zip(rewards.names, rewards.funcs,
                                                                            strict=True)} for side_texts in texts]
    totals = [rewards.total(per_fn) for per_fn in scored]

    def summary(i: int) -> dict[str, Any]:
        return {"reward": round(sum(totals[i]) / len(totals[i]), 4),
                **{name: round(sum(v) / len(v), 4) for name, v in scored[i].items()},
                "words": round(sum(count_words(t) for t in texts[i]) / len(texts[i]), 1)}

    report = {
        "run_id": run_id, "prompts": prompts or config.dataset, "count": len(samples), "rewards": dict(
            zip(rewards.names, rewards.weights, strict=True)),
        "base": summary(0), "tuned": summary(1), "seconds": round(time.time() - started, 1),
        "rows": [{"prompt": s.messages[-1]["content"], "base": texts[0][i], "tuned": texts[1][i],
                  "base_reward": totals[0][i], "tuned_reward": totals[1][i]}
                 for i, s in enumerate(samples)],
    }
    write_json_atomic(run.path / "reward_check.json", report)
    return report


def reward_check_line(report: dict[str, Any]) -> str:
    b, t = report["base"], report["tuned"]
    parts = [f"mean reward {b['reward']:.2f} → {t['reward']:.2f}"]
    parts += [f"{name} {b[name]:.2f} → {t[name]:.2f}" for name in report["rewards"] if name in b]
    parts.append(f"words {b['words']:.0f} → {t['words']:.0f}")
    return f"{report['count']} prompts: " + ", ".join(parts)
