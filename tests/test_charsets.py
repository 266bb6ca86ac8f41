"""Tests of bridge.model.charsets: T.61, ISO 2022 (GeneralString / GeneralText), BMP, Universal.

References: ITU-T T.61 (1988) code tables and Annex A; ISO/IEC 6937; ISO/IEC 2022;
the ISO 2375 register (ISO-IR numbers and final bytes); RFC 1468 (ISO-2022-JP) and RFC 1557
(ISO-2022-KR), checked against the independent stdlib codecs; X.680 BMPString and
UniversalString (ISO/IEC 10646 UCS-2 / UCS-4).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import BridgeError
from bridge.model.charsets import (
    CharsetError,
    bmp_decode,
    bmp_encode,
    general_text_charsets,
    iso2022_decode,
    iso2022_encode,
    t61_can_encode,
    t61_decode,
    t61_encode,
    universal_decode,
    universal_encode,
    videotex_decode,
)

ESC = b"\x1b"

# --- T.61 -------------------------------------------------------------------------------------

T61_DECODE_CASES = [
    # (octets, text, reference)
    (b"M\xc8uller", "Müller", "T.61 supplementary set 12/8 diaeresis before base"),
    (b"\xc2e", "é", "12/2 acute"),
    (b"\xc1a", "à", "12/1 grave"),
    (b"\xc3o", "ô", "12/3 circumflex"),
    (b"\xc4n", "ñ", "12/4 tilde"),
    (b"\xcaa", "å", "12/10 ring"),
    (b"\xcbc", "ç", "12/11 cedilla"),
    (b"\xcdo", "ő", "12/13 double acute"),
    (b"\xcea", "ą", "12/14 ogonek"),
    (b"\xcfc", "č", "12/15 caron"),
    (b"\xc5A\xc6g\xc7z", "Āğż", "12/5 macron, 12/6 breve, 12/7 dot above"),
    (b"\xc9o", "ö", "12/9 umlaut of T.61 1984 = diaeresis"),
    (b"\xe0", "\u2126", "14/0 Ohm sign"),
    (b"\xe1\xe2\xe3\xe4", "ÆĐªĦ", "14/1-14/4"),
    (b"\xe8", "Ł", "14/8 is L with stroke (not æ, not ŀ)"),
    (b"\xe7\xf7", "Ŀŀ", "14/7 and 15/7: L with middle dot"),
    (b"\xf1\xf9\xfa\xfb", "æøœß", "15/1, 15/9, 15/10, 15/11"),
    (b"\xe9\xea\xec\xfc\xef\xf0", "ØŒÞþŉĸ", "special letters"),
    (b"\xa4\xa6\xa8", "$#¤", "10/4 dollar, 10/6 number sign, 10/8 currency sign"),
    (b"\xa3\xa5\xa7\xab\xbb", "£¥§«»", "10/3, 10/5, 10/7, 10/11, 11/11"),
    (b"\xb4\xb8\xbc", "×÷¼", "11/4 multiplication, 11/8 division"),
    (b"\xc8 \xc2 \xc3 \xc1 \xc4 ", "¨´^`~", "ISO/IEC 6937: mark + SPACE = spacing mark"),
    (b"#$~", "#$~", "positions unused by T.61 decode leniently as IRV"),
    (b"\xd3\xd4\xa9\xb9", "©™‘’", "ISO 6937 additions"),
    (b"\xa0\xff", "\u00a0\u00ad", "NBSP and soft hyphen"),
    (b"a\xc8", "a\u0308", "diacritic with no base: combining character"),
    (b"\xc8\n", "\u0308\n", "diacritic before a control"),
    (b"\xc8q", "q\u0308", "no precomposed form: base + combining mark"),
    (b"\xc2\xe1", "Ǽ", "diacritic over a supplementary letter"),
    (b"\x19Hu", "ü", "SS2 (1/9, T.61 C0) reaches the supplementary set (G2)"),
    (ESC + b"$B$3$s" + ESC + b"(u!", "こん!", "ISO 2022 designation inside teletex (T.61 Annex A)"),
    (ESC + b"-A" + ESC + b"~\xe9", "é", "ESC - A then LS1R: Latin-1 in GR"),
    (b"Line 1\r\nLine 2", "Line 1\r\nLine 2", "controls pass through"),
]


@pytest.mark.parametrize(("octets", "text", "ref"), T61_DECODE_CASES)
def test_t61_decode(octets: bytes, text: str, ref: str) -> None:
    assert t61_decode(octets) == text, ref


T61_ENCODE_CASES = [
    ("Müller", b"M\xc8uller"),
    ("café", b"caf\xc2e"),
    ("Łódź", b"\xe8\xc2od\xc2z"),
    ("Ørsted Æbelø", b"\xe9rsted \xe1bel\xf9"),
    ("#1 $5", b"\xa61 \xa45"),  # T.61 primary set lacks # and $
    ("~^`", b"\xc4 \xc3 \xc1 "),  # spacing forms
    ("\u03a9\u2126", b"\xe0\xe0"),  # Greek Omega is canonically the Ohm sign
    ("u\u0308", b"\xc8u"),  # already decomposed
    ("a\r\n", b"a\r\n"),
]


@pytest.mark.parametrize(("text", "octets"), T61_ENCODE_CASES)
def test_t61_encode(text: str, octets: bytes) -> None:
    assert t61_encode(text) == octets
    assert t61_can_encode(text)


@pytest.mark.parametrize(
    ("text", "offset"),
    [("ab{", 2), ("\\", 0), ("x日", 1), ("ǖ", 0), ("a\x1b", 1), ("©", 0), ("\u0308", 0),
     ("😀", 0)],
)
def test_t61_encode_rejects(text: str, offset: int) -> None:
    with pytest.raises(CharsetError) as info:
        t61_encode(text)
    assert info.value.offset == offset
    assert not t61_can_encode(text)


@pytest.mark.parametrize(
    ("octets", "offset"),
    [(b"ab\xc0", 2), (b"\xe5", 0), (b"abc\x1b", 3), (b"\x1b(Z", 0), (b"\x19", 0),
     (b"x\xd8", 1)],
)
def test_t61_decode_errors(octets: bytes, offset: int) -> None:
    with pytest.raises(CharsetError) as info:
        t61_decode(octets)
    assert info.value.offset == offset
    assert isinstance(info.value, BridgeError)


def test_t61_decode_replace_and_ignore() -> None:
    assert t61_decode(b"a\xc0b\xe5", errors="replace") == "a\ufffdb\ufffd"
    assert t61_decode(b"a\xc0b", errors="ignore") == "ab"
    assert t61_decode(b"\xc8\xc0u", errors="replace") == "\u0308\ufffdu"


def test_videotex_is_t61_subset() -> None:
    assert videotex_decode(b"Caf\xc2e") == "Café"


@functools.cache
def t61_repertoire() -> str:
    """Every character t61_encode accepts, found through the decoder (T.61 code tables)."""
    chars = set()
    singles = [bytes([b]) for b in [*range(0x20, 0x7F), *range(0xA0, 0x100)]]
    for octets in singles:
        try:
            chars.add(t61_decode(octets))
        except CharsetError:
            pass
    for mark in [*range(0xC1, 0xC9), *range(0xCA, 0xCC), *range(0xCD, 0xD0)]:
        for base in singles:
            try:
                chars.add(t61_decode(bytes([mark]) + base))
            except CharsetError:
                pass
    return "".join(sorted(c for c in chars if len(c) == 1 and t61_can_encode(c))) + "\r\n\t"


def test_t61_repertoire_size() -> None:
    rep = t61_repertoire()
    assert {"ü", "é", "Ł", "ő", "ŉ", "$", "#", "~", "¨"} <= set(rep)
    assert not {"{", "}", "\\", "©"} & set(rep)
    assert len(rep) > 300


@given(st.text(alphabet=st.sampled_from(t61_repertoire())))
def test_t61_round_trip(text: str) -> None:
    assert t61_decode(t61_encode(text)) == text


# --- ISO 2022 ---------------------------------------------------------------------------------

ISO2022_CASES = [
    # (octets, initial, text, reference)
    (ESC + b"$B$3$s$K$A$O" + ESC + b"(B", (6,), "こんにちは", "RFC 1468 ISO-2022-JP"),
    (b"Gr\xfc\xdfe", (1, 6, 100), "Grüße", "GeneralText {1,6,100}: Latin-1 in GR"),
    (ESC + b"-A" + b"\xe9", (6,), "é", "ESC - A designates 8859-1 into G1"),
    (ESC + b"-B" + b"\xa3\xf3d\xbc", (6,), "Łódź", "ESC - B: 8859-2"),
    (ESC + b"-L" + b"\xbf\xe0\xd8\xd2\xd5\xe2", (6,), "Привет", "ESC - L: 8859-5"),
    (ESC + b"-F" + b"\xc1\xe8\xde\xed\xe1", (6,), "Αθήνα", "ESC - F: 8859-7"),
    (ESC + b"-H" + b"\xf9\xec\xe5\xed", (6,), "שלום", "ESC - H: 8859-8"),
    (ESC + b"-b" + b"\xa4", (6,), "€", "ESC - b: 8859-15"),
    (ESC + b"-f" + b"\xaa", (6,), "Ș", "ESC - f: 8859-16"),
    (ESC + b"-M" + b"\xd0", (6,), "Ğ", "ESC - M: 8859-9"),
    (b"\xe9", (1, 6, 203), "é", "Latin-9 initial"),
    (ESC + b"$)C\x0eGQ\x0f!", (6,), "한!", "RFC 1557 ISO-2022-KR: SO/SI"),
    (ESC + b"$AVPND" + ESC + b"(B", (6,), "中文", "ESC $ A: GB 2312"),
    (ESC + b"&@" + ESC + b"$BF|" + ESC + b"(B", (6,), "日", "ISO-IR 168: IRR + ESC $ B"),
    (ESC + b"$(D0!", (6,), "丂", "ESC $ ( D: JIS X 0212"),
    (ESC + b"(J\\~" + ESC + b"(B\\", (6,), "¥‾\\", "ESC ( J: JIS X 0201 Roman"),
    (ESC + b"(I1" + ESC + b"(B", (6,), "ｱ", "ESC ( I: JIS X 0201 Katakana"),
    (ESC + b".A" + ESC + b"Ni", (6,), "é", "ESC . A (G2) + SS2 (ESC N)"),
    (ESC + b".A\x8ei", (6,), "é", "8-bit SS2"),
    (ESC + b"/A" + ESC + b"o" + b"i" + b"\x0fi", (6,), "éi", "LS3 then LS0 (SI)"),
    (b"\xf1", (1, 6, 87, 100), "ñ", "a single-byte set takes G1 before multi-byte ones"),
    (b"\xc6\xfc", (1, 6, 87), "日", "JIS X 0208 in GR (EUC style) from initial"),
    (b"a" + ESC + b"%G\xc3\xa9" + ESC + b"%@b", (6,), "aéb", "DOCS UTF-8 with return"),
    (ESC + b"!@" + ESC + b'"C' + ESC + b" Fa", (6,), "a", "C0/C1 designations, announcer"),
    (ESC + b"(u" + ESC + b")v\xc8u", (6,), "ü", "ISO-IR 102/103 by escape"),
    (ESC + b"(\x75" + ESC + b"*v" + ESC + b"}" + b"\xc2e", (6,), "é", "T.61 sets via escapes"),
    (b"\x00\t\n\r\x7f", (6,), "\x00\t\n\r\x7f", "controls"),
]


@pytest.mark.parametrize(("octets", "initial", "text", "ref"), ISO2022_CASES)
def test_iso2022_decode(octets: bytes, initial: tuple[int, ...], text: str, ref: str) -> None:
    assert iso2022_decode(octets, initial=initial) == text, ref


def test_general_text_escapes_in_front_rfc2157() -> None:
    """RFC 2157 §4: the escape sequences that designate and invoke the character sets go in
    front of the GeneralText string -- for ISO 8859-1 exactly ESC 2/8 4/2, ESC 2/13 4/1,
    ESC 2/1 4/1, ESC 7/14 -- and both forms (with them, and relying on the registrations'
    implied state, as older gateways send) decode."""
    text = "Grüße aus München"
    ours = iso2022_encode(text, (1, 6, 100))
    assert ours == b"\x1b\x28\x42\x1b\x2d\x41\x1b\x21\x41\x1b\x7e" + text.encode("latin-1")
    assert iso2022_decode(ours, initial=(1, 6, 100)) == text
    assert iso2022_decode(text.encode("latin-1"), initial=(1, 6, 100)) == text
    assert iso2022_decode(ours) == text                   # the escapes alone are enough


def test_iso2022_oracles_stdlib() -> None:
    text = "日本語のテキスト、カタカナ。 ABC"
    assert iso2022_decode(text.encode("iso2022_jp")) == text
    ours = iso2022_encode(text, (1, 6, 87))
    # RFC 2157 §4: the designation of the initial state (ASCII in G0) in front
    assert ours == b"\x1b(B" + text.encode("iso2022_jp")
    assert ours.decode("iso2022_jp") == text
    korean = "한국어 텍스트"
    assert iso2022_decode(korean.encode("iso2022_kr")) == korean


@pytest.mark.parametrize(
    ("octets", "initial", "offset"),
    [
        (b"ab" + ESC, (6,), 2),  # lone ESC
        (b"a" + ESC + b"(", (6,), 1),  # truncated escape
        (ESC + b"(Z", (6,), 0),  # unknown final byte
        (ESC + b"$(Z", (6,), 0),  # unknown multi-byte final
        (ESC + b",A", (6,), 0),  # 96-set into G0
        (ESC + b"c", (6,), 0),  # unsupported Fs escape (RIS)
        (ESC + b"$B0", (6,), 3),  # truncated multi-byte character
        (ESC + b"$B0\n", (6,), 3),  # multi-byte character broken by a control
        (b"ok\xe9", (6,), 2),  # GR with nothing designated in G1
        (b"\x0ea", (6,), 1),  # SO with nothing in G1
        (ESC + b"-H\xc0", (6,), 3),  # undefined position of 8859-8
        (b"x\x8e", (6,), 1),  # SS2 at the end
        (ESC + b"%G\xff", (6,), 3),  # invalid UTF-8
        (ESC + b"%B", (6,), 0),  # unsupported coding system
    ],
)
def test_iso2022_decode_errors(octets: bytes, initial: tuple[int, ...], offset: int) -> None:
    with pytest.raises(CharsetError) as info:
        iso2022_decode(octets, initial=initial)
    assert info.value.offset == offset


def test_iso2022_replace() -> None:
    assert iso2022_decode(b"a\xe9b", errors="replace") == "a\ufffdb"
    assert iso2022_decode(b"a" + ESC + b"(Zb", errors="replace") == "a\ufffdb"
    assert iso2022_decode(ESC + b"$B0", errors="replace") == "\ufffd"
    assert iso2022_decode(b"a\xe9b", errors="ignore") == "ab"
    with pytest.raises(ValueError):
        iso2022_decode(b"a", errors="bogus")


def test_unknown_initial_registration_is_skipped() -> None:
    assert iso2022_decode(b"plain", initial=(1, 6, 9999)) == "plain"
    with pytest.raises(CharsetError) as info:
        iso2022_decode(b"pl\xe9", initial=(1, 6, 9999))
    assert info.value.offset == 2


GENERAL_TEXT_CASES = [
    ("", (1, 6)),
    ("plain ASCII\r\n", (1, 6)),
    ("Grüße, café", (1, 6, 100)),
    ("Łódź", (1, 6, 101)),
    ("Привет", (1, 6, 144)),
    ("Ελληνικά", (1, 6, 126)),
    ("שלום", (1, 6, 138)),
    ("€ café", (1, 6, 203)),
    ("日本語のテキスト", (1, 6, 87)),
    ("한국어", (1, 6, 149)),
    ("简体中文", (1, 6, 58)),
    ("Müller 日本", (1, 6, 100, 87)),
    ("Ωmega Пётр", (1, 6, 144, 126)),
]


@pytest.mark.parametrize(("text", "regs"), GENERAL_TEXT_CASES)
def test_general_text_charsets(text: str, regs: tuple[int, ...]) -> None:
    assert general_text_charsets(text) == regs
    assert iso2022_decode(iso2022_encode(text, regs), initial=regs) == text


def test_iso2022_encode_bytes() -> None:
    latin1 = ESC + b"(B" + ESC + b"-A" + ESC + b"!A" + ESC + b"~"   # RFC 2157 §4 prefix
    assert iso2022_encode("Grüße", (1, 6, 100)) == latin1 + b"Gr\xfc\xdfe"
    assert iso2022_encode("é€", (1, 6, 100, 203)) == latin1 + b"\xe9" + ESC + b"-b\xa4"
    assert iso2022_encode("日本\nx", (1, 6, 87)) == \
        ESC + b"(B" + ESC + b"$BF|K\\" + ESC + b"(B\nx"


@pytest.mark.parametrize(
    ("text", "regs", "offset"),
    [("abc€", (1, 6, 100), 3), ("日", (1, 6), 0), ("a\x1bb", (1, 6), 1), ("\x0e", (6,), 0)],
)
def test_iso2022_encode_rejects(text: str, regs: tuple[int, ...], offset: int) -> None:
    with pytest.raises(CharsetError) as info:
        iso2022_encode(text, regs)
    assert info.value.offset == offset


def test_iso2022_encode_unknown_registration() -> None:
    with pytest.raises(CharsetError) as info:
        iso2022_encode("a", (1, 6, 9999))
    assert info.value.offset is None


def test_general_text_charsets_rejects() -> None:
    with pytest.raises(CharsetError) as info:
        general_text_charsets("ok 😀")
    assert info.value.offset == 3


@functools.cache
def set_repertoire(reg: int) -> str:
    """Characters of ISO-IR ``reg`` (placed in G1 by initial=(1, 6, reg)), found by decoding."""
    chars = set()
    initial: tuple[int, ...]
    if reg in (87, 149, 58, 159):
        initial, cells = (6,), [bytes([a, b]) for a in range(0x21, 0x7F) for b in range(0x21, 0x7F)]
        final = {87: b"$B", 149: b"$(C", 58: b"$A", 159: b"$(D"}[reg]
        cells = [ESC + final + cell for cell in cells]
    else:
        initial, cells = (1, 6, reg), [bytes([b]) for b in range(0xA0, 0x100)]
    for octets in cells:
        try:
            chars.add(iso2022_decode(octets, initial=initial))
        except CharsetError:
            pass
    return "".join(sorted(c for c in chars if len(c) == 1))


ASCII_TEXT = "".join(map(chr, range(0x20, 0x7F))) + "\r\n\t"
SINGLE_BYTE = [100, 101, 109, 110, 144, 127, 126, 138, 148, 157, 166, 179, 199, 203, 226, 13]


@pytest.mark.parametrize("reg", [*SINGLE_BYTE, 87, 149, 58, 159])
def test_repertoires_are_populated(reg: int) -> None:
    assert len(set_repertoire(reg)) >= (45 if reg in SINGLE_BYTE else 6000)


@settings(max_examples=200)
@given(st.data())
def test_iso2022_round_trip_per_set(data: st.DataObject) -> None:
    reg = data.draw(st.sampled_from([*SINGLE_BYTE, 87, 149, 58, 159]))
    text = data.draw(st.text(alphabet=st.sampled_from(ASCII_TEXT + set_repertoire(reg))))
    regs = (1, 6, reg)
    assert iso2022_decode(iso2022_encode(text, regs), initial=regs) == text


@settings(max_examples=200)
@given(st.data())
def test_iso2022_round_trip_mixed(data: st.DataObject) -> None:
    sets = data.draw(st.lists(st.sampled_from([100, 101, 144, 126, 87, 149]), min_size=1,
                              max_size=3, unique=True))
    alphabet = ASCII_TEXT + "".join(set_repertoire(reg) for reg in sets)
    text = data.draw(st.text(alphabet=st.sampled_from(alphabet)))
    regs = general_text_charsets(text)
    assert iso2022_decode(iso2022_encode(text, regs), initial=regs) == text
    explicit = (1, 6, *sets)
    assert iso2022_decode(iso2022_encode(text, explicit), initial=explicit) == text


@given(st.text(alphabet=st.sampled_from(ASCII_TEXT + set_repertoire(87)[:800])))
def test_iso2022_jp_against_stdlib(text: str) -> None:
    try:
        octets = text.encode("iso2022_jp")
    except UnicodeEncodeError:
        return
    assert iso2022_decode(octets) == octets.decode("iso2022_jp")


# --- BMPString / UniversalString --------------------------------------------------------------

def test_bmp_and_universal_examples() -> None:
    assert bmp_decode(b"\x00M\x00\xfc\x65\xe5") == "Mü日"
    assert bmp_encode("Mü日") == b"\x00M\x00\xfc\x65\xe5"
    assert universal_decode(b"\x00\x01\xf6\x00\x00\x00\x00A") == "😀A"
    assert universal_encode("😀A") == b"\x00\x01\xf6\x00\x00\x00\x00A"


@pytest.mark.parametrize(
    ("decode", "octets", "offset"),
    [
        (bmp_decode, b"\x00A\x00", 2),  # odd length
        (bmp_decode, b"\x00A\xd8\x3d\xde\x00", 2),  # surrogates are not UCS-2
        (universal_decode, b"\x00\x00\x00A\x00\x00", 4),  # length not a multiple of 4
        (universal_decode, b"\x00\x00\x00A\x00\x11\x00\x00", 4),  # beyond U+10FFFF
        (universal_decode, b"\x00\x00\xdc\x00", 0),  # surrogate
        (universal_decode, b"\xff\xff\xff\xff", 0),
    ],
)
def test_ucs_decode_errors(decode: Callable[[bytes], str], octets: bytes, offset: int) -> None:
    with pytest.raises(CharsetError) as info:
        decode(octets)
    assert info.value.offset == offset


def test_ucs_replace_and_encode_errors() -> None:
    assert bmp_decode(b"\x00A\xd8\x00\x00", errors="replace") == "A\ufffd\ufffd"
    with pytest.raises(CharsetError) as info:
        bmp_encode("ab😀")
    assert info.value.offset == 2
    with pytest.raises(CharsetError):
        universal_encode("\ud800")


@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"])))
def test_bmp_round_trip(text: str) -> None:
    assert bmp_decode(bmp_encode(text)) == text


@given(st.text())
def test_universal_round_trip(text: str) -> None:
    assert universal_decode(universal_encode(text)) == text


# --- robustness: only str or CharsetError, whatever the octets ---------------------------------

DECODERS: list[Callable[[bytes], str]] = [
    t61_decode,
    videotex_decode,
    bmp_decode,
    universal_decode,
    iso2022_decode,
    lambda b: iso2022_decode(b, initial=(1, 6, 100)),
    lambda b: iso2022_decode(b, initial=(1, 6, 87, 144)),
    lambda b: iso2022_decode(b, initial=(1, 6, 149, 13, 159)),
]
ESCAPY = st.lists(st.one_of(st.binary(max_size=4),
                            st.sampled_from([ESC + b"$B", ESC + b"$)C", ESC + b"-A", ESC + b"N",
                                             ESC + b"%G", ESC + b"%@", b"\x0e", b"\x0f", b"\x8e",
                                             b"\x19", b"\xc8", ESC + b"(", ESC + b".L"])))


@settings(max_examples=300)
@given(st.sampled_from(range(len(DECODERS))), st.one_of(st.binary(), ESCAPY.map(b"".join)))
def test_decoders_never_raise_anything_else(which: int, octets: bytes) -> None:
    decode = DECODERS[which]
    try:
        assert isinstance(decode(octets), str)
    except CharsetError as exc:
        assert exc.offset is not None and 0 <= exc.offset < max(len(octets), 1)


@settings(max_examples=300)
@given(st.one_of(st.binary(), ESCAPY.map(b"".join)))
def test_replace_never_raises(octets: bytes) -> None:
    assert isinstance(t61_decode(octets, errors="replace"), str)
    assert isinstance(iso2022_decode(octets, initial=(1, 6, 100), errors="replace"), str)
    assert isinstance(bmp_decode(octets, errors="replace"), str)
    assert isinstance(universal_decode(octets, errors="ignore"), str)
