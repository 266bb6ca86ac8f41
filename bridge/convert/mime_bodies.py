"""X.400 -> MIME body parts (RFC 2157 §2.2, §3.2, §3.3, §6; conformance minimum §8).

One converter per body part type in :data:`BODY_PARTS` (STYLE §7).  The result is a small
MIME entity tree (:class:`Entity`) that :func:`serialize` turns into bytes with deterministic
boundaries, so golden files are stable.  Content-Transfer-Encoding: ``7bit`` when the octets
allow it, otherwise quoted-printable or base64, whichever is shorter for text (RFC 2157 §2.2
(2); RFC 2156 App A §2, R-12) and base64 for binary data (RFC 2157 §3.2).
"""

from __future__ import annotations

import base64
import email.utils
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bridge.codec.p22ext import (
    ID_ET_BILATERALLY_DEFINED,
    ID_ET_FILE_TRANSFER,
    ID_ET_G3_FACSIMILE,
    ID_ET_GENERAL_TEXT,
    ID_ET_IA5_TEXT,
    ID_ET_MESSAGE,
    ID_ET_TELETEX,
    ID_HEX_MULTIPART_MESSAGE_V2,
    ID_MIME_BP_DATA,
)
from bridge.convert.mime_headers import (
    Header,
    Run,
    date,
    delivery_headers,
    encoded_words,
    heading_headers,
)
from bridge.errors import BridgeError
from bridge.mapping.msgid import ipm_id_to_msgid
from bridge.model.ipm import (
    IPM,
    BilaterallyDefinedBodyPart,
    BodyPart,
    ExtendedBodyPart,
    FileTransferBodyPart,
    G3FacsimileBodyPart,
    GeneralTextBodyPart,
    Heading,
    IA5TextBodyPart,
    MessageBodyPart,
    MimeBodyPart,
    MultipartType,
    OpaqueBodyPart,
    TeletexBodyPart,
    VideotexBodyPart,
)

P2157 = "RFC 2157"


@dataclass
class Entity:
    """A MIME entity: its own header fields and either an encoded body or parts."""

    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    parts: list[Entity] | None = None  # a multipart
    subtype: str = "mixed"


# ---------------------------------------------------------------- transfer encodings


def qp_encode(data: bytes) -> bytes:
    """RFC 2045 §6.7 quoted-printable of CRLF-separated lines (76-character lines)."""
    out: list[str] = []
    for line in data.split(b"\r\n"):
        cur = ""
        for i, b in enumerate(line):
            if (33 <= b <= 126 and b != 61) or (b in (9, 32) and i < len(line) - 1):
                tok = chr(b)
            else:
                tok = f"={b:02X}"
            if len(cur) + len(tok) > 75:
                out.append(cur + "=")
                cur = ""
            cur += tok
        out.append(cur)
    return "\r\n".join(out).encode("ascii")


