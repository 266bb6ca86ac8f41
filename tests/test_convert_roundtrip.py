"""Round trips through the gateway (RFC 2156 §1.4, G-7 reversibility): what crosses twice
comes back.

* MIME -> X.400 -> MIME (§5.1 then §5.3): the From/To/Cc/Bcc addr-specs (A-33, H-4, X-4),
  Subject (H-4, X-4), Message-ID / In-Reply-To / References (§4.7.3, A-33), Date (§5.1.6 trace
  -> §5.3.6 Date, same instant), Importance / Sensitivity / Expires / Reply-By (§5.1.3,
  §5.3.4), other fields through the rfc-822-field extension (§5.1.2, H-1), the text of
  text/plain parts and attachment names and octets (RFC 2157 §6.1-§6.3, FTBP §2.3).
* X.400 -> MIME -> X.400 (§5.3 then §5.1): the heading (originator, recipients, subject,
  this-IPM, replied-to, related, importance, sensitivity, expiry and reply time,
  auto-forwarded), IA5 and GeneralText text, FTBP name and data, and the envelope
  originator and recipients (§4.6.2.1 / §4.6.1, A-24..A-26).  The MTS identifier does not
  come back (§5.1.7: X400-MTS-Identifier is not mapped back): the defect says so.

Messages are generated with Hypothesis from address pools covering MCGAM-mapped domains
(tests/data/mappings/rfc2156, §4.3.4 Stage I), the preferred-gateway table (gate2) and
unmapped domains (Stage II, RFC-822 DDA / §4.3.5 Mapping B).  Converter bugs found here are
the regression tests at the end (each once an xfail).
"""

from __future__ import annotations

import base64
import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.codec import decode_apdu, decode_content, encode_apdu, encode_content
from bridge.convert.context import Context
from bridge.convert.result import Defect
from bridge.convert.to_mime import x400_to_mime
from bridge.convert.to_x400 import mime_to_x400
from bridge.convert.x400_trace import parse_eits
from bridge.mapping.psencode import ps_encode
from bridge.model import (
    IPM,
    BodyPart,
    BuiltInEIT,
    EncodedInformationTypes,
    Envelope,
    FileTransferBodyPart,
    GeneralTextBodyPart,
    GlobalDomainIdentifier,
    Heading,
    IA5TextBodyPart,
    Importance,
    IPMIdentifier,
    IPMSExtension,
    Message,
    MTSIdentifier,
    ORAddress,
    ORDescriptor,
    ORName,
    PerRecipientIndicators,
    Recipient,
    RecipientSpecifier,
    Sensitivity,
    TraceElement,
)
from bridge.model.charsets import t61_can_encode, t61_encode
from tests.helpers import gateway_context

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
GW_GDI = GlobalDomainIdentifier(country="GB", admd=" ", prmd="uk.ac")
UB_SUBJECT_FIELD = 128  # X.420 ub-subject-field
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def make_ctx() -> Context:
    return gateway_context(NOW, country="GB")


CTX = make_ctx()


# ------------------------------------------------------------------------------ pools

#: domains with an MCGAM in table1/table2 (§4.3.4 Stage I; subdomains become O/OU)
MAPPED_DOMAINS = ["AC.UK", "cs.ucl.AC.UK", "Widget.COM", "Marketing.Widget.COM", "ZZ.YY.XX",
                  "Research.GMD.DE", "ATLAS.FR", "autoroutes.fr", "Widget.PTT.XY"]
#: no MCGAM: the gateway's RFC-822 DDA (Stage II), or gate2's preferred gateway (alter.net)
UNMAPPED_DOMAINS = ["example.org", "isode.com", "mail.alter.net"]
LOCALS = ["c", "Jo.Bloggs", "J.Q.Public", "x_y", "a+b", "postmaster", "Marshall.Rose"]
ADDR_SPECS = st.builds(lambda local, domain: f"{local}@{domain}", st.sampled_from(LOCALS),
                       st.sampled_from(MAPPED_DOMAINS + UNMAPPED_DOMAINS))
DISPLAY = st.sampled_from(["", "Jo Bloggs", "Marshall T. Rose", "Jürgen Müller", "Ελένη"])

WORD = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;!-'/&",
               min_size=1, max_size=10)
LATIN1 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!-" + "".join(
    chr(c) for c in range(0xC0, 0x100) if c not in (0xD7, 0xF7))
OTHER_SCRIPTS = ("ΑΒΓΔΕΖΗΘΙΚΛΜαβγδεζηθικλμνξοπρστ" "АБВГДЕЖЗИКЛМНОПабвгдежзиклмноп"
                 "日本語中文漢字한국어")


