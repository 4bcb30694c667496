"""The actions every front end shares (Train form, API, scripts): checked configs in, run ids out."""

from __future__ import annotations

from typing import Any

import yaml

from engine.config import ConfigError, TrainConfig, load_yaml_text
from engine.paths import PathGuard
from engine.presets import load_preset
from engine.rundir import read_json
from engine.runs import RunManager
from engine.trust import check_config as check_code


def build_config(yaml_text: str = "", preset: str = "", overrides: dict[str, Any] | str | None = None) -> TrainConfig:
    """A preset or YAML text (or the defaults), then overrides given as a mapping or as YAML/JSON text."""
    if yaml_text.strip() and preset.strip():
        raise ConfigError("give either yaml_text or preset, not both")
    config = load_preset(preset.strip()) if preset.strip() else load_yaml_text(yaml_text or "{}", "yaml_text")
    if isinstance(overrides, str):
        try:
            overrides = yaml.safe_load(overrides) if overrides.strip() else {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"overrides: not valid YAML/JSON ({exc})") from exc
    if overrides:
        if not isinstance(overrides, dict):
            raise ConfigError("overrides: expected a mapping such as {\"learning_rate\": 1e-4}")
        config = config.replace(**overrides)
    return config


class Service:
    def __init__(self, manager: RunManager, guard: PathGuard | None = None):
        self.manager = manager
        self.guard = guard or PathGuard()

    def start(self, config: TrainConfig) -> str:
        check_code(config)
        self.guard.check_config(config)
        if not config.dataset:
            raise ConfigError("dataset: empty. Choose a data file or one of the samples first.")
        return self.manager.submit(config)

    def run_detail(self, run_id: str, last: int = 20) -> dict[str, Any]:
        run = self.manager.run(run_id)
        report = read_json(run.path / "comparison.json", None)
        return {**self.manager.summary(run), "status": run.status(),
                "metrics": self.manager.metrics(run_id)[-last:],
                "checkpoints": [p.name for p in run.checkpoints()],
                "comparison": report.get("summary") if isinstance(report, dict) else None}
