"""``calculate``: a safe arithmetic evaluator over Python's ``ast``, never ``eval``.

Only number literals, ``+ - * / // % **``, unary ``+``/``-``, parentheses, the
constants in ``CONSTANTS`` and calls to the functions in ``FUNCTIONS`` are
allowed. Names, attributes, other calls, strings, lambdas, comprehensions and
everything else are refused with a plain sentence. Size limits keep one
expression from eating the CPU or memory: input length, nesting depth, number
of operations, the size of every integer result (checked *before* a power
or product is computed), and every function argument whose size sets the work
(``round``'s digits, ``factorial``'s number), so that no call runs for long.
"""

from __future__ import annotations

import ast
import math
import operator
import time
from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from ...errors import InvalidArgumentError
from ..decorator import tool

__all__ = ["CalculationError", "evaluate", "calculate", "FUNCTIONS", "CONSTANTS"]

MAX_LENGTH = 1000  # characters of input
MAX_NODES = 600  # numbers, operators and calls
MAX_DEPTH = 40  # nested operations, e.g. 1+(2*(3-...)); a flat chain like 1+2+3+... does not count
MAX_DIGITS = 1000  # of any integer result
MAX_INT_BITS = math.ceil(MAX_DIGITS * math.log2(10))
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 1000
MAX_ARGS = 100
# round(x, n) beyond this many digits either way gives the same answer as at the bound
# (x has at most MAX_DIGITS digits, or is a float), and Python would build 10**abs(n) first.
MAX_ROUND_DIGITS = MAX_DIGITS + 2
MAX_SECONDS = 0.5  # checked between operations, a last guard behind the limits above

Number = int | float


class CalculationError(InvalidArgumentError):
    """The expression is not plain arithmetic, or its result cannot be computed safely."""


def _factorial(n: Number) -> int:
    if isinstance(n, float):
        if not n.is_integer():
            raise CalculationError("factorial() needs a whole number.")
        n = int(n)
    if n < 0:
        raise CalculationError("factorial() needs a number that is not negative.")
    if n > MAX_FACTORIAL:
        raise CalculationError(f"factorial() is limited to numbers up to {MAX_FACTORIAL}.")
    return math.factorial(n)


def _round(x: Number, ndigits: Number | None = None) -> Number:
    if ndigits is None:
        return round(x)
    if not isinstance(ndigits, int):
        raise CalculationError("round() needs a whole number of digits.")
    return round(x, max(-MAX_ROUND_DIGITS, min(MAX_ROUND_DIGITS, ndigits)))


def _min(*values: Number) -> Number:
    return min(values)


def _max(*values: Number) -> Number:
    return max(values)


def _log(x: Number, base: Number | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int]] = {
    # name: (function, min args, max args)
    "sqrt": (math.sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "exp": (math.exp, 1, 1),
    "log": (_log, 1, 2),
    "log10": (math.log10, 1, 1),
    "log2": (math.log2, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "asin": (math.asin, 1, 1),
    "acos": (math.acos, 1, 1),
    "atan": (math.atan, 1, 1),
    "degrees": (math.degrees, 1, 1),
    "radians": (math.radians, 1, 1),
    "hypot": (math.hypot, 1, MAX_ARGS),
    "factorial": (_factorial, 1, 1),
    "min": (_min, 1, MAX_ARGS),
    "max": (_max, 1, MAX_ARGS),
}

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}

_REFUSED: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Lambda: "lambda functions",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Compare: "comparisons",
    ast.BoolOp: "boolean logic",
    ast.IfExp: "conditional expressions",
    ast.NamedExpr: "assignments",
    ast.JoinedStr: "strings",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Dict: "dictionaries",
    ast.Set: "sets",
    ast.Starred: "unpacking",
    ast.Await: "await",
    ast.Yield: "yield",
}


def evaluate(expression: str) -> Number:
    """Compute an arithmetic expression, or raise ``CalculationError`` saying why not."""
    if not isinstance(expression, str) or not expression.strip():
        raise CalculationError("Give an arithmetic expression, such as '2 * (3 + 4)'.")
    if len(expression) > MAX_LENGTH:
        raise CalculationError(f"The expression is too long; the limit is {MAX_LENGTH} characters.")
    # People (and models) write ^ for powers and × ÷ for products; Python's XOR is never meant here.
    source = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        if "too many nested" in str(exc.msg):
            raise CalculationError(f"The expression is nested too deeply; the limit is {MAX_DEPTH} levels.") from None
        raise CalculationError(f"{expression!r} is not a valid arithmetic expression.") from None
    except (RecursionError, MemoryError, ValueError):
        raise CalculationError("The expression is too complex to read.") from None
    _check_shape(tree.body)
    try:
        result = _eval(tree.body, time.monotonic() + MAX_SECONDS)
    except CalculationError:
        raise
    except ZeroDivisionError:
        raise CalculationError("Division by zero is undefined.") from None
    except OverflowError:
        raise CalculationError("The result is too large to compute.") from None
    except ValueError as exc:  # math domain errors: sqrt(-1), log(0)...
        raise CalculationError(f"The expression has no real-number result ({exc}).") from None
    except (TypeError, ArithmeticError, RecursionError, MemoryError):
        raise CalculationError("The expression cannot be computed.") from None
    return _checked(result)