def b64_encode(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


_NOT_7BIT = re.compile(rb"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\xff]|\r(?!\n)|(?<!\r)\n")


def is_7bit(data: bytes, *, escapes: bool = False) -> bool:
    """RFC 2045 §2.7 7bit data: CRLF lines of at most 998 octets, no NUL or 8-bit octets;
    other controls are avoided (ESC allowed for ISO-2022-JP, RFC 1468)."""
    if _NOT_7BIT.search(data.replace(b"\x1b", b"") if escapes else data):
        return False
    return all(len(line) <= 998 for line in data.split(b"\r\n"))


def encode_text(data: bytes, *, escapes: bool = False) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body) for text octets (RFC 2157 §2.2 (2), R-12)."""
    if is_7bit(data, escapes=escapes):
        return "7bit", data
    qp, b64 = qp_encode(data), b64_encode(data)
    return ("quoted-printable", qp) if len(qp) <= len(b64) else ("base64", b64)


def crlf(text: str) -> str:
    return re.sub(r"\r\n|\r|\n", "\r\n", text)


def param(name: str, value: str) -> str:
    """``; name=value`` — a token, a quoted-string, or RFC 2231 for non-ASCII values."""
    if not value.isascii():
        return f"; {name}*={email.utils.encode_rfc2231(value, 'utf-8')}"
    if re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", value):
        return f"; {name}={value}"
    value = "".join(c if c.isprintable() else " " for c in value)
    return '; {}="{}"'.format(name, value.replace("\\", "\\\\").replace('"', '\\"'))


def leaf(ctype: str, data: bytes, *, text: bool = False, escapes: bool = False,
         extra: list[Header] | None = None) -> Entity:
    cte, body = encode_text(data, escapes=escapes) if text else ("base64", b64_encode(data))
    headers = [("Content-Type", ctype)]
    if cte != "7bit":
        headers.append(("Content-Transfer-Encoding", cte))
    return Entity(headers=headers + (extra or []), body=body)


def text_part(text: str, charset: str) -> Entity:
    codec = {"us-ascii": "ascii", "iso-2022-jp": "iso2022_jp"}.get(charset.lower(), charset)
    return leaf(f"text/plain; charset={charset}", crlf(text).encode(codec), text=True,
                escapes=charset.lower() == "iso-2022-jp")


# ---------------------------------------------------------------- converters (RFC 2157 §6)

Converter = Callable[[Run, BodyPart], Entity]


def _ia5(run: Run, bp: BodyPart) -> Entity:
    """§6.1: text/plain; charset=us-ascii (repertoire ignored).  8-bit text in IA5 breaks
    X.420 but happens; it is sent as UTF-8 (§6.1 NOTE, P-12)."""
    assert isinstance(bp, IA5TextBodyPart)
    if bp.text.isascii():
        return text_part(bp.text, "us-ascii")
    run.defect("charset", "IA5 body part holds non-IA5 characters; sent as UTF-8",
               f"{P2157} §6.1", lossy=False)
    return text_part(bp.text, "utf-8")


def _teletex(run: Run, bp: BodyPart) -> Entity:
    """§6.7: the pages joined, each ending in FF; converted to ISO-8859-1 or UTF-8 as the
    NOTE recommends (the "Teletex" charset is not understood by MIME readers)."""
    assert isinstance(bp, TeletexBodyPart)
    text = "".join(p if p.endswith("\x0c") else p + "\x0c" for p in bp.pages)
    if bp.non_basic_parameters is not None:
        run.defect("parameters-discarded", "teletex non-basic parameters", f"{P2157} §6.7")
    try:
        text.encode("iso-8859-1")
    except UnicodeEncodeError:
        return text_part(text, "utf-8")
    return text_part(text, "iso-8859-1")


#: §6.2 ISO-IR registrations (control sets 1 and 77 aside) -> MIME charset
GENERAL_TEXT_CHARSETS: dict[frozenset[int], str] = {
    frozenset({6, 100}): "iso-8859-1", frozenset({6, 101}): "iso-8859-2",
    frozenset({6, 109}): "iso-8859-3", frozenset({6, 110}): "iso-8859-4",
    frozenset({6, 144}): "iso-8859-5", frozenset({6, 127}): "iso-8859-6",
    frozenset({6, 126}): "iso-8859-7", frozenset({6, 138}): "iso-8859-8",
    frozenset({6, 148}): "iso-8859-9", frozenset({6, 14, 42, 87}): "iso-2022-jp",
    frozenset({6}): "us-ascii",
}
_CONTROL_SETS = frozenset({1, 77})  # ISO-IR 1 (C0 of ISO 646), 77 (C1 of ISO 6429)


def _general_text(run: Run, bp: BodyPart) -> Entity:
    """§6.2: GeneralText -> text/plain with the charset its registrations name (the escape
    sequences are gone: the model holds decoded text).  Sets no MIME charset covers: UTF-8."""
    assert isinstance(bp, GeneralTextBodyPart)
    regs = frozenset(bp.charsets) - _CONTROL_SETS
    candidates = [cs for sets, cs in GENERAL_TEXT_CHARSETS.items() if regs <= sets]
    for charset in sorted(candidates, key=lambda cs: cs != GENERAL_TEXT_CHARSETS.get(regs)):
        try:
            return text_part(bp.text, charset)
        except UnicodeEncodeError:
            continue
    run.defect("charset", f"GeneralText character sets {sorted(bp.charsets)} have no MIME "
               "charset; sent as UTF-8", f"{P2157} §6.2", lossy=False)
    return text_part(bp.text, "utf-8")


def _bilateral(run: Run, bp: BodyPart) -> Entity:
    """§6.3: BilaterallyDefined -> application/octet-stream (or the configured type, P-14)."""
    assert isinstance(bp, BilaterallyDefinedBodyPart)
    return leaf(run.ctx.policy.bp14_content_type, bp.data)


#: RFC 2157 §6.4 EMA unknown attachment (and the earlier drafts' OID): application/octet-stream
_EMA_UNKNOWN = ("2.16.840.1.113694.2.2.1.1", "1.2.840.1.113694.2.2.1.1")
#: RFC 2157 §3.1.1 FTBP encapsulating a MIME body part: its Content-Type is in the headers
ID_MIME_FTBP_DATA = "1.3.6.1.7.1.2.1.5"
_FTAM_3 = "1.0.8571.5.3"  # ISO 8571 FTAM-3 unstructured binary document type
#: FileTransferParameters components whose presence makes the §3.3 mapping fail
_FTBP_IMPORTANT = ("compression",)


def ftbp_content_type(bp: FileTransferBodyPart) -> str:
    """§6.4: the EMA unknown attachment (or no application-reference) is
    application/octet-stream; §3.3: any other registered OID gives
    ``application/x-ftbp.<OID digits>``; §3.1.1: id-mime-ftbp-data carries its own."""
    ref = bp.application_reference
    if ref is None or ref in _EMA_UNKNOWN:
        return "application/octet-stream"
    if ref == ID_MIME_FTBP_DATA:
        for line in bp.headers:
            name, sep, value = line.partition(":")
            if sep and name.strip().lower() == "content-type" and value.strip().isascii():
                return " ".join(value.split())
        return "application/octet-stream"
    return f"application/x-ftbp.{ref}"


def _ftbp_unmapped(bp: FileTransferBodyPart) -> list[str]:
    """The names of the FileTransferParameters components outside the §2.3.3 set."""
    from bridge.codec import asn1

    if bp.other_parameters is None:
        return []
    try:
        params = asn1.decode("FileTransferParameters", bp.other_parameters.ber)
    except BridgeError:
        return ["(undecodable parameters)"]
    return sorted(params)


def _file_transfer(run: Run, bp: BodyPart) -> Entity:
    """§2.3, §3.3, §6.4: FTBP -> application/octet-stream (EMA unknown attachment) or
    application/x-ftbp.<OID>, with Content-Disposition: attachment; filename (RFC 2231 when
    not ASCII), the dates (quoted 822 date-time) and size; Content-Description from the first
    user-visible-string (encoded-words, §2.3.1 (1)); Content-ID from the related-stored-file
    message-reference; the rfc-822-field extension's headers restored.  Other contents types
    than unstructured-binary, or important unmappable parameters, are encapsulated (§3.3)."""
    assert isinstance(bp, FileTransferBodyPart)
    if bp.contents_type not in (None, _FTAM_3):
        run.defect("encapsulated", f"FTBP contents-type {bp.contents_type} is not "
                   "unstructured-binary", f"{P2157} §3.3", lossy=False)
        return encapsulate(run, bp)
    unmapped = _ftbp_unmapped(bp)
    important = [p for p in unmapped if p in _FTBP_IMPORTANT]
    if important:
        run.defect("encapsulated", f"FTBP parameters {', '.join(important)} cannot be "
                   "mapped", f"{P2157} §3.3", lossy=False)
        return encapsulate(run, bp)
    if unmapped:
        run.defect("parameters-discarded", "FTBP parameters outside the EMA limited set "
                   f"({', '.join(unmapped)})", f"{P2157} §2.3.3")
    ctype = ftbp_content_type(bp)
    disposition = "attachment"
    if bp.filename is not None:
        disposition += param("filename", bp.filename)
    for name, when in (("creation-date", bp.created), ("modification-date", bp.modified),
                       ("read-date", bp.read)):
        if when is not None:
            disposition += f'; {name}="{date(when)}"'
    if bp.size is not None:
        disposition += f"; size={bp.size}"
    encapsulating = bp.application_reference == ID_MIME_FTBP_DATA
    own = {line.partition(":")[0].strip().lower() for line in bp.headers}
    # §3.1.1: an encapsulated MIME body part's own Content-Disposition is its header
    extra: list[Header] = ([] if encapsulating and "content-disposition" in own
                           else [("Content-Disposition", disposition)])
    if bp.description is not None:
        text = " ".join(bp.description.split())
        ok = text.isascii() and text.isprintable()
        extra.append(("Content-Description", text if ok else encoded_words(text)))
    if bp.related_message is not None:
        extra.append(("Content-ID", ipm_id_to_msgid(bp.related_message)))
    made = {name.lower() for name, _ in extra}
    for line in bp.headers:
        name, sep, value = line.partition(":")
        key = name.lower().strip()
        if encapsulating and key == "content-type":
            continue  # §3.1.1: already the entity's type
        if not sep or not name or not line.isascii() or key in _MIME_OWN or key in made:
            run.defect("header-discarded", f"FTBP rfc-822-field {line!r}", f"{P2157} §2.3.2",
                       lossy=key not in _MIME_OWN and key not in made)
            continue
        extra.append((name.strip(), value.strip()))
    major = ctype.split("/")[0].lower()
    return leaf(ctype, bp.data, text=encapsulating and major == "text", extra=extra)


_MIME_OWN = ("content-type", "content-transfer-encoding", "mime-version")


def _mime(run: Run, bp: BodyPart) -> Entity:
    """§3.1.2 BP15 -> its own content type, parameters and headers (P-7: a stale CTE or a
    second Content-Type among the headers is dropped)."""
    assert isinstance(bp, MimeBodyPart)
    parameters = bp.parameters
    if bp.content_type.lower().startswith("multipart/"):
        checked = _boundary_checked(run, bp)
        if checked is None:
            return encapsulate(run, bp)
        parameters = checked
    ctype = bp.content_type + "".join(param(k, v) for k, v in parameters)
    extra: list[Header] = []
    for line in bp.headers:
        name, sep, value = line.partition(":")
        if not sep or not name or not line.isascii() or name.lower().strip() in _MIME_OWN:
            run.defect("header-discarded", f"BP15 header {line!r}", f"{P2157} §3.1.2",
                       lossy=name.lower().strip() not in _MIME_OWN)
            continue
        extra.append((name.strip(), value.strip()))
    major = bp.content_type.split("/")[0].lower()
    if major in ("multipart", "message"):
        if not is_7bit(bp.data):
            run.defect("encapsulated", f"{bp.content_type} body is not 7bit",
                       f"{P2157} §3.2", lossy=False)
            return encapsulate(run, bp)
        return Entity(headers=[("Content-Type", ctype), *extra], body=bp.data)
    return leaf(ctype, bp.data, text=major == "text", extra=extra)


def _delimited_by(data: bytes, boundary: str) -> bool:
    """RFC 2046 §5.1.1: ``data`` has a delimiter line and a close delimiter for
    ``boundary`` (a delimiter is CRLF, or the start of the body, then "--" boundary)."""
    b = boundary.encode("ascii", "replace")
    first = data.startswith(b"--" + b) or b"\r\n--" + b in data
    return first and b"--" + b + b"--" in data and len(boundary) <= 70  # §5.1.1 bchars 1*70


def _boundary_checked(run: Run, bp: MimeBodyPart) -> tuple[tuple[str, str], ...] | None:
    """RFC 2157 §3.1.2 (4), P-7: the boundary parameter must be the boundary the multipart
    body actually uses.  A missing or wrong one is replaced by the one the delimiter lines
    show (the first ``--x`` line that has a close delimiter ``--x--``); a body with no
    delimiters at all gives None (the caller then encapsulates the body part)."""
    declared = next((v for k, v in bp.parameters if k.lower() == "boundary"), None)
    if declared is not None and _delimited_by(bp.data, declared):
        return bp.parameters
    for m in re.finditer(rb"(?:\A|\r\n)--([\x20-\x7e]{1,70}?)[ \t]*(?=\r\n)", bp.data):
        used = m.group(1).decode("ascii")
        if not used.endswith("--") and _delimited_by(bp.data, used):
            run.defect("boundary", f"{bp.content_type}: boundary parameter {declared!r} "
                       f"replaced by the boundary the body uses, {used!r}",
                       f"{P2157} §3.1.2 (4)", lossy=False)
            return tuple((k, v) for k, v in bp.parameters if k.lower() != "boundary") + (
                ("boundary", used),)
    run.defect("boundary", f"{bp.content_type}: the body has no delimiter lines for "
               f"{declared!r}: encapsulated", f"{P2157} §3.1.2 (4)", lossy=False)
    return None


def multipart_type(heading: Heading) -> MultipartType | None:
    """RFC 2157 §6.6 multipart-message heading extension (v2), if present."""
    for ext in heading.extensions or ():
        if ext.type == ID_HEX_MULTIPART_MESSAGE_V2 and isinstance(ext.value, MultipartType):
            return ext.value
    return None


def _message(run: Run, bp: BodyPart) -> Entity:
    """§6.5: a forwarded IPM -> message/rfc822, recursively, with its delivery envelope
    through the MTS mappings and its delivery time as Delivery-Date:.  §6.6: a heading
    marked isAMessage FALSE was a nested multipart and becomes one again."""
    assert isinstance(bp, MessageBodyPart)
    mp = multipart_type(bp.ipm.heading)
    if mp is not None and not mp.is_message:
        run.defect("heading-dropped", "generated heading of a nested multipart",
                   f"{P2157} §6.6", lossy=False)
        return body_entity(run, bp.ipm.body, mp.subtype)
    leading: list[Header] = []
    saved = run.smtp_originator
    run.smtp_originator = ""
    if bp.delivery_envelope is not None:
        leading = delivery_headers(run, bp.delivery_envelope, bp.delivery_time)
        run.smtp_originator = run.addr_spec(bp.delivery_envelope.originator,
                                            "forwarded originator") or ""
    elif bp.delivery_time is not None:
        leading = [("Delivery-Date", date(bp.delivery_time))]
    try:
        inner = ipm_entity(run, bp.ipm, leading)
    finally:
        run.smtp_originator = saved
    return Entity(headers=[("Content-Type", "message/rfc822")], body=serialize(inner))


def encapsulate(run: Run, bp: BodyPart) -> Entity:
    """§3.2 (P-8): application/x400-bp; bp-type=<tag or OID>, the BodyPart's BER, base64."""
    from bridge.codec import asn1, p22  # see the report: wants bridge.codec.encode_body_part

    try:
        ber = asn1.encode("BodyPart", p22.body_part_to(bp))
    except (BridgeError, KeyError, ValueError, TypeError) as exc:
        run.defect("body-part-discarded", f"{type(bp).__name__} cannot be encoded: {exc}",
                   f"{P2157} §3")
        return text_part(f"[An X.400 {type(bp).__name__} was removed: it could not be "
                         "encapsulated.]\r\n", "us-ascii")
    return leaf(f"application/x400-bp; bp-type={bp_type(bp)}", ber)


