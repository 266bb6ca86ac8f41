"""RFC 6477: the MMHS-* header fields <-> STANAG 4406 / ACP 123 Annex A1 heading extensions
(P772), and the §6 gateway rules.

Both directions are registries, as the other heading mappings are:

* :data:`TO_MIME` — heading-extension OID -> the rule writing its ``MMHS-*`` field (§3, §6:
  "header fields MUST be generated ... for all ACP 123 heading extensions where an equivalent
  header is defined"); :mod:`bridge.convert.mime_headers` merges it into ``IPMS_EXTENSIONS``.
  The extensions without a field (address list indicator, pilot forwarding information,
  information labels, §5) go the generic way: listed in ``Discarded-X400-IPMS-Extensions``
  with a defect, or kept as ``X400-Unmapped-Extension`` (policy ``keep_unmapped``).
* :data:`FIELDS` — ``MMHS-*`` field name (lower case) -> handler filling
  ``HeadingBuilder.mmhs``; :mod:`bridge.convert.x400_heading` merges it into
  ``HEADER_HANDLERS``.  A field that does not follow the §4 ABNF, or appears a second time
  (§3: "MUST NOT appear more than once"), goes to the rfc-822-field extension with a defect,
  as any malformed field does (RFC 2156 §5.1.3).
* :func:`p772_ipm` — §6 rules a-d for the P772 generated from a message with any ``MMHS-*``
  field; :func:`acp123_msgid` — rule d reversed (the padded identifier maps back).

Field texts (§3, §4): precedences and message types are written as their labels
(``flash``, ``exercise``) when the number has one, else as the number; sequences are joined
with ``"; "``; the exempted addresses are an address-list (RFC 2156 §4.7.2 descriptors).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from bridge.convert import mmhs_auth
from bridge.convert.mime_run import Run
from bridge.convert.mime_text import Header, date
from bridge.convert.mmhs_body import mm_messages
from bridge.convert.result import Defect
from bridge.convert.x400_fields import COMMENT, Invalid, parse_date, unfold
from bridge.errors import AddressSyntaxError, BridgeError
from bridge.mapping.address import Role
from bridge.mapping.msgid import ipm_id_to_msgid, is_msg_id
from bridge.mapping.psencode import ps_decode
from bridge.memo import Memo
from bridge.model import mmhs
from bridge.model.common import Opaque
from bridge.model.ipm import IPM, Heading, IPMIdentifier, IPMSExtension
from bridge.model.oraddress import ORName

if TYPE_CHECKING:
    from bridge.convert.context import Context
    from bridge.convert.x400_heading import HeadingBuilder

RULE = "RFC 6477 §3"
RULE_6 = "RFC 6477 §6"
#: §6 b: the MMHS-Primary-Precedence of a message that has To: but no such field (local
#: policy, which the RFC leaves open): routine, the lowest precedence of normal traffic
DEFAULT_PRIMARY_PRECEDENCE = mmhs.Precedence.ROUTINE
#: §6 d 1: ACP 123 IPM identifiers have a local part of at least 15 characters
ACP123_MIN_LOCAL = 15

# §4 ABNF: military-string = 1*69(ps-char); ps-char is the PrintableString repertoire
_PS = r"[A-Za-z0-9 '()+,\-./:=?]"
_MILITARY = re.compile(rf"{_PS}{{1,{mmhs.UB_MILITARY_STRING}}}")
_SIC = re.compile(rf"{_PS}{{{mmhs.LB_MILITARY_SIC},{mmhs.UB_MILITARY_SIC}}}")
_NUMBER = re.compile(r"0|[1-9][0-9]{0,9}")
_IDENTIFIER = re.compile(r'identifier[ \t]*=[ \t]*"([^"]*)"', re.I)

# field names, as §3 spells them
EXEMPTED = "MMHS-Exempted-Address"
AUTHORISATION = "MMHS-Extended-Authorisation-Info"
SICS = "MMHS-Subject-Indicator-Codes"
HANDLING = "MMHS-Handling-Instructions"
INSTRUCTIONS = "MMHS-Message-Instructions"
CODRESS = "MMHS-Codress-Message-Indicator"
REFERENCE = "MMHS-Originator-Reference"
PRIMARY = "MMHS-Primary-Precedence"
COPY = "MMHS-Copy-Precedence"
MESSAGE_TYPE = "MMHS-Message-Type"
OTHER_TO = "MMHS-Other-Recipients-Indicator-To"
OTHER_CC = "MMHS-Other-Recipients-Indicator-CC"
ACP127_ID = "MMHS-Acp127-Message-Identifier"
PLAD = "MMHS-Originator-PLAD"


def _label(value: int, names: type[mmhs.Precedence] | type[mmhs.MessageTypeKind]) -> str:
    try:
        return names(value).name.lower()
    except ValueError:
        return str(value)


# ------------------------------------------------------------------- X.400 -> 822 (§3, §6)

ToMimeRule = Callable[[Run, IPMSExtension], list[Header]]


def _exempted(run: Run, e: IPMSExtension) -> list[Header]:
    assert isinstance(e.value, mmhs.ExemptedAddresses)
    value = run.descriptors(e.value.addresses, "exempted address")
    return [(EXEMPTED, value)] if value else []


def _authorisation(run: Run, e: IPMSExtension) -> list[Header]:
    """§3.2: the time as an RFC 5322 date-time, its zone preserved (RFC 2156 §3.3.5)."""
    if not isinstance(e.value, mmhs.ExtendedAuthorisationInfo):
        return []
    return [(AUTHORISATION, date(e.value.time))]


def _sics(run: Run, e: IPMSExtension) -> list[Header]:
    """§3.3: only the SICs; distribution extensions "MAY be discarded" (§6) -- with a defect,
    or kept visibly under policy ``keep_unmapped``."""
    from bridge.convert.mime_headers import keep_unmapped

    assert isinstance(e.value, mmhs.DistributionCodes)
    for ext in e.value.extensions or ():
        if run.ctx.policy.keep_unmapped:
            keep_unmapped(run, "IPMS", f"distribution-extension {ext.type}", ext.value, False)
        else:
            run.defect("extension-discarded", f"distribution extension {ext.type} of "
                       "distribution-codes", RULE_6)
    return [(SICS, "; ".join(e.value.sics))] if e.value.sics else []


def _strings(name: str) -> ToMimeRule:
    def rule(run: Run, e: IPMSExtension) -> list[Header]:
        assert isinstance(e.value, mmhs.HandlingInstructions | mmhs.MessageInstructions)
        return [(name, "; ".join(e.value.instructions))] if e.value.instructions else []
    return rule


def _message_type(run: Run, e: IPMSExtension) -> list[Header]:
    assert isinstance(e.value, mmhs.MessageType)
    text = _label(e.value.type, mmhs.MessageTypeKind)
    if e.value.identifier is not None:
        text += f'; identifier="{e.value.identifier}"'
    return [(MESSAGE_TYPE, text)]


def _other_recipients(run: Run, e: IPMSExtension) -> list[Header]:
    """§3.11/§3.12: the primary designators in ``-To``, the copy ones in ``-CC``."""
    assert isinstance(e.value, mmhs.OtherRecipientsIndicator)
    out = []
    for name, copy in ((OTHER_TO, False), (OTHER_CC, True)):
        names = [r.designator for r in e.value.recipients if r.copy == copy]
        if names:
            out.append((name, "; ".join(names)))
    return out


def _text(name: str) -> ToMimeRule:
    def rule(run: Run, e: IPMSExtension) -> list[Header]:
        return [(name, str(e.value))]
    return rule


#: heading-extension OID -> rule (§6: every A1 extension that has a field)
TO_MIME: dict[str, ToMimeRule] = {
    mmhs.ID_MM_EXEMPTED_ADDRESS: _exempted,
    mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO: _authorisation,
    mmhs.ID_MM_DISTRIBUTION_CODES: _sics,
    mmhs.ID_MM_HANDLING_INSTRUCTIONS: _strings(HANDLING),
    mmhs.ID_MM_MESSAGE_INSTRUCTIONS: _strings(INSTRUCTIONS),
    mmhs.ID_MM_CODRESS_MESSAGE: _text(CODRESS),
    mmhs.ID_MM_ORIGINATOR_REFERENCE: _text(REFERENCE),
    mmhs.ID_MM_PRIMARY_PRECEDENCE: _text(PRIMARY),
    mmhs.ID_MM_COPY_PRECEDENCE: _text(COPY),
    mmhs.ID_MM_MESSAGE_TYPE: _message_type,
    mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR: _other_recipients,
    mmhs.ID_MM_ACP127_MESSAGE_IDENTIFIER: _text(ACP127_ID),
    mmhs.ID_MM_ORIGINATOR_PLAD: _text(PLAD),
}


#: the most field lists :func:`to_mime_rule` keeps
FIELDS_KEPT = 1024
#: (OID, ids of the value, the mapper, the policy) -> (those three, the fields written)
_FIELDS: Memo[tuple[str, int, int, int], tuple[object, object, object, tuple[Header, ...]]] = \
    Memo(FIELDS_KEPT)


def to_mime_rule(rule: ToMimeRule) -> ToMimeRule:
    """Wrap a :data:`TO_MIME` rule: a value kept Opaque (it did not decode) is discarded
    with a defect instead of being written.

    What a rule writes depends on the value, and for addresses on the conversion's mapper
    and policy: it is kept per value object, mapper and policy (the decoder gives the same
    frozen object for the same octets, bridge.codec.p22ext) unless the rule recorded a
    defect, which is then recorded again each time.  The entry holds the objects, so their
    identities stay theirs while it is kept."""
    def checked(run: Run, e: IPMSExtension) -> list[Header]:
        value = e.value
        if isinstance(value, Opaque) or value is None:
            run.defect("extension-discarded", f"military heading extension "
                       f"{mmhs.NAMES.get(e.type, e.type)}: value does not decode", RULE_6)
            return []
        mapper, policy = run.ctx.mapper, run.ctx.policy
        key = (e.type, id(value), id(mapper), id(policy))
        hit = _FIELDS.get(key)
        if hit is not None and hit[0] is value and hit[1] is mapper and hit[2] is policy:
            return list(hit[3])
        before = len(run.defects)
        fields = rule(run, e)
        if len(run.defects) == before:
            _FIELDS.keep(key, (value, mapper, policy, tuple(fields)))
        return fields
    return checked


def is_military(heading: Heading) -> bool:
    """Does the heading carry STANAG 4406 heading extensions (RFC 6477 §6)?"""
    return any(mmhs.is_military(e.type) for e in heading.extensions or ())


def acp123_msgid(run: Run, ident: IPMIdentifier) -> str:
    """§6 d reversed: the local identifier padded with spaces to 15 characters (d 1) maps
    back without the padding; an O/R address part that :func:`p772_ipm` added to an
    822-generated identifier (d 2: the msg-id mapped as an address, or the gateway's own
    O/R address) is dropped again, so that the Message-ID comes back as it was."""
    local = ident.local.rstrip(" ")
    if ident.user is not None:
        try:
            decoded = ps_decode(local)
        except AddressSyntaxError:
            decoded = None
        if decoded is not None and is_msg_id(f"<{decoded}>"):
            gateway = run.ctx.mapper.gateway.or_address
            if ident.user.address == gateway or _maps_to(run, ident.user, decoded):
                return f"<{decoded}>"
    return ipm_id_to_msgid(IPMIdentifier(user=ident.user, local=local))


def _maps_to(run: Run, user: ORName, addr: str) -> bool:
    try:
        mapped = run.ctx.mapper.to_rfc822(user).address
    except BridgeError:
        return False
    left, _, right = addr.rpartition("@")
    m_left, _, m_right = mapped.rpartition("@")
    return left == m_left and right.lower() == m_right.lower()


# ------------------------------------------------------------------- 822 -> X.400 (§4, §6)
#
# Each field is read by a *reader*: the field body (and the field name, which the reason for
# a rejection names) -> the model value, or Invalid.  A reader reads nothing but the text, so
# what it gives for a text is kept (:func:`_read`, bounded): the common values -- precedences,
# message types, SICs, instructions, PLADs -- repeat from message to message and are then not
# parsed again (issue 14: P772 conversion within 1.2x the cost of P22, bench/mmhs.py).  The
# handlers put the values into ``HeadingBuilder.mmhs`` and do what depends on the message (a
# second field, the SIC bound's defect).  The addresses (§3.1) depend on the address mapping
# as well: :func:`_addresses` keeps them per mapper.

Handler = Callable[["HeadingBuilder", str, str], None]
#: field body, field name -> model value; raises :class:`Invalid`
Reader = Callable[[str, str], object]

#: the most field texts :func:`_read` keeps; when full it starts afresh (a gateway meets
#: endless distinct dates and references, so the table must not grow with them)
READ_CACHE_SIZE = 1024
#: the most address fields :func:`_addresses` keeps
ADDRESS_CACHE_SIZE = 256


class _Rejected:
    """A text a reader rejected: the reason, raised as :class:`Invalid` at each use."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


