"""Sample X.400 objects that exercise every part of the model.

Used by ``x400bridge dump --samples`` style demos, the test suite (golden files and
independent-decoder checks) and ``bench/``.  Deterministic: fixed times and identifiers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bridge.model import (
    IPM,
    IPN,
    BilaterallyDefinedBodyPart,
    Criticality,
    DeliveryEnvelope,
    DeliveryOutcome,
    DomainDefinedAttribute,
    EncodedInformationTypes,
    Envelope,
    ExtendedBodyPart,
    Extension,
    FileTransferBodyPart,
    G3FacsimileBodyPart,
    GeneralTextBodyPart,
    GlobalDomainIdentifier,
    Heading,
    IA5TextBodyPart,
    Importance,
    IPMIdentifier,
    IPMSExtension,
    Message,
    MessageBodyPart,
    MimeBodyPart,
    MTSIdentifier,
    NonDeliveryOutcome,
    NonReceiptFields,
    NotificationRequests,
    Opaque,
    OpaqueBodyPart,
    ORAddress,
    ORDescriptor,
    ORName,
    OtherActions,
    PerMessageIndicators,
    PerRecipientIndicators,
    PersonalName,
    PostalAttribute,
    Priority,
    Probe,
    ReceiptFields,
    Recipient,
    RecipientSpecifier,
    Report,
    ReportedRecipient,
    RoutingAction,
    Sensitivity,
    TeletexBodyPart,
    TraceElement,
    UniversalAttribute,
    UniversalText,
    VideotexBodyPart,
)
from bridge.model.envelope import (
    DeliveryFlags,
    DLExpansion,
    Redirection,
    internal_trace_extension,
)
from bridge.model.ipm import AcknowledgmentMode, MultipartType
from bridge.model.oraddress import ExtendedNetworkAddress

T0 = datetime(2026, 11, 28, 9, 30, 15, tzinfo=UTC)
GDI = GlobalDomainIdentifier(country="GB", admd="GOLD 400", prmd="UK.AC")
GDI_DE = GlobalDomainIdentifier(country="DE", admd="DBP", prmd="SIEMENS")


def name(**kw: object) -> ORName:
    return ORName(address=ORAddress(**kw))  # type: ignore[arg-type]


ROSE = name(country="GB", admd="GOLD 400", prmd="UK.AC", organization="ucl",
            org_units=("cs",), personal_name=PersonalName(
                surname="Rose", given_name="Marshall", initials="MT"))
DIETRICH = name(country="DE", admd="DBP", organization="Siemens",
                personal_name=PersonalName(surname="Dietrich"))
MUELLER = ORName(address=ORAddress(
    country="DE", admd="DBP", prmd="SIEMENS", organization="Siemens",
    org_units=("Vertrieb", "Nord"), common_name="Hans Mueller",
    teletex_common_name="Hans Müller",
    teletex_personal_name=PersonalName(surname="Müller", given_name="Jürgen"),
    teletex_organization="Siemens Österreich",
    teletex_org_units=("Vertrieb", "Nörd"),
    teletex_ddas=(DomainDefinedAttribute(type="Title", value="Dipl.-Ing. Müller"),),
    personal_name=PersonalName(surname="Mueller", given_name="Juergen", initials="J",
                               generation_qualifier="III"),
    ddas=(DomainDefinedAttribute(type="RFC-822", value="hans.mueller(a)example.de"),),
    postal=(PostalAttribute(type=7, printable="POSTNET"),
            PostalAttribute(type=8, printable="DE"),
            PostalAttribute(type=9, printable="80333"),
            PostalAttribute(type=10, printable="Muenchen", teletex="München"),
            PostalAttribute(type=16, lines=("Hauptstrasse 1", "80333 Muenchen")),
            PostalAttribute(type=17, printable="Hauptstrasse 1")),
    x121="23421920030013", terminal_id="TID77", ua_id="4711",
    extended_network_address=ExtendedNetworkAddress(number="4989123456", sub_address="12"),
    terminal_type=5,
    universal=(UniversalAttribute(type=24, values=(UniversalText(text="Ханс Мюллер",
                                                                 language="ru"),)),
               UniversalAttribute(type=26, personal_name=(
                   UniversalText(text="Мюллер"), UniversalText(text="Ханс"), None, None)),
               UniversalAttribute(type=27, values=(UniversalText(text="Vertrieb 𝔑"),))),
))
GATEWAY = name(country="GB", admd="GOLD 400", prmd="UK.AC", organization="mixer-gw")
RFC822_USER = name(country="GB", admd="GOLD 400", prmd="UK.AC", organization="mixer-gw",
                   ddas=(DomainDefinedAttribute(type="RFC-822", value="jj(a)seismo.css.gov"),))

TRACE = (
    TraceElement(domain=GDI_DE, arrival_time=T0 - timedelta(minutes=5)),
    TraceElement(domain=GDI, arrival_time=T0, routing_action=RoutingAction.REROUTED,
                 attempted_domain=GDI_DE, deferred_time=T0 + timedelta(hours=1),
                 converted_eits=EncodedInformationTypes(builtin=frozenset({2, 5})),
                 other_actions=OtherActions.REDIRECTED),
)
INTERNAL_TRACE = (
    TraceElement(domain=GDI, arrival_time=T0, mta_name="mhs-relay.ac.uk",
                 attempted_mta="gw.ucl.ac.uk", other_actions=OtherActions.DL_OPERATION),
    TraceElement(domain=GDI, arrival_time=T0 + timedelta(seconds=2),
                 mta_name="gw.ucl.ac.uk", attempted_domain=GDI_DE,
                 routing_action=RoutingAction.RELAYED),
)
EITS = EncodedInformationTypes(builtin=frozenset({2, 3, 5}), extended=("1.3.6.1.7.1.3.5",),
                               g3_facsimile=frozenset({8, 9}))


def text_ipm(subject: str = "Hello from X.400", size: int = 200) -> IPM:
    """A plain IPM: originator, one recipient, subject and one IA5 body part of ``size``."""
    line = "The quick brown fox jumps over the lazy dog. 0123456789\r\n"
    body = (line * (size // len(line) + 1))[:size]
    return IPM(heading=Heading(
        this_ipm=IPMIdentifier(user=DIETRICH, local="147"),
        originator=ORDescriptor(formal_name=DIETRICH, free_form_name="Dr. Dietrich"),
        primary=(RecipientSpecifier(recipient=ORDescriptor(formal_name=ROSE)),),
        subject=subject), body=(IA5TextBodyPart(text=body),))


def full_ipm() -> IPM:
    """An IPM with every heading field and every body part type the model knows."""
    inner = text_ipm("Forwarded note", 120)
    heading = Heading(
        this_ipm=IPMIdentifier(user=DIETRICH, local="147"),
        originator=ORDescriptor(formal_name=DIETRICH, free_form_name="Dr. Dietrich",
                                telephone="+49 89 636 0"),
        authorizing_users=(ORDescriptor(formal_name=MUELLER, free_form_name="Hans Müller"),),
        primary=(RecipientSpecifier(
            recipient=ORDescriptor(formal_name=ROSE, free_form_name="Marshall Rose"),
            notification_requests=NotificationRequests.RN | NotificationRequests.NRN,
            reply_requested=True,
            extensions=(IPMSExtension(type="2.6.1.20.1", value=3),)),),
        copy=(RecipientSpecifier(recipient=ORDescriptor(formal_name=RFC822_USER)),),
        blind_copy=(),
        replied_to=IPMIdentifier(user=ROSE, local="562"),
        obsoleted=(IPMIdentifier(local="old.example.org"),),
        related=(IPMIdentifier(user=ROSE, local="561"), IPMIdentifier(local="phrase")),
        subject="Grüße aus München - Übersicht",
        expiry_time=T0 + timedelta(days=7),
        reply_time=datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=1))),
        reply_recipients=(ORDescriptor(formal_name=ROSE),),
        importance=Importance.HIGH,
        sensitivity=Sensitivity.COMPANY_CONFIDENTIAL,
        auto_forwarded=True,
        extensions=(
            IPMSExtension(type="2.6.1.5.0"),
            IPMSExtension(type="2.6.1.5.1", value=("EN", "de")),
            IPMSExtension(type="2.6.1.5.2", value=1),
            IPMSExtension(type="2.6.1.5.8", value=UniversalText(text="Grüße – 日本")),
            IPMSExtension(type="1.3.6.1.7.1.3.2", value=(
                "Fruit-Of-The-Day: Kiwi Fruit", "X-Mailer: x400bridge")),
            IPMSExtension(type="1.3.6.1.7.1.1.3", value=MultipartType(subtype="mixed",
                                                                     is_message=False)),
            IPMSExtension(type="1.3.6.1.4.1.32473.1", value=Opaque(ber=b"\x04\x03abc")),
        ))
    body = (
        IA5TextBodyPart(text="Plain IA5 text.\r\nSecond line.\r\n"),
        IA5TextBodyPart(text="ITA2 repertoire", repertoire=2),
        TeletexBodyPart(pages=("Seite 1: Grüße", "Seite 2: Straße"), number_of_pages=2,
                        telex_compatible=True),
        G3FacsimileBodyPart(pages=((b"\xaa\x55\x00\xfc", 30), (b"\x01\x02", 16)),
                            number_of_pages=2),
        VideotexBodyPart(data=b"\x1b\x5b\x31\x6d", syntax=1),
        OpaqueBodyPart(tag=7, value=Opaque(ber=b"\x04\x05natnl")),
        OpaqueBodyPart(tag=11, value=Opaque(ber=b"\x30\x05\x04\x03mix")),
        MessageBodyPart(ipm=inner, delivery_time=T0 - timedelta(days=1),
                        delivery_envelope=DeliveryEnvelope(
                            content_type=22, originator=DIETRICH, this_recipient=ROSE,
                            submission_time=T0 - timedelta(days=1, minutes=3),
                            original_eits=EncodedInformationTypes(builtin=frozenset({2})),
                            priority=Priority.URGENT, delivery_flags=DeliveryFlags(2),
                            other_recipients=(RFC822_USER,), content_identifier="fwd-1")),
        BilaterallyDefinedBodyPart(data=b"\x00\x01binary\xff"),
        IA5TextBodyPart(text="extended IA5", extended=True),
        GeneralTextBodyPart(text="Latin-1 général text", charsets=(1, 6, 100)),
        GeneralTextBodyPart(text="日本語のテキスト", charsets=(1, 6, 87)),
        FileTransferBodyPart(data=b"%PDF-1.4 fake\n" * 4, data_reference="1.0.8571.5.3",
                             filename="report.pdf", contents_type="1.0.8571.5.3",
                             created=T0 - timedelta(days=30), modified=T0 - timedelta(days=2),
                             size=56, application_reference="2.16.840.1.113694.2.2.1.1",
                             description="Quarterly report",
                             related_message=IPMIdentifier(local="report(a)example.com"),
                             headers=("Content-Language: en",)),
        MimeBodyPart(content_type="image/png", parameters=(("name", "dot.png"),),
                     headers=("Content-ID: <dot@example>",), data=b"\x89PNG\r\n\x1a\n"),
        ExtendedBodyPart(data_type="1.3.6.1.4.1.32473.2", data=Opaque(ber=b"\x04\x02hi")),
    )
    return IPM(heading=heading, body=body)


def receipt_ipn() -> IPN:
    return IPN(subject_ipm=IPMIdentifier(user=DIETRICH, local="147"),
               ipn_originator=ORDescriptor(formal_name=ROSE),
               ipm_intended_recipient=ORDescriptor(formal_name=ROSE),
               conversion_eits=EncodedInformationTypes(builtin=frozenset({2})),
               fields=ReceiptFields(receipt_time=T0,
                                    acknowledgment_mode=AcknowledgmentMode.AUTOMATIC,
                                    supplementary_info="Read on screen"))


def non_receipt_ipn() -> IPN:
    return IPN(subject_ipm=IPMIdentifier(user=DIETRICH, local="147"),
               ipn_originator=ORDescriptor(formal_name=ROSE),
               fields=NonReceiptFields(reason=0, discard_reason=0,
                                       auto_forward_comment="Gone fishing",
                                       returned_ipm=text_ipm("Returned", 60)))


def envelope(content_type: int | str = 22, *, probe: bool = False) -> Envelope:
    """A transfer envelope with every per-message and per-recipient field."""
    return Envelope(
        identifier=MTSIdentifier(domain=GDI_DE, local="PC1000-910530172027-57D8"),
        originator=DIETRICH,
        content_type=content_type,
        original_eits=EITS,
        content_identifier="Grusse aus M...",
        priority=Priority.NORMAL if probe else Priority.URGENT,
        indicators=PerMessageIndicators.DISCLOSURE_OF_OTHER_RECIPIENTS
        | PerMessageIndicators.ALTERNATE_RECIPIENT_ALLOWED
        | PerMessageIndicators.CONTENT_RETURN_REQUEST,
        deferred_delivery_time=None if probe else T0 + timedelta(hours=2),
        content_length=4711 if probe else None,
        trace=TRACE,
        extensions=(
            Extension(type=4, value=True, criticality=Criticality.FOR_DELIVERY),
            Extension(type=5, value=T0 + timedelta(days=2)),
            Extension(type=13, value=GATEWAY.address),
            Extension(type=23, value="Subject: Hello/Message-ID: <1@x>"),
            Extension(type=26, value=(DLExpansion(name=ROSE, time=T0),)),
            internal_trace_extension(INTERNAL_TRACE),
            Extension(type=20, value=Opaque(ber=bytes.fromhex("3106020102130153")),
                      criticality=Criticality.FOR_TRANSFER | Criticality.FOR_DELIVERY),
            Extension(type="1.3.6.1.7.1.3.3", value=Opaque(ber=b"\x30\x05\x16\x03X-A")),
        ),
        recipients=(
            Recipient(name=ROSE, number=1,
                      indicators=PerRecipientIndicators.RESPONSIBILITY
                      | PerRecipientIndicators.ORIGINATOR_REPORT
                      | PerRecipientIndicators.ORIGINATOR_NON_DELIVERY_REPORT,
                      explicit_conversion=0,
                      extensions=(Extension(type=25, value=(Redirection(
                          intended_recipient=MUELLER, time=T0, reason=4),)),
                          Extension(type=1, value=True))),
            Recipient(name=MUELLER, number=2,
                      indicators=PerRecipientIndicators.ORIGINATING_MTA_NON_DELIVERY_REPORT),
            Recipient(name=RFC822_USER, number=3,
                      indicators=PerRecipientIndicators.RESPONSIBILITY),
        ),
    )


def message(content: IPM | IPN | None = None) -> Message:
    from bridge.codec import encode_content

    return Message(envelope=envelope(), content=encode_content(content or full_ipm()))


def probe() -> Probe:
    return Probe(envelope=envelope(probe=True))


def report() -> Report:
    from bridge.codec import encode_content

    return Report(
        identifier=MTSIdentifier(domain=GDI, local="rpt-0001"),
        destination=DIETRICH,
        trace=TRACE[1:],
        envelope_extensions=(internal_trace_extension(INTERNAL_TRACE[:1]),),
        subject_identifier=MTSIdentifier(domain=GDI_DE, local="PC1000-910530172027-57D8"),
        subject_intermediate_trace=TRACE[:1],
        original_eits=EITS, content_type=22, content_identifier="Grusse aus M...",
        returned_content=encode_content(text_ipm("Returned", 80)),
        recipients=(
            ReportedRecipient(actual_recipient=ROSE, number=1,
                              indicators=PerRecipientIndicators.RESPONSIBILITY
                              | PerRecipientIndicators.ORIGINATOR_REPORT,
                              arrival_time=T0, outcome=DeliveryOutcome(
                                  delivery_time=T0 + timedelta(seconds=30), type_of_user=1),
                              converted_eits=EncodedInformationTypes(builtin=frozenset({2}))),
            ReportedRecipient(actual_recipient=MUELLER, number=2,
                              indicators=PerRecipientIndicators.ORIGINATOR_NON_DELIVERY_REPORT,
                              arrival_time=T0, outcome=NonDeliveryOutcome(reason=1, diagnostic=0),
                              originally_intended_recipient=RFC822_USER,
                              supplementary_information="No such user (via mixer-gw)"),
        ))


def all_samples() -> dict[str, Message | Probe | Report | IPM | IPN]:
    """Named samples: MTS-APDUs (``*.p1``) and bare P22 content (``*.p22``)."""
    return {
        "message-full.p1": message(),
        "message-text.p1": message(text_ipm()),
        "message-ipn-receipt.p1": message(receipt_ipn()),
        "probe.p1": probe(),
        "report.p1": report(),
        "ipm-full.p22": full_ipm(),
        "ipm-text.p22": text_ipm(),
        "ipn-receipt.p22": receipt_ipn(),
        "ipn-non-receipt.p22": non_receipt_ipn(),
    }
