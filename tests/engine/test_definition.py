"""AgentDefinition compiles to a sectioned system prompt; templates; storing and loading."""

import pytest
from pydantic import ValidationError

from tui_agents import AgentDefinition, AgentTemplates
from tui_agents.errors import InvalidArgumentError

SEED_DEFINITION = dict(
    role="You are a property management assistant for vacation rental hosts.",
    goal="Help hosts run their vacation rentals efficiently.",
    constraints=[
        "Only answer questions about properties in the system",
        "Use tools to search documents before answering factual questions",
        "Be concise but friendly",
    ],
    personality={"tone": "friendly", "style": "practical"},
    examples=[
        {
            "user": "What's the checkout time?",
            "assistant": "The checkout time is 11 AM. Please ensure all guests have departed by then.",
        },
    ],
)

SEED_PROMPT = """\
## Role
You are a property management assistant for vacation rental hosts.

## Goal
Help hosts run their vacation rentals efficiently.

## Constraints
- Only answer questions about properties in the system
- Use tools to search documents before answering factual questions
- Be concise but friendly

## Personality
tone: friendly
style: practical

## Examples
User: What's the checkout time?
Assistant: The checkout time is 11 AM. Please ensure all guests have departed by then."""


def test_the_seed_definition_compiles_to_sections():
    definition = AgentDefinition(**SEED_DEFINITION)
    assert definition.compile() == SEED_PROMPT
    assert definition.system_prompt == SEED_PROMPT


def test_a_full_definition_has_every_section_in_order():
    definition = AgentDefinition(
        **SEED_DEFINITION,
        name="Hostomatic",
        context="Hosts manage between 1 and 20 properties.",
        output_format="Plain text, at most three sentences.",
    )
    prompt = definition.compile()
    headings = [line for line in prompt.splitlines() if line.startswith("## ")]
    assert headings == ["## Role", "## Goal", "## Context", "## Constraints", "## Personality",
                        "## Response format", "## Examples"]
    assert "You are a property management assistant for vacation rental hosts.\nYour name is Hostomatic." in prompt
    assert "## Context\nHosts manage between 1 and 20 properties." in prompt


def test_a_minimal_definition_is_just_the_role():
    assert AgentDefinition(role="  You are helpful.  ").compile() == "You are helpful."


def test_empty_sections_are_left_out():
    prompt = AgentDefinition(role="You are helpful.", goal="  ", constraints=["", "Be brief"], personality={}).compile()
    assert prompt == "## Role\nYou are helpful.\n\n## Constraints\n- Be brief"


def test_compile_is_deterministic():
    one = AgentDefinition(**SEED_DEFINITION).compile()
    two = AgentDefinition(**SEED_DEFINITION).compile()
    assert one == two == AgentDefinition.from_dict(AgentDefinition(**SEED_DEFINITION).to_dict()).compile()


def test_multi_line_constraints_stay_one_bullet():
    prompt = AgentDefinition(role="r", constraints=["First line\nsecond line"]).compile()
    assert "- First line\n  second line" in prompt


def test_examples_may_be_pairs_and_several():
    prompt = AgentDefinition(role="r", examples=[("Hi", "Hello!"), {"user": "Bye", "assistant": "See you."}]).compile()
    assert prompt.endswith("## Examples\nUser: Hi\nAssistant: Hello!\n\nUser: Bye\nAssistant: See you.")


def test_personality_values_are_text():
    prompt = AgentDefinition(role="r", personality={"verbosity": 2, "tone": "dry"}).compile()
    assert "## Personality\nverbosity: 2\ntone: dry" in prompt


def test_role_is_required_and_typos_are_refused():
    with pytest.raises(ValidationError):
        AgentDefinition(goal="no role")
    with pytest.raises(ValidationError):
        AgentDefinition(role="   ")
    with pytest.raises(ValidationError):
        AgentDefinition(role="r", constraint=["singular is a typo"])


def test_to_dict_and_from_dict_round_trip_and_tolerate_newer_fields():
    definition = AgentDefinition(**SEED_DEFINITION, name="Hostomatic")
    data = definition.to_dict()
    assert data["examples"][0] == SEED_DEFINITION["examples"][0]
    assert AgentDefinition.from_dict(data) == definition
    assert AgentDefinition.from_dict({**data, "added_in_v2": True}) == definition


# --- templates ---


def test_assistant_template():
    definition = AgentTemplates.assistant("Helper")
    assert definition.name == "Helper"
    prompt = definition.system_prompt
    assert "Your name is Helper." in prompt
    assert "## Goal" in prompt and "## Constraints" in prompt


def test_rag_assistant_template_requires_searching_and_citing():
    definition = AgentTemplates.rag_assistant("DocBot", domain="product manuals")
    prompt = definition.system_prompt
    assert "Your name is DocBot." in prompt
    assert "product manuals" in prompt
    assert "use the search_documents tool" in prompt
    assert "cite the title or source" in prompt


def test_property_manager_template_is_the_seed_host_assistant():
    definition = AgentTemplates.property_manager()
    assert definition.name == "Hostomatic"
    expected = SEED_PROMPT.replace(
        "vacation rental hosts.\n\n## Goal", "vacation rental hosts.\nYour name is Hostomatic.\n\n## Goal"
    )
    assert definition.system_prompt == expected


def test_templates_by_name():
    assert AgentTemplates.available() == ["assistant", "property_manager", "rag_assistant"]
    assert AgentTemplates.get("rag_assistant", name="Bot").name == "Bot"
    with pytest.raises(InvalidArgumentError, match="choose one of"):
        AgentTemplates.get("pirate")


# --- the seed README's snippets, with tui_agents for ai_agents ---


def test_seed_readme_definition_snippet():
    from tui_agents import Agent, AgentDefinition

    definition = AgentDefinition(**SEED_DEFINITION)
    agent = Agent(definition=definition, provider="openai", api_key="sk-test", model="gpt-4o")
    assert agent.system_prompt == SEED_PROMPT


@pytest.mark.parametrize(
    ("definition", "kwargs"),
    [
        (lambda: AgentTemplates.assistant("Helper"), {"provider": "anthropic"}),
        (lambda: AgentTemplates.rag_assistant("DocBot", domain="knowledge base"),
         {"provider": "openai", "tools": ["search_documents"]}),
        (lambda: AgentTemplates.property_manager(), {"provider": "anthropic"}),
    ],
)
def test_seed_readme_template_snippets(definition, kwargs):
    from tui_agents import Agent

    built = definition()
    agent = Agent(definition=built, api_key="test-key", **kwargs)
    assert agent.system_prompt == built.compile()
