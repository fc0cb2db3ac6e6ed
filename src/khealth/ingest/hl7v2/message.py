"""HL7 v2 messages: bytes in, segments of fields, repetitions, components and
subcomponents out, with escape sequences undone (HL7 v2.8 chapter 2, section 2.7).

A small parser of our own rather than python-hl7's: it is typed (mypy --strict), it decodes
the bytes by the charset the message declares in MSH-18 before splitting (so Korean UTF-8
text round-trips exactly), and it undoes escapes at the leaves only, after splitting, so an
escaped delimiter never splits a field.  It is lenient like python-hl7: missing fields
read as empty strings, segments may end in ``\\r``, ``\\n`` or ``\\r\\n``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from khealth.ingest.hl7v2.errors import Hl7Error

Component = tuple[str, ...]  # subcomponents
Repetition = tuple[Component, ...]  # components
Field = tuple[Repetition, ...]  # repetitions

#: MSH-18 character set names (HL7 table 0211) → Python codecs
CHARSETS = {
    "": "utf-8",
    "ASCII": "ascii",
    "UNICODE UTF-8": "utf-8",
    "UNICODE": "utf-8",
    "UTF-8": "utf-8",
    "8859/1": "latin-1",
    "8859/15": "iso8859-15",
    "KS X 1001": "euc-kr",
    "ISO IR149": "euc-kr",
}
_UTF8_BOM = b"\xef\xbb\xbf"
_SEGMENT_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Delimiters:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"


class Segment:
    """One segment. Fields are split into repetitions and components on first access
    (a large ADT has hundreds of fields of which the mapping reads a few dozen)."""

    __slots__ = ("_cache", "_delimiters", "_raw", "name")

    def __init__(self, name: str, raw: tuple[str, ...], delimiters: Delimiters) -> None:
        self.name = name
        self._raw = raw  # raw[n] is field n as sent (raw[0] is the name)
        self._delimiters = delimiters
        self._cache: dict[int, Field] = {}

    def __len__(self) -> int:
        return len(self._raw) - 1

    def field(self, n: int) -> Field:
        found = self._cache.get(n)
        if found is None:
            text = self._raw[n] if 0 < n < len(self._raw) else ""
            found = self._cache[n] = _field(text, self._delimiters)
        return found

    def raw_field(self, n: int) -> str:
        """Field ``n`` as sent (escapes and delimiters intact)."""
        return self._raw[n] if 0 < n < len(self._raw) else ""

    def reps(self, n: int) -> Field:
        """The non-empty repetitions of field ``n``."""
        return tuple(r for r in self.field(n) if any(any(c) for c in r))

    def get(self, n: int, component: int = 1, sub: int = 1, rep: int = 1) -> str:
        """One value by 1-based position; empty when absent."""
        values = self.field(n)
        return pick(values[rep - 1], component, sub) if len(values) >= rep else ""


def pick(repetition: Repetition, component: int = 1, sub: int = 1) -> str:
    if len(repetition) < component:
        return ""
    parts = repetition[component - 1]
    return parts[sub - 1] if len(parts) >= sub else ""


@dataclass(frozen=True, slots=True)
class Message:
    segments: tuple[Segment, ...]
    delimiters: Delimiters
    charset: str  # the MSH-18 value as sent ("" when absent)

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    @property
    def control_id(self) -> str:
        return self.msh.get(10)

    @property
    def message_type(self) -> tuple[str, str, str]:
        return self.msh.get(9, 1), self.msh.get(9, 2), self.msh.get(9, 3)


def parse(raw: bytes) -> Message:
    """Decode by MSH-18 and split. Raises ``Hl7Error`` (AR, naming MSH and the field) when
    there is no usable MSH or the bytes are not in the declared charset."""
    raw = raw.lstrip()
    bom = raw.startswith(_UTF8_BOM)  # some senders start UTF-8 files with a byte order mark
    raw = raw.removeprefix(_UTF8_BOM)
    head = raw[:4]
    if head[:3] != b"MSH" or len(head) < 4:
        raise Hl7Error("AR", "MSH", 1, 0, "100", "the message does not start with an MSH segment")
    charset = _declared_charset(raw, chr(head[3]))
    codec = "utf-8" if bom else CHARSETS.get(charset.upper())
    if codec is None:
        raise Hl7Error("AR", "MSH", 1, 18, "103", "unsupported character set in MSH-18")
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        raise Hl7Error(
            "AR", "MSH", 1, 18, "102", "the bytes are not in the MSH-18 character set"
        ) from None
    return parse_text(text.strip(), charset)


def _declared_charset(raw: bytes, field_separator: str) -> str:
    """MSH-18 read from the first line before decoding (it is ASCII in every charset)."""
    first = _SEGMENT_BREAK.split(raw.decode("latin-1"), maxsplit=1)[0]
    values = first.split(field_separator)
    # values[0] is "MSH", values[1] holds MSH-2, so MSH-n is values[n - 1]
    return values[17].split("~")[0].split("^")[0].strip() if len(values) > 17 else ""


def parse_text(text: str, charset: str = "") -> Message:
    if not text.startswith("MSH") or len(text) < 8:
        raise Hl7Error("AR", "MSH", 1, 1, "101", "MSH-1 and MSH-2 (the delimiters) are missing")
    encoding = text[4:8]
    delimiters = Delimiters(text[3], encoding[0], encoding[1], encoding[2], encoding[3])
    if len(set(encoding + text[3])) != 5 or any(c.isalnum() for c in encoding):
        raise Hl7Error("AR", "MSH", 1, 2, "102", "MSH-2 does not hold four distinct delimiters")
    lines = [line for line in _SEGMENT_BREAK.split(text) if line.strip()]
    segments = tuple(_segment(line, delimiters, index == 0) for index, line in enumerate(lines))
    return Message(segments, delimiters, charset)


def _segment(line: str, d: Delimiters, is_msh: bool) -> Segment:
    raw_fields = line.split(d.field)
    name = raw_fields[0].strip()
    if is_msh:
        # MSH-1 is the field separator itself and MSH-2 the encoding characters: neither is
        # split, so MSH-n is raw_fields[n - 1]
        segment = Segment(name, (name, d.field, *raw_fields[1:]), d)
        segment._cache[1] = (((d.field,),),)
        segment._cache[2] = (((raw_fields[1] if len(raw_fields) > 1 else "",),),)
        return segment
    return Segment(name, tuple(raw_fields), d)


def _field(text: str, d: Delimiters) -> Field:
    if not text:
        return ()
    if d.escape not in text and d.subcomponent not in text:  # most fields: split only
        component = d.component
        return tuple(
            tuple((part,) for part in repetition.split(component))
            for repetition in text.split(d.repetition)
        )
    return tuple(
        tuple(
            tuple(unescape(sub, d) for sub in component.split(d.subcomponent))
            if d.subcomponent in component
            else (unescape(component, d),)
            for component in repetition.split(d.component)
        )
        for repetition in text.split(d.repetition)
    )


def unescape(text: str, d: Delimiters) -> str:
    """Undo ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``, ``\\Xhh\\`` and ``\\.br\\``; highlighting
    (``\\H\\``, ``\\N\\``) is dropped.  An unknown sequence is kept as it came."""
    if d.escape not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        end = text.find(d.escape, i + 1) if char == d.escape else -1
        if end < 0:
            out.append(char)
            i += 1
            continue
        out.append(_escape_value(text[i + 1 : end], d, text[i : end + 1]))
        i = end + 1
    return "".join(out)


def _escape_value(code: str, d: Delimiters, as_sent: str) -> str:
    simple = {"F": d.field, "S": d.component, "T": d.subcomponent, "R": d.repetition,
              "E": d.escape, ".br": "\n", "H": "", "N": ""}  # fmt: skip
    if code in simple:
        return simple[code]
    if code.startswith("X") and len(code) > 1 and len(code) % 2 == 1:
        try:
            return bytes.fromhex(code[1:]).decode("utf-8")
        except ValueError:
            return as_sent
    return as_sent


def escape(text: str, d: Delimiters = Delimiters()) -> str:
    """The inverse of ``unescape`` for text we write (ACK error messages)."""
    out = text.replace(d.escape, f"{d.escape}E{d.escape}")
    for char, code in ((d.field, "F"), (d.component, "S"), (d.subcomponent, "T"),
                       (d.repetition, "R")):  # fmt: skip
        out = out.replace(char, f"{d.escape}{code}{d.escape}")
    return out.replace("\r", " ").replace("\n", " ")
