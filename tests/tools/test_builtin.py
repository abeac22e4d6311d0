"""The builtin tools: calculate, current_time, search_documents and remember."""

import ast
import datetime as dt
import math
import operator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_agents.store import DocumentStore, UserMemoryStore, connect
from tui_agents.tools import ToolContext, get_tool
from tui_agents.tools.builtin.calculator import CalculationError, evaluate


async def run(name: str, arguments: dict, context: ToolContext | None = None):
    return await get_tool(name).run(arguments, context)


# --- calculate: correct results ---


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("25 * 4", "100"),
        ("2 + 3 * 4", "14"),
        ("(2 + 3) * 4", "20"),
        ("2 ** 3 ** 2", "512"),
        ("-2 ** 2", "-4"),
        ("7 / 2", "3.5"),
        ("7 // 2", "3"),
        ("-7 // 2", "-4"),
        ("7 % 3", "1"),
        ("0.1 + 0.2", "0.30000000000000004"),
        ("1.5e3 + 1", "1501.0"),
        ("sqrt(16) + abs(-2)", "6.0"),
        ("round(pi, 2)", "3.14"),
        ("max(1, 7, 3) - min(4, 2)", "5"),
        ("factorial(5)", "120"),
        ("log(8, 2)", "3.0"),
        ("2^10", "1024"),
        ("2 ** -1", "0.5"),
        ("2 ** 100", str(2**100)),
        ("(((((1)))))", "1"),
    ],
)
async def test_calculate_computes_arithmetic(expression, expected):
    result = await run("calculate", {"expression": expression})
    assert result.status == "ok", result.content
    assert result.content == expected


# --- calculate: refusals ---


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('echo hacked')", "Only these functions can be called"),
        ("(1).__class__", "attribute access cannot be used"),
        ("().__class__.__bases__[0].__subclasses__()", "Only these functions can be called"),
        ("(2).real", "attribute access cannot be used"),
        ("[1][0]", "indexing cannot be used"),
        ("x + 1", "Unknown name 'x'"),
        ("open('/etc/passwd')", "Only these functions can be called"),
        ("sqrt.__call__(4)", "Only these functions can be called"),
        ("(lambda: 1)()", "Only these functions can be called"),
        ("lambda: 1", "lambda functions cannot be used"),
        ("[x for x in range(10)]", "comprehensions cannot be used"),
        ("'a' * 3", "Only numbers are allowed"),
        ("1j * 2", "complex numbers"),
        ("True + 1", "Only numbers are allowed"),
        ("1 < 2", "comparisons cannot be used"),
        ("1 << 3", "operator << is not allowed"),
        ("9**9**9", "exponent is too large"),
        ("10**100000", "exponent is too large"),
        ("7**5000", "more than 1000 digits"),
        ("(10**600) * (10**600)", "more than 1000 digits"),
        ("factorial(100000)", "limited to numbers up to 1000"),
        ("1e308 * 10", "too large"),
        ("exp(1000)", "too large"),
        ("(-8) ** 0.5", "no real-number result"),
        ("sqrt(-1)", "no real-number result"),
        ("1 / 0", "Division by zero"),
        ("5 % 0", "Division by zero"),
        ("1+(" * 45 + "1" + ")" * 45, "nested too deeply"),
        ("(" * 250 + "1" + ")" * 250, "nested too deeply"),
        ("-" * 60 + "1", "nested too deeply"),
        ("1 +" * 600 + "1", "too long"),
        ("2 +", "not a valid arithmetic expression"),
        ("", "Give an arithmetic expression"),
        ("round(2.5, ndigits=1)", "takes no keyword arguments"),
        ("sqrt(1, 2)", "takes 1 argument"),
    ],
)
async def test_calculate_refuses_anything_but_safe_arithmetic(expression, message):
    result = await run("calculate", {"expression": expression})
    assert result.is_error and result.status == "error"
    assert message in result.content


def test_long_flat_sums_are_not_mistaken_for_nesting():
    assert evaluate("+".join(["1"] * 300)) == 300


def test_calculate_never_uses_eval_or_exec():
    from tui_agents.tools.builtin import calculator

    tree = ast.parse(Path(calculator.__file__).read_text(encoding="utf-8"))
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}


# --- calculate agrees with Python's own arithmetic (hypothesis) ---

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}

numbers = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1000, 1000, allow_nan=False, allow_infinity=False).map(lambda f: round(f, 3)),
)


def _leaf(value) -> ast.expr:
    node = ast.Constant(abs(value))
    return ast.UnaryOp(ast.USub(), node) if math.copysign(1, value) < 0 else node


def _extend(children):
    binary = st.builds(lambda op, a, b: ast.BinOp(a, op(), b), st.sampled_from(list(_OPS)), children, children)
    unary = st.builds(lambda op, a: ast.UnaryOp(op(), a), st.sampled_from([ast.UAdd, ast.USub]), children)
    return st.one_of(binary, unary)