def _words(word: st.SearchStrategy[str], lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.lists(word, min_size=lo, max_size=hi).map(" ".join)


SUBJECTS = st.one_of(
    _words(WORD, 1, 8).map(lambda s: s[:60]),
    _words(st.text(alphabet=LATIN1, min_size=1, max_size=10), 1, 6).map(lambda s: s[:60]),
    _words(st.text(alphabet=OTHER_SCRIPTS, min_size=1, max_size=6), 1, 3),
).map(str.strip).filter(bool)

MSGID_LOCAL = st.from_regex(r"[A-Za-z0-9]{1,10}(\.[A-Za-z0-9_+-]{1,8}){0,2}", fullmatch=True)
MSGIDS = st.builds(lambda local, domain: f"<{local}@{domain}>", MSGID_LOCAL,
                   st.sampled_from(MAPPED_DOMAINS + UNMAPPED_DOMAINS))
ZONES = [timezone(timedelta(hours=h, minutes=m)) for h, m in
         ((0, 0), (1, 0), (-8, 0), (5, 30), (-3, -30), (13, 0))]
DATES = st.builds(lambda dt, tz: dt.replace(tzinfo=UTC).astimezone(tz),
                  st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)
                               ).map(lambda d: d.replace(microsecond=0)),
                  st.sampled_from(ZONES))
#: §5.3.3 encoded-info: EIT names (any case, as §5.3.3 reads them) and OIDs
EIT_LISTS = st.lists(st.sampled_from(["IA5-Text", "G3-Fax", "Teletex", "telex", "Voice",
                                      "1.3.6.1.7.1.3.5", "2.6.3.4.0", "1.0.10021.7.1.0.100"]),
                     min_size=1, max_size=4, unique=True).map(", ".join)
X_FIELDS = st.sampled_from(["Keywords", "Comments", "X-Mailer", "X-Fruit-Of-The-Day",
                            "X-Loop-Id"])


# ------------------------------------------------------------------------------ MIME side


@dataclass(frozen=True)
class TextPart:
    text: str  # "\n" line ends, ends with "\n"
    charset: str


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes


@dataclass(frozen=True)
class MimeCase:
    from_: tuple[str, str]  # (display name, addr-spec)
    to: tuple[tuple[str, str], ...]
    cc: tuple[tuple[str, str], ...]
    bcc: tuple[tuple[str, str], ...]
    subject: str | None
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    date: datetime | None
    importance: str | None
    sensitivity: str | None
    expires: datetime | None
    reply_by: datetime | None
    extra: tuple[tuple[str, str], ...]
    parts: tuple[TextPart | Attachment, ...]
    #: MIXER fields (§5.1.7, H-11): Incomplete-Copy, Original-Encoded-Information-Types
    #: (its value), a top-level Delivery-Date
    incomplete_copy: bool = False
    original_eits: str | None = None
    delivery_date: datetime | None = None

    def recipients(self) -> list[str]:
        return [a for _, a in self.to + self.cc + self.bcc]


def _charset_for(text: str) -> str:
    if text.isascii():
        return "us-ascii"
    try:
        text.encode("iso-8859-1")
    except UnicodeEncodeError:
        return "utf-8"
    return "iso-8859-1"


ASCII_WORDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;!-'/&"
#: one script besides ASCII per text part (two 96-sets in one GeneralText, e.g. Cyrillic and
#: Greek, have their own regression test at the end of this file)
SCRIPTS = [LATIN1, "ΑΒΓΔΕΖΗΘΙΚΛΜαβγδεζηθικλμνξοπρστ", "АБВГДЕЖЗИКЛМНОПабвгдежзиклмноп",
           "日本語中文漢字"]


def _text_in(script: str) -> st.SearchStrategy[str]:
    word = st.text(alphabet=ASCII_WORDS, min_size=1, max_size=8) | st.text(
        alphabet=script, min_size=1, max_size=8)
    return st.lists(_words(word, 1, 8), min_size=1, max_size=5).map(
        lambda lines: "\n".join(lines) + "\n")


TEXTS = st.sampled_from(SCRIPTS).flatmap(_text_in)
TEXT_PARTS = TEXTS.map(lambda t: TextPart(text=t, charset=_charset_for(t)))
ATTACHMENTS = st.builds(Attachment, st.from_regex(r"[A-Za-z0-9_-]{1,12}\.(bin|pdf|dat)",
                                                  fullmatch=True),
                        st.binary(min_size=1, max_size=300))
