"""Settings: default provider and model, base URLs, API keys (OS keyring), memory strategy, theme."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Input, Select, Static, Switch

from ...providers import registry
from ...sanitize import sanitize

__all__ = ["SettingsScreen"]

STRATEGIES = ("last_n", "first_last", "token_window")


def _params_text(params: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _parse_params(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        out[key.strip()] = int(value.strip())
    return out


class SettingsScreen(Screen[bool]):
    """Dismisses with True when the settings were saved."""

    CSS_PATH = "settings.tcss"
    HELP = ("Edit the settings; ctrl+s saves them, escape leaves (asking first when there are unsaved edits). "
            "Keys are saved to the OS keyring at once.")
    AUTO_FOCUS = "#default-provider"  # the first field, not the scroll area (where typing went nowhere)
    BINDINGS = [
        Binding("escape", "close", "Back", id="settings.close"),
        Binding("ctrl+s", "save", "Save", id="settings.save"),
    ]

    def compose(self) -> ComposeResult:
        config = self.app.config  # type: ignore[attr-defined]
        with VerticalScroll(id="settings"):
            yield Static(Text("Settings", style="bold"), markup=False)
            yield Static(Text("Default provider and model"), classes="section", markup=False)
            yield Select([(p, p) for p in registry.names()], value=config.default_provider, allow_blank=False,
                         id="default-provider")
            yield Input(config.default_model or "", placeholder="default model (empty: the provider's)",
                        id="default-model")
            for spec in registry.specs():
                name = spec.name
                settings = config.providers.get(name)
                yield Static(Text(f"{name}"), classes="section", markup=False)
                yield Input(settings.base_url or "", placeholder=f"{name} base URL (empty: env var or default)",
                            id=f"url-{name}")
                if spec.keyed:
                    with Horizontal(classes="key-row"):
                        yield Input(placeholder=f"{name} API key (hidden)", password=True, id=f"key-{name}")
                        yield Button("Save key", id=f"save-key-{name}")
                        yield Button("Delete key", id=f"delete-key-{name}")
                    yield Static(Text("checking…"), id=f"key-state-{name}", classes="key-state", markup=False)
            yield Static(Text("Memory (what goes into the context)"), classes="section", markup=False)
            yield Select([(s, s) for s in STRATEGIES], value=config.memory.strategy, allow_blank=False,
                         id="memory-strategy")
            yield Input(_params_text(config.memory.params), placeholder="parameters, e.g. n=20", id="memory-params")
            with Horizontal(classes="switch-row"):
                yield Switch(config.memory.approve_model_facts, id="approve-facts")
                yield Static(Text("Facts the model saves about me wait for my approval (memory panel, ctrl+g)"),
                             classes="switch-label", markup=False)
            yield Static(Text("Theme"), classes="section", markup=False)
            themes = sorted(self.app.available_themes)
            yield Select([(t, t) for t in themes], value=self.app.theme if self.app.theme in themes else themes[0],
                         allow_blank=False, id="theme")
            yield Static(Text(""), id="settings-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (escape)", id="cancel")

    def on_mount(self) -> None:
        self._loaded_form = self._form_values()
        self.run_worker(self._show_key_states(), exit_on_error=False)

    def _form_values(self) -> list[object]:
        """Every field's value; a key field only says whether it holds text (the key itself is never kept)."""
        return [bool(w.value) if getattr(w, "password", False) else w.value  # type: ignore[attr-defined]
                for w in self.query("Input, Select, Switch")]

    @property
    def dirty(self) -> bool:
        """Whether the form holds edits that are not saved."""
        return self._form_values() != getattr(self, "_loaded_form", None)

    async def _show_key_states(self) -> None:
        from ... import secrets

        for name in (spec.name for spec in registry.specs() if spec.keyed):
            has = await secrets.ahas_key(name)
            state = f"a key is set ({secrets.env_var_for(name)} or keyring)" if has else "no key"
            self.query_one(f"#key-state-{name}", Static).update(Text(state))

    @on(Button.Pressed)
    async def _pressed(self, event: Button.Pressed) -> None:
        button = event.button.id or ""
        if button == "save":
            self.action_save()
        elif button == "cancel":
            self.action_close()
        elif button.startswith("save-key-"):
            await self._save_key(button.removeprefix("save-key-"))
        elif button.startswith("delete-key-"):
            await self._delete_key(button.removeprefix("delete-key-"))

    async def _save_key(self, name: str) -> None:
        from ... import secrets
        from ...errors import ConfigError

        field = self.query_one(f"#key-{name}", Input)
        state = self.query_one(f"#key-state-{name}", Static)
        try:
            # The key goes from the field to the keyring without a local name (crash dumps print locals).
            await secrets.aset_key(name, field.value)
        except ConfigError as exc:
            state.update(Text(sanitize(str(exc)), style="bold"))
            return
        finally:
            field.value = ""
        state.update(Text("saved in the OS keyring"))
        self._keys_changed = True

    async def _delete_key(self, name: str) -> None:
        from ... import secrets
        from ...errors import ConfigError

        state = self.query_one(f"#key-state-{name}", Static)
        try:
            removed = await secrets.adelete_key(name)
        except ConfigError as exc:
            state.update(Text(sanitize(str(exc)), style="bold"))
            return
        state.update(Text("deleted from the keyring" if removed else "no key was stored in the keyring"))
        self._keys_changed = True

    def action_close(self) -> None:
        """Leave without saving the form, asking first when it holds edits (saved keys still count as a change)."""
        from .dialogs import ConfirmScreen

        if not self.dirty:
            self._leave()
            return
        self.app.push_screen(ConfirmScreen("The settings have unsaved changes. Discard them?", "Discard",
                                           enter_confirms=False, no="Keep editing"),
                             lambda yes: self._leave() if yes else None)

    def _leave(self) -> None:
        self.dismiss(bool(getattr(self, "_keys_changed", False)))

    def action_save(self) -> None:
        """Validate and write the settings file, then apply them."""
        from pydantic import ValidationError

        from ...config import AppConfig
        from ...errors import ConfigError

        app = self.app
        config = app.config  # type: ignore[attr-defined]
        data = config.model_dump()
        data["default_provider"] = self.query_one("#default-provider", Select).value
        data["default_model"] = self.query_one("#default-model", Input).value.strip() or None
        for name in registry.names():
            data["providers"][name]["base_url"] = self.query_one(f"#url-{name}", Input).value.strip() or None
        error = self.query_one("#settings-error", Static)
        try:
            data["memory"].update(strategy=self.query_one("#memory-strategy", Select).value,
                                  params=_parse_params(self.query_one("#memory-params", Input).value),
                                  approve_model_facts=self.query_one("#approve-facts", Switch).value)
            data["theme"] = str(self.query_one("#theme", Select).value)
            new = AppConfig.model_validate(data)
        except (ValueError, ValidationError) as exc:
            error.update(Text(f"Not saved: {sanitize(str(exc).splitlines()[0])}", style="bold"))
            return
        app._config = new  # type: ignore[attr-defined]
        try:
            app.save_config()  # type: ignore[attr-defined]
        except OSError as exc:
            error.update(Text(f"Could not write the settings file: {exc.strerror}", style="bold"))
            return
        except ConfigError as exc:  # a file the app cannot read is kept, not replaced
            error.update(Text(f"Not saved: {sanitize(str(exc))}", style="bold"))
            return
        self.dismiss(True)
