"""MIME entity -> X.420 body parts (RFC 2157; RFC 2156 §5.1.4).

The conformance minimum of RFC 2157 §8 in the MIME -> X.400 direction:

* text/plain us-ascii -> IA5Text (§6.1); charset=Teletex -> Teletex, pages split on FF
  (§6.7, :mod:`bridge.convert.x400_teletex`); other charsets -> GeneralText with the ISO-IR sets
  the text needs (§6.2), IA5Text when the text is ASCII; no registration -> BP15 (§6.2: "the
  generic body part approach is used");
* application/octet-stream with a file name -> FTBP EMA unknown attachment (§6.4, parameters
  per §2.3), without -> BilaterallyDefined (§6.3);
* message/rfc822 -> MessageBodyPart with the full mapping applied recursively (§6.5);
* multipart/* -> the body parts (outermost) or a nested IPM (§6.6) with the multipart-message
  heading extension; multipart/signed and multipart/encrypted -> one BP15 holding the part's
  body octets unchanged, so signatures still verify (§7.3, §7.4);
* message/external-body -> HARPOON IA5 encapsulation (§7.1, §3.1.3);
* anything else -> BP15 mime-body-part encapsulation (§3.1.2).

With ``policy.x400_1984_peer`` (RFC 2156 App B) only X.400(84) body parts are produced: the
extended ones become HARPOON IA5 encapsulations (RFC 1496, §3.1.3).
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import Header, decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import compat32
from email.policy import default as default_policy
from urllib.parse import quote

from bridge.codec.p22ext import (
    ID_HEX_MULTIPART_MESSAGE_V2,
    ID_RFC_822_FIELD_LIST,
)
from bridge.convert.context import Context
from bridge.convert.result import Defect
from bridge.convert.x400_heading import (
    Handler,
    HeadingBuilder,
    Invalid,
    bound_ipm_id,
    build_heading,
    decode_raw,
    ia5_field,
    parse_date,
    unfold,
)
from bridge.convert.x400_teletex import TELETEX_CHARSET, teletex_body
from bridge.mapping.msgid import is_msg_id, msgid_to_ipm_id
from bridge.model.charsets import CharsetError, general_text_charsets, iso2022_encode
from bridge.model.ipm import (
    IPM,
    BilaterallyDefinedBodyPart,
    BodyPart,
    FileTransferBodyPart,
    GeneralTextBodyPart,
    Heading,
    IA5TextBodyPart,
    IPMIdentifier,
    IPMSExtension,
    MessageBodyPart,
    MimeBodyPart,
    MultipartType,
)

#: RFC 2157 §6.4 EMA MAWG unknown attachment (FTBP application-reference)
EMA_UNKNOWN_ATTACHMENT = "2.16.840.1.113694.2.2.1.1"
#: RFC 2157 §3.3 MIME type of an FTBP with another application-reference: prefix + OID
X_FTBP_PREFIX = "application/x-ftbp."
_OID = re.compile(r"[0-2](?:\.(?:0|[1-9][0-9]*))+")
#: ISO 8571-2 FTAM unstructured-binary abstract syntax {1 0 8571 2 4}: the EXTERNAL
#: direct-reference of FileTransferData holding plain octets
FTAM_UNSTRUCTURED_BINARY = "1.0.8571.2.4"
#: RFC 2157 §6.2 id-cs-eit-authority {1 0 10021 7 1 0}: + ISO-IR number = a charset EIT
ID_CS_EIT_AUTHORITY = "1.0.10021.7.1.0"
#: RFC 2157 §6.6 subjects of nested multipart IPMs
MULTIPART_SUBJECTS = {
    "mixed": "Multipart Message",
    "alternative": "Alternative Body Parts containing the same information",
    "digest": "Message Digest",
    "parallel": "Body Parts interpreted in parallel",
}
#: RFC 2157 §6.2 table: MIME charset -> GeneralText CharacterSets (ISO-IR numbers; 1 = the
#: ISO 646 C0 set every text with CR LF needs, as ``general_text_charsets`` announces it)
MIME_CHARSETS = {
    "iso-8859-1": (1, 6, 100), "iso-8859-2": (1, 6, 101), "iso-8859-3": (1, 6, 109),
    "iso-8859-4": (1, 6, 110), "iso-8859-5": (1, 6, 144), "iso-8859-6": (1, 6, 127),
    "iso-8859-7": (1, 6, 126), "iso-8859-8": (1, 6, 138), "iso-8859-9": (1, 6, 148),
    "iso-2022-jp": (1, 6, 14, 42, 87),
}
#: MIME fields the body mapping itself carries (not copied into other-header-fields)
_STRUCTURAL = frozenset({"content-type", "content-transfer-encoding", "mime-version"})
_PARAM = re.compile(r';\s*([^\s=;"]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_NEWLINE = re.compile(rb"\r?\n")
def mime_part_of(msg: Message) -> Message:
    """The body entity of a single-part message: the message itself with only its MIME
    header fields (Content-*, MIME-Version; RFC 2045 §3) -- the others are the message's
    heading, already mapped, not headers of the body part."""
    part = copy.copy(msg)
    part._headers = [(k, v) for k, v in msg._headers  # type: ignore[attr-defined]
                     if k.lower().startswith("content-") or k.lower() == "mime-version"]
    return part


class ParsedPart(EmailMessage):
    """A parsed (read-only) MIME entity that parses its Content-Type once: the conversion asks
    for it many times, and ``policy.default`` re-parses the header on every ``get``."""

    def get_content_type(self) -> str:
        cached: str | None = self.__dict__.get("_x400bridge_ctype")
        if cached is None:
            cached = super().get_content_type()
            self.__dict__["_x400bridge_ctype"] = cached
        return cached


#: policy.default, building :class:`ParsedPart` entities
PARSE_POLICY = default_policy.clone(message_factory=ParsedPart)
_PARSER = BytesParser(policy=PARSE_POLICY)
MAX_DEPTH = 32  # nested messages / multiparts converted; deeper ones are encapsulated


# ------------------------------------------------------------------------------ raw octets


def split_entity(raw: bytes) -> tuple[bytes, bytes]:
    """The header block and the body of a raw entity (the first empty line separates)."""
    if raw.startswith((b"\n", b"\r\n")):
        return b"", raw[2 if raw.startswith(b"\r\n") else 1:]
    m = re.search(rb"\n\r?\n", raw)
    if m is None:
        return raw, b""
    return raw[: m.start() + 1], raw[m.end():]


def split_multipart(body: bytes, boundary: str) -> list[bytes] | None:
    """The raw octets of each body part of a multipart body (RFC 2046 §5.1.1): between
    delimiter lines, the CRLF before a delimiter belonging to it; None without delimiters."""
    try:
        mark = boundary.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return None
    delim = re.compile(rb"(?:\A|\r?\n)--" + re.escape(mark) + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    parts: list[bytes] = []
    start: int | None = None
    for m in delim.finditer(body):
        if start is not None:
            parts.append(body[start:m.start()])
        if m.group(1):
            return parts
        start = m.end()
    if start is None:
        return None
    parts.append(body[start:])  # no close delimiter: the rest is the last part
    return parts


def raw_of(entity: Message) -> bytes:
    """Fallback when the raw octets cannot be located: the entity regenerated (compat32
    keeps header values as they were)."""
    try:
        return entity.as_bytes(policy=compat32)
    except MemoryError:  # never degrade into a partial result: fail the conversion
        raise
    except Exception:  # the generator is fallible on damaged input
        return b""


# ------------------------------------------------------------------------------ helpers


def _text_of(data: bytes, charset: str) -> str | None:
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError, ValueError):   # ValueError: a NUL in the name
        return None


def _crlf(text: str) -> str:
    """Every line end CRLF (``\\r?\\n`` -> CRLF; a lone CR stays), in C: two str.replace
    calls cost a tenth of the equivalent re.sub on a 4 KiB body."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _header_text(value: str) -> str:
    """A parameter value with RFC 2047 encoded-words decoded (RFC 2157 §2.3.1)."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except MemoryError:  # never degrade into a partial result: fail the conversion
        raise
    except Exception:  # malformed encoded-words stay as they are
        return value


def _graphic(text: str) -> tuple[str, bool]:
    """A GraphicString (Latin-1 here) for ``text``: itself, or RFC 2047 encoded-words
    (RFC 2157 §2.3.1 option 1); the flag tells whether it was encoded."""
    try:
        text.encode("latin-1")
        return text, False
    except UnicodeEncodeError:
        return unfold(Header(text, "utf-8", maxlinelen=10_000).encode()).replace("\n", ""), True


def safe_filename(name: str) -> str | None:
    """RFC 2157 §2.3.2: the file name without directories or control characters (the
    "normal security precautions"); None when nothing is left."""
    name = _header_text(decode_raw(name)).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip().strip(".")
    return name or None


def content_parameters(raw_ct: str) -> tuple[tuple[str, str], ...]:
    """Content-Type parameters as written, quoting preserved (RFC 2157 §3.1.2); 8-bit values
    as RFC 2231 extended values so the IA5String holds them."""
    out = []
    for name, value in _PARAM.findall(unfold(raw_ct)):
        if not value.isascii():
            text = decode_raw(value.strip('"'))
            name, value = name.rstrip("*") + "*", "utf-8''" + quote(text, safe="")
        out.append((name, value))
    return tuple(out)


def _raw_header(entity: Message, name: str) -> str:
    for key, value in entity.raw_items():
        if key.lower() == name:
            return str(value)
    return ""


# ------------------------------------------------------------------------------ converter


@dataclass
class BodyConverter:
    """Converts MIME entities to body parts, recording defects; ``id_base`` seeds the
    identifiers of the IPMs it has to generate (RFC 2157 §6.6)."""

    ctx: Context
    defects: list[Defect]
    id_base: str
    counter: int = 0
    depth: int = 0
    mts_handlers: dict[str, Handler] = field(default_factory=dict)
    registry: dict[str, Callable[[Message, bytes], BodyPart]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # MIME type -> converter (STYLE 7: a registry, not an if-chain); "multipart/" is the
        # fallback for every other multipart subtype
        self.registry.update({
            "text/plain": self.text_plain,
            "application/octet-stream": self.octet_stream,
            "message/rfc822": self.message,
            "multipart/signed": self.byte_exact,
            "multipart/encrypted": self.byte_exact,
            "message/external-body": self.harpoon,
            "multipart/": self.nested_multipart,
        })

    @property
    def downgrade(self) -> bool:
        return self.ctx.policy.x400_1984_peer

    def defect(self, kind: str, detail: str, rule: str, lossy: bool = True) -> None:
        self.defects.append(Defect(kind, detail, rule, lossy))

    def generated_id(self) -> IPMIdentifier:
        """A this-IPM the gateway makes (RFC 2157 §6.6; §5.1.3 default)."""
        self.counter += 1
        ident = msgid_to_ipm_id(f"<{self.id_base}.{self.counter}@{self.ctx.gateway_domain}>")
        return bound_ipm_id(ident, self.ctx, self.defects, "generated IPM identifier")

    # ---------------------------------------------------------------- messages

    def ipm(self, msg: Message, raw: bytes, *, nested: bool) -> tuple[IPM, HeadingBuilder]:
        """One RFC 822 message -> an IPM (RFC 2156 §5.1.3 heading, RFC 2157 body)."""
        fields = [(str(k), str(v)) for k, v in msg.raw_items()]
        builder = build_heading(fields, self.ctx, self.defects, nested=nested,
                                extra=self.mts_handlers)
        if builder.this_ipm is None:
            builder.this_ipm = self.generated_id()
        body, multipart = self.top_body(msg, raw)
        heading = builder.heading()
        exts = list(heading.extensions or ())
        if multipart is not None:
            exts.append(IPMSExtension(type=ID_HEX_MULTIPART_MESSAGE_V2, value=multipart))
        if self.downgrade:
            body = self.app_b_headers(builder) + body
            if exts:
                self.defect("downgrade", "heading extensions not sent to an X.400(84) peer",
                            "RFC 2156 App B", lossy=False)
            exts = []
        heading = _with_extensions(heading, exts)
        return IPM(heading=heading, body=body), builder

    def app_b_headers(self, builder: HeadingBuilder) -> tuple[BodyPart, ...]:
        """App B (D-1): the fields of the rfc-822-field extension, and those mapped to
        X.400(88) elements, in a first IA5 body part starting ``RFC-822-Headers:``."""
        lines = builder.rfc822_fields + [f for f in builder.mapped_88
                                         if f not in builder.rfc822_fields]
        if not lines:
            return ()
        return (IA5TextBodyPart(text="RFC-822-Headers:\r\n" + "\r\n".join(lines) + "\r\n"),)

    def top_body(self, msg: Message, raw: bytes) -> tuple[tuple[BodyPart, ...],
                                                           MultipartType | None]:
        """RFC 2157 §2.1: without MIME a single IA5 part; an outermost multipart maps onto
        the body parts (§6.6) with the multipart-message extension unless mixed."""
        if msg.get("MIME-Version") is None and msg.get("Content-Type") is None:
            _, body = split_entity(raw)
            try:
                return (self.plain_text(body, "us-ascii", "RFC 2157 §2.1"),), None
            except Invalid as exc:  # 8-bit text no ISO-IR set carries: keep the octets
                self.defect("encapsulated", f"non-MIME body ({exc})", "RFC 2157 §2.1",
                            lossy=False)
                if self.downgrade:
                    return (BilaterallyDefinedBodyPart(data=body),), None
                return (MimeBodyPart(content_type="text/plain", parameters=(), headers=(),
                                     data=body),), None
        ctype = msg.get_content_type()
        if ctype.startswith("multipart/") and ctype not in self.registry and (
                msg.is_multipart()):
            subtype = msg.get_content_subtype()
            parts = self.parts(msg, raw)
            return parts, (None if subtype == "mixed" or self.downgrade
                           else MultipartType(subtype=subtype))
        return (self.entity(mime_part_of(msg), raw),), None

    def parts(self, msg: Message, raw: bytes) -> tuple[BodyPart, ...]:
        payload = msg.get_payload()
        if not isinstance(payload, list):
            return ()
        _, body = split_entity(raw)
        raws = split_multipart(body, msg.get_boundary() or "")
        if raws is None or len(raws) != len(payload):
            self.defect("structure", "multipart octets could not be located; parts "
                        "regenerated", "RFC 2046 §5.1.1", lossy=False)
            raws = [raw_of(p) if isinstance(p, Message) else b"" for p in payload]
        if msg.preamble and msg.preamble.strip() or msg.epilogue and msg.epilogue.strip():
            self.defect("discarded", "multipart preamble/epilogue text", "RFC 2157 §6.6")
        return tuple(self.entity(p, r) for p, r in zip(payload, raws, strict=True))

    def entity(self, part: Message, raw: bytes) -> BodyPart:
        """Dispatch one MIME entity through the registry; nesting deeper than
        :data:`MAX_DEPTH` is encapsulated as it stands."""
        ctype = part.get_content_type()
        handler = self.registry.get(ctype)
        if handler is None and ctype.startswith("multipart/"):
            handler = self.registry["multipart/"]
        if handler is None and ctype.startswith(X_FTBP_PREFIX):
            handler = self.x_ftbp
        if handler is None or self.depth >= MAX_DEPTH:
            handler = self.harpoon if self.downgrade else self.mime
        self.depth += 1
        try:
            return handler(part, raw)
        finally:
            self.depth -= 1

    # ---------------------------------------------------------------- leaf types

    def payload(self, part: Message) -> bytes:
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            return b""
        return data

    def lost_headers(self, part: Message, what: str) -> None:
        """RFC 2157 §2.4 (4): a part's other MIME headers have no place in this type."""
        names = [k for k, _ in part.raw_items() if k.lower() not in _STRUCTURAL]
        if names:
            self.defect("header-discarded", f"{', '.join(names)} of a {what} body part",
                        "RFC 2157 §2.4")

    def general_text(self, text: str, charset: str) -> GeneralTextBodyPart:
        """RFC 2157 §6.2: the CharacterSets of the declared charset when it is in the table
        (and carries the text), else the sets the text needs."""
        regs = MIME_CHARSETS.get(charset)
        if regs is not None:
            try:
                iso2022_encode(text, regs)
                return GeneralTextBodyPart(text=text, charsets=regs)
            except CharsetError:
                pass
        return GeneralTextBodyPart(text=text, charsets=general_text_charsets(text))

    def plain_text(self, data: bytes, charset: str, rule: str) -> BodyPart:
        """Text octets -> IA5 (ASCII) or GeneralText (RFC 2157 §6.1, §6.2)."""
        text = _text_of(data, charset)
        if text is None and charset in ("us-ascii", "ascii"):
            # RFC 2157 §6.1 NOTE / RFC 1428: 8-bit text labelled (or defaulting to) ASCII
            for guess in ("utf-8", "windows-1252", "latin-1"):
                text = _text_of(data, guess)
                if text is not None:
                    self.defect("charset", f"8-bit text labelled us-ascii read as {guess}",
                                "RFC 2157 §6.1", lossy=False)
                    break
        if text is None:
            raise Invalid(f"text is not {charset}")
        text = _crlf(text)
        if text.isascii():
            return IA5TextBodyPart(text=text)
        if self.downgrade:
            raise Invalid("non-ASCII text for an X.400(84) peer")
        try:
            return self.general_text(text, charset)
        except CharsetError as exc:
            raise Invalid(f"no ISO-IR registration for the text: {exc}") from None

    def text_plain(self, part: Message, raw: bytes) -> BodyPart:
        charset = (part.get_content_charset() or "us-ascii").lower()
        try:
            body = (teletex_body(self.payload(part)) if charset == TELETEX_CHARSET  # §6.7
                    else self.plain_text(self.payload(part), charset, "RFC 2157 §6.1-6.2"))
        except Invalid as exc:
            self.defect("encapsulated", f"text/plain ({exc}): encapsulated", "RFC 2157 §6.2",
                        lossy=False)
            return self.harpoon(part, raw) if self.downgrade else self.mime(part, raw)
        extra = [k for k, _ in content_parameters(_raw_header(part, "content-type"))
                 if k.lower() != "charset"]
        if extra:
            self.defect("parameters-discarded", f"text/plain parameters {', '.join(extra)}",
                        "RFC 2157 §6.1")
        self.lost_headers(part, "text")
        return body

    def octet_stream(self, part: Message, raw: bytes) -> BodyPart:
        """RFC 2157 §6.4 (file name present) / §6.3 (none) — BP14 for X.400(84)."""
        data = self.payload(part)
        raw_name = part.get_filename()
        name = safe_filename(str(raw_name)) if raw_name else None
        if name is None or self.downgrade or self.ctx.policy.octet_stream_as == "bp14":
            if name is not None or content_parameters(_raw_header(part, "content-type")):
                self.defect("parameters-discarded", "application/octet-stream parameters "
                            "(BilaterallyDefined has none)", "RFC 2157 §6.3")
            self.lost_headers(part, "bilaterally-defined")
            return BilaterallyDefinedBodyPart(data=data)
        return self.ftbp(part, data, name, EMA_UNKNOWN_ATTACHMENT)

    def x_ftbp(self, part: Message, raw: bytes) -> BodyPart:
        """RFC 2157 §3.3 reversed: application/x-ftbp.<OID digits> -> an FTBP whose
        environment.application-reference is that OID, parameters per §2.3."""
        oid = part.get_content_type()[len(X_FTBP_PREFIX):]
        if self.downgrade or not _OID.fullmatch(oid):
            if not self.downgrade:
                self.defect("encapsulated", f"{part.get_content_type()}: not an OID",
                            "RFC 2157 §3.3", lossy=False)
            return self.harpoon(part, raw) if self.downgrade else self.mime(part, raw)
        raw_name = part.get_filename()
        name = safe_filename(str(raw_name)) if raw_name else None
        return self.ftbp(part, self.payload(part), name, oid)

    def ftbp(self, part: Message, data: bytes, name: str | None,
             app_ref: str) -> FileTransferBodyPart:
        """RFC 2157 §2.3 EMA FTBP parameters (§2.3.3 summary): application-reference
        ``app_ref``; Content-ID -> related-stored-file message-reference, Content-Description
        -> the first user-visible-string, Content-Disposition filename / dates / size ->
        file-attributes, every other header -> the rfc-822-field extension."""
        filename = None
        if name is not None:
            filename, encoded = _graphic(name)
            if encoded:
                self.defect("charset", "file name carried as RFC 2047 encoded-words",
                            "RFC 2157 §2.3.1", lossy=False)
        cd = part.get("Content-Disposition")
        params = getattr(cd, "params", {}) if cd is not None else {}
        dates = {}
        for key in ("creation-date", "modification-date", "read-date"):
            if key in params:
                try:
                    dates[key] = parse_date(str(params[key]))
                except Invalid:
                    self.defect("parameters-discarded", f"Content-Disposition {key} "
                                "unparseable", "RFC 2157 §2.3.2")
        size = len(data)
        if str(params.get("size", "")).isdigit():
            size = int(str(params["size"]))
        description: str | None = None
        related: IPMIdentifier | None = None
        fields: list[str] = []
        for key, value in part.raw_items():
            low = key.lower()
            if low == "content-description" and description is None:
                description = _graphic(_header_text(unfold(decode_raw(str(value)))))[0]
            elif low == "content-id" and related is None and is_msg_id(
                    unfold(decode_raw(str(value)))):
                related = msgid_to_ipm_id(unfold(decode_raw(str(value))))
            elif low not in _STRUCTURAL and low != "content-disposition":
                fields.append(ia5_field(key, str(value), self.defects))
        return FileTransferBodyPart(
            data=data, data_reference=FTAM_UNSTRUCTURED_BINARY, filename=filename,
            created=dates.get("creation-date"), modified=dates.get("modification-date"),
            read=dates.get("read-date"), size=size, application_reference=app_ref,
            description=description, related_message=related, headers=tuple(fields))

    def mime(self, part: Message, raw: bytes) -> BodyPart:
        """RFC 2157 §3.1.2 BP15: type, parameters (quoting kept), other headers, the
        canonical octets (transfer encoding undone; text with CRLF line ends)."""
        data = self.payload(part)
        ctype = part.get_content_type()
        if part.get_content_maintype() == "text":
            data = _NEWLINE.sub(b"\r\n", data)
        return MimeBodyPart(
            content_type=ctype,
            parameters=content_parameters(_raw_header(part, "content-type")),
            headers=tuple(ia5_field(k, str(v), self.defects) for k, v in part.raw_items()
                          if k.lower() not in _STRUCTURAL),
            data=data)

    def byte_exact(self, part: Message, raw: bytes) -> BodyPart:
        """RFC 2157 §7.3/§7.4: a security multipart kept whole; its body octets unchanged
        (a multipart has no transfer encoding to undo), so the signature still verifies."""
        if self.downgrade:
            return self.harpoon(part, raw)
        _, body = split_entity(raw)
        return MimeBodyPart(
            content_type=part.get_content_type(),
            parameters=content_parameters(_raw_header(part, "content-type")),
            headers=tuple(ia5_field(k, str(v), self.defects) for k, v in part.raw_items()
                          if k.lower() not in _STRUCTURAL),
            data=body)

    def harpoon(self, part: Message, raw: bytes) -> BodyPart:
        """RFC 2157 §3.1.3 (RFC 1496): an IA5 part holding the MIME headers, MIME-Version
        first, and the encoded body; 8-bit leaf content is re-encoded in base64."""
        _, body = split_entity(raw)
        lines = ["MIME-Version: 1.0 (generated by gateway)"]
        lines += [ia5_field(k, str(v), self.defects) for k, v in part.raw_items()
                  if k.lower().startswith("content-")]
        if not body.isascii():
            if part.is_multipart():
                self.defect("encapsulated", f"8-bit {part.get_content_type()} cannot be "
                            "carried in IA5; sent as bilaterally-defined octets",
                            "RFC 2157 §3.1.4")
                return BilaterallyDefinedBodyPart(data=raw)
            lines = [x for x in lines if not x.lower().startswith("content-transfer-encoding")]
            lines.append("Content-Transfer-Encoding: base64")
            body = base64.encodebytes(self.payload(part))
        text = "\r\n".join(lines) + "\r\n\r\n" + _crlf(body.decode("ascii"))
        return IA5TextBodyPart(text=text)

    def message(self, part: Message, raw: bytes) -> BodyPart:
        """RFC 2157 §6.5: message/rfc822 -> MessageBodyPart, recursively; Delivery-Date ->
        delivery-time."""
        _, body = split_entity(raw)
        cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        inner_raw = self.payload(part) if cte in ("base64", "quoted-printable") else body
        inner = part.get_payload(0) if part.is_multipart() and cte not in (
            "base64", "quoted-printable") else _PARSER.parsebytes(inner_raw)
        if not isinstance(inner, Message):
            return self.mime(part, raw)
        ipm, builder = self.ipm(inner, inner_raw, nested=True)
        delivery = None
        fields = []
        for f in builder.rfc822_fields:
            if f.lower().startswith("delivery-date:") and delivery is None:
                try:
                    delivery = parse_date(f.split(":", 1)[1])
                    continue
                except Invalid:
                    pass
            fields.append(f)
        if delivery is not None:
            exts = [e for e in ipm.heading.extensions or () if e.type != ID_RFC_822_FIELD_LIST]
            if fields:
                exts.append(IPMSExtension(type=ID_RFC_822_FIELD_LIST, value=tuple(fields)))
            ipm = IPM(heading=_with_extensions(ipm.heading, exts), body=ipm.body)
        self.lost_headers(part, "message")
        return MessageBodyPart(ipm=ipm, delivery_time=delivery)

    def nested_multipart(self, part: Message, raw: bytes) -> BodyPart:
        """RFC 2157 §6.6: a nested multipart -> a forwarded IPM with a generated this-IPM, a
        subject naming the subtype and multipart-message {subtype, isAMessage FALSE}."""
        if not part.is_multipart():  # no boundary found: keep the octets (BP15)
            self.defect("encapsulated", f"{part.get_content_type()} without parts",
                        "RFC 2157 §3.1.2", lossy=False)
            return self.harpoon(part, raw) if self.downgrade else self.mime(part, raw)
        subtype = part.get_content_subtype()
        subject = MULTIPART_SUBJECTS.get(subtype, f"Multipart Message ({subtype})")
        kind = MultipartType(subtype=subtype, is_message=False)
        exts = None if self.downgrade else (
            IPMSExtension(type=ID_HEX_MULTIPART_MESSAGE_V2, value=kind),)
        heading = Heading(this_ipm=self.generated_id(), subject=subject[:128], extensions=exts)
        self.lost_headers(part, "multipart")
        return MessageBodyPart(ipm=IPM(heading=heading, body=self.parts(part, raw)))


def _with_extensions(heading: Heading, exts: list[IPMSExtension]) -> Heading:
    from dataclasses import replace

    return replace(heading, extensions=tuple(exts) or None)