MAILBOX = st.tuples(DISPLAY, ADDR_SPECS)


@st.composite
def mime_cases(draw: st.DrawFn) -> MimeCase:
    rcpts = draw(st.lists(ADDR_SPECS, max_size=5, unique_by=str.lower))
    n_to = draw(st.integers(0, len(rcpts)))
    n_cc = draw(st.integers(0, len(rcpts) - n_to))
    named = [(draw(DISPLAY), a) for a in rcpts]
    opt = st.booleans()
    return MimeCase(
        from_=draw(MAILBOX),
        to=tuple(named[:n_to]), cc=tuple(named[n_to:n_to + n_cc]),
        bcc=tuple(named[n_to + n_cc:]),
        subject=draw(st.none() | SUBJECTS),
        message_id=draw(st.none() | MSGIDS),
        in_reply_to=draw(st.none() | MSGIDS),
        references=tuple(draw(st.lists(MSGIDS, max_size=3, unique=True))),
        date=draw(DATES) if draw(opt) else None,
        importance=draw(st.none() | st.sampled_from(["low", "normal", "high"])),
        sensitivity=draw(st.none() | st.sampled_from(
            ["Personal", "Private", "Company-Confidential"])),
        expires=draw(DATES) if draw(opt) else None,
        reply_by=draw(DATES) if draw(opt) else None,
        extra=tuple(draw(st.lists(st.tuples(X_FIELDS, _words(WORD, 1, 5)), max_size=3))),
        parts=tuple(draw(st.lists(st.one_of(TEXT_PARTS, ATTACHMENTS), min_size=1,
                                  max_size=3))),
        incomplete_copy=draw(opt),
        original_eits=draw(st.none() | EIT_LISTS),
        delivery_date=draw(DATES) if draw(opt) else None)


def _header(value: str) -> str:
    """RFC 2047 encoded-words when not ASCII (ISO-8859-1 where it fits, else UTF-8)."""
    if value.isascii():
        return value
    return Header(value, _charset_for(value), maxlinelen=76).encode(linesep="\r\n")


def _entity(part: TextPart | Attachment) -> list[str]:
    if isinstance(part, TextPart):
        octets = part.text.replace("\n", "\r\n").encode(part.charset)
        if part.charset == "us-ascii":
            return [f"Content-Type: text/plain; charset={part.charset}", "",
                    part.text.replace("\n", "\r\n")]
        return [f"Content-Type: text/plain; charset={part.charset}",
                "Content-Transfer-Encoding: base64", "", _b64(octets)]
    return ["Content-Type: application/octet-stream",
            f'Content-Disposition: attachment; filename="{part.filename}"',
            "Content-Transfer-Encoding: base64", "", _b64(part.data)]