def _check_shape(root: ast.expr) -> None:
    """Refuse oversized or deeply nested trees before evaluating anything."""
    nodes = 0
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise CalculationError(f"The expression has too many parts; the limit is {MAX_NODES}.")
        if depth > MAX_DEPTH:
            raise CalculationError(f"The expression is nested too deeply; the limit is {MAX_DEPTH} levels.")
        if isinstance(node, ast.BinOp):
            stack.append((node.left, depth))  # a left-leaning chain (1+2+3) is not nesting
            stack.append((node.right, depth + 1))
        else:
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _eval(node: ast.AST, deadline: float) -> Number:
    if time.monotonic() > deadline:
        raise CalculationError("The expression takes too long to compute.")
    if isinstance(node, ast.Constant):
        return _literal(node.value)
    if isinstance(node, ast.BinOp):
        op = _BINARY.get(type(node.op))
        if op is None:
            raise CalculationError(f"The operator {_op_text(node.op)} is not allowed; use + - * / // % **.")
        left, right = _eval(node.left, deadline), _eval(node.right, deadline)
        _precheck(type(node.op), left, right)
        return _checked(op(left, right))
    if isinstance(node, ast.UnaryOp):
        unary = _UNARY.get(type(node.op))
        if unary is None:
            raise CalculationError(f"The operator {_op_text(node.op)} is not allowed; use + - * / // % **.")
        return unary(_eval(node.operand, deadline))
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise CalculationError(f"Unknown name {node.id!r}; only the constants {', '.join(CONSTANTS)} are allowed.")
    if isinstance(node, ast.Call):
        return _call(node, deadline)
    what = _REFUSED.get(type(node), type(node).__name__)
    raise CalculationError(f"Only arithmetic is allowed; {what} cannot be used.")


def _literal(value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "complex numbers" if isinstance(value, complex) else type(value).__name__
        raise CalculationError(f"Only numbers are allowed, not {kind}.")
    return _checked(value)


def _call(node: ast.Call, deadline: float) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        allowed = ", ".join(sorted(FUNCTIONS))
        raise CalculationError(f"Only these functions can be called: {allowed}.")
    if node.keywords:
        raise CalculationError(f"{node.func.id}() takes no keyword arguments.")
    func, low, high = FUNCTIONS[node.func.id]
    if not low <= len(node.args) <= high:
        count = str(low) if low == high else f"{low} to {high}"
        raise CalculationError(f"{node.func.id}() takes {count} argument(s), not {len(node.args)}.")
    return _checked(func(*(_eval(arg, deadline) for arg in node.args)))


def _precheck(op: type[ast.operator], left: Number, right: Number) -> None:
    """Refuse integer powers and products whose result would be too big, before computing them."""
    if op is ast.Pow:
        if abs(right) > MAX_EXPONENT and not (isinstance(left, (int, float)) and abs(left) in (0, 1)):
            raise CalculationError(f"The exponent is too large; the limit is {MAX_EXPONENT}.")
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if (abs(left).bit_length() - 1) * right > MAX_INT_BITS:
                raise CalculationError(f"The result would have more than {MAX_DIGITS} digits.")
        if left < 0 and isinstance(right, float) and not right.is_integer():
            raise CalculationError("A negative number raised to a fractional power has no real-number result.")
    elif op is ast.Mult and isinstance(left, int) and isinstance(right, int):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS + 1:
            raise CalculationError(f"The result would have more than {MAX_DIGITS} digits.")


def _checked(value: Number) -> Number:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise CalculationError(f"The result has more than {MAX_DIGITS} digits.")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CalculationError("The result is too large to represent (or not a number).")
        return value
    raise CalculationError("The expression has no real-number result.")


def _op_text(op: ast.AST) -> str:
    symbols = {ast.BitXor: "^", ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>",
               ast.MatMult: "@", ast.Invert: "~", ast.Not: "not"}
    return symbols.get(type(op), type(op).__name__)


@tool(
    description=(
        "Evaluate an arithmetic expression exactly and return the result. Supports + - * / // % ** "
        "(or ^), parentheses, pi, e, tau and the functions sqrt, abs, round, floor, ceil, exp, log, "
        "log10, log2, sin, cos, tan, asin, acos, atan, degrees, radians, hypot, factorial, min, max."
    ),
    register=False,
)
def calculate(
    expression: Annotated[str, Field(description="The expression, e.g. '25 * 4' or 'sqrt(2) / 3'.")],
) -> str:
    """Evaluate an arithmetic expression safely."""
    return str(evaluate(expression))
