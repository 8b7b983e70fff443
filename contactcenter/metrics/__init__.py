"""Real-time metrics: a pure model fed by the router, and the services that read it.

- ``model`` / ``window`` / ``views``: pure (no I/O, no clock): facts in, rows out.
- ``alerts`` / ``history``: pure rules over the rows (raise/clear, chart samples).
- ``observer``: routing events and decisions -> model facts (a ``RouterService`` observer).
- ``replay``: the same facts read back from the store (start-up seed, daily reports).
- ``live``: the running service (seed, push loop, webhook); ``prometheus``: ``/metrics``.

Definitions of every number: docs/metrics.md.
"""

from contactcenter.metrics.model import DEFAULT_SERVICE_LEVEL_TARGET, SHORT_ABANDON_S, MetricsModel, QueueTarget

__all__ = ["DEFAULT_SERVICE_LEVEL_TARGET", "SHORT_ABANDON_S", "MetricsModel", "QueueTarget"]