def _b64(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def render(case: MimeCase) -> bytes:
    """The case as RFC 5322/MIME octets (CRLF), written out by hand so the test controls
    every field."""
    h: list[str] = [f"From: {_addresses_encoded((case.from_,))}"]
    for name, value in (("To", case.to), ("Cc", case.cc), ("Bcc", case.bcc)):
        if value:
            h.append(f"{name}: {_addresses_encoded(value)}")
    if case.subject is not None:
        h.append(f"Subject: {_header(case.subject)}")
    if case.message_id is not None:
        h.append(f"Message-ID: {case.message_id}")
    if case.in_reply_to is not None:
        h.append(f"In-Reply-To: {case.in_reply_to}")
    if case.references:
        h.append(f"References: {' '.join(case.references)}")
    if case.date is not None:
        h.append(f"Date: {email.utils.format_datetime(case.date)}")
    if case.importance is not None:
        h.append(f"Importance: {case.importance}")
    if case.sensitivity is not None:
        h.append(f"Sensitivity: {case.sensitivity}")
    if case.expires is not None:
        h.append(f"Expires: {email.utils.format_datetime(case.expires)}")
    if case.reply_by is not None:
        h.append(f"Reply-By: {email.utils.format_datetime(case.reply_by)}")
    if case.incomplete_copy:
        h.append("Incomplete-Copy:")
    if case.original_eits is not None:
        h.append(f"Original-Encoded-Information-Types: {case.original_eits}")
    if case.delivery_date is not None:
        h.append(f"Delivery-Date: {email.utils.format_datetime(case.delivery_date)}")
    h += [f"{n}: {v}" for n, v in case.extra]
    h.append("MIME-Version: 1.0")
    if len(case.parts) == 1:  # the last line break is the one render() ends with
        lines = h + _entity(case.parts[0])
        lines[-1] = lines[-1].removesuffix("\r\n")
    else:  # the line break before a delimiter belongs to it (RFC 2046 §5.1.1)
        lines = h + ['Content-Type: multipart/mixed; boundary="=_b"', ""]
        for part in case.parts:
            lines += ["--=_b"] + _entity(part)
        lines.append("--=_b--")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _addresses_encoded(mailboxes: tuple[tuple[str, str], ...]) -> str:
    out = []
    for name, addr in mailboxes:
        if not name:
            out.append(addr)
        elif name.isascii():
            out.append(str(Address(display_name=name, addr_spec=addr)))
        else:
            out.append(f"{_header(name)} <{addr}>")
    return ", ".join(out)


def _spec(addr: str) -> tuple[str, str]:
    """An addr-spec compared as the mapping defines it: the local part exactly, the domain
    case-insensitively (RFC 5321 §2.4; the tables spell domains their own way)."""
    local, _, domain = addr.rpartition("@")
    return local, domain.lower()


def _specs(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    header = msg[name]
    if header is None:
        return []
    return [_spec(a.addr_spec) for a in header.addresses]


def _when(msg: EmailMessage, name: str) -> datetime | None:
    value = msg[name]
    return None if value is None else email.utils.parsedate_to_datetime(str(value))


def _unfold(value: str) -> str:
    return " ".join(value.split())


def _leaves(msg: EmailMessage) -> tuple[list[str], list[tuple[str | None, bytes]]]:
    """Text of the text/plain leaves without a file name; (filename, octets) of the others."""
    texts: list[str] = []
    files: list[tuple[str | None, bytes]] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        assert isinstance(part, EmailMessage)
        if part.get_content_type() == "text/plain" and part.get_filename() is None:
            texts.append(part.get_content().replace("\r\n", "\n"))
        else:
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            files.append((part.get_filename(), data))
    return texts, files


def mime_round_trip(case: MimeCase) -> tuple[EmailMessage, tuple[Defect, ...], IPM]:
    data = render(case)
    rcpts = case.recipients() or ["c@AC.UK"]
    there = mime_to_x400(data, f"<{case.from_[1]}>", rcpts, CTX)
    assert isinstance(there.apdu, Message)
    wire = decode_apdu(encode_apdu(there.apdu))
    assert isinstance(wire, Message)
    ipm = decode_content(wire.content)
    assert isinstance(ipm, IPM)
    back = x400_to_mime(wire, CTX)
    # every SMTP recipient with responsibility comes back as an RCPT TO
    assert sorted(_spec(a) for a in back.rcpt_to) == sorted(_spec(a) for a in rcpts)
    assert _spec(back.mail_from) == _spec(case.from_[1])  # A-24 / §4.6.2.1
    parsed = BytesParser(policy=policy.default).parsebytes(back.message)
    assert isinstance(parsed, EmailMessage)
    return parsed, there.defects + back.defects, ipm


@SETTINGS
@given(case=mime_cases())
def test_mime_x400_mime_preserves_mapped_fields(case: MimeCase) -> None:
    """G-7 reversibility for 822-originated mail: every field §5.1 maps comes back from §5.3
    (A-33 msg-ids, H-4 / X-4 heading fields, H-1 rfc-822-field, RFC 2157 bodies)."""
    out, defects, ipm = mime_round_trip(case)
    kinds = {d.kind for d in defects}
    # H-4 / X-4: originator and recipients, as mapped addresses
    assert _specs(out, "From") == [_spec(case.from_[1])]
    assert _specs(out, "To") == [_spec(a) for _, a in case.to]
    assert _specs(out, "Cc") == [_spec(a) for _, a in case.cc]
    assert _specs(out, "Bcc") == [_spec(a) for _, a in case.bcc]
    # H-4 Subject: T.61 where it can, else RFC 2047 encoded-words in the TeletexString (§5.1.2)
    if case.subject is None:
        assert out["Subject"] is None
    elif "truncated" in kinds and len(ipm.heading.subject or "") == UB_SUBJECT_FIELD:
        assert any("Subject" in d.detail for d in defects if d.kind == "truncated")
    else:  # the gateway may fold right after "Subject:"; policy.default then keeps a space
        assert str(out["Subject"]).strip() == case.subject
    # A-33 / §4.7.3: msg-ids that came from 822 go back unchanged
    if case.message_id is not None:
        assert str(out["Message-ID"]).strip() == case.message_id
    if case.in_reply_to is not None:
        assert str(out["In-Reply-To"]).split() == [case.in_reply_to]
    if case.references:
        assert str(out["References"]).split() == list(case.references)
    else:
        assert out["References"] is None
    # §5.1.6 Date -> trace (originating domain) -> §5.3.2 Date: the same instant
    if case.date is not None:
        assert _when(out, "Date") == case.date
    # §5.1.3 / §5.3.4 keyword fields; "normal" importance is the X.420 default
    assert (str(out["Importance"] or "normal")).lower() == (case.importance or "normal")
    assert (None if out["Sensitivity"] is None else str(out["Sensitivity"]).lower()) == (
        None if case.sensitivity is None else case.sensitivity.lower())
    assert _when(out, "Expires") == case.expires
    assert _when(out, "Reply-By") == case.reply_by
    # H-1: other fields travel in the rfc-822-field extension, in order
    names = {n.lower() for n, _ in case.extra}
    got = [(n, _unfold(str(v))) for n, v in out.items() if n.lower() in names]
    assert got == [(n, _unfold(v)) for n, v in case.extra]
    # H-11 (§5.1.7): Incomplete-Copy via the incomplete-copy heading extension; the
    # original EITs via original-EITs, with the converted ones added (§5.1.5); a top-level
    # Delivery-Date (no MTS submission or transfer element) via rfc-822-field, verbatim
    assert (out["Incomplete-Copy"] is not None) == case.incomplete_copy
    assert len(out.get_all("Incomplete-Copy", [])) <= 1
    if case.incomplete_copy:
        assert any(e.type == "2.6.1.5.0" for e in ipm.heading.extensions or ())
    assert len(out.get_all("Original-Encoded-Information-Types", [])) == 1
    if case.original_eits is not None:
        sent, kept = parse_eits(case.original_eits), parse_eits(
            str(out["Original-Encoded-Information-Types"]))
        assert sent.builtin <= kept.builtin and set(sent.extended) <= set(kept.extended)
    assert _when(out, "Delivery-Date") == case.delivery_date
    # RFC 2157 §6.1/§6.2 text (IA5 or GeneralText) and §2.3 FTBP name + octets
    texts, files = _leaves(out)
    assert texts == [p.text for p in case.parts if isinstance(p, TextPart)]
    assert files == [(p.filename, p.data) for p in case.parts if isinstance(p, Attachment)]


# ------------------------------------------------------------------------------ X.400 side

#: O/R addresses the mapping takes to 822 and back unchanged: under an MCGAM (table1), and
#: without one (§4.3.5 Mapping B: the whole O/R address left of the gateway's domain), and
#: RFC-822 DDAs (Mapping A) of this gateway and of gate2's preferred gateway for alter.net
OR_MAPPED = ["/S=Smith/O=ucl/PRMD=UK.AC/ADMD=GOLD 400/C=GB/",
             "/G=Jo/S=Bloggs/PRMD=UK.AC/ADMD=GOLD 400/C=GB/",
             "/S=a/O=Widget/ADMD=BTT/C=TC/",
             "/S=Rose/OU=Research/PRMD=GMD/ADMD=DBP/C=DE/",
             "/S=Dupont/ADMD=ATLAS/C=FR/"]
OR_UNMAPPED = ["/S=x/O=Nowhere/ADMD=X/C=ZZ/",
               "/G=Hans/S=Mueller/O=Firma/ADMD=Telekom/C=DE/"]
OR_822 = ["/RFC-822=bob(a)example.org/O=mr/PRMD=uk.ac/ADMD= /C=gb/",
          "/RFC-822=c(a)alter.net/PRMD=relay/ADMD=BTglobal/C=gb/"]
OR_POOL = OR_MAPPED + OR_UNMAPPED + OR_822
FREE_FORM = st.none() | st.sampled_from(["Jo Bloggs", "Marshall T. Rose", "Jürgen Müller"])
T61_SUBJECTS = st.one_of(
    _words(WORD, 1, 8), _words(st.text(alphabet=LATIN1, min_size=1, max_size=10), 1, 6),
).map(lambda s: s[:60].strip()).filter(lambda s: bool(s) and t61_can_encode(s))
UTC_TIMES = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC))
IA5_TEXTS = st.lists(_words(WORD, 1, 10), min_size=1, max_size=5).map(
    lambda lines: "\r\n".join(lines) + "\r\n")
