"""Compile the FHIRPath subset of R4 search parameters into plain Python selectors.

Running a general FHIRPath engine for every parameter of every resource is far too slow
for bulk import (see STYLE.md).  R4 search expressions use a small subset, which this
module compiles once, against the StructureDefinitions, into *branches*: a list of JSON
keys and filters ending at an element of known datatype.  Supported:

* dotted paths through arrays (``Patient.name.given``) and ``|`` unions;
* choice types by cast, ``(Observation.value as Quantity)`` or ``Observation.value.as(Quantity)``
  (key ``valueQuantity``), or uncast (``Observation.effective`` -> one branch per type);
* ``.where(resolve() is Patient)``: references whose reference string names that type;
* ``.where(system='phone')``: elements whose field equals a string literal;
* ``X.exists() and X != false`` (Patient.deceased): one boolean for the whole resource.

Anything else raises :class:`Uncompilable`; the caller skips that parameter and lists it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from khealth.fhir import elementtypes
from khealth.fhir.elementtypes import TypeNode
from khealth.fhir.reference_parts import parse_reference_type


class Uncompilable(ValueError):
    """The expression uses FHIRPath outside the supported subset."""


# --- syntax -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    identifier: str


@dataclass(frozen=True, slots=True)
class Member:
    source: Node
    name: str


@dataclass(frozen=True, slots=True)
class Cast:
    source: Node
    type_name: str


@dataclass(frozen=True, slots=True)
class Where:
    source: Node
    criterion: ResolveIs | FieldEquals


@dataclass(frozen=True, slots=True)
class ResolveIs:
    type_name: str


@dataclass(frozen=True, slots=True)
class FieldEquals:
    field: str
    literal: str


@dataclass(frozen=True, slots=True)
class Exists:
    source: Node


@dataclass(frozen=True, slots=True)
class NotEquals:
    source: Node
    literal: bool


@dataclass(frozen=True, slots=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Union:
    left: Node
    right: Node


Node = Name | Member | Cast | Where | Exists | NotEquals | And | Union

_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|'((?:[^'\\]|\\.)*)'|(!=|[.()|=]))")


def _tokenize(expression: str) -> list[tuple[str, str]]:
    """``(kind, text)`` pairs, kind one of ``name``, ``string``, ``symbol``."""
    tokens: list[tuple[str, str]] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise Uncompilable(f"unsupported syntax at {position}: {expression}")
        name, string, symbol = match.groups()
        if name is not None:
            tokens.append(("name", name))
        elif string is not None:
            tokens.append(("string", string))
        else:
            tokens.append(("symbol", symbol))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent with FHIRPath precedence: ``.`` > ``|`` > ``as`` > ``!=`` > ``and``."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokenize(expression)
        self.position = 0

    def parse(self) -> Node:
        node = self._and()
        if self.position != len(self.tokens):
            raise Uncompilable(f"unexpected {self._peek()[1]!r} in {self.expression}")
        return node

    def _peek(self) -> tuple[str, str]:
        if self.position < len(self.tokens):
            return self.tokens[self.position]
        return ("end", "")

    def _accept(self, text: str) -> bool:
        if self._peek()[1] == text and self._peek()[0] != "string":
            self.position += 1
            return True
        return False

    def _expect(self, kind: str, text: str | None = None) -> str:
        found_kind, found = self._peek()
        if found_kind != kind or (text is not None and found != text):
            raise Uncompilable(f"expected {text or kind}, found {found!r} in {self.expression}")
        self.position += 1
        return found

    def _and(self) -> Node:
        node = self._equality()
        while self._accept("and"):
            node = And(node, self._equality())
        return node

    def _equality(self) -> Node:
        node = self._cast()
        if self._accept("!="):
            literal = self._expect("name")
            if literal not in ("true", "false"):
                raise Uncompilable(f"only != true/false is supported: {self.expression}")
            node = NotEquals(node, literal == "true")
        return node

    def _cast(self) -> Node:
        node = self._union()
        while self._accept("as"):
            node = Cast(node, self._expect("name"))
        return node

    def _union(self) -> Node:
        node = self._postfix()
        while self._accept("|"):
            node = Union(node, self._postfix())
        return node

    def _postfix(self) -> Node:
        node = self._primary()
        while self._accept("."):
            name = self._expect("name")
            node = self._call(node, name) if self._accept("(") else Member(node, name)
        return node

    def _primary(self) -> Node:
        if self._accept("("):
            node = self._and()
            self._expect("symbol", ")")
            return node
        return Name(self._expect("name"))

    def _call(self, source: Node, function: str) -> Node:
        if function == "as":
            node: Node = Cast(source, self._expect("name"))
        elif function == "where":
            node = Where(source, self._criterion())
        elif function == "exists":
            node = Exists(source)
        else:
            raise Uncompilable(f"unsupported function {function}() in {self.expression}")
        self._expect("symbol", ")")
        return node

    def _criterion(self) -> ResolveIs | FieldEquals:
        name = self._expect("name")
        if name == "resolve":
            self._expect("symbol", "(")
            self._expect("symbol", ")")
            self._expect("name", "is")
            return ResolveIs(self._expect("name"))
        self._expect("symbol", "=")
        return FieldEquals(name, self._expect("string"))


def parse(expression: str) -> Node:
    return _Parser(expression).parse()


# --- compilation ---------------------------------------------------------------------------

Selector = Callable[[list[Any]], list[Any]]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a branch: read ``key`` from every item, or ``select`` a new item list."""

    key: str | None = None
    select: Selector | None = None


