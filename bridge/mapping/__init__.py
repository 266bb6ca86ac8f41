"""RFC 2156 address mapping: O/R address <-> RFC 822 (§3.4, §4), MCGAM tables (App F) and the
RFC 2163 DNS source behind one lookup interface (:mod:`bridge.mapping.source`)."""