#: (reader, field name, field body) -> model value or _Rejected
_READ: Memo[tuple[Reader, str, str], object] = Memo(READ_CACHE_SIZE)
#: (field body, address mapper, X.400(84) peer) -> the descriptors
_ADDRESSES: Memo[tuple[str, object, bool], mmhs.ExemptedAddresses] = Memo(ADDRESS_CACHE_SIZE)
#: the primary and copy designators -> their other-recipients-indicator value
_OTHERS: Memo[tuple[object, object], mmhs.OtherRecipientsIndicator] = Memo(READ_CACHE_SIZE)


def _read(reader: Reader, name: str, value: str) -> object:
    """``reader(value, name)``, kept per exact text (the values are immutable models)."""
    key = (reader, name, value)
    hit = _READ.get(key)
    if hit is None:
        try:
            hit = reader(value, name)
        except Invalid as exc:
            hit = _Rejected(str(exc))
        _READ.keep(key, hit)
    if type(hit) is _Rejected:
        raise Invalid(hit.reason)
    return hit


def _addresses(b: HeadingBuilder, value: str) -> mmhs.ExemptedAddresses | None:
    """The O/R descriptors of an address-list field (RFC 2156 §4.7.1 as for To:), None for
    none; kept per text and mapper (whose results are immutable, bridge.mapping.address)
    when reading them recorded no defect: a defect depends on more than the text (the
    policy's bounds) and is recorded again each time.  The value object itself is kept, so
    that its BER is made once too (bridge.codec.p22ext.heading_extension_to)."""
    ctx = b.ctx
    key = (value, ctx.mapper, ctx.policy.x400_1984_peer)
    hit = _ADDRESSES.get(key)
    if hit is not None:
        return hit
    before = len(b.defects)
    found = tuple(b.descriptors(value))
    if not found:
        return None
    exempted = mmhs.ExemptedAddresses(addresses=found)
    if len(b.defects) == before:
        _ADDRESSES.keep(key, exempted)
    return exempted


