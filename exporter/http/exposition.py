"""The Prometheus text format (0.0.4) of one scrape, written directly: labels added as it writes.

prometheus_client's generate_latest validates and escapes every label name of every sample and formats
through several layers: at 50 qBittorrents of a few hundred series each that is most of a scrape's CPU.
Here the label names are ours (valid by construction), the `qbittorrent` label is inserted as the text is
written, and only label values that need it are escaped. The output is byte for byte what generate_latest
writes for Scrape.registry() (tests/unit/test_exposition.py compares them); OpenMetrics and protobuf
still go through prometheus_client.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import chain

from prometheus_client.core import Metric

from ..collectors.family import Gauge, Row
from ..collectors.instances import LABEL, Scrape

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_TYPES = {
    "counter": "counter",
    "gauge": "gauge",
    "untyped": "untyped",
    "unknown": "untyped",
    "histogram": "histogram",
    "summary": "summary",
    "info": "gauge",
    "stateset": "gauge",
    "gaugehistogram": "histogram",
}


def value_text(value: float) -> str:
    """prometheus_client's floatToGoString."""
    d = float(value)
    if math.isinf(d):
        return "+Inf" if d > 0 else "-Inf"
    if d != d:
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    if d > 0 and dot > 6:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _header(family: Metric) -> tuple[str, str]:
    name = family.name + ("_total" if family.type == "counter" else "_info" if family.type == "info" else "")
    doc = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
    return name, f"# HELP {name} {doc}\n# TYPE {name} {_TYPES[family.type]}\n"


def _template(name: str, keys: tuple[str, ...], instance: str | None) -> tuple[str, tuple[int, ...]]:
    """'name{a="%s",qbittorrent="<name>",b="%s"} %s%s\n' and which sample label fills each %s."""
    order = sorted(keys + ((LABEL,) if instance is not None else ()))
    if not order:
        return name.replace("%", "%%") + " %s%s\n", ()
    parts, slots = [], []
    for k in order:
        if instance is not None and k == LABEL:
            parts.append(f'{k}="{_escape(instance)}"'.replace("%", "%%"))
        else:
            parts.append(f'{k}="%s"')
            slots.append(keys.index(k))
    return name.replace("%", "%%") + "{" + ",".join(parts) + "} %s%s\n", tuple(slots)


Templates = dict[tuple[str, tuple[str, ...], str | None], tuple[str, tuple[int, ...]]]


class _Escaped(dict[str, str]):
    """Label values as written, each escaped once per scrape (most repeat: states, hosts, categories)."""

    def __missing__(self, value: str) -> str:
        text = self[value] = _escape(value)
        return text


class _Values(dict[float, str]):
    """Sample values as written, each formatted once per scrape (most are 0.0 or small counts).

    Keyed by value: -0.0 equals 0.0, so a -0.0 after a 0.0 is written 0.0 (the same sample value)."""

    def __missing__(self, value: float) -> str:
        text = self[value] = value_text(value)
        return text


def _rows(family: Gauge, instance: str | None, templates: Templates, esc: _Escaped, vt: _Values) -> str:
    """A Gauge's lines: label values straight from the rows, no Sample or dict per series."""
    key = (family.name, family.label_names, instance)
    found = templates.get(key)
    if found is None:
        found = templates[key] = _template(family.name, family.label_names, instance)
    template, slots = found
    return "".join(
        [template % (*[esc[labels[i]] for i in slots], vt[value], "") for labels, value in family.rows]
    )


def _lines(family: Metric, instance: str | None, out: list[str], templates: Templates) -> None:
    for s in family.samples:
        labels = s.labels
        keys = tuple(labels)
        found = templates.get((s.name, keys, instance))
        if found is None:
            found = templates[(s.name, keys, instance)] = _template(s.name, keys, instance)
        template, slots = found
        values = tuple(labels.values())
        stamp = "" if s.timestamp is None else f" {int(float(s.timestamp) * 1000):d}"
        out.append(template % (*(_escape(values[i]) for i in slots), value_text(s.value), stamp))


class Writer:
    """Writes scrapes; a Gauge whose rows are those of the same instance's family in the last scrape is
    not formatted again (most are: the zero-filled state matrix, hosts nothing changed on)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str | None, str], tuple[list[Row], str]] = {}
        self._templates: Templates = {}

    def encode(self, scrape: Scrape) -> bytes:
        """The text exposition of a scrape, families merged across instances in first-seen order. Each
        instance's families are written as they come (Scrape.each) and are not held after."""
        merged: dict[str, list[str]] = {}  # family name -> its HELP/TYPE, then each instance's lines
        formats = _Escaped(), _Values()  # per scrape: values change, these would grow without end
        for instance, families in scrape.each():
            self._write(instance, families, merged, formats)
            del families  # before the next instance's are made
        self._write(None, scrape.extra, merged, formats)
        return "".join(chain.from_iterable(merged.values())).encode()

    def _write(
        self,
        owner: str | None,
        families: Iterable[Metric],
        merged: dict[str, list[str]],
        formats: tuple[_Escaped, _Values],
    ) -> None:
        templates, last = self._templates, self._last
        for family in families:
            out = merged.get(family.name)
            if out is None:
                out = merged[family.name] = [_header(family)[1]]
            if type(family) is not Gauge:
                _lines(family, owner, out, templates)
                continue
            key = (owner, family.name)
            seen = last.get(key)
            if seen is not None and seen[0] == family.rows:
                out.append(seen[1])
                continue
            text = _rows(family, owner, templates, *formats)
            last[key] = (family.rows, text)
            out.append(text)


def encode(scrape: Scrape) -> bytes:
    """The text exposition of one scrape (a Writer of its own: nothing remembered)."""
    return Writer().encode(scrape)
