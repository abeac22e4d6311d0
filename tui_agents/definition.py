"""``AgentDefinition``: an agent described in parts (role, goal, constraints...) instead of a raw prompt.

    definition = AgentDefinition(
        role="You are a property management assistant for vacation rental hosts.",
        goal="Help hosts run their vacation rentals efficiently.",
        constraints=["Be concise but friendly"],
        personality={"tone": "friendly"},
        examples=[{"user": "What's the checkout time?", "assistant": "11 AM."}],
    )
    print(definition.system_prompt)

``compile()`` turns it into a sectioned system prompt, the same text for the
same definition every time; empty sections are left out, and a definition with
only a role compiles to the role text alone. ``to_dict`` and
``from_dict`` store it in the agents table. ``AgentTemplates`` holds ready-made
definitions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import InvalidArgumentError

__all__ = ["AgentDefinition", "AgentTemplates", "Example"]

log = logging.getLogger(__name__)


class Example(BaseModel):
    """One sample exchange that shows the model how to answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str
    assistant: str

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        # ("question", "answer") is as natural to write as a dict.
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return {"user": value[0], "assistant": value[1]}
        return value


class AgentDefinition(BaseModel):
    """An agent's role, goal, constraints, personality and examples, compiled to a system prompt."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(description="Who the agent is, e.g. 'You are a support agent for Acme.'")
    goal: str | None = Field(None, description="What the agent is trying to achieve.")
    constraints: list[str] = Field(default_factory=list, description="Rules the agent must follow.")
    personality: dict[str, str] = Field(default_factory=dict, description="Traits such as tone and style.")
    examples: list[Example] = Field(default_factory=list, description="Sample user/assistant exchanges.")
    name: str | None = Field(None, description="The agent's name, told to the model.")
    context: str | None = Field(None, description="Background the agent should know.")
    output_format: str | None = Field(None, description="How replies should be laid out.")

    @field_validator("role")
    @classmethod
    def _role_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("role must say who the agent is")
        return value.strip()

    @field_validator("goal", "name", "context", "output_format")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("constraints")
    @classmethod
    def _drop_blank_constraints(cls, value: list[str]) -> list[str]:
        return [item.strip() for item in value if item.strip()]

    @field_validator("personality", mode="before")
    @classmethod
    def _personality_as_text(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k).strip(): str(v).strip() for k, v in value.items() if str(k).strip() and str(v).strip()}
        return value

    def compile(self) -> str:
        """The system prompt: one Markdown section per non-empty part, in a fixed order."""
        sections = [("Role", self._role_text())]
        if self.goal:
            sections.append(("Goal", self.goal))
        if self.context:
            sections.append(("Context", self.context))
        if self.constraints:
            sections.append(("Constraints", "\n".join(_bullet(item) for item in self.constraints)))
        if self.personality:
            sections.append(("Personality", "\n".join(f"{k}: {v}" for k, v in self.personality.items())))
        if self.output_format:
            sections.append(("Response format", self.output_format))
        if self.examples:
            pairs = [f"User: {ex.user.strip()}\nAssistant: {ex.assistant.strip()}" for ex in self.examples]
            sections.append(("Examples", "\n\n".join(pairs)))
        if len(sections) == 1:
            return sections[0][1]  # a bare role reads best as it was written
        return "\n\n".join(f"## {title}\n{body}" for title, body in sections)

    @property
    def system_prompt(self) -> str:
        """The compiled system prompt (same as ``compile()``)."""
        return self.compile()

    def _role_text(self) -> str:
        return f"{self.role}\nYour name is {self.name}." if self.name else self.role

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict for the agents table's ``definition`` column."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AgentDefinition":
        """Rebuild a stored definition; keys this version does not know are ignored."""
        known = {k: v for k, v in data.items() if k in cls.model_fields}
        unknown = sorted(set(data) - set(known))
        if unknown:
            log.info("ignoring unknown agent definition fields: %s", ", ".join(unknown))
        return cls.model_validate(known)


def _bullet(text: str) -> str:
    # Continuation lines are indented so a multi-line rule stays one bullet.
    return "- " + text.replace("\n", "\n  ")


class AgentTemplates:
    """Ready-made definitions for common agents."""

    @staticmethod
    def assistant(name: str = "Assistant") -> AgentDefinition:
        """A general helpful assistant."""
        return AgentDefinition(
            name=name,
            role="You are a helpful, knowledgeable assistant.",
            goal="Answer the user's questions accurately and help them get things done.",
            constraints=[
                "Say so when you are not sure, instead of guessing",
                "Ask a short clarifying question when a request is ambiguous",
                "Keep answers concise unless the user asks for detail",
            ],
            personality={"tone": "friendly", "style": "clear and direct"},
        )

    @staticmethod
    def rag_assistant(name: str = "DocBot", domain: str = "knowledge base") -> AgentDefinition:
        """An assistant that answers from documents found with the ``search_documents`` tool, citing them."""
        return AgentDefinition(
            name=name,
            role=f"You are an assistant who answers questions using the {domain}.",
            goal=f"Give accurate answers grounded in the documents of the {domain}.",
            constraints=[
                "Before answering a factual question, use the search_documents tool to look it up",
                "Base factual answers only on the documents you found, and cite the title or source of each fact",
                f"If the documents do not contain the answer, say that the {domain} does not cover it; do not guess",
                "Search again with other keywords when the first search finds nothing useful",
            ],
            personality={"tone": "helpful", "style": "precise, with sources"},
        )

    @staticmethod
    def property_manager(name: str = "Hostomatic") -> AgentDefinition:
        """A property management assistant for vacation rental hosts."""
        return AgentDefinition(
            name=name,
            role="You are a property management assistant for vacation rental hosts.",
            goal="Help hosts run their vacation rentals efficiently.",
            constraints=[
                "Only answer questions about properties in the system",
                "Use tools to search documents before answering factual questions",
                "Be concise but friendly",
            ],
            personality={"tone": "friendly", "style": "practical"},
            examples=[
                Example(
                    user="What's the checkout time?",
                    assistant="The checkout time is 11 AM. Please ensure all guests have departed by then.",
                )
            ],
        )

    @classmethod
    def available(cls) -> list[str]:
        """The template names, for a picker."""
        return sorted(_TEMPLATES)

    @classmethod
    def get(cls, template: str, **kwargs: Any) -> AgentDefinition:
        """The definition made by the template called ``template``."""
        factory = _TEMPLATES.get(template)
        if factory is None:
            raise InvalidArgumentError(
                f"No agent template is called {template!r}; choose one of {', '.join(cls.available())}."
            )
        return factory(**kwargs)


_TEMPLATES: dict[str, Callable[..., AgentDefinition]] = {
    "assistant": AgentTemplates.assistant,
    "rag_assistant": AgentTemplates.rag_assistant,
    "property_manager": AgentTemplates.property_manager,
}
