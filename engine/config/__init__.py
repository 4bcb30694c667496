"""The one typed description of a training run, `TrainConfig`, and what reads and writes it.

field_info.py  what every field carries (label and help in English and Chinese, group, choices, range)
fields.py      the fields themselves, with their defaults and help: the form, `--set` and the API read them
rules.py       the cross-field rules that one field's range cannot express
coerce.py      turning YAML, form and CLI values into each field's type, naming the field when it fails
train_config.py  TrainConfig: the fields with checking, copying and YAML output
yaml_io.py     YAML files and texts, `--set key=value` overrides, a preset plus overrides
presets.py     the YAML presets shipped in presets/
"""
