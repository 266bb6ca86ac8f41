"""The text of the RFC 7444 header fields: ``SIO-Label`` and ``SIO-Label-History``.

Both are a sequence of MIME parameters (RFC 2045 §5.1 ``attribute "=" value``, a token or a
quoted-string, separated by ``;``), with RFC 2231 continuations and charset encoding for values
that are long or not ASCII.  The ``SIO-Label`` parameters (RFC 7444 §3):

* ``marking`` -- the display marking; ``fgcolor`` / ``bgcolor`` -- its colours (a colour name
  or ``#rgb`` / ``#rrggbb``);
* ``type`` -- the kind of machine label: ``:ess`` (RFC 2634 ESSSecurityLabel, DER), ``:x411``
  (X.411 SecurityLabel, BER), ``:xml``; ``label`` -- that label, base64 (RFC 4648 §4).

Input (:func:`parse_sio_label`) takes what the syntax allows: any parameter order and case of
names, tokens or quoted-strings, comments, RFC 2231 continuations (``label*0``, ``label*1``)
and ``name*=charset'lang'%xx`` values; it refuses what would make the label ambiguous: a
parameter given twice, a ``label`` without a ``type`` (or the reverse), a label that is not
base64, a field with neither a marking nor a label.  Parameters RFC 7444 does not define are
kept (:attr:`~bridge.model.seclabel.SioLabel.other`).  Output (:func:`format_sio_label`,
:func:`format_history`) is strict: lower-case names in a fixed order, quoted-strings only where
a token cannot carry the value, RFC 2231 only for non-ASCII values or a label too long for one
line.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse

from bridge.model.seclabel import LabelChange, SioLabel

#: RFC 2045 §5.1 token: any CHAR except SPACE, CTLs and tspecials
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
_COLOUR = re.compile(r"[A-Za-z]+|#[0-9A-Fa-f]{3}|#[0-9A-Fa-f]{6}")
_SECTION = re.compile(r"(?P<name>[^*]+)(?:\*(?P<n>\d+))?(?P<ext>\*)?\Z")
_KNOWN = ("marking", "fgcolor", "bgcolor", "type", "label")
#: a label longer than this (base64 characters) is written as RFC 2231 sections, so that no
#: line comes near the RFC 5322 §2.1.1 limit of 998
_ONE_LINE = 900
_SECTION_SIZE = 64


class LabelSyntaxError(ValueError):
    """A header field that is not an RFC 7444 parameter sequence."""


# ---------------------------------------------------------------------------- input

def _scan(text: str) -> list[tuple[str, str, bool]]:
    """``attribute = value`` pairs of ``text`` (comments dropped) as (name, value, quoted)."""
    out: list[tuple[str, str, bool]] = []
    i, n = 0, len(text)

    def skip() -> None:
        nonlocal i
        while i < n:
            if text[i] in " \t\r\n":
                i += 1
            elif text[i] == "(":                    # RFC 5322 §3.2.2 comment, nested
                depth = 0
                while i < n:
                    if text[i] == "\\":
                        i += 1
                    elif text[i] == "(":
                        depth += 1
                    elif text[i] == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    i += 1
                if i >= n:
                    raise LabelSyntaxError("unterminated comment")
                i += 1
            else:
                return

    while True:
        skip()
        if i >= n:
            return out
        m = _TOKEN.match(text, i)
        if m is None:
            raise LabelSyntaxError(f"parameter name expected at {text[i:i + 10]!r}")
        name, i = m.group(), m.end()
        skip()
        if i >= n or text[i] != "=":
            raise LabelSyntaxError(f"'=' expected after {name!r}")
        i += 1
        skip()
        if i < n and text[i] == '"':
            chars, i = [], i + 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                raise LabelSyntaxError(f"unterminated quoted-string in {name!r}")
            i += 1
            out.append((name, "".join(chars), True))
        else:
            m = _TOKEN.match(text, i)
            if m is None:
                raise LabelSyntaxError(f"value expected for {name!r}")
            out.append((name, m.group(), False))
            i = m.end()
        skip()
        if i < n:
            if text[i] != ";":
                raise LabelSyntaxError(f"';' expected after {name!r}")
            i += 1


def parse_params(text: str) -> list[tuple[str, str]]:
    """The parameters of ``text`` in order, names in lower case, RFC 2231 sections joined and
    decoded.  Raises :class:`LabelSyntaxError`; a name given twice is an error."""
    plain: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[str, bool]]] = {}
    order: list[str] = []
    for raw_name, value, quoted in _scan(text):
        m = _SECTION.match(raw_name.lower())
        if m is None:
            raise LabelSyntaxError(f"bad parameter name {raw_name!r}")
        name, n, ext = m["name"], m["n"], bool(m["ext"])
        if n is None and not ext:
            if name in plain or name in sections:
                raise LabelSyntaxError(f"parameter {name!r} given twice")
            plain[name] = value
            order.append(name)
            continue
        if name in plain:
            raise LabelSyntaxError(f"parameter {name!r} given twice")
        parts = sections.setdefault(name, {})
        if name not in order:
            order.append(name)
        index = int(n) if n is not None else 0
        if index in parts or (n is None and parts):
            raise LabelSyntaxError(f"parameter {name!r} given twice")
        parts[index] = (value, ext and not quoted)
    for name, parts in sections.items():
        if sorted(parts) != list(range(len(parts))):
            raise LabelSyntaxError(f"RFC 2231 sections of {name!r} are not 0..n")
        plain[name] = _rfc2231([parts[k] for k in sorted(parts)], name)
    return [(name, plain[name]) for name in order]


def _rfc2231(parts: list[tuple[str, bool]], name: str) -> str:
    """RFC 2231 §3/§4: join sections; the first encoded one names charset'language'."""
    charset = "us-ascii"
    raw = bytearray()
    for k, (value, encoded) in enumerate(parts):
        if encoded and k == 0:
            bits = value.split("'", 2)
            if len(bits) != 3:
                raise LabelSyntaxError(f"{name}*: charset'language'value expected")
            charset, value = bits[0] or "us-ascii", bits[2]
        if encoded:
            raw += urllib.parse.unquote_to_bytes(value)
        else:
            raw += value.encode("utf-8")
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError) as exc:
        raise LabelSyntaxError(f"{name}: not {charset}: {exc}") from None


def parse_sio_label(text: str) -> SioLabel:
    """RFC 7444 §3 ``SIO-Label`` value -> :class:`SioLabel`; raises :class:`LabelSyntaxError`."""
    params = dict(parse_params(text))
    for colour in ("fgcolor", "bgcolor"):
        if colour in params and not _COLOUR.fullmatch(params[colour]):
            raise LabelSyntaxError(f"{colour} {params[colour]!r} is not a colour name or "
                                   "#rgb / #rrggbb")
    if ("type" in params) != ("label" in params):
        raise LabelSyntaxError("'type' and 'label' go together")
    label = None
    if "label" in params:
        try:
            label = base64.b64decode("".join(params["label"].split()), validate=True)
        except (binascii.Error, ValueError):
            raise LabelSyntaxError("label is not base64") from None
        if not label:
            raise LabelSyntaxError("label is empty")
    if "marking" not in params and label is None:
        raise LabelSyntaxError("neither a marking nor a label")
    return SioLabel(marking=params.get("marking"), fgcolor=params.get("fgcolor"),
                    bgcolor=params.get("bgcolor"), type=params.get("type"), label=label,
                    other=tuple((k, v) for k, v in params.items() if k not in _KNOWN))


# ---------------------------------------------------------------------------- output

def _param(name: str, value: str) -> str:
    if not value.isascii() or any(c < " " or c == "\x7f" for c in value):
        return f"{name}*=utf-8''" + urllib.parse.quote(value.encode("utf-8"), safe="")
    if _TOKEN.fullmatch(value):
        return f"{name}={value}"
    return f'{name}="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_params(params: list[tuple[str, str]]) -> str:
    """Parameters as ``name=value; ...`` (the fold points are the spaces after ``;``)."""
    out: list[str] = []
    for name, value in params:
        if name == "label" and len(value) > _ONE_LINE:
            out.extend(f'label*{k}="{value[i:i + _SECTION_SIZE]}"' for k, i in
                       enumerate(range(0, len(value), _SECTION_SIZE)))
        else:
            out.append(_param(name, value))
    return "; ".join(out)


def format_sio_label(label: SioLabel) -> str:
    """:class:`SioLabel` -> the ``SIO-Label`` value (RFC 7444 §3)."""
    params = [(k, v) for k, v in (("marking", label.marking), ("fgcolor", label.fgcolor),
                                  ("bgcolor", label.bgcolor), ("type", label.type))
              if v is not None]
    if label.label is not None:
        params.append(("label", base64.b64encode(label.label).decode("ascii")))
    return format_params(params + list(label.other))


def format_history(change: LabelChange) -> str:
    """:class:`LabelChange` -> the ``SIO-Label-History`` value (RFC 7444 §5)."""
    return format_params([(k, v) for k, v in (
        ("change", change.change), ("changed-by", change.changed_by),
        ("changed-at", change.changed_at), ("changed-comment", change.comment),
        ("prev-type", change.prev_type), ("new-type", change.new_type)) if v is not None])


__all__ = ["LabelSyntaxError", "format_history", "format_params", "format_sio_label",
           "parse_params", "parse_sio_label"]
