"""``[mcp_servers.NAME]``, ``[tools]`` and ``[prices]`` in the app's config file."""

from __future__ import annotations

import pytest

from tui_agents.config import load_config, save_config
from tui_agents.errors import ConfigError
from tui_agents.mcp import servers_from_config

CONFIG = """
[mcp_servers.files]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/notes"]
env = { LOG_LEVEL = "warn" }

[mcp_servers.search]
url = "http://127.0.0.1:8931/mcp"
headers = { Authorization = "Bearer ${SEARCH_TOKEN}" }
tools = ["query"]
timeout = 5

[mcp_servers.old]
command = "old-server"
enabled = false

[tools]
always_allow = ["files:read_file"]

[prices."my-model"]
input = 1.5
output = 6
"""


def test_mcp_server_tables_become_servers_and_survive_a_save(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    servers = {server.name: server for server in servers_from_config(config)}
    assert set(servers) == {"files", "search"}  # "old" is disabled
    files, search = servers["files"], servers["search"]
    assert (files.transport, files.command, files.args, files.env) == (
        "stdio", "npx", ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/notes"], {"LOG_LEVEL": "warn"})
    assert (search.transport, search.url, search.only, search.timeout) == ("http", "http://127.0.0.1:8931/mcp",
                                                                           ["query"], 5.0)
    assert config.tools.always_allow == ["files:read_file"]
    assert config.prices["my-model"].output == 6

    save_config(config, path)
    again = load_config(path)
    assert again.mcp_servers == config.mcp_servers and again.prices == config.prices
    assert "${SEARCH_TOKEN}" in path.read_text()  # the reference is kept, never the token


@pytest.mark.parametrize("table", ['[mcp_servers.x]\nargs = ["a"]\n',
                                   '[mcp_servers.x]\ncommand = "a"\nurl = "http://b"\n'])
def test_a_server_needs_exactly_one_of_command_and_url(tmp_path, table):
    path = tmp_path / "config.toml"
    path.write_text(table)
    with pytest.raises(ConfigError, match="mcp_servers.x"):
        load_config(path)


def test_configured_servers_cost_nothing_until_first_use():
    import subprocess
    import sys

    code = ("import sys; from tui_agents.config import AppConfig, MCPServerConfig; "
            "from tui_agents.mcp import servers_from_config; "
            "servers = servers_from_config(AppConfig(mcp_servers={'a': MCPServerConfig(command='x')})); "
            "print(len(servers), servers[0].running, 'mcp' in sys.modules, 'httpx2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False", "False", "False"]  # the SDK is not even imported
