"""x400bridge: an X.400 <-> Internet mail gateway following RFC 2156 (MIXER)."""

__version__ = "0.1.0"
