"""``--query``: JMESPath expressions checked before the command runs, evaluated without echoing data.

:func:`compile_query` parses the expression and walks its syntax tree, so that everything JMESPath
would only find out while evaluating and that does not depend on the data (an unknown function, a
wrong number of arguments, a slice step of 0) fails before any operation runs (exit 252, nothing
done).

:func:`search` evaluates it. JMESPath's own runtime errors quote the data they choke on (``In
function abs(), invalid type for value: <the secret value>, ...``), so none of them is ever shown or
chained: a failure becomes a fresh :class:`QueryFailure` (raised ``from None``, so not even a
``--debug`` traceback reaches the original) that names the function and the types only.
"""

from __future__ import annotations

from typing import Any

from gitsm.cli.errors import CliError, UsageFailure


class QueryFailure(CliError):
    """``--query`` failed on this output (exit 255); the message never holds the data."""


def compile_query(expression: str | None) -> Any:
    """The compiled JMESPath expression, or None; a usage error (exit 252) when it cannot run."""
    if expression is None:
        return None
    import jmespath  # type: ignore[import-untyped,unused-ignore]
    from jmespath.exceptions import JMESPathError  # type: ignore[import-untyped,unused-ignore]

    try:
        compiled = jmespath.compile(expression)
    except JMESPathError as exc:
        raise UsageFailure(f"argument --query: Bad value for --query {expression}: {exc}") from None
    problem = _static_problem(compiled.parsed)
    if problem is not None:
        raise UsageFailure(f"argument --query: Bad value for --query {expression}: {problem}")
    return compiled


def _static_problem(node: Any) -> str | None:
    """What in the syntax tree ``node`` cannot evaluate whatever the data, or None."""
    from jmespath.functions import Functions  # type: ignore[import-untyped,unused-ignore]

    table: dict[str, Any] = Functions.FUNCTION_TABLE
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, dict):
            continue
        children = current.get("children") or []
        if current.get("type") == "function_expression":
            name = current.get("value")
            spec = table.get(name)  # type: ignore[arg-type]
            if spec is None:
                known = ", ".join(sorted(table))
                return f"Unknown function: {name}() (JMESPath's functions: {known})"
            problem = _arity_problem(str(name), spec["signature"], len(children))
            if problem is not None:
                return problem
        if current.get("type") == "slice" and len(children) == 3 and children[2] == 0:
            return "a slice step cannot be 0"
        stack.extend(children)
    return None


def _arity_problem(name: str, signature: Any, given: int) -> str | None:
    expected = len(signature)
    if signature and signature[-1].get("variadic"):
        if given >= expected:
            return None
        return f"function {name}() takes at least {_arguments(expected)}, received {given}"
    if given == expected:
        return None
    return f"function {name}() takes {_arguments(expected)}, received {given}"


def _arguments(count: int) -> str:
    return f"{count} argument" + ("" if count == 1 else "s")


def _type_name(raw: object) -> str:
    from jmespath.functions import TYPES_MAP  # type: ignore[import-untyped,unused-ignore]

    return str(TYPES_MAP.get(str(raw), raw))


def search(query: Any, data: Any) -> Any:
    """``query`` applied to ``data``; a :class:`QueryFailure` that quotes no data when it fails."""
    from jmespath.exceptions import JMESPathTypeError  # type: ignore[import-untyped,unused-ignore]

    try:
        return query.search(data)
    except JMESPathTypeError as exc:
        expected = ", ".join(str(t) for t in exc.expected_types)
        message = (
            f"--query: in function {exc.function_name}(), invalid type for value (not shown), "
            f"expected one of: {expected}, received: {_type_name(exc.actual_type)}; change the "
            f"expression so that {exc.function_name}() gets one of those"
        )
    except Exception as exc:  # any other failure: its text may quote the data, so not shown
        message = (
            f"--query: the expression failed on this output ({type(exc).__name__}, details not "
            "shown: they may quote the data); change the expression"
        )
    raise QueryFailure(message)