def _put(b: HeadingBuilder, name: str, oid: str, value: object) -> None:
    if oid in b.mmhs:
        raise Invalid(f"second {name} field (RFC 6477 §3)")
    b.mmhs[oid] = value


def _military(text: str, what: str) -> str:
    text = text.strip(" \t")
    if not _MILITARY.fullmatch(text):
        raise Invalid(f"{what} is not a military-string (RFC 6477 §4)")
    return text


def _sequence(value: str, what: str) -> tuple[str, ...]:
    parts = tuple(p.strip(" \t") for p in unfold(value).split(";"))
    if not all(map(_MILITARY.fullmatch, parts)):
        raise Invalid(f"{what} is not a military-string (RFC 6477 §4)")
    return parts


def _number(text: str, what: str) -> int:
    text = text.strip(" \t")
    if not _NUMBER.fullmatch(text):
        raise Invalid(f"{what} is not a non-negative integer (RFC 6477 §4)")
    return int(text)


def _exempted_in(b: HeadingBuilder, name: str, value: str) -> None:
    """§3.1 / §4 ``MMHS-Exempted-Address: address-list`` (RFC 2156 §4.7.2 descriptors)."""
    exempted = _addresses(b, value)
    if exempted is None:
        raise Invalid("no address")
    _put(b, name, mmhs.ID_MM_EXEMPTED_ADDRESS, exempted)


