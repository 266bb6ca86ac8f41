"""O/R names and addresses (X.411 §18.5, X.402 §18.3).

An :class:`ORAddress` carries every attribute X.411 defines: the built-in standard attributes,
the built-in (printable) domain-defined attributes, and the extension attributes, in their
printable, teletex and universal forms.  Values are Python ``str`` (already decoded from T.61,
BMP or UCS-4 by the codec); which ASN.1 string type to use on the wire is the codec's decision
(RFC 2156 §4.1.1: NumericString iff all digits for C/ADMD/PRMD; printable when the text fits).

The canonical text form is RFC 2156 §4.1.3 ``std-or-address`` (``str(address)``); the parser
in :mod:`bridge.model.ortext` also takes ``std-or-address-input`` and RFC 1685 forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from bridge.model.common import Opaque


class ExtensionAttributeType(IntEnum):
    """X.411 §18.5 extension-attribute-type values (ExtensionAttributeTable)."""

    COMMON_NAME = 1
    TELETEX_COMMON_NAME = 2
    TELETEX_ORGANIZATION_NAME = 3
    TELETEX_PERSONAL_NAME = 4
    TELETEX_ORGANIZATIONAL_UNIT_NAMES = 5
    TELETEX_DOMAIN_DEFINED_ATTRIBUTES = 6
    PDS_NAME = 7
    PHYSICAL_DELIVERY_COUNTRY_NAME = 8
    POSTAL_CODE = 9
    PHYSICAL_DELIVERY_OFFICE_NAME = 10
    PHYSICAL_DELIVERY_OFFICE_NUMBER = 11
    EXTENSION_OR_ADDRESS_COMPONENTS = 12
    PHYSICAL_DELIVERY_PERSONAL_NAME = 13
    PHYSICAL_DELIVERY_ORGANIZATION_NAME = 14
    EXTENSION_PHYSICAL_DELIVERY_ADDRESS_COMPONENTS = 15
    UNFORMATTED_POSTAL_ADDRESS = 16
    STREET_ADDRESS = 17
    POST_OFFICE_BOX_ADDRESS = 18
    POSTE_RESTANTE_ADDRESS = 19
    UNIQUE_POSTAL_NAME = 20
    LOCAL_POSTAL_ATTRIBUTES = 21
    EXTENDED_NETWORK_ADDRESS = 22
    TERMINAL_TYPE = 23
    UNIVERSAL_COMMON_NAME = 24
    UNIVERSAL_ORGANIZATION_NAME = 25
    UNIVERSAL_PERSONAL_NAME = 26
    UNIVERSAL_ORGANIZATIONAL_UNIT_NAMES = 27
    UNIVERSAL_DOMAIN_DEFINED_ATTRIBUTES = 28
    UNIVERSAL_PHYSICAL_DELIVERY_OFFICE_NAME = 29
    UNIVERSAL_PHYSICAL_DELIVERY_OFFICE_NUMBER = 30
    UNIVERSAL_EXTENSION_OR_ADDRESS_COMPONENTS = 31
    UNIVERSAL_PHYSICAL_DELIVERY_PERSONAL_NAME = 32
    UNIVERSAL_PHYSICAL_DELIVERY_ORGANIZATION_NAME = 33
    UNIVERSAL_EXTENSION_PHYSICAL_DELIVERY_ADDRESS_COMPONENTS = 34
    UNIVERSAL_UNFORMATTED_POSTAL_ADDRESS = 35
    UNIVERSAL_STREET_ADDRESS = 36
    UNIVERSAL_POST_OFFICE_BOX_ADDRESS = 37
    UNIVERSAL_POSTE_RESTANTE_ADDRESS = 38
    UNIVERSAL_UNIQUE_POSTAL_NAME = 39
    UNIVERSAL_LOCAL_POSTAL_ATTRIBUTES = 40


#: Postal attributes whose value is a PDSParameter (printable and/or teletex), X.411 §18.5.
PDS_PARAMETER_TYPES = frozenset({10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21})

#: Universal attribute types whose value is one UniversalOrBMPString (X.411 1996 §18.5).
UNIVERSAL_SIMPLE_TYPES = frozenset({24, 25, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40})


class TerminalType(IntEnum):
    """X.411 TerminalType (RFC 2156 §4.1.1 T-TY labels)."""

    TELEX = 3
    TELETEX = 4
    G3_FACSIMILE = 5
    G4_FACSIMILE = 6
    IA5_TERMINAL = 7
    VIDEOTEX = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonalName:
    """X.411 PersonalName / TeletexPersonalName / UniversalPersonalName."""

    surname: str
    given_name: str | None = None
    initials: str | None = None
    generation_qualifier: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainDefinedAttribute:
    """X.411 BuiltInDomainDefinedAttribute (and its teletex / universal forms)."""

    type: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UniversalText:
    """X.411 (1996) UniversalOrBMPString: text plus an optional ISO 639 language code."""

    text: str
    language: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PostalAttribute:
    """A physical-delivery extension attribute (X.411 §18.5 types 7–21).

    ``printable`` / ``teletex`` carry PDSParameter's two forms (or the one string of
    pds-name, physical-delivery-country-name and postal-code); ``lines`` carries the printable
    lines of an unformatted-postal-address (type 16).
    """

    type: int
    printable: str | None = None
    teletex: str | None = None
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class UniversalAttribute:
    """A universal (BMP/UCS-4) extension attribute, X.411 (1996) types 24–40.

    Simple types carry one value in ``values``; universal-organizational-unit-names carries up
    to four; universal-personal-name and universal-domain-defined-attributes use
    ``personal_name`` and ``ddas``.
    """

    type: int
    values: tuple[UniversalText, ...] = ()
    personal_name: tuple[UniversalText | None, ...] | None = None  # surname, given, initials, GQ
    ddas: tuple[tuple[UniversalText, UniversalText], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtendedNetworkAddress:
    """X.411 ExtendedNetworkAddress: an E.163/E.164 number or a PSAP address (kept as BER)."""

    number: str | None = None
    sub_address: str | None = None
    psap: Opaque | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ORAddress:
    """X.411 §18.5 ORAddress.

    Built-in standard attributes first, then the built-in DDAs, then one field per extension
    attribute family.  ``org_units`` and ``ddas`` are in ASN.1 order (the first OU is the most
    significant, RFC 2156 §4.3.3).  ``unknown`` keeps extension attributes of types this model
    does not know, as BER, so they survive a round trip.
    """

    country: str | None = None
    admd: str | None = None
    prmd: str | None = None
    x121: str | None = None
    terminal_id: str | None = None
    organization: str | None = None
    ua_id: str | None = None
    personal_name: PersonalName | None = None
    org_units: tuple[str, ...] = ()
    ddas: tuple[DomainDefinedAttribute, ...] = ()
    common_name: str | None = None
    teletex_common_name: str | None = None
    teletex_organization: str | None = None
    teletex_personal_name: PersonalName | None = None
    teletex_org_units: tuple[str, ...] = ()
    teletex_ddas: tuple[DomainDefinedAttribute, ...] = ()
    postal: tuple[PostalAttribute, ...] = ()
    extended_network_address: ExtendedNetworkAddress | None = None
    terminal_type: int | None = None
    universal: tuple[UniversalAttribute, ...] = ()
    unknown: tuple[tuple[int, Opaque], ...] = field(default=())

    def __str__(self) -> str:
        from bridge.model.ortext import format_std_or

        return format_std_or(self)

    @classmethod
    def parse(cls, text: str) -> ORAddress:
        """Parse RFC 2156 §4.1.3 std-or-address-input or an RFC 1685 form."""
        from bridge.model.ortext import parse_or_address

        return parse_or_address(text)

    def dda(self, dd_type: str) -> str | None:
        """Value of the first printable DDA whose type matches ``dd_type`` (case-insensitive)."""
        wanted = dd_type.lower()
        for attr in self.ddas:
            if attr.type.lower() == wanted:
                return attr.value
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeValueAssertion:
    """One X.501 AttributeTypeAndValue of a directory name: the type OID and the value as BER,
    with its text when the value is a string type the codec could decode."""

    type: str
    value: Opaque
    text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectoryName:
    """X.501 Name (RDNSequence), most significant RDN first."""

    rdns: tuple[tuple[AttributeValueAssertion, ...], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ORName:
    """X.411 §18.4 ORName: an O/R address (its built-in standard attributes may be empty) and
    an optional directory name."""

    address: ORAddress = ORAddress()
    directory_name: DirectoryName | None = None

    def __str__(self) -> str:
        return str(self.address)
