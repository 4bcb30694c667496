"""TrainConfig: validation names the field and what it accepts; YAML round-trips."""

from __future__ import annotations

import pytest

from engine.config.field_info import CONFIG_VERSION
from engine.config.train_config import TrainConfig, field_info, field_names
from engine.config.yaml_io import load_yaml_text, parse_overrides
from engine.errors import ConfigError


def test_defaults_are_valid_and_round_trip_through_yaml():
    config = TrainConfig(dataset="x.json")
    again = load_yaml_text(config.to_yaml())
    assert again == config
    assert config.to_dict()["tunedesk_config"] == CONFIG_VERSION


def test_every_field_is_documented_in_both_languages():
    for name in field_names():
        info = field_info(name)
        assert all(info.label) and all(info.help), name


def test_the_readme_config_table_names_every_field():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## The config"):readme.index("### Presets")]
    assert [n for n in field_names() if f"`{n}`" not in table] == []


def test_unknown_key_suggests_the_closest_field():
    with pytest.raises(ConfigError, match="lerning_rate: unknown key — did you mean 'learning_rate'"):
        TrainConfig.from_dict({"lerning_rate": 1e-4})


def test_bad_choice_names_field_and_allowed_values():
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({"finetuning_type": "prefix"})
    assert "finetuning_type" in str(err.value) and "full, lora, qlora" in str(err.value)


def test_every_error_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({"learning_rate": "fast", "lora_r": 0, "packing": "maybe"})
    text = str(err.value)
    assert "learning_rate: expected a number" in text
    assert "lora_r: must be >= 1" in text
    assert "packing: expected true or false" in text


def test_yaml_scalars_are_coerced():
    # PyYAML reads 1e-4 (no dot) as a string; users write it that way all the time
    config = load_yaml_text("learning_rate: 1e-4\nlora_r: 16.0\npacking: 'yes'\n")
    assert config.learning_rate == 1e-4 and config.lora_r == 16 and config.packing is True


def test_ranges_are_enforced():
    with pytest.raises(ConfigError, match="learning_rate: must be > 0"):
        TrainConfig.from_dict({"learning_rate": 0})
    with pytest.raises(ConfigError, match="warmup_ratio: must be <= 1"):
        TrainConfig.from_dict({"warmup_ratio": 2})
    with pytest.raises(ConfigError, match="lora_r: expected a whole number"):
        TrainConfig.from_dict({"lora_r": 8.5})


def test_cross_field_rules():
    with pytest.raises(ConfigError, match="dpo with finetuning_type full"):
        TrainConfig.from_dict({"method": "dpo", "finetuning_type": "full"})
    with pytest.raises(ConfigError, match="max_steps: 0"):
        TrainConfig.from_dict({"max_steps": 0})
    with pytest.raises(ConfigError, match="cuda_visible_devices"):
        TrainConfig.from_dict({"cuda_visible_devices": "gpu0"})


def test_version_mismatch_and_non_mapping_yaml():
    with pytest.raises(ConfigError, match="reads version 1"):
        load_yaml_text("tunedesk_config: 99\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_yaml_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml_text("a: [1,\n")


def test_cli_overrides_parse_as_yaml_scalars():
    assert parse_overrides(["learning_rate=1e-4", "packing=true", "run_name=my run"]) == {
        "learning_rate": "1e-4", "packing": True, "run_name": "my run"}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["learning_rate"])
    assert TrainConfig().replace(**parse_overrides(["learning_rate=1e-4"])).learning_rate == 1e-4