def _authorisation_value(value: str, name: str) -> mmhs.ExtendedAuthorisationInfo:
    """§3.2 / §4 ``MMHS-Extended-Authorisation-Info: date-time`` (RFC 5322 §3.3)."""
    when = parse_date(value)
    if not 1980 <= when.year < 2080:  # the UTCTime window of RFC 2156 §3.3.5
        raise Invalid("date outside the UTCTime window")
    return mmhs.ExtendedAuthorisationInfo(time=when)


def _sics_value(value: str, name: str) -> mmhs.DistributionCodes:
    """§3.3 / §4 ``sic *(";" sic)``, every SIC (the handler applies the bound)."""
    sics = tuple(p.strip(" \t") for p in unfold(value).split(";"))
    if not all(map(_SIC.fullmatch, sics)):
        raise Invalid("a SIC is not 3 to 8 printable characters (RFC 6477 §4)")
    return mmhs.DistributionCodes(sics=sics)


def _sics_in(b: HeadingBuilder, name: str, value: str) -> None:
    codes = _read(_sics_value, name, value)
    assert isinstance(codes, mmhs.DistributionCodes) and codes.sics is not None
    if len(codes.sics) > mmhs.UB_MILITARY_NUMBER_OF_SICS:
        b.defects.append(Defect("truncated", f"{name}: more than 8 SICs, the first 8 sent "
                                "(ACP 123 ub-military-number-of-sics)", "RFC 6477 §4"))
        b.extension_field(name, value)
        codes = mmhs.DistributionCodes(sics=codes.sics[:mmhs.UB_MILITARY_NUMBER_OF_SICS])
    _put(b, name, mmhs.ID_MM_DISTRIBUTION_CODES, codes)


