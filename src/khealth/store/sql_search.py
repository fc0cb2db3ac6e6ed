"""Compile a parsed FHIR search into SQL over the typed index tables.

Each criterion becomes ``pk IN (SELECT res_pk FROM sp_<type> WHERE ...)`` so that the
database answers from its (type, param, value) indexes; the semantics mirror
``khealth.fhir.search_match`` exactly (the property tests hold them together).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    FromClause,
    Select,
    String,
    Text,
    and_,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from khealth.core.errors import InvalidRequest, Issue
from khealth.fhir.search_model import (
    Chain,
    Clause,
    CompositeSearch,
    Criterion,
    DateSearch,
    Has,
    NumberSearch,
    Prefix,
    QuantitySearch,
    ReferenceSearch,
    SearchValue,
    SortKey,
    StringSearch,
    TokenSearch,
    UriSearch,
)
from khealth.store.schema import INDEX_TABLES, resource, sp_reference

Cond = Any  # a SQL boolean expression (SQLAlchemy types comparisons on columns as Any)
ColumnLike = Any  # SQLAlchemy columns and scalar subqueries, compared in SQL


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def range_condition(prefix: Prefix, low: float, high: float, t_low: Any, t_high: Any) -> Any:
    if prefix is Prefix.EQ:
        return and_(t_low >= low, t_high <= high)
    if prefix is Prefix.NE:
        return or_(t_low < low, t_high > high)
    if prefix is Prefix.GT:
        return t_high > high
    if prefix is Prefix.LT:
        return t_low < low
    if prefix is Prefix.GE:
        return t_high >= low
    if prefix is Prefix.LE:
        return t_low <= high
    if prefix is Prefix.SA:
        return t_low > high
    if prefix is Prefix.EB:
        return t_high < low
    slack = max(abs(high - low), abs(low) * 0.1, abs(high) * 0.1)
    return and_(t_low <= high + slack, t_high >= low - slack)


def number_condition(search: NumberSearch | QuantitySearch, value: Any) -> Any:
    p = search.prefix
    if p is Prefix.EQ:
        return and_(value >= search.low, value < search.high)
    if p is Prefix.NE:
        return or_(value < search.low, value >= search.high)
    if p in (Prefix.GT, Prefix.SA):
        return value > search.value
    if p in (Prefix.LT, Prefix.EB):
        return value < search.value
    if p is Prefix.GE:
        return value >= search.value
    if p is Prefix.LE:
        return value <= search.value
    slack = abs(search.value) * 0.1
    return and_(value >= search.value - slack, value <= search.value + slack)


def token_condition(search: TokenSearch, system: Any, code: Any) -> Cond:
    parts: list[Cond] = []
    if search.code is not None:
        parts.append(code == search.code)
    if search.system == "":
        parts.append(system.is_(None))
    elif search.system is not None:
        parts.append(system == search.system)
    elif search.code is None:
        return false()
    return and_(*parts)


def _value_condition(value: SearchValue, t: FromClause, modifier: str | None, n: str = "") -> Cond:
    """One search value against the columns of an index table (or composite component
    ``n``: columns ``c{n}_system`` ...)."""
    c = t.c
    col = (lambda name: c[f"c{n}_{name}"]) if n else (lambda name: c[name])
    if isinstance(value, TokenSearch):
        if modifier == "text":
            return col("text").like(_like_escape((value.code or "").casefold()) + "%", escape="\\")
        if modifier == "identifier":
            return token_condition(value, c.identifier_system, c.identifier_value)
        return token_condition(value, col("system"), col("code"))
    if isinstance(value, StringSearch):
        target = col("text") if n else c.value
        if modifier == "exact":
            return (col("text") if n else c.exact) == value.raw
        if modifier == "contains":
            return target.like("%" + _like_escape(value.value) + "%", escape="\\")
        return target.like(_like_escape(value.value) + "%", escape="\\")
    if isinstance(value, DateSearch):
        return range_condition(value.prefix, value.low, value.high, col("low"), col("high"))
    if isinstance(value, QuantitySearch):
        return _quantity_condition(value, col, has_unit=not n)
    if isinstance(value, NumberSearch):
        return number_condition(value, col("value"))
    if isinstance(value, UriSearch):
        target = col("text") if n else c.value
        if modifier == "below":
            return target.like(_like_escape(value.value) + "%", escape="\\")
        if modifier == "above":
            return _literal_startswith(value.value, target)
        return target == value.value
    if isinstance(value, ReferenceSearch):
        return _reference_condition(value, col, n)
    raise InvalidRequest([Issue("not-supported", "unsupported search value")])


def _literal_startswith(literal: str, column: Any) -> Cond:
    """``literal`` starts with the column's value (uri ``:above``)."""
    prefixes = [literal[:i] for i in range(1, len(literal) + 1)]
    return column.in_(prefixes)