LATIN1_TEXTS = st.lists(_words(st.text(alphabet=LATIN1, min_size=1, max_size=8), 1, 8),
                        min_size=1, max_size=5).map(lambda lines: "\r\n".join(lines) + "\r\n")
#: ISO-8859-1 as GeneralText: ISO 646 IRV (1), latin-1 right half (100), C0 (6) -- what the
#: §6.2 table gives for charset=iso-8859-1
LATIN1_SETS = (1, 6, 100)
X400_BODY = st.one_of(
    st.builds(IA5TextBodyPart, text=IA5_TEXTS),
    st.builds(GeneralTextBodyPart, text=LATIN1_TEXTS.filter(lambda t: not t.isascii()),
              charsets=st.just(LATIN1_SETS)),
    st.builds(FileTransferBodyPart, data=st.binary(min_size=1, max_size=300),
              filename=st.from_regex(r"[A-Za-z0-9_-]{1,12}\.(bin|pdf|dat)", fullmatch=True)),
)


INCOMPLETE_COPY = "2.6.1.5.0"  # X.420 incomplete-copy heading extension
X400_EITS = st.builds(
    EncodedInformationTypes,
    builtin=st.frozensets(st.sampled_from(list(BuiltInEIT)), min_size=1, max_size=3),
    extended=st.lists(st.sampled_from(["1.3.6.1.7.1.3.5", "2.6.3.4.0", "1.2.3.4"]),
                      max_size=2, unique=True).map(tuple))


