"""Every string the tabs show exists in English and Chinese, with the same placeholders in both."""

from __future__ import annotations

import re
import string

from engine.config.field_info import GROUPS
from tabs.i18n import STRINGS
from tests.conftest import ROOT

# t("key", …), tr.label(widget, "key"), tr.text(widget, "key"), tr.button("key", …)
LITERAL = re.compile(r"""\b(?:t\(|tr\.button\(|tr\.(?:label|text)\([^,()]+,\s*)["']([a-z][a-z0-9_]*)["']""")
# keys built at run time: their every value, as the code builds them
FAMILIES = {
    "data_dedupe_{}": ("none", "exact", "normalized"),
    "data_hist_{}": ("prompt", "answer", "total"),
    "state_{}": ("pending", "running", "completed", "failed", "stopped"),
    "fit_{}": ("fits", "tight", "does_not_fit"),
    "group_{}": GROUPS,
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def used_keys() -> dict[str, str]:
    found = {}
    for path in sorted((ROOT / "tabs").glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for key in LITERAL.findall(line):
                found.setdefault(key, f"{path.name}:{number}")
    return found


def test_every_key_the_tabs_use_exists():
    used = used_keys()
    assert len(used) > 150  # the pattern sees the tabs' calls
    missing = {key: where for key, where in used.items() if key not in STRINGS}
    assert missing == {}
    built = [family.format(v) for family, values in FAMILIES.items() for v in values]
    assert [key for key in built if key not in STRINGS] == []


def test_every_string_has_both_languages_with_the_same_placeholders():
    problems = []
    for key, (en, zh) in STRINGS.items():
        if not en.strip() or not zh.strip():
            problems.append(f"{key}: empty")
        elif placeholders(en) != placeholders(zh):
            problems.append(f"{key}: {sorted(placeholders(en))} vs {sorted(placeholders(zh))}")
        elif en == zh and CJK.search(zh) is None and not re.fullmatch(r"[\w\s.+/()·:%-]*", en):
            problems.append(f"{key}: the Chinese text is the English one")
    assert problems == []


def test_the_key_finder_sees_each_call_shape():
    code = ('t("a_key", lang)\ntr.button("b_key", variant="primary")\ntr.label(box, "c_key")\n'
            "tr.text(md, 'd_key')\nstatus.get(\"not_a_key\")")
    assert [k for line in code.splitlines() for k in LITERAL.findall(line)] == ["a_key", "b_key", "c_key", "d_key"]
