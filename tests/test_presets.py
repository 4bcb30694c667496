"""Every shipped preset loads, validates, says what it is for, and names data that exists."""

from __future__ import annotations

import pytest

from engine.config.presets import load_preset, preset_description, preset_paths
from engine.locations import project_path

PRESETS = sorted(preset_paths())


def test_the_expected_presets_ship():
    assert len(PRESETS) >= 6
    assert "cpu_demo_smollm2_lora" in PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_valid_and_documented(name: str):
    config = load_preset(name)
    text = preset_description(preset_paths()[name]).lower()
    assert "hardware" in text, f"{name}: the header must say what hardware it needs"
    assert "硬件" in preset_description(preset_paths()[name], "zh"), f"{name}: the header needs its Chinese lines"
    assert config.dataset, name
    local = project_path(config.dataset.rpartition(":")[0] or config.dataset)
    if config.dataset.startswith("samples"):
        assert local.exists(), f"{name}: {config.dataset} is missing"


def test_unknown_preset_lists_the_available_ones():
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match="cpu_demo_smollm2_lora"):
        load_preset("nope")
