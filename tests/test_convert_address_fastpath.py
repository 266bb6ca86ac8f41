"""The fast path of RFC 822 address-list parsing (bridge/convert/x400_addresses.py) against the
general parser it stands in for (the ``email`` package's RFC 5322 §3.4 parser): wherever the
fast path answers, it answers exactly what the general parser would, so RFC 2156 §4.7.1
descriptors do not depend on which path read the field."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.convert.x400_addresses import _simple_mailboxes, parse_address_list

ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
atom = st.text(alphabet=ATEXT, min_size=1, max_size=6)
dot_atom = st.lists(atom, min_size=1, max_size=3).map(".".join)
addr_spec = st.tuples(dot_atom, dot_atom).map("@".join)
space = st.sampled_from(["", " ", "  ", "\t"])
# the shapes the fast path takes, and near misses it must leave to the general parser
mailbox = st.one_of(
    addr_spec,
    addr_spec.map(lambda a: f"<{a}>"),
    st.tuples(st.lists(atom, min_size=1, max_size=3).map(" ".join), space, addr_spec)
      .map(lambda t: f"{t[0]}{t[1]}<{t[2]}>"),
    st.tuples(atom, addr_spec).map(lambda t: f'"{t[0]}" <{t[1]}>'),        # quoted phrase
    st.tuples(addr_spec, atom).map(lambda t: f"{t[0]} ({t[1]})"),          # comment
    st.tuples(atom, addr_spec).map(lambda t: f"{t[0]}.x <{t[1]}>"),        # obs-phrase
    addr_spec.map(lambda a: f"<@route.example:{a}>"),                       # source route
)
address_list = st.tuples(st.lists(st.tuples(space, mailbox, space).map("".join),
                                  min_size=1, max_size=3), st.sampled_from([",", ", ", " ,"])
                         ).map(lambda t: t[1].join(t[0]))


@settings(max_examples=400, deadline=None)
@given(address_list)
def test_fast_path_matches_the_general_parser(value: str) -> None:
    fast = _simple_mailboxes(value)
    if fast is None:
        return                                   # the general parser decides: nothing to compare
    general = [(m.display_name, m.comments, m.addr_spec)
               for group, mailboxes in parse_address_list(value) for m in mailboxes
               if group is None]
    assert [(m.display_name, m.comments, m.addr_spec) for m in fast] == general


def test_fast_path_takes_the_common_shapes() -> None:
    assert _simple_mailboxes("<a@internet.example>") is not None
    assert _simple_mailboxes("John Smith <js@x400.example>, bob@example.org") is not None
    for other in ('"J. Smith" <js@x>', "js@x (John)", "Undisclosed:;", "=?utf-8?q?J?= <a@b>"):
        assert _simple_mailboxes(other) is None