def bp_type(bp: BodyPart) -> str:
    """§3.2: the context tag of a basic body part, or the extended body part's OID."""
    if isinstance(bp, ExtendedBodyPart):
        return bp.data_type
    if isinstance(bp, OpaqueBodyPart):
        return str(bp.tag)
    if isinstance(bp, G3FacsimileBodyPart):
        return ID_ET_G3_FACSIMILE if bp.extended else "3"
    if isinstance(bp, VideotexBodyPart):
        return "6"
    basic, oid = _BP_TYPES[type(bp)]
    return oid if basic is None or getattr(bp, "extended", False) else basic


#: body part type -> (basic BodyPart tag, extended body part OID), X.420 §7.3, §7.4
_BP_TYPES: dict[type, tuple[str | None, str]] = {
    IA5TextBodyPart: ("0", ID_ET_IA5_TEXT), TeletexBodyPart: ("5", ID_ET_TELETEX),
    MessageBodyPart: ("9", ID_ET_MESSAGE),
    BilaterallyDefinedBodyPart: ("14", ID_ET_BILATERALLY_DEFINED),
    GeneralTextBodyPart: (None, ID_ET_GENERAL_TEXT),
    FileTransferBodyPart: (None, ID_ET_FILE_TRANSFER),
    MimeBodyPart: (None, ID_MIME_BP_DATA),
}