def _handling_value(value: str, name: str) -> mmhs.HandlingInstructions:
    """§3.4 / §4 ``military-string *(";" military-string)``."""
    return mmhs.HandlingInstructions(instructions=_sequence(value, name))


def _instructions_value(value: str, name: str) -> mmhs.MessageInstructions:
    """§3.5 / §4 ``military-string *(";" military-string)``."""
    return mmhs.MessageInstructions(instructions=_sequence(value, name))


def _codress_value(value: str, name: str) -> mmhs.CodressMessage:
    """§3.6 / §4 ``nonneg-integer``."""
    return mmhs.CodressMessage(number=_number(unfold(value), name))


def _text_value(make: Callable[[str], object]) -> Reader:
    """§3.7, §3.13, §3.14 / §4 ``military-string``."""
    def read(value: str, name: str) -> object:
        return make(_military(unfold(value), name))
    return read


def precedence(value: str) -> int:
    """§4 ``precedence = (nonneg-integer / std-precedence) [CFWS]``, labels in any case."""
    word = COMMENT.sub("", unfold(value)).strip(" \t")
    try:
        return int(mmhs.Precedence[word.upper()])
    except KeyError:
        return _number(word, "precedence")


def _precedence_value(make: Callable[[int], object]) -> Reader:
    """§3.8, §3.9 / §4 ``precedence``."""
    def read(value: str, name: str) -> object:
        return make(precedence(value))
    return read


def _message_type_value(value: str, name: str) -> mmhs.MessageType:
    """§3.10 / §4 ``message-type [CFWS] [";" [FWS] identifier=quoted-military-string]``."""
    text = unfold(value)
    kind, sep, param = text.partition(";")
    word = COMMENT.sub("", kind).strip(" \t")
    try:
        number = int(mmhs.MessageTypeKind[word.upper()])
    except KeyError:
        number = _number(word, "message-type")
    identifier = None
    if sep:
        m = _IDENTIFIER.fullmatch(param.strip(" \t"))
        if m is None:
            raise Invalid('parameter is not identifier="..." (RFC 6477 §4)')
        identifier = _military(m.group(1), "identifier")
    return mmhs.MessageType(type=number, identifier=identifier)


def _others_value(copy: bool) -> Reader:
    """§3.11 / §3.12 / §4 ``military-string *(";" military-string)``: the designators."""
    def read(value: str, name: str) -> tuple[mmhs.OtherRecipient, ...]:
        return tuple(mmhs.OtherRecipient(designator=n, copy=copy)
                     for n in _sequence(value, name))
    return read


