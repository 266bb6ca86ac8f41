"""The conversion core: pure functions between RFC 5322/MIME and X.400 (RFC 2156 §5,
RFC 2157), for messages, reports and notifications.  No I/O, no global configuration: every
function takes a :class:`~bridge.convert.context.Context`; every result carries its defects."""
