"""The config example in README.md is a valid config file (a user copies it as it is)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tui_agents.config import AppConfig

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_config_example_loads():
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "README.md has no TOML example"
    for block in blocks:
        config = AppConfig.model_validate(tomllib.loads(block))
        assert config.model_dump()  # every table in the example is one the app knows
