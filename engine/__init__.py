"""TuneDesk's engine: configs, data, models and training runs. Headless; never imports gradio."""

from engine.config import ConfigError, TrainConfig, load_yaml, load_yaml_text

__all__ = ["ConfigError", "TrainConfig", "load_yaml", "load_yaml_text"]
