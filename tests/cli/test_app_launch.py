"""``aiagents-tui [options]`` opens the app without building the subcommands' parsers; every other command line
(a subcommand, ``--help``, a mistake) still goes to the full parser, which words the errors as before."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.conftest import ROOT
from tui_agents.cli import _app_args, main

_QUICK_AND_LIST_MODULES = """
import json, sys
from tui_agents import cli
args = cli._app_args(sys.argv[1:])
print(json.dumps({"args": vars(args) if args else None,
                  "loaded": sorted(name for name, module in sys.modules.items() if module is not None)}))
"""


def test_the_app_launch_reads_its_options_without_loading_the_subcommands():
    out = subprocess.run([sys.executable, "-c", _QUICK_AND_LIST_MODULES, "--provider", "ollama", "--model", "m",
                          "--db", "x.sqlite", "--new"], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True).stdout
    result = json.loads(out)
    assert result["args"] == {"provider": "ollama", "model": "m", "theme": None, "new": True, "db": "x.sqlite"}
    loaded = set(result["loaded"])
    for module in ("tui_agents.modelscli", "tui_agents.ask", "tui_agents.usage", "tui_agents.datacli"):
        assert module not in loaded


@pytest.mark.parametrize("argv", [["paths"], ["--db", "x", "paths"], ["-h"], ["--version"], ["--provider", "nope"],
                                  ["--model"], ["--new", "stray"], ["keys", "list"]])
def test_anything_but_app_options_goes_to_the_full_parser(argv):
    assert _app_args(argv) is None


def test_a_mistake_is_still_worded_by_the_full_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--provider", "nope"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nope'" in err and "ollama" in err and "COMMAND" in err  # the full usage line
    with pytest.raises(SystemExit):
        main(["--model"])
    assert "argument --model: expected one argument" in capsys.readouterr().err
