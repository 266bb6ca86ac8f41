"""The state of one X.400 -> 822 conversion and its 822 forms of text and addresses
(RFC 2156 §3.5, §4.5, §4.6.2.1, §4.7.2).

:class:`Run` carries the context and the defects found so far; its methods write phrases,
comments and unstructured text (RFC 2047 encoded-words or, when the policy says so, an ASCII
down-mapping with a defect, §3.5 B-4) and mailboxes, addr-specs and O/R descriptors (§4.7.2,
A-32).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from bridge.convert.context import Context
from bridge.convert.mime_text import encoded_words
from bridge.convert.result import Defect
from bridge.errors import BridgeError
from bridge.model.ipm import ORDescriptor, RecipientSpecifier
from bridge.model.oraddress import ORAddress, ORName


class Run:
    """The state of one conversion: the context and the defects found so far."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.defects: list[Defect] = []
        self.smtp_originator = ctx.postmaster
        #: X400-Unmapped-Extension fields (policy keep_unmapped), added after the discard lists
        self.unmapped: list[tuple[str, str]] = []

    def defect(self, kind: str, detail: str, rule: str, *, lossy: bool = True) -> None:
        self.defects.append(Defect(kind, detail, rule, lossy))

    # ------------------------------------------------------------------ text (§3.5, B-4)

    def ascii_text(self, text: str, what: str) -> str | None:
        """``text`` when ASCII, else its down-mapping (policy without encoded-words) or None
        (the caller makes encoded-words)."""
        if text.isascii():
            return text
        if self.ctx.policy.encoded_words:
            return None
        decomposed = unicodedata.normalize("NFKD", text)
        out = "".join(c if c.isascii() else "?" for c in decomposed
                      if not unicodedata.combining(c))
        self.defect("downmapped", f"{what}: non-ASCII text down-mapped to {out!r}",
                    "RFC 2156 §3.5 (B-4)")
        return out

    def phrase(self, text: str) -> str:
        """822.phrase for a free-form name: atoms, a quoted-string or encoded-words."""
        text = _controls_to_space(text).strip()
        plain = self.ascii_text(text, "free-form name")
        if plain is None:
            return encoded_words(text)
        if _PHRASE_ATOMS.fullmatch(plain):
            return plain
        return '"' + plain.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def comment(self, text: str, *, escaped: bool = False) -> str:
        """822.comment with ``text`` (already backslash-escaped when ``escaped``)."""
        text = _controls_to_space(text)
        plain = self.ascii_text(text, "comment")
        if plain is None:
            return "(" + encoded_words(text.replace("\\", "") if escaped else text) + ")"
        if not escaped:
            plain = re.sub(r"([()\\])", r"\\\1", plain)
        return "(" + plain + ")"

    def unstructured(self, name: str, text: str) -> str:
        """An unstructured field value (§5.3.4 Subject: CRLF become fold points)."""
        parts = [_controls_to_space(p) for p in re.split(r"\r\n|\r|\n", text)]
        if any(not p.isascii() for p in parts):
            plain = self.ascii_text(" ".join(parts), name)
            if plain is None:
                # our own encoded-words: the stdlib folder can drop the space between two
                # encoded-words (RFC 2047 §6.2 ignores whitespace between them)
                return encoded_words(" ".join(parts))
            parts = [plain]
        return "\r\n ".join(p for p in parts if p.strip()) if len(parts) > 1 else parts[0]

    # ------------------------------------------------------------------ addresses (§4.7.2)

    def mailbox(self, name: ORName | ORAddress, what: str) -> str | None:
        """EBNF.822-address for an O/R name, with its directory name as a comment (§4.5)."""
        try:
            result = self.ctx.mapper.to_rfc822(name)
        except BridgeError as exc:
            self.defect("address", f"{what} {name} cannot be mapped: {exc}", "RFC 2156 §4.3.5")
            return None
        if result.comment:
            return result.address + " " + self.comment(result.comment, escaped=True)
        return result.address

    def addr_spec(self, name: ORName | ORAddress, what: str) -> str | None:
        """The bare addr-spec (SMTP, §4.6.2.1: the directory name is discarded)."""
        try:
            return self.ctx.mapper.to_rfc822(name).address
        except BridgeError as exc:
            self.defect("address", f"{what} {name} cannot be mapped: {exc}", "RFC 2156 §4.6.2.1")
            return None

    def descriptor(self, d: ORDescriptor, what: str, *, reply_requested: bool = False
                   ) -> str | None:
        """§4.7.2 (A-32): ORDescriptor -> ``phrase <addr> (Tel ...) (DN) (Reply requested)``;
        free-form name only -> group syntax ``Name: ;``."""
        comments = []
        if d.telephone:
            comments.append(self.comment("Tel " + d.telephone))
        if reply_requested:
            comments.append("(Reply requested)")
        if d.formal_name is not None:
            try:
                result = self.ctx.mapper.to_rfc822(d.formal_name)
            except BridgeError as exc:
                self.defect("address", f"{what} {d.formal_name} cannot be mapped: {exc}",
                            "RFC 2156 §4.7.2")
                result = None
            if result is not None:
                if result.comment:
                    comments.insert(1 if d.telephone else 0,
                                    self.comment(result.comment, escaped=True))
                head = (f"{self.phrase(d.free_form_name)} <{result.address}>"
                        if d.free_form_name else result.address)
                return " ".join([head, *comments])
        if d.free_form_name:
            return " ".join([self.phrase(d.free_form_name) + ": ;", *comments])
        if d.formal_name is None:
            self.defect("address", f"{what}: an empty ORDescriptor", "X.420 §7.1.4")
        return None

    def descriptors(self, items: Iterable[ORDescriptor], what: str) -> str | None:
        values = [v for v in (self.descriptor(d, what) for d in items) if v is not None]
        return ", ".join(values) if values else None

    def specifiers(self, items: Iterable[RecipientSpecifier], what: str) -> str | None:
        values = []
        for spec in items:
            value = self.descriptor(spec.recipient, what, reply_requested=spec.reply_requested)
            if value is not None:
                values.append(value)
            if spec.extensions:
                self.defect("extension-discarded", f"{what}: recipient extensions "
                            + ", ".join(e.type for e in spec.extensions), "RFC 2156 §4.7.2")
        return ", ".join(values) if values else None


_PHRASE_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def _controls_to_space(text: str) -> str:
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in text)
