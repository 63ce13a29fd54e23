"""Finds the metric selectors in a PromQL expression (Django-free).

Not a full PromQL parser: a tokenizer plus a stack of open parentheses is enough to tell metric names from
function names, aggregation operators, keywords and label lists, and to know which functions enclose each
selector (``rate``, ``histogram_quantile`` ...), which is what the consistency check needs to verify that each
metric is used with functions that fit its type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AGGREGATIONS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile",
})
GROUPING_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
OTHER_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"})
# Series that Prometheus itself creates: valid in queries although no exporter declares them.
PROMETHEUS_SYNTHETIC_SERIES = frozenset({
    "up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added",
})
# Grafana's built-in interval variables, replaced by a duration before parsing.
GRAFANA_INTERVAL_VARIABLES = re.compile(
    r"\$(?:__rate_interval|__interval|__range)\b|\$\{(?:__rate_interval|__interval|__range)\}"
)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<labels>\{(?:[^}"'`]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)*\})
  | (?P<duration>\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*\b)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<variable>\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>,=@])
    """,
    re.VERBOSE,
)
_MATCHER = re.compile(
    r"""\s*(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*,?""",
    re.VERBOSE,
)


class PromqlSyntaxError(ValueError):
    """The expression cannot be tokenised or its parentheses do not balance."""


@dataclass(frozen=True)
class MetricReference:
    """One metric selector in an expression."""

    name: str
    functions: tuple[str, ...]  # enclosing functions and aggregations, innermost first
    label_names: tuple[str, ...]  # labels used in the selector's matchers
    range_vector: bool  # the selector is followed by a [range]

    def inside(self, *functions: str) -> bool:
        return any(f in self.functions for f in functions)

    @property
    def innermost_function(self) -> str | None:
        return self.functions[0] if self.functions else None


def _tokens(expr: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise PromqlSyntaxError(f"cannot read PromQL at offset {position}: {expr[position:position + 30]!r}")
        kind = match.lastgroup or ""
        if kind not in ("space", "comment"):
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


def _matchers(block: str) -> list[tuple[str, str, str]]:
    """Parses ``{a="x", b=~"y"}`` into ``[(label, op, unquoted value), ...]``."""
    body = block[1:-1]
    found: list[tuple[str, str, str]] = []
    position = 0
    while position < len(body):
        if body[position:].strip() == "":
            break
        match = _MATCHER.match(body, position)
        if match is None:
            raise PromqlSyntaxError(f"cannot read label matchers {block!r}")
        found.append((match.group("label"), match.group("op"), match.group("value")[1:-1]))
        position = match.end()
    return found


def metric_references(expr: str) -> list[MetricReference]:
    """Every metric selector in ``expr`` with the functions that enclose it."""
    expr = GRAFANA_INTERVAL_VARIABLES.sub("5m", expr)
    tokens = _tokens(expr)
    references: list[MetricReference] = []
    stack: list[str | None] = []  # one entry per open parenthesis: its function, or None for grouping
    pending_call: str | None = None  # function or aggregation waiting for its '('
    index = 0

    def next_kind(i: int) -> str | None:
        return tokens[i + 1][0] if i + 1 < len(tokens) else None

    def skip_parenthesised(i: int) -> int:
        """Skips a '(...)' label list starting at tokens[i]; returns the index after it."""
        depth = 0
        while i < len(tokens):
            if tokens[i][0] == "open":
                depth += 1
            elif tokens[i][0] == "close":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise PromqlSyntaxError(f"unbalanced label list in {expr!r}")

    def enclosing() -> tuple[str, ...]:
        return tuple(f for f in reversed(stack) if f is not None)

    def add_reference(name: str, labels_block: str | None, after: int) -> None:
        matchers = _matchers(labels_block) if labels_block else []
        range_vector = after < len(tokens) and tokens[after][0] == "range"
        references.append(MetricReference(
            name=name, functions=enclosing(),
            label_names=tuple(label for label, _, _ in matchers if label != "__name__"),
            range_vector=range_vector,
        ))

    while index < len(tokens):
        kind, text = tokens[index]
        if kind == "ident":
            lowered = text.lower()
            if lowered in GROUPING_KEYWORDS:
                index += 1
                if index < len(tokens) and tokens[index][0] == "open":
                    index = skip_parenthesised(index)
                continue
            if lowered in OTHER_KEYWORDS:
                index += 1
                continue
            if lowered in AGGREGATIONS and next_kind(index) in ("open", "ident"):
                pending_call = lowered
                index += 1
                continue
            if next_kind(index) == "open":
                pending_call = text
                index += 1
                continue
            labels_block = None
            after = index + 1
            if after < len(tokens) and tokens[after][0] == "labels":
                labels_block = tokens[after][1]
                after += 1
            add_reference(text, labels_block, after)
            index = after
            continue
        if kind == "labels":  # a selector without a name: {__name__="..."}
            names = [value for label, op, value in _matchers(text) if label == "__name__" and op == "="]
            if not names:
                raise PromqlSyntaxError(f"selector without a metric name in {expr!r}")
            add_reference(names[0], text, index + 1)
            index += 1
            continue
        if kind == "open":
            stack.append(pending_call)
            pending_call = None
        elif kind == "close":
            if not stack:
                raise PromqlSyntaxError(f"unbalanced ')' in {expr!r}")
            stack.pop()
        index += 1
    if stack:
        raise PromqlSyntaxError(f"unbalanced '(' in {expr!r}")
    return references
