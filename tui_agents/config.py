"""Paths and the TOML settings file of aiagents-tui.

The settings live in ``config.toml`` under the user config dir (platformdirs;
``AIAGENTS_CONFIG`` overrides the file). They are read with ``tomllib``,
validated by the pydantic models below and written atomically (temp file, then
``os.replace``) with ``tomlkit``, which changes only the settings that changed and
keeps the user's comments, order and layout.

The database is ``--db``, else ``AIAGENTS_DB``, else ``aiagents.db`` under the
user data dir. API keys never live here: they are in the OS keyring or the
providers' env vars (``tui_agents.secrets``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator, model_validator

from .errors import ConfigError
# in their own module: the app finds its database and log before it reads the settings (pydantic, ~0.1 s)
from .paths import APP_NAME, config_path, data_dir, default_db_path, resolve_db_path, user_themes_dir

__all__ = [
    "APP_NAME",
    "AppConfig",
    "MemoryConfig",
    "MCPServerConfig",
    "NetworkConfig",
    "ToolsConfig",
    "PriceConfig",
    "ThinkingConfig",
    "ProviderSettings",
    "ProvidersConfig",
    "config_path",
    "data_dir",
    "user_themes_dir",
    "default_db_path",
    "resolve_db_path",
    "load_config",
    "save_config",
]



class ProviderSettings(BaseModel):
    """Settings of one provider."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    """Server URL; empty means the provider's env var (e.g. OLLAMA_HOST, OPENAI_BASE_URL) or its default."""

    default_model: str | None = None
    """Model used with this provider when a thread names none."""