def _quantity_condition(value: QuantitySearch, col: Any, has_unit: bool) -> Cond:
    as_range = and_(
        col("value").is_(None),
        range_condition(value.prefix, value.low, value.high, col("low"), col("high")),
    )
    parts: list[Cond] = [or_(number_condition(value, col("value")), as_range)]
    if value.system is not None:
        parts.append(col("system") == value.system)
        if value.code is not None:
            parts.append(col("code") == value.code)
    elif value.code is not None:
        same_code: Cond = col("code") == value.code
        parts.append(or_(same_code, col("unit") == value.code) if has_unit else same_code)
    return and_(*parts)


def _reference_condition(value: ReferenceSearch, col: Any, n: str) -> Cond:
    if n:  # composite component: reference stored as system=type, code=id
        type_col, id_col, url_col = col("system"), col("code"), col("text")
    else:
        type_col, id_col, url_col = col("target_type"), col("target_id"), col("url")
    if value.url is not None:
        return url_col == value.url
    parts: list[Cond] = []
    if value.target_id is not None:
        parts.append(id_col == value.target_id)
    if value.target_type is not None:
        parts.append(type_col == value.target_type)
    return and_(*parts) if parts else false()


class SearchCompiler:
    """Builds WHERE conditions over an alias of the ``resource`` table."""

    def clause(self, clause: Clause, r: FromClause, resource_type: str | None) -> Cond:
        if isinstance(clause, Criterion):
            return self.criterion(clause, r, resource_type)
        if isinstance(clause, Chain):
            return self.chain(clause, r, resource_type)
        return self.has(clause, r, resource_type)

    def criterion(self, crit: Criterion, r: FromClause, resource_type: str | None) -> Cond:
        if crit.param == "_id":
            ids = [v.code for v in crit.values if isinstance(v, TokenSearch) and v.code]
            cond: Cond = r.c.id.in_(ids)
            return not_(cond) if crit.modifier == "not" else cond
        if crit.param == "_lastUpdated":
            return or_(
                *(
                    range_condition(v.prefix, v.low, v.high, r.c.last_updated, r.c.last_updated)
                    for v in crit.values
                    if isinstance(v, DateSearch)
                )
            )
        table = INDEX_TABLES.get(crit.param_type)
        if table is None:
            raise InvalidRequest(
                [Issue("not-supported", f"search parameter {crit.param} is not supported")]
            )
        base = [table.c.param == crit.param]
        if resource_type is not None:
            base.append(table.c.type == resource_type)
        if crit.modifier == "missing":
            has_rows = r.c.pk.in_(select(table.c.res_pk).where(*base))
            return not_(has_rows) if crit.missing else has_rows
        inner = None if crit.modifier == "not" else crit.modifier
        alternatives = self._alternatives(crit.values, table, inner)
        matched = r.c.pk.in_(select(table.c.res_pk).where(*base, or_(*alternatives)))
        return not_(matched) if crit.modifier == "not" else matched

    def matching_keys(self, clause: Clause, resource_type: str | None) -> Select[Any] | None:
        """The keys of the resources a positive criterion on an index table matches
        (``SELECT res_pk ...``; a key may come more than once), to drive a search from
        its index in key order; None for a clause that cannot (``:not``, ``:missing``,
        ``_id``, ``_lastUpdated``, chains, ``_has``)."""
        if not isinstance(clause, Criterion) or clause.modifier in ("not", "missing"):
            return None
        table = INDEX_TABLES.get(clause.param_type)
        if table is None or clause.param in ("_id", "_lastUpdated"):
            return None
        base = [table.c.param == clause.param]
        if resource_type is not None:
            base.append(table.c.type == resource_type)
        alternatives = self._alternatives(clause.values, table, clause.modifier)
        return select(table.c.res_pk).where(*base, or_(*alternatives))

    def _alternatives(
        self,
        values: Sequence[SearchValue | CompositeSearch],
        table: FromClause,
        modifier: str | None,
    ) -> list[Cond]:
        """One condition per ORed value, except that many ``system|code`` tokens of one
        system become ``system = s AND code IN (...)``: one index range per code, and one
        cached statement however many codes (a feed looks up a group's identifiers so)."""
        codes: dict[str, list[str]] = {}
        if modifier is None and table is INDEX_TABLES["token"]:
            for v in values:
                if isinstance(v, TokenSearch) and v.system and v.code is not None:
                    codes.setdefault(v.system, []).append(v.code)
        grouped = [system for system, found in codes.items() if len(found) > 1]  # in order
        conditions = [
            and_(table.c.system == system, table.c.code.in_(codes[system])) for system in grouped
        ]
        conditions.extend(
            self._one(v, table, modifier)
            for v in values
            if not (isinstance(v, TokenSearch) and v.system in grouped and v.code is not None)
        )
        return conditions

    def _one(
        self, value: SearchValue | CompositeSearch, table: FromClause, modifier: str | None
    ) -> Cond:
        if isinstance(value, CompositeSearch):
            return and_(
                *(
                    _value_condition(v, table, None, str(i + 1))
                    for i, v in enumerate(value.components)
                )
            )
        return _value_condition(value, table, modifier)

    def chain(self, chain: Chain, r: FromClause, resource_type: str | None) -> Cond:
        target = resource.alias()
        ref = sp_reference.alias()
        conditions = [
            ref.c.param == chain.reference_param,
            ref.c.target_type == chain.target_type,
            target.c.type == chain.target_type,
            target.c.id == ref.c.target_id,
            target.c.deleted == false(),
            self.clause(chain.criterion, target, chain.target_type),
        ]
        if resource_type is not None:
            conditions.append(ref.c.type == resource_type)
        return r.c.pk.in_(
            select(ref.c.res_pk).select_from(ref).join(target, true()).where(*conditions)
        )

    def has(self, has: Has, r: FromClause, resource_type: str | None) -> Cond:
        source = resource.alias()
        ref = sp_reference.alias()
        conditions = [
            ref.c.type == has.source_type,
            ref.c.param == has.reference_param,
            source.c.pk == ref.c.res_pk,
            source.c.deleted == false(),
            ref.c.target_id == r.c.id,
            ref.c.target_type == r.c.type,
            self.clause(has.criterion, source, has.source_type),
        ]
        return exists(select(ref.c.res_pk).select_from(ref).join(source, true()).where(*conditions))

    def sort_column(self, key: SortKey, r: FromClause) -> Any:
        if key.param == "_id":
            return CodePointOrder(r.c.id)
        if key.param == "_lastUpdated":
            return r.c.last_updated
        table = INDEX_TABLES.get(key.param_type)
        name = {
            "date": "high" if key.descending else "low",
            "string": "value",
            "token": "code",
            "number": "value",
            "quantity": "value",
            "reference": "target_id",
            "uri": "value",
        }.get(key.param_type)
        if table is None or name is None:
            raise InvalidRequest([Issue("not-supported", f"cannot sort by {key.param}")])
        column = table.c[name]
        if column is None:
            raise InvalidRequest([Issue("not-supported", f"cannot sort by {key.param}")])
        value: Any = CodePointOrder(column) if isinstance(column.type, String) else column
        agg = func.max(value) if key.descending else func.min(value)
        return (
            select(agg)
            .where(table.c.res_pk == r.c.pk, table.c.param == key.param)
            .scalar_subquery()
        )


class CodePointOrder(FunctionElement[str]):
    """A text column compared by code point, as the in-memory reference (Python ``str``)
    and SQLite do; a PostgreSQL database's own collation (en_US, ICU) would put
    "o-neil" before "o'neil" and sort differently from the other backends."""

    type = Text()
    inherit_cache = True


@compiles(CodePointOrder)
def _code_point_default(element: CodePointOrder, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(CodePointOrder, "postgresql")
def _code_point_postgres(element: CodePointOrder, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


def apply_sort(stmt: Select[Any], keys: Sequence[SortKey], r: FromClause) -> Select[Any]:
    compiler = SearchCompiler()
    order: list[Any] = []
    for key in keys:
        col = compiler.sort_column(key, r)
        order.append((col.desc() if key.descending else col.asc()).nulls_last())
    order.append(r.c.pk.asc())
    return stmt.order_by(*order)
