"""Live events for browsers: the per-process hub and the transports built on it.

- ``hub``: ONE Redis pub/sub connection per server process, subscribed per project while
  a local socket watches it; reconnects by itself and tells every feed to resync.
- ``feed``: one consumer's ordered view of one project (replay from the log, then live,
  each seq once, gaps filled from the log, ``reset`` when the log cannot answer).
- ``outbox``: the bounded per-consumer send queue (overflow → 4008, never unbounded memory).
- ``ws``: the ``/ws`` endpoint (docs/api.md "Events"); ``session`` its message protocol.
- ``sse``: the same feed as Server-Sent Events on the polling URL.
"""