def _encapsulated(run: Run, bp: BodyPart) -> Entity:
    """§3.2, §5.4: body parts with no MIME mapping (voice, G3 [no RFC 2158 here], G4,
    videotex, encrypted, nationally-defined, mixed-mode, unknown extended) are tunnelled."""
    run.defect("encapsulated", f"{type(bp).__name__} (bp-type {bp_type(bp)}) as "
               "application/x400-bp", f"{P2157} §3.2", lossy=False)
    return encapsulate(run, bp)


BODY_PARTS: dict[type, Converter] = {
    IA5TextBodyPart: _ia5,
    TeletexBodyPart: _teletex,
    GeneralTextBodyPart: _general_text,
    BilaterallyDefinedBodyPart: _bilateral,
    FileTransferBodyPart: _file_transfer,
    MimeBodyPart: _mime,
    MessageBodyPart: _message,
    G3FacsimileBodyPart: _encapsulated,
    VideotexBodyPart: _encapsulated,
    OpaqueBodyPart: _encapsulated,
    ExtendedBodyPart: _encapsulated,
}


# ---------------------------------------------------------------- bodies and messages


_FIELD_LINE = re.compile(r"[\x21-\x39\x3b-\x7e]+:[\x20-\x7e\t]*")
_CONTINUATION = re.compile(r"[ \t][\x20-\x7e\t]*")