def _other_in(copy: bool) -> Handler:
    """§3.11/§3.12: both fields feed one other-recipients-indicator (A1.12); each may appear
    once."""
    key = f"{mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR}/{'cc' if copy else 'to'}"
    reader = _others_value(copy)

    def handle(b: HeadingBuilder, name: str, value: str) -> None:
        _put(b, name, key, _read(reader, name, value))
    return handle


def _field_in(oid: str, reader: Reader) -> Handler:
    """The handler of a field whose value is the A1 extension ``oid``'s, as read."""
    def handle(b: HeadingBuilder, name: str, value: str) -> None:
        _put(b, name, oid, _read(reader, name, value))
    return handle


#: field name (lower case) -> handler (§3, §4)
FIELDS: dict[str, Handler] = {
    EXEMPTED.lower(): _exempted_in,
    AUTHORISATION.lower(): _field_in(mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO, _authorisation_value),
    SICS.lower(): _sics_in,
    HANDLING.lower(): _field_in(mmhs.ID_MM_HANDLING_INSTRUCTIONS, _handling_value),
    INSTRUCTIONS.lower(): _field_in(mmhs.ID_MM_MESSAGE_INSTRUCTIONS, _instructions_value),
    CODRESS.lower(): _field_in(mmhs.ID_MM_CODRESS_MESSAGE, _codress_value),
    REFERENCE.lower(): _field_in(mmhs.ID_MM_ORIGINATOR_REFERENCE, _text_value(
        lambda t: mmhs.OriginatorReference(text=t))),
    PRIMARY.lower(): _field_in(mmhs.ID_MM_PRIMARY_PRECEDENCE, _precedence_value(
        lambda n: mmhs.PrimaryPrecedence(level=n))),
    COPY.lower(): _field_in(mmhs.ID_MM_COPY_PRECEDENCE, _precedence_value(
        lambda n: mmhs.CopyPrecedence(level=n))),
    MESSAGE_TYPE.lower(): _field_in(mmhs.ID_MM_MESSAGE_TYPE, _message_type_value),
    OTHER_TO.lower(): _other_in(False),
    OTHER_CC.lower(): _other_in(True),
    ACP127_ID.lower(): _field_in(mmhs.ID_MM_ACP127_MESSAGE_IDENTIFIER, _text_value(
        lambda t: mmhs.Acp127MessageIdentifier(text=t))),
    PLAD.lower(): _field_in(mmhs.ID_MM_ORIGINATOR_PLAD, _text_value(
        lambda t: mmhs.OriginatorPlad(text=t))),
    # RFC 7912 §3: the release authority (bridge.convert.mmhs_auth)
    mmhs_auth.FIELD.lower(): mmhs_auth.authorizing_in,
}

#: the order the extensions are generated in: STANAG 4406 A1 numbering
_ORDER = tuple(sorted(mmhs.NAMES, key=lambda oid: int(oid.rpartition(".")[2])))


def heading_extensions(found: dict[str, object]) -> list[IPMSExtension]:
    """The A1 heading extensions the ``MMHS-*`` fields gave (``HeadingBuilder.mmhs``)."""
    values = dict(found)
    to = found.get(f"{mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR}/to")
    cc = found.get(f"{mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR}/cc")
    if to or cc:
        values[mmhs.ID_MM_OTHER_RECIPIENTS_INDICATOR] = _others(to, cc)
    return [IPMSExtension(type=oid, value=values[oid]) for oid in _ORDER if oid in values]


def _others(to: object, cc: object) -> mmhs.OtherRecipientsIndicator:
    """One other-recipients-indicator (A1.12) from the designators of both fields, the same
    value object for the same pair of read values (kept by :func:`_read`, bounded as it)."""
    key = (to, cc)
    hit = _OTHERS.get(key)
    if hit is None:
        recipients = tuple(r for part in (to, cc) if isinstance(part, tuple) for r in part)
        hit = _OTHERS.keep(key, mmhs.OtherRecipientsIndicator(recipients=recipients))
    return hit


