"""Alert rules (``services/monitor/alerts.yaml``) and their evaluation.

A rule watches one metric over a window, per label set (model_version,
consumer group/partition, feature...). A sample breaches when
``value <op> threshold`` and it rests on at least ``min_count`` observations;
it fires once it has breached for ``for`` seconds, and resolves the first time
it is evaluated without breaching (or its series disappears). The engine's
state round-trips through dicts so that a restarted monitor still knows which
alerts are open and emits their resolution.
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SEVERITIES = ("info", "warning", "critical")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class RulesError(ValueError):
    """alerts.yaml is malformed."""


def parse_duration(raw: object) -> float:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    m = _DURATION.match(str(raw))
    if not m:
        raise RulesError(f"bad duration {raw!r} (use e.g. 30s, 5m, 1h)")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    threshold: float
    severity: str = "warning"
    op: str = ">"
    window_s: float = 60.0
    for_s: float = 0.0
    min_count: int = 0
    match: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def breached(self, value: float) -> bool:
        return _OPS[self.op](value, self.threshold)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match.items())


@dataclass(frozen=True)
class Sample:
    metric: str
    labels: Mapping[str, str]
    value: float
    count: int = 0


def parse_rules(doc: Any) -> list[Rule]:
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise RulesError("expected a mapping with a 'rules' list")
    rules: list[Rule] = []
    known = {"name", "metric", "threshold", "severity", "op", "window", "for",
             "min_count", "match", "description"}
    for i, raw in enumerate(doc["rules"]):
        if not isinstance(raw, dict):
            raise RulesError(f"rules[{i}] must be a mapping")
        unknown = set(raw) - known
        if unknown:
            raise RulesError(f"rules[{i}]: unknown keys {sorted(unknown)}")
        try:
            rule = Rule(name=str(raw["name"]), metric=str(raw["metric"]),
                        threshold=float(raw["threshold"]),
                        severity=str(raw.get("severity", "warning")), op=str(raw.get("op", ">")),
                        window_s=parse_duration(raw.get("window", 60)),
                        for_s=parse_duration(raw.get("for", 0)),
                        min_count=int(raw.get("min_count", 0)),
                        match={str(k): str(v) for k, v in (raw.get("match") or {}).items()},
                        description=str(raw.get("description", "")))
        except KeyError as exc:
            raise RulesError(f"rules[{i}]: missing {exc.args[0]!r}") from exc
        if rule.severity not in SEVERITIES:
            raise RulesError(f"{rule.name}: severity must be one of {SEVERITIES}")
        if rule.op not in _OPS:
            raise RulesError(f"{rule.name}: op must be one of {sorted(_OPS)}")
        if any(r.name == rule.name for r in rules):
            raise RulesError(f"rule {rule.name!r} declared twice")
        rules.append(rule)
    return rules


def load_rules(path: Path) -> list[Rule]:
    with open(path) as fh:
        return parse_rules(yaml.safe_load(fh))


def series_key(rule: str, labels: Mapping[str, str]) -> str:
    return rule + "{" + ",".join(f"{k}={labels[k]}" for k in sorted(labels)) + "}"


@dataclass
class AlertState:
    rule: str
    labels: dict[str, str]
    value: float
    since: float
    firing: bool = False
    fired_at: float = 0.0

    @property
    def alert_id(self) -> str:
        raw = f"{series_key(self.rule, self.labels)}@{self.since:.3f}"
        return hashlib.sha1(raw.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Transition:
    """An alert that starts firing (resolved=False) or clears (resolved=True)."""

    rule: Rule
    state: AlertState
    value: float
    resolved: bool


class AlertEngine:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self.states: dict[str, AlertState] = {}

    def evaluate(self, samples_by_window: Callable[[float], Mapping[str, Sequence[Sample]]],
                 now: float) -> list[Transition]:
        """``samples_by_window(window_s)`` gives the samples per metric computed
        over the last ``window_s`` seconds."""
        out: list[Transition] = []
        seen: set[str] = set()
        for rule in self.rules:
            for s in samples_by_window(rule.window_s).get(rule.metric, ()):
                if not rule.matches(s.labels) or s.count < rule.min_count:
                    continue
                key = series_key(rule.name, s.labels)
                if not rule.breached(s.value):
                    continue
                seen.add(key)
                st = self.states.get(key)
                if st is None:
                    st = self.states[key] = AlertState(rule.name, dict(s.labels), s.value, now)
                st.value = s.value
                if not st.firing and now - st.since >= rule.for_s:
                    st.firing, st.fired_at = True, now
                    out.append(Transition(rule, st, s.value, resolved=False))
        by_name = {r.name: r for r in self.rules}
        for key in [k for k in self.states if k not in seen]:
            st = self.states.pop(key)
            owner = by_name.get(st.rule)
            if st.firing and owner is not None:
                out.append(Transition(owner, st, st.value, resolved=True))
        return out

    def firing(self) -> list[AlertState]:
        return [s for s in self.states.values() if s.firing]

    def to_dict(self) -> dict[str, Any]:
        return {k: {"rule": s.rule, "labels": s.labels, "value": s.value, "since": s.since,
                    "firing": s.firing, "fired_at": s.fired_at} for k, s in self.states.items()}

    def restore(self, raw: Mapping[str, Any]) -> None:
        for k, v in raw.items():
            self.states[k] = AlertState(rule=str(v["rule"]), labels=dict(v["labels"]),
                                        value=float(v["value"]), since=float(v["since"]),
                                        firing=bool(v["firing"]),
                                        fired_at=float(v.get("fired_at", 0.0)))