def orname(text: str) -> ORName:
    return ORName(address=ORAddress.parse(text))


URIDS = st.from_regex(r"[A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,8}){0,2}", fullmatch=True)
#: X.400 generated with a user: <"urid*std-or"@MHS> (§4.7.3.4); 822 generated (§4.7.3.1):
#: the ps-encoded msg-id, no user
LISTABLE_IPM_IDS = st.one_of(
    st.builds(IPMIdentifier, user=st.sampled_from(OR_POOL).map(orname), local=URIDS),
    MSGIDS.map(lambda m: IPMIdentifier(local=ps_encode(m[1:-1]))))
#: ... and without a user, which In-Reply-To/References carry as a phrase (§4.7.3.5); two
#: such phrases in one field have their own regression test at the end of this file
IPM_IDS = LISTABLE_IPM_IDS | st.builds(IPMIdentifier, local=URIDS)


@st.composite
def x400_messages(draw: st.DrawFn) -> Message:
    names = draw(st.lists(st.sampled_from(OR_POOL), min_size=1, max_size=5, unique=True))
    n_to = draw(st.integers(0, len(names)))
    n_cc = draw(st.integers(0, len(names) - n_to))

    def specs(part: list[str]) -> tuple[RecipientSpecifier, ...] | None:
        return tuple(RecipientSpecifier(recipient=ORDescriptor(
            formal_name=orname(n), free_form_name=draw(FREE_FORM))) for n in part) or None

    originator = draw(st.sampled_from(OR_POOL))
    heading = Heading(
        this_ipm=draw(IPM_IDS),
        originator=ORDescriptor(formal_name=orname(originator), free_form_name=draw(FREE_FORM)),
        primary=specs(names[:n_to]), copy=specs(names[n_to:n_to + n_cc]),
        blind_copy=specs(names[n_to + n_cc:]),
        replied_to=draw(st.none() | IPM_IDS),
        related=tuple(draw(st.lists(LISTABLE_IPM_IDS, max_size=2, unique=True))
                      + draw(st.lists(IPM_IDS, max_size=1))) or None,
        subject=draw(st.none() | T61_SUBJECTS),
        expiry_time=draw(st.none() | UTC_TIMES), reply_time=draw(st.none() | UTC_TIMES),
        importance=draw(st.sampled_from(list(Importance))),
        sensitivity=draw(st.none() | st.sampled_from(list(Sensitivity))),
        auto_forwarded=draw(st.booleans()),
        extensions=(IPMSExtension(type=INCOMPLETE_COPY),) if draw(st.booleans()) else None)
    body = tuple(draw(st.lists(X400_BODY, min_size=1, max_size=3)))
    gdi = GlobalDomainIdentifier(country="GB", admd="GOLD 400", prmd="UK.AC")
    envelope = Envelope(
        identifier=MTSIdentifier(domain=gdi, local=draw(st.from_regex(
            r"[A-Za-z0-9]{1,12}", fullmatch=True))),
        originator=orname(originator), content_type=22,
        recipients=tuple(Recipient(name=orname(n), number=i,
                                   indicators=PerRecipientIndicators.RESPONSIBILITY)
                         for i, n in enumerate(names, 1)),
        trace=(TraceElement(domain=gdi, arrival_time=draw(UTC_TIMES)),),
        original_eits=draw(st.none() | X400_EITS))
    return Message(envelope=envelope, content=encode_content(IPM(heading=heading, body=body)))


