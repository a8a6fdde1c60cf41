"""A small evaluator of IAM identity policies, for what moto's IAM does not judge: resources and
conditions (moto matches actions only, against the resource "*", and denies any statement with
a condition it cannot read).

It follows AWS's documented evaluation for identity policies within one account: a request is
allowed when some Allow statement matches it and no Deny statement does; a statement matches
when its action, its resource and every condition match. It refuses (raises) on any policy
element or condition operator it does not implement, so a policy it cannot judge fails the
test instead of passing it.
"""

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IamRequest:
    """One authorisation AWS makes: an action on a resource, with its condition keys."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


_STATEMENT_KEYS = {"Sid", "Effect", "Action", "Resource", "Condition"}
_OPERATORS = {"StringEquals", "StringLike", "ArnEquals", "ArnLike", "Bool"}


def allowed(policies: Iterable[Mapping[str, Any]], request: IamRequest) -> bool:
    statements = [s for policy in policies for s in _statements(policy)]
    matching = [s for s in statements if _matches(s, request)]
    return any(s["Effect"] == "Allow" for s in matching) and not any(
        s["Effect"] == "Deny" for s in matching
    )


def actions_of(policy: Mapping[str, Any]) -> set[str]:
    """Every action an identity policy names in its Allow statements."""
    return {a for s in _statements(policy) if s["Effect"] == "Allow" for a in _list(s["Action"])}


def _statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = _list(policy["Statement"])
    for statement in statements:
        unknown = set(statement) - _STATEMENT_KEYS
        if unknown:
            raise NotImplementedError(f"policy elements {sorted(unknown)} are not evaluated")
        if statement["Effect"] not in ("Allow", "Deny"):
            raise ValueError(f"bad Effect {statement['Effect']!r}")
    return statements


def _matches(statement: Mapping[str, Any], request: IamRequest) -> bool:
    if not any(_glob(a, request.action, case=False) for a in _list(statement["Action"])):
        return False
    if not any(_glob(r, request.resource, case=True) for r in _list(statement["Resource"])):
        return False
    conditions: Mapping[str, Mapping[str, Any]] = statement.get("Condition", {})
    return all(
        _condition(operator, key, expected, request.context)
        for operator, entries in conditions.items()
        for key, expected in entries.items()
    )


def _condition(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    if operator not in _OPERATORS:
        raise NotImplementedError(f"condition operator {operator} is not evaluated")
    values = {name.lower(): value for name, value in context.items()}
    actual = values.get(key.lower())
    if actual is None:
        return False  # a key the request lacks fails every operator without IfExists
    wanted = [str(value) for value in _list(expected)]
    if operator in ("StringEquals", "ArnEquals"):
        return actual in wanted
    if operator == "Bool":
        return actual.lower() in (value.lower() for value in wanted)
    return any(_glob(pattern, actual, case=True) for pattern in wanted)


def _glob(pattern: str, value: str, *, case: bool) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character."""
    regex = fnmatch.translate(pattern.replace("[", "[[]"))
    return re.match(regex, value, 0 if case else re.IGNORECASE) is not None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