def header_block(lines: list[str]) -> list[Header] | None:
    """822 header lines -> fields (folding kept), or None when one is not valid 822
    (RFC 2157 §2.2: the gateway checks consistency and syntax)."""
    out: list[Header] = []
    while lines and not lines[-1]:
        lines = lines[:-1]
    for line in lines:
        if _CONTINUATION.fullmatch(line) and out and line.strip():
            name, value = out[-1]
            out[-1] = (name, value + "\r\n" + line)
        elif _FIELD_LINE.fullmatch(line):
            name, _, value = line.partition(":")
            out.append((name, value.strip()))
        else:
            return None
    return out


def _harpoon(run: Run, bp: IA5TextBodyPart) -> Entity | None:
    """§2.2 (1): a single IA5 part starting ``MIME-Version: 1.0`` is a HARPOON encapsulated
    MIME message; its headers and body are used as they are."""
    text = crlf(bp.text)
    head, sep, body = text.partition("\r\n\r\n")
    if not sep or not text.lower().startswith("mime-version:") or not text.isascii():
        return None
    fields = header_block(head.split("\r\n"))
    if fields is None:
        run.defect("harpoon", "IA5 text starting MIME-Version: has bad header syntax; mapped "
                   "as text", f"{P2157} §2.2", lossy=False)
        return None
    return Entity(headers=fields, body=body.encode("ascii"))


