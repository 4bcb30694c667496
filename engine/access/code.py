"""Who may make this process run code it did not ship with.

A local app belongs to the person at the keyboard: their own reward file or a model's remote code is
theirs to run. When the app is shared (a public link) or password-protected, other people can start
runs, so code execution is refused unless whoever started TuneDesk allowed it with --allow-code.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import CodeNotAllowed

ALLOW_FLAG = "--allow-code"


@dataclass
class CodePolicy:
    exposed: bool = False  # shared link or password: people other than the owner can start runs
    allow_code: bool = False

    def check(self, what: str) -> None:
        if self.exposed and not self.allow_code:
            raise CodeNotAllowed(
                f"{what} would run Python code on this machine, and this app is shared or password-protected, "
                f"so TuneDesk refuses it. The person who started TuneDesk can allow it by restarting with "
                f"{ALLOW_FLAG}.")


def check_config(config: object) -> None:
    """Refuse a config that would run code the policy does not allow, naming the field."""
    if getattr(config, "trust_remote_code", False):
        POLICY.check("trust_remote_code (the model's own Python files)")
    if getattr(config, "method", "") == "grpo" and "python" in str(getattr(config, "reward_functions", "")).lower():
        POLICY.check(f"the python reward (reward_file {getattr(config, 'reward_file', '')})")


POLICY = CodePolicy()  # set once by app.py from its command line; a headless run is local
