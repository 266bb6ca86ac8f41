"""``x400bridge map lookup``: map one address in whichever direction its syntax says, and
describe the result (text or JSON) with the steps that decided it (PP's ``ckadr``)."""

from __future__ import annotations

import re
from typing import Any

from bridge.errors import BridgeError, MappingError
from bridge.jsonform import to_json
from bridge.mapping.address import AddressMapper, RFC822Result, Role, X400Result
from bridge.model.ortext import ORAddressSyntaxError, parse_or_address

_RFC822_TAIL = re.compile(r"@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?>?\s*\Z")


def is_rfc822(text: str) -> bool:
    """RFC 822 when the text ends in ``@domain``; otherwise an O/R address (std-or or
    RFC 1685 ``K=V; ...``)."""
    return bool(_RFC822_TAIL.search(text.strip()))


def lookup(mapper: AddressMapper, text: str, role: Role = Role.HEADER) -> X400Result | RFC822Result:
    """Map ``text`` (direction detected); raises MappingError when it cannot be mapped."""
    if is_rfc822(text):
        return mapper.to_x400(text, role)
    try:
        address = parse_or_address(text)
    except ORAddressSyntaxError as exc:
        raise MappingError(f"neither an RFC 822 address nor an O/R address: {exc}",
                           address=text) from None
    return mapper.to_rfc822(address)


def render(result: X400Result | RFC822Result, *, explain: bool) -> str:
    lines = [str(result.address) if isinstance(result, X400Result) else str(result)]
    if explain:
        lines.extend(f"  {step}" for step in result.steps)
    return "\n".join(lines)


def as_json(text: str, result: X400Result | RFC822Result) -> dict[str, Any]:
    steps = [{"rule": s.rule, "text": s.text + (f" {s.value}" if s.value is not None else ""),
              **({"entry": s.entry.line(), "origin": s.entry.origin} if s.entry else {})}
             for s in result.steps]
    if isinstance(result, X400Result):
        return {"input": text, "direction": "rfc822-to-x400", "stage": result.stage,
                "result": str(result.address), "address": to_json(result.address),
                "truncated": result.truncated, "steps": steps}
    return {"input": text, "direction": "x400-to-rfc822", "mapping": result.mapping,
            "result": result.address, "comment": result.comment, "steps": steps}


def error_json(text: str, exc: BridgeError) -> dict[str, Any]:
    return {"input": text, "error": str(exc), "smtp": str(exc.smtp),
            "x400": {"reason": exc.x400.reason, "diagnostic": exc.x400.diagnostic}}