@dataclass(frozen=True, slots=True)
class Branch:
    steps: tuple[Step, ...]
    node: TypeNode


def compile_expression(expression: str, start: TypeNode) -> list[Branch]:
    """The branches of ``expression`` evaluated from ``start``.

    ``start`` is a resource root (``Patient``) for a parameter, or the element a composite's
    base selects for a component expression (``value.as(Quantity)`` on Observation.component).
    """
    branches = _Compiler(start, expression).compile(parse(expression))
    if not branches:
        raise Uncompilable(f"selects no known element: {expression}")
    return branches


class _Compiler:
    def __init__(self, start: TypeNode, expression: str) -> None:
        self.start = start
        self.expression = expression

    def compile(self, node: Node) -> list[Branch]:
        if isinstance(node, Name):
            return self._name(node.identifier)
        if isinstance(node, Member):
            return [b for branch in self.compile(node.source) for b in _member(branch, node.name)]
        if isinstance(node, Cast):
            wanted = node.type_name.lower()
            return [b for b in self.compile(node.source) if b.node.datatype.lower() == wanted]
        if isinstance(node, Where):
            return [_then(b, _criterion_filter(node.criterion)) for b in self.compile(node.source)]
        if isinstance(node, Union):
            return self.compile(node.left) + self.compile(node.right)
        if isinstance(node, And):
            return self._exists_and_not_false(node)
        raise Uncompilable(f"unsupported expression shape: {self.expression}")

    def _name(self, identifier: str) -> list[Branch]:
        if identifier in (self.start.datatype, "Resource", "DomainResource"):
            return [Branch((), self.start)]
        return _member(Branch((), self.start), identifier)

    def _exists_and_not_false(self, node: And) -> list[Branch]:
        """``X.exists() and X != false``: true when X is present and not the boolean false."""
        left, right = node.left, node.right
        if not (
            isinstance(left, Exists)
            and isinstance(right, NotEquals)
            and left.source == right.source
            and right.literal is False
        ):
            raise Uncompilable(f"unsupported 'and': {self.expression}")
        inner = self.compile(left.source)
        selectors = [make_selector(b.steps) for b in inner]

        def present_and_not_false(items: list[Any]) -> list[Any]:
            values = [v for select in selectors for v in select(items)]
            return [bool(values) and all(v is not False for v in values)]

        boolean = TypeNode("boolean", "boolean", "boolean")
        return [Branch((Step(select=present_and_not_false),), boolean)]


def _member(branch: Branch, name: str) -> list[Branch]:
    return [
        Branch((*branch.steps, Step(key=child.key)), child.node)
        for child in elementtypes.children(branch.node, name)
    ]


def _then(branch: Branch, select: Selector) -> Branch:
    return Branch((*branch.steps, Step(select=select)), branch.node)


def _criterion_filter(criterion: ResolveIs | FieldEquals) -> Selector:
    if isinstance(criterion, ResolveIs):
        wanted = criterion.type_name

        def references_to(items: list[Any]) -> list[Any]:
            return [i for i in items if type(i) is dict and parse_reference_type(i) == wanted]

        return references_to
    field, literal = criterion.field, criterion.literal

    def field_equals(items: list[Any]) -> list[Any]:
        return [i for i in items if type(i) is dict and i.get(field) == literal]

    return field_equals


# --- evaluation ---------------------------------------------------------------------------


def make_selector(steps: Sequence[Step]) -> Selector:
    """A function from a list of items to the list the steps select (arrays flattened)."""
    if not steps:
        return _identity
    if len(steps) == 1 and steps[0].key is not None:
        return _key_selector(steps[0].key)
    stages = tuple(_key_selector(s.key) if s.key is not None else s.select for s in steps)
    return _chain(tuple(stage for stage in stages if stage is not None))


def _identity(items: list[Any]) -> list[Any]:
    return items


def _key_selector(key: str) -> Selector:
    def select(items: list[Any]) -> list[Any]:
        found: list[Any] = []
        for item in items:
            if type(item) is dict:
                value = item.get(key)
                if value is None:
                    continue
                if type(value) is list:
                    found.extend(value)
                else:
                    found.append(value)
        return found

    return select


def _chain(stages: tuple[Selector, ...]) -> Selector:
    def select(items: list[Any]) -> list[Any]:
        for stage in stages:
            items = stage(items)
            if not items:
                break
        return items

    return select