class ProvidersConfig(RootModel[dict[str, ProviderSettings]]):
    """Per-provider settings, one table per provider of ``providers.registry`` (``[providers.ollama]``)."""

    root: dict[str, ProviderSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_and_complete(self) -> ProvidersConfig:
        from .providers import registry

        unknown = sorted(set(self.root) - set(registry.names()))
        if unknown:
            raise ValueError(f"unknown provider {unknown[0]!r}; use one of {', '.join(registry.names())}")
        # every registered provider has a table, in registry order
        self.root = {name: self.root.get(name) or ProviderSettings() for name in registry.names()}
        return self

    def get(self, name: str) -> ProviderSettings:
        """The settings of provider ``name`` (empty settings for an unknown name)."""
        return self.root.get(name) or ProviderSettings()

    def __getattr__(self, name: str) -> ProviderSettings:
        root = self.__dict__.get("root")
        if root is not None and name in root:
            return root[name]
        raise AttributeError(name)


def _default_provider() -> str:
    from .providers import registry

    return registry.DEFAULT_PROVIDER


class MemoryConfig(BaseModel):
    """Which messages of a thread go into the model's context."""

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["last_n", "first_last", "token_window"] = "last_n"
    """Context strategy: the last N messages, the first and last ones, or as many as fit a token budget."""

    params: dict[str, int] = Field(default_factory=dict)
    """The strategy's parameters, e.g. ``n = 20``, ``first = 2``/``last = 10`` or ``max_tokens = 100000``."""

    approve_model_facts: bool = False
    """Facts the model saves about you (``remember`` tool, background extraction) wait for your approval
    before they enter any prompt (mirrored to the store with ``UserMemoryStore.set_requires_approval``)."""


class NetworkConfig(BaseModel):
    """How long to wait on a provider (``[network]``); the defaults leave room for a local model loading."""

    model_config = ConfigDict(extra="forbid")

    stall_after: float | None = Field(default=20.0, gt=0)
    """Seconds without data mid-reply before the reply says the stream stalled (unset: never)."""

    connect_timeout: float = Field(default=10.0, gt=0)
    """Seconds to open the connection."""

    first_byte_timeout: float = Field(default=180.0, gt=0)
    """Seconds from the request to the reply's first byte (a local model may spend a minute loading)."""

    read_timeout: float = Field(default=120.0, gt=0)
    """The longest silence between two pieces of a reply before it fails."""


class MCPServerConfig(BaseModel):
    """One ``[mcp_servers.NAME]`` table: an MCP server over stdio (``command``) or streamable HTTP (``url``)."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = None
    """Program that runs the server over stdin/stdout, e.g. ``npx``."""

    args: list[str] = Field(default_factory=lambda: [])  # not list: see types.Message
    """Its arguments."""

    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables of the server process; ``${VAR}`` is taken from the environment."""

    cwd: str | None = None
    """Working directory of the server process."""

    url: str | None = None
    """Endpoint of a streamable HTTP server, e.g. ``http://127.0.0.1:8931/mcp``."""

    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers; ``${VAR}`` is taken from the environment, so tokens need not be written here."""

    enabled: bool = True
    """Whether the server's tools are offered at all."""

    tools: list[str] | None = None
    """Only these of the server's tools (by their own names); empty means all."""

    timeout: float = Field(default=30.0, gt=0)
    """Seconds a tool call may take."""

    @model_validator(mode="after")
    def _one_transport(self) -> "MCPServerConfig":
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (stdio) or url (HTTP)")
        return self


class ToolsConfig(BaseModel):
    """Tool approval."""

    model_config = ConfigDict(extra="forbid")

    always_allow: list[str] = Field(default_factory=lambda: [])  # not list: see types.Message
    """Tools that run without asking: ``"server:tool"`` for an MCP tool, ``"server:*"`` for all of a server's."""


class PriceConfig(BaseModel):
    """A model's price in US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    """Per million input (prompt) tokens."""

    output: float = Field(ge=0)
    """Per million output (reply) tokens."""


class ThinkingConfig(BaseModel):
    """Whether one model thinks before it answers (``[thinking."qwen3"]``), and how much."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    """Ask the model to think (its thoughts are shown above the reply)."""

    level: Literal["low", "medium", "high"] | None = None
    """Effort, for wires that take a level (Ollama's gpt-oss, OpenAI reasoning models)."""

    budget_tokens: int | None = Field(default=None, ge=1024)
    """Token budget for thinking (Anthropic); empty means the level's or a medium one."""

    def value(self) -> Any:
        """What ``thinking=`` of the engine takes: False, True, a level or ``{"budget_tokens": N}``."""
        if not self.enabled:
            return False
        if self.budget_tokens is not None:
            return {"budget_tokens": self.budget_tokens}
        return self.level or True


class AppConfig(BaseModel):
    """Everything in ``config.toml``."""

    model_config = ConfigDict(extra="forbid")

    default_provider: str = Field(default_factory=_default_provider)
    """Provider of new threads: a name from the provider registry (ollama, openai, anthropic)."""

    default_model: str | None = None
    """Model of new threads; empty means the provider's default."""

    theme: str = "aiagents-dark"
    """Name of the colour theme (the project's own, a built-in Textual theme, or a file in the themes folder)."""

    show_sidebar: bool = True
    """Whether the thread sidebar is shown at start."""

    user_id: str = "local"
    """The user the app acts as (owner of the threads it creates)."""

    providers: ProvidersConfig = Field(default_factory=ProvidersConfig)
    """Per-provider base URLs and default models."""

    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    """Context strategy and its parameters."""

    network: NetworkConfig = Field(default_factory=NetworkConfig)
    """Provider timeouts and when a silent stream counts as stalled."""

    @field_validator("default_provider")
    @classmethod
    def _registered(cls, name: str) -> str:
        from .providers import registry

        if registry.find(name) is None:
            raise ValueError(f"unknown provider {name!r}; use one of {', '.join(registry.names())}")
        return name

    keymap: dict[str, str] = Field(default_factory=dict)
    """Key overrides: binding id to keys, e.g. ``"thread.new" = "ctrl+t"`` (comma-separate several keys)."""

    mcp_servers: dict[str, MCPServerConfig] = Field(default_factory=dict)
    """MCP servers whose tools the model may call, by name (``[mcp_servers.NAME]``)."""

    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    """Which tools run without asking first."""

    prices: dict[str, PriceConfig] = Field(default_factory=dict)
    """Price overrides by model name (``[prices."gpt-4o"] input = 2.5, output = 10``), over the shipped table."""

    thinking: dict[str, ThinkingConfig] = Field(default_factory=dict)
    """Thinking per model name (``[thinking."qwen3"] enabled = true, level = "high"``); unlisted: the default."""


def load_config(path: Path | None = None) -> AppConfig:
    """Read and validate the settings; a missing file gives the defaults."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return AppConfig()
    except OSError as exc:
        raise ConfigError(f"Could not read the settings file {path}: {exc.strerror}.") from exc
    import tomllib  # only when there is a file (~3 ms of a start-up)

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The settings file {path} is not valid TOML ({exc}); fix or delete it.") from exc
    return _validated(data, path)


def _validated(data: dict[str, Any], path: Path) -> AppConfig:
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ConfigError(f"The settings file {path} has a bad value at {where}: {first['msg']}.") from exc


_INLINE_DEPTH = 3
"""Maps this deep (``mcp_servers.NAME.env``), or inside an inline table, are written inline."""


def save_config(config: AppConfig, path: Path | None = None) -> Path:
    """Write the settings into the file, changing only what differs: its comments, order and layout stay.

    A key the file lacks is written only when it is not the default; the write is atomic
    (temp file in the same dir, then ``os.replace``). The file holds no secrets: keys live in the keyring.
    """
    from .files import write_text_atomic

    path = path or config_path()
    old, doc = _read_document(path)
    _merge(doc, config.model_dump(mode="json", exclude_none=True), _non_default(config), depth=1)
    text = doc.as_string()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError("A setting holds a broken character (half a surrogate pair); "
                          "remove it and save again.") from None
    if text != old:
        write_text_atomic(path, text)
    return path


def _read_document(path: Path) -> tuple[str | None, Any]:
    """The file's text (None when there is none) and its tomlkit document; a broken file is refused, not replaced."""
    import tomlkit  # only when saving, never on a start-up path
    from tomlkit.exceptions import TOMLKitError

    try:
        old: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, tomlkit.document()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "it is not UTF-8 text"
        raise ConfigError(f"Could not read the settings file {path} to update it: {why}.") from exc
    try:
        doc = tomlkit.parse(old)
    except TOMLKitError as exc:
        raise ConfigError(f"The settings file {path} is not valid TOML ({exc}); fix or delete it, "
                          "then save again.") from exc
    _validated(doc.unwrap(), path)  # merging into a file the app could not read would drop what it holds
    return old, doc


def _non_default(config: AppConfig) -> dict[str, Any]:
    """The settings that differ from those of ``AppConfig()``: all a key the file lacks may add."""
    return _prune(config.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
                  AppConfig().model_dump(mode="json", exclude_none=True))


def _prune(tree: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in tree.items():
        if key not in default:
            kept[key] = value  # a name of the user's (a server, a model): there even when empty
        elif isinstance(value, dict) and isinstance(default[key], dict):
            if sub := _prune(value, default[key]):
                kept[key] = sub
        elif value != default[key]:
            kept[key] = value
    return kept


def _merge(container: Any, new: dict[str, Any], wanted: dict[str, Any], depth: int) -> None:
    """Make the tomlkit ``container`` hold ``new``: drop what it no longer has, change what differs,
    add what it lacks only from ``wanted`` (the non-defaults)."""
    for key in [key for key in container if key not in new]:
        del container[key]
    for key, value in new.items():
        if key in container:
            current = container[key]
            if isinstance(value, dict) and isinstance(current, dict):
                _merge(current, value, wanted.get(key) or {}, depth + 1)
            elif _plain(current) != value:
                _replace(container, key, value)
        elif key in wanted:
            _add(container, key, _new_item(wanted[key], _INLINE_DEPTH if _is_inline(container) else depth))


def _is_inline(container: Any) -> bool:
    from tomlkit.items import InlineTable

    return isinstance(container, InlineTable)


def _plain(value: Any) -> Any:
    """A tomlkit value as plain Python (tomlkit hands booleans out plain already)."""
    return value.unwrap() if hasattr(value, "unwrap") else value


def _replace(container: Any, key: str, value: Any) -> None:
    """Change one value in place (its comment kept); a list only grown or shrunk keeps its layout."""
    current = container[key]
    if isinstance(value, list) and isinstance(current, list):
        old = _plain(current)
        if value[:len(old)] == old:
            current.extend(value[len(old):])
            return
        gone = _dropped(old, value)
        if gone is not None:
            for index in reversed(gone):
                del current[index]
            return
    container[key] = value


def _dropped(old: list[Any], new: list[Any]) -> list[int] | None:
    """The indexes of ``old`` to delete to get ``new``, or None when ``new`` is not ``old`` less some items."""
    gone, at = [], 0
    for index, item in enumerate(old):
        if at < len(new) and new[at] == item:
            at += 1
        else:
            gone.append(index)
    return gone if at == len(new) else None


def _new_item(value: Any, depth: int) -> Any:
    """A tomlkit item for a value the file lacks: sections and their named entries as tables, deeper maps inline."""
    import tomlkit

    if not isinstance(value, dict):
        return tomlkit.item(value)
    if depth >= _INLINE_DEPTH:  # env = { LOG_LEVEL = "warn" }, as MCP clients write it
        table: Any = tomlkit.inline_table()
    else:  # [prices."gpt-4o"] without an empty [prices] above it
        table = tomlkit.table(is_super_table=bool(value) and all(isinstance(v, dict) for v in value.values()))
    for key, sub in value.items():
        table.append(key, _new_item(sub, depth + 1))
    return table


def _add(container: Any, key: str, item: Any) -> None:
    """Add a key after the container's last key, not below a comment that heads the next table."""
    from tomlkit.container import Container
    from tomlkit.items import AoT, Table

    body = container.value if isinstance(container, Table) and not container.is_super_table() else container
    if isinstance(body, Container) and not isinstance(item, (Table, AoT)):
        keys = [i for i, (k, v) in enumerate(body.body) if k is not None and not isinstance(v, (Table, AoT))]
        if keys and keys[-1] + 1 < len(body.body):
            body._insert_at(keys[-1] + 1, key, item)  # tomlkit's append would put it after that comment
            return
    container.append(key, item)