def p772_ipm(ipm: IPM, fields: Sequence[tuple[str, str]], ctx: Context,
             defects: list[Defect], *, precedence: mmhs.Precedence | None = None) -> IPM:
    """§6 rules a-d for the P772 generated from a message with ``MMHS-*`` fields.

    a. extended-authorisation-info is required: from ``Date:`` when the field is absent
       (from the conversion time when there is no usable ``Date:`` either, with a defect);
    b. primary-precedence is required when ``To:`` is present: ``precedence`` (from the
       SMTP MT-PRIORITY under the STANAG4406 policy, RFC 6710 App A), else the local
       default :data:`DEFAULT_PRIMARY_PRECEDENCE`, with a defect;
    c. copy-precedence is mapped when the field is there (nothing is generated);
    d. this-IPM: the local identifier padded with spaces to 15 characters; an identifier
       without an O/R address part gets one: the msg-id mapped as an address (§4.3.4), or
       the gateway's own O/R address when that fails.  :func:`acp123_msgid` reverses both.

    And a forwarded message (message/rfc822) becomes an MM-Message
    (:mod:`bridge.convert.mmhs_body`).
    """
    h = ipm.heading
    have = {e.type for e in h.extensions or ()}
    added: list[IPMSExtension] = []
    if mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO not in have:
        date = next((v for n, v in fields if n.strip().lower() == "date"), None)
        try:
            when = parse_date(date) if date is not None else None
        except Invalid:
            when = None
        if when is None or not 1980 <= when.year < 2080:
            when = ctx.now
            defects.append(Defect("mmhs", "extended-authorisation-info is the conversion "
                                  "time (no usable Date:)", RULE_6 + " a", lossy=False))
        added.append(IPMSExtension(type=mmhs.ID_MM_EXTENDED_AUTHORISATION_INFO,
                                   value=mmhs.ExtendedAuthorisationInfo(time=when)))
    has_to = mmhs.ID_MM_PRIMARY_PRECEDENCE not in have and any(
        n.strip().lower() == "to" for n, _ in fields)  # b applies only without the field
    if has_to and precedence is not None:
        added.append(IPMSExtension(type=mmhs.ID_MM_PRIMARY_PRECEDENCE,
                                   value=mmhs.PrimaryPrecedence(level=precedence)))
    elif has_to:
        added.append(IPMSExtension(type=mmhs.ID_MM_PRIMARY_PRECEDENCE, value=mmhs.
                                   PrimaryPrecedence(level=DEFAULT_PRIMARY_PRECEDENCE)))
        defects.append(Defect("mmhs", f"no {PRIMARY}: primary-precedence set to "
                              f"{DEFAULT_PRIMARY_PRECEDENCE.name.lower()} (local policy)",
                              RULE_6 + " b", lossy=False))
    return with_extensions(ipm, added, _acp123_id(h.this_ipm, ctx, defects), defects)


def with_extensions(ipm: IPM, added: Sequence[IPMSExtension], this_ipm: IPMIdentifier,
                    defects: list[Defect]) -> IPM:
    """The P772 form of ``ipm``: the generated extensions ``added`` among the others in A1
    order, ``this_ipm`` (§6 d), and its forwarded messages as MM-Messages (§6)."""
    h = ipm.heading
    exts = list(h.extensions or ())
    if added:  # keep the A1 order: the generated ones among the others
        exts = sorted(exts + list(added), key=lambda e: _ORDER.index(e.type)
                      if e.type in _ORDER else len(_ORDER))
    ipm = replace(ipm, heading=replace(h, this_ipm=this_ipm, extensions=tuple(exts) or None))
    return mm_messages(ipm, defects)


def _acp123_id(ident: IPMIdentifier, ctx: Context, defects: list[Defect]) -> IPMIdentifier:
    """§6 d: at least 15 characters (padded with spaces), and an O/R address part."""
    user = ident.user
    if user is None:
        try:
            body = ps_decode(ident.local)
        except AddressSyntaxError:
            body = ""
        address = None
        if is_msg_id(f"<{body}>"):
            try:
                address = ctx.to_x400(body, Role.HEADER).address
            except BridgeError:
                address = None
        if address is None:
            address = ctx.mapper.gateway.or_address
            defects.append(Defect("mmhs", "IPM identifier: the gateway's O/R address as its "
                                  "O/R address part", RULE_6 + " d", lossy=False))
        user = ORName(address=address)
    return IPMIdentifier(user=user, local=ident.local.ljust(ACP123_MIN_LOCAL))
