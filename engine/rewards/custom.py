"""A user's own reward functions, from a Python file named in the config.

Every top-level function whose name starts with `reward` is one reward, called like TRL calls reward
functions: `reward_x(prompts, completions, **columns) -> list[float]`, completions as plain text. The
file is imported only when the config lists `python` among its rewards, and only where the code policy
allows it (never in a shared or password-protected app without --allow-code).
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.access.code import POLICY
from engine.errors import ConfigError


def load_reward_file(path: str) -> dict[str, Callable[..., Any]]:
    POLICY.check(f"reward_file {path}")
    file = Path(path).expanduser()
    if not file.is_file() or file.suffix != ".py":
        raise ConfigError(f"reward_file: {path} is not a Python file; give the path of a .py file that defines "
                          "reward functions")
    spec = importlib.util.spec_from_file_location(f"tunedesk_user_rewards_{abs(hash(str(file.resolve())))}", file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"reward_file: {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"reward_file: importing {path} failed: {type(exc).__name__}: {exc}") from exc
    found = {name: fn for name, fn in vars(module).items()
             if name.startswith("reward") and inspect.isfunction(fn) and fn.__module__ == module.__name__}
    if not found:
        raise ConfigError(f"reward_file: {path} defines no function whose name starts with 'reward', e.g.\n"
                          "def reward_short(prompts, completions, **columns):\n"
                          "    return [1.0 if len(c) < 200 else 0.0 for c in completions]")
    return found