def _as_822(name: ORName) -> str:
    return CTX.mapper.to_rfc822(name).address


def _body_view(body: tuple[BodyPart, ...]) -> list[tuple[str, object, object]]:
    """What of a body part the mapping defines to come back: text, FTBP name and data."""
    out: list[tuple[str, object, object]] = []
    for b in body:
        if isinstance(b, IA5TextBodyPart | GeneralTextBodyPart):
            out.append(("text", b.text, None))
        elif isinstance(b, FileTransferBodyPart):
            out.append(("file", b.filename, b.data))
        else:
            out.append((type(b).__name__, None, None))
    return out


@SETTINGS
@given(message=x400_messages())
def test_x400_mime_x400_preserves_heading_body_and_envelope(message: Message) -> None:
    """G-7 reversibility for X.400-originated mail: §5.3 then §5.1 gives back the heading
    (X-4 / H-4, §4.7.3 identifiers), IA5 / GeneralText text and FTBP name + data (RFC 2157),
    and the envelope originator and recipients (A-24..A-26)."""
    ipm = decode_content(message.content)
    assert isinstance(ipm, IPM)
    mime = x400_to_mime(message, CTX)
    there = mime_to_x400(mime.message, mime.mail_from, mime.rcpt_to, CTX)
    assert isinstance(there.apdu, Message)
    wire = decode_apdu(encode_apdu(there.apdu))
    assert isinstance(wire, Message)
    back = decode_content(wire.content)
    assert isinstance(back, IPM)
    h, b = ipm.heading, back.heading
    assert b.this_ipm == h.this_ipm  # §4.7.3.4 / §4.7.3.3
    assert b.originator == h.originator  # X-4 From:
    assert b.primary == h.primary and b.copy == h.copy and b.blind_copy == h.blind_copy
    assert b.replied_to == h.replied_to and b.related == h.related  # §4.7.3.5
    assert b.subject == h.subject
    assert b.importance == h.importance and b.sensitivity == h.sensitivity
    assert b.expiry_time == h.expiry_time and b.reply_time == h.reply_time
    assert b.auto_forwarded == h.auto_forwarded
    # H-11 / X-5: incomplete-copy, and no rfc-822-field copy of the field
    def incomplete(heading: Heading) -> list[object]:
        return [e.value for e in heading.extensions or () if e.type == INCOMPLETE_COPY]

    assert incomplete(b) == incomplete(h)
    assert not any(str(f).lower().startswith("incomplete-copy") for e in b.extensions or ()
                   if isinstance(e.value, tuple) for f in e.value)
    assert _body_view(back.body) == _body_view(ipm.body)
    # GeneralText keeps its character sets when the §6.2 table has the charset
    assert [p.charsets for p in back.body if isinstance(p, GeneralTextBodyPart)] == [
        p.charsets for p in ipm.body if isinstance(p, GeneralTextBodyPart)]
    # envelope: A-24 originator via MAIL FROM, A-25/A-26 recipients via RCPT TO -- the same
    # 822 address; an RFC-822 DDA of another gateway (gate2) comes back as this gateway's
    # DDA (§4.3.4 Stage II: MTS-level addresses without an MCGAM use the local gateway)
    env, env2 = message.envelope, wire.envelope
    assert _as_822(env2.originator) == _as_822(env.originator)
    assert [_as_822(r.name) for r in env2.recipients] == [
        _as_822(r.name) for r in env.recipients]
    # H-11 / X-6: original-EITs come back, with the EITs of this conversion added (§5.1.5)
    if env.original_eits is not None:
        assert env2.original_eits is not None
        assert env.original_eits.builtin <= env2.original_eits.builtin
        assert set(env.original_eits.extended) <= set(env2.original_eits.extended)
    # §5.1.7: X400-MTS-Identifier is not mapped back; the identifier is new (A-30, H-9)
    assert any(d.kind == "header-discarded" and d.detail.startswith("X400-MTS-Identifier")
               for d in there.defects)


# ------------------------------------------------------------------------------ examples


def test_rfc2156_example_round_trip() -> None:
    """One fixed case of each direction, so a failure is readable without Hypothesis."""
    case = MimeCase(
        from_=("Jo Bloggs", "Jo.Bloggs@cs.ucl.AC.UK"), to=(("", "c@Widget.COM"),),
        cc=(("Bob", "bob@example.org"),), bcc=(), subject="Café au lait",
        message_id="<1.2@cs.ucl.AC.UK>", in_reply_to="<0.1@AC.UK>",
        references=("<a@b.example.org>",), date=datetime(2026, 11, 28, 9, 30, 15, tzinfo=UTC),
        importance="high", sensitivity="Private", expires=None, reply_by=None,
        extra=(("Keywords", "kiwi, fruit"), ("X-Fruit-Of-The-Day", "Kiwi")),
        parts=(TextPart("Hello\n", "us-ascii"), Attachment("a.bin", b"\0\1\2")))
    out, _, ipm = mime_round_trip(case)
    assert str(out["Subject"]) == "Café au lait"
    assert ipm.heading.importance == Importance.HIGH
    assert _leaves(out) == (["Hello\n"], [("a.bin", b"\0\1\2")])


