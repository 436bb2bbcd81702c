"""The settings table is the one source: README's configuration table and every FAIRSLOT_ name."""

from __future__ import annotations

import re
from pathlib import Path

from booking.config import README_BEGIN, README_END, SETTINGS, readme_table

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"\bFAIRSLOT_[A-Z0-9_]*[A-Z0-9]\b")


def test_the_readme_table_is_generated_from_the_settings():
    readme = (ROOT / "README.md").read_text()
    assert readme.count(README_BEGIN) == 1 and readme.count(README_END) == 1
    written = readme.partition(README_BEGIN)[2].partition(README_END)[0].strip("\n")
    assert written == readme_table(), "README is out of date: run `make config-docs`"


def test_every_fairslot_name_in_the_code_is_a_row_of_the_table():
    rows = {setting.env for setting in SETTINGS}
    used: dict[str, set[str]] = {}
    for folder in ("booking", "admission"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in NAME.findall(path.read_text(encoding="utf-8")):
                used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert used, "the search found no FAIRSLOT_ names at all"
    assert {name: sorted(files) for name, files in used.items() if name not in rows} == {}


def test_each_row_has_one_variable_and_one_config_key():
    envs = [setting.env for setting in SETTINGS]
    keys = [setting.key for setting in SETTINGS]
    assert len(set(envs)) == len(envs)
    assert len(set(keys)) == len(keys)
    for setting in SETTINGS:
        assert setting.env.startswith("FAIRSLOT_")
        assert setting.key in (setting.env, setting.env.removeprefix("FAIRSLOT_"))