leaves = numbers.map(_leaf)
# Powers only between small leaves, so Python itself never needs a huge integer or a complex number.
powers = st.builds(
    lambda base, exp: ast.BinOp(_leaf(base), ast.Pow(), _leaf(exp)), st.integers(-20, 20), st.integers(-3, 4)
)
trees = st.recursive(st.one_of(leaves, powers), _extend, max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_calculate_agrees_with_python_arithmetic(tree):
    source = ast.unparse(ast.fix_missing_locations(ast.Expression(tree)))
    try:
        # The oracle: Python itself, on a string built only from numbers and operators.
        expected = eval(compile(source, "<hypothesis>", "eval"), {"__builtins__": {}})  # noqa: S307
    except (ZeroDivisionError, OverflowError):
        with pytest.raises(CalculationError):
            evaluate(source)
        return
    if isinstance(expected, complex) or (isinstance(expected, float) and not math.isfinite(expected)):
        with pytest.raises(CalculationError):
            evaluate(source)
        return
    got = evaluate(source)
    assert got == expected and type(got) is type(expected), source


# --- current_time ---


@pytest.mark.parametrize(("zone", "offset"), [("Asia/Kolkata", "+05:30"), ("UTC", "+00:00"), ("Asia/Tokyo", "+09:00")])
async def test_current_time_in_a_fixed_offset_zone(zone, offset):
    result = await run("current_time", {"timezone": zone})
    assert result.status == "ok"
    assert zone in result.content
    iso = result.content.rsplit("ISO 8601: ", 1)[1]
    moment = dt.datetime.fromisoformat(iso)
    assert iso.endswith(offset)
    assert abs((moment - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 300


async def test_current_time_follows_daylight_saving():
    result = await run("current_time", {"timezone": "Europe/London"})
    iso = result.content.rsplit("ISO 8601: ", 1)[1]
    # London is UTC+0 in winter and UTC+1 in summer; either way the zone's rules were applied.
    from zoneinfo import ZoneInfo

    expected = dt.datetime.fromisoformat(iso).astimezone(ZoneInfo("Europe/London")).strftime("%z")
    assert iso.endswith(f"{expected[:3]}:{expected[3:]}")


async def test_current_time_without_zone_uses_local_time():
    result = await run("current_time", {})
    assert result.status == "ok" and "local time" in result.content


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "Europe/"])
async def test_current_time_with_an_unknown_zone_is_a_clear_error(zone):
    result = await run("current_time", {"timezone": zone})
    assert result.is_error
    assert "Unknown time zone" in result.content and "IANA" in result.content


# --- search_documents and remember, against a real SQLite store ---


@pytest.fixture
async def conn(tmp_path):
    connection = await connect(tmp_path / "db.sqlite")
    yield connection
    await connection.close()


async def test_search_documents_returns_titles_and_snippets_never_file_paths(conn, tmp_path):
    docs = DocumentStore(conn)
    secret_path = str(tmp_path / "home" / "alice" / "private" / "rules.md")
    await docs.add("House rules", "Checkout time is 11 AM. Quiet hours start at 10 PM.", source=secret_path)
    await docs.add("Wifi", "The wifi password is on the fridge.", source=None)
    result = await run("search_documents", {"query": "checkout time"}, ToolContext(conn, "u1", "thr_1"))
    assert result.status == "ok"
    assert "1. House rules (id: doc_" in result.content
    assert "alice" not in result.content and "rules.md" not in result.content and str(tmp_path) not in result.content
    assert "[[Checkout]]" in result.content or "[[checkout]]" in result.content.lower()
    assert "Wifi" not in result.content


async def test_search_documents_respects_the_limit(conn):
    docs = DocumentStore(conn)
    for n in range(4):
        await docs.add(f"Pool note {n}", "The pool opens at 9.")
    result = await run("search_documents", {"query": "pool", "limit": 2}, ToolContext(conn))
    assert "Found 2 document(s)" in result.content


async def test_search_documents_says_clearly_when_nothing_matches(conn):
    result = await run("search_documents", {"query": "parking"}, ToolContext(conn))
    assert result.status == "ok"
    assert result.content.startswith("No documents match 'parking'")


async def test_search_documents_survives_fts_syntax_in_the_query(conn):
    await DocumentStore(conn).add("Notes", "AND OR NOT quotes")
    result = await run("search_documents", {"query": '"unbalanced AND( *'}, ToolContext(conn))
    assert result.status == "ok"


async def test_search_documents_without_a_database_is_an_error_result():
    result = await run("search_documents", {"query": "x"}, ToolContext())
    assert result.is_error and "database connection" in result.content


async def test_remember_saves_a_user_fact_with_source_tool(conn):
    result = await run(
        "remember", {"key": "timezone", "value": "Europe/London", "category": "preferences"},
        ToolContext(conn, user_id="user_123"),
    )
    assert result.status == "ok" and "timezone" in result.content
    memory = UserMemoryStore(conn)
    assert await memory.get("user_123", "timezone") == "Europe/London"
    [fact] = await memory.get_all("user_123")
    assert (fact["category"], fact["source"]) == ("preferences", "tool")


async def test_remember_replaces_an_earlier_value(conn):
    context = ToolContext(conn, user_id="u1")
    await run("remember", {"key": "name", "value": "Phil"}, context)
    await run("remember", {"key": "name", "value": "Philip"}, context)
    assert await UserMemoryStore(conn).get("u1", "name") == "Philip"


async def test_remember_needs_a_user(conn):
    result = await run("remember", {"key": "name", "value": "Phil"}, ToolContext(conn))
    assert result.is_error and "known user" in result.content


async def test_remember_validates_its_arguments(conn):
    result = await run("remember", {"key": "", "value": "x"}, ToolContext(conn, user_id="u1"))
    assert result.is_error and result.content.startswith("Invalid arguments")