# ------------------------------------------------------------------ regressions, known bugs


def test_subject_bound_counts_t61_octets() -> None:
    """X.420 SubjectField ::= TeletexString (SIZE (0..ub-subject-field)): the bound as the
    independent decoders check it.  Regression: Wireshark found 132-octet subjects in the
    corpus (flanker/long-header.eml), cut to 128 *characters* with 2-octet T.61 diacritics."""
    subject = "Die heiße Zypernsonne quälte Max und Victoria ja böse auf dem Weg " * 2
    data = (f"From: a@AC.UK\r\nTo: b@AC.UK\r\nSubject: {_header(subject)}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi\r\n").encode()
    res = mime_to_x400(data, "<a@AC.UK>", ["b@AC.UK"], CTX)
    assert isinstance(res.apdu, Message)
    ipm = decode_content(res.apdu.content)
    assert isinstance(ipm, IPM) and ipm.heading.subject is not None
    assert len(t61_encode(ipm.heading.subject)) <= UB_SUBJECT_FIELD
    assert any(d.kind == "truncated" and "Subject" in d.detail for d in res.defects)


def test_single_part_message_heading_is_not_a_discarded_body_part_header() -> None:
    """RFC 2157 §2.4 (4) is about body part headers: a single-part message's heading fields
    are not lost.  Regression: they were reported as lossy 'header-discarded'."""
    data = (b"From: a@AC.UK\r\nTo: b@AC.UK\r\nSubject: hi\r\nMessage-ID: <1@AC.UK>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi\r\n")
    res = mime_to_x400(data, "<a@AC.UK>", ["b@AC.UK"], CTX)
    assert not [d for d in res.defects if d.kind == "header-discarded"], res.defects
    assert not res.lossy


def test_mcgam_with_omitted_organization_round_trips() -> None:
    case = MimeCase(
        from_=("", "a@AC.UK"), to=(("", "c@GMD.DE"),), cc=(), bcc=(), subject=None,
        message_id=None, in_reply_to=None, references=(), date=None, importance=None,
        sensitivity=None, expires=None, reply_by=None, extra=(),
        parts=(TextPart("hi\n", "us-ascii"),))
    out, _, _ = mime_round_trip(case)
    assert _specs(out, "To") == [_spec("c@GMD.DE")]


def test_general_text_with_two_96_sets_round_trips() -> None:
    ipm = IPM(heading=Heading(this_ipm=IPMIdentifier(local="x")), body=(
        GeneralTextBodyPart(text="АΑ", charsets=(1, 6, 144, 126)),))  # Cyrillic А, Greek Α
    back = decode_content(encode_content(ipm))
    assert isinstance(back, IPM)
    assert [p.text for p in back.body if isinstance(p, GeneralTextBodyPart)] == ["АΑ"]


def test_two_phrase_form_references_round_trip() -> None:
    related = (IPMIdentifier(local="0"), IPMIdentifier(local="4"))
    gdi = GlobalDomainIdentifier(country="GB", admd="GOLD 400", prmd="UK.AC")
    me = orname(OR_MAPPED[0])
    ipm = IPM(heading=Heading(this_ipm=IPMIdentifier(user=me, local="1"),
                              originator=ORDescriptor(formal_name=me), related=related),
              body=(IA5TextBodyPart(text="hi\r\n"),))
    message = Message(envelope=Envelope(
        identifier=MTSIdentifier(domain=gdi, local="1"), originator=me, content_type=22,
        recipients=(Recipient(name=me, number=1,
                              indicators=PerRecipientIndicators.RESPONSIBILITY),),
        trace=(TraceElement(domain=gdi, arrival_time=NOW),)), content=encode_content(ipm))
    mime = x400_to_mime(message, CTX)
    there = mime_to_x400(mime.message, mime.mail_from, mime.rcpt_to, CTX)
    assert isinstance(there.apdu, Message)
    back = decode_content(there.apdu.content)
    assert isinstance(back, IPM)
    assert back.heading.related == related