def body_entity(run: Run, body: tuple[BodyPart, ...], subtype: str | None) -> Entity:
    """§2.2: one body part -> that entity; several -> multipart (digest if all are
    messages, else mixed, or the subtype of the multipart-message extension, §6.6)."""
    if not body:
        return Entity()
    if len(body) == 1:
        return convert_body_part(run, body[0])
    if subtype is None:
        subtype = "digest" if all(isinstance(b, MessageBodyPart) for b in body) else "mixed"
    return Entity(parts=[convert_body_part(run, b) for b in body], subtype=subtype)


def convert_body_part(run: Run, bp: BodyPart) -> Entity:
    return BODY_PARTS[type(bp)](run, bp)


_SINGLE = frozenset({"date", "from", "sender", "reply-to", "to", "cc", "bcc", "message-id",
                     "in-reply-to", "references", "subject", "mime-version", "content-type",
                     "content-transfer-encoding"})


def ipm_entity(run: Run, ipm: IPM, leading: list[Header],
               trailing: Sequence[Header] = ()) -> Entity:
    """The whole 822 message for an IPM: ``leading`` (trace, envelope), the heading fields,
    then MIME (RFC 2157 §2.2; §6.1 NOTE: no MIME headers for a lone plain IA5 part).
    ``trailing`` fields (e.g. N-5's Disposition-Notification-To) follow the heading fields
    unless a field of that name is already there (restored from rfc-822-field or an
    ``RFC-822-Headers:`` body part)."""
    headers = leading + heading_headers(run, ipm.heading)
    body = ipm.body
    first = body[0] if body else None
    if len(body) > 1 and isinstance(first, IA5TextBodyPart) and first.text.startswith(
            "RFC-822-Headers:"):
        extra = header_block(crlf(first.text).split("\r\n")[1:])
        if extra is not None:  # §2.2: App B of RFC 2156 (D-1)
            headers += [h for h in extra if h[1] or h[0]]
            body = body[1:]
        else:
            run.defect("header-discarded", "RFC-822-Headers: body part with bad syntax kept "
                       "as text", f"{P2157} §2.2", lossy=False)
    present = {n.lower() for n, _ in headers}
    headers += [h for h in trailing if h[0].lower() not in present]
    entity: Entity | None = None
    if len(body) == 1 and isinstance(body[0], IA5TextBodyPart):
        entity = _harpoon(run, body[0])
        if entity is None and is_7bit(crlf(body[0].text).encode("utf-8")):
            entity = Entity(body=crlf(body[0].text).encode("ascii"))
    if entity is None:
        mp = multipart_type(ipm.heading)
        entity = body_entity(run, body, mp.subtype if mp else None)
        if entity.headers or entity.parts is not None:
            headers.append(("MIME-Version", "1.0"))
    seen: set[str] = set()
    unique: list[Header] = []
    for name, value in headers + entity.headers:
        key = name.lower()
        if key in _SINGLE and key in seen:
            run.defect("header-discarded", f"second {name}: field {value!r}",
                       "RFC 5322 §3.6")
            continue
        seen.add(key)
        unique.append((name, value))
    return Entity(headers=unique, body=entity.body, parts=entity.parts, subtype=entity.subtype)


# ---------------------------------------------------------------- output

def serialize(entity: Entity, *, depth: int = 0) -> bytes:
    """Bytes of an entity: its header, a blank line, the body or the parts between
    boundaries that occur nowhere in the content (RFC 2046 §5.1.1)."""
    from bridge.convert.mime_headers import render

    if entity.parts is None:
        return render(entity.headers) + b"\r\n" + entity.body
    parts = [serialize(p, depth=depth + 1) for p in entity.parts]
    n = 0
    while True:
        boundary = f"=_x400bridge_{depth}_{n}"
        if not any(boundary.encode() in p for p in parts):
            break
        n += 1
    headers = [(k, v) for k, v in entity.headers if k.lower() != "content-type"]
    headers.append(("Content-Type", f'multipart/{entity.subtype}; boundary="{boundary}"'))
    out = [render(headers), b"\r\n"]
    for p in parts:
        out += [b"--", boundary.encode(), b"\r\n", p, b"\r\n"]
    out += [b"--", boundary.encode(), b"--\r\n"]
    return b"".join(out)
