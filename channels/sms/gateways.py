"""The configured SMS gateways, indexed the ways the channel asks: by name, by number, by queue.

Pure: built once from ``Settings`` at setup. Numbers in the settings are
already E.164 (the config layer normalised them in the default region).
"""

from __future__ import annotations

from collections.abc import Iterable

from contactcenter.config.schema_channels import TwilioGateway, WebhookGateway

Gateway = TwilioGateway | WebhookGateway


class GatewayDirectory:
    def __init__(self, gateways: Iterable[Gateway]) -> None:
        self._by_name: dict[str, Gateway] = {g.name: g for g in gateways}
        self._queues: dict[tuple[str, str], str] = {
            (g.name, n.number): n.queue for g in self._by_name.values() for n in g.numbers
        }

    def __bool__(self) -> bool:
        return bool(self._by_name)

    def get(self, name: str) -> Gateway | None:
        return self._by_name.get(name)

    def queue_for(self, gateway: str, number: str) -> str | None:
        """The queue our ``number`` on ``gateway`` feeds, or None if it is not ours there."""
        return self._queues.get((gateway, number))

    def number_for_queue(self, queue: str) -> tuple[str, str] | None:
        """(gateway, number) of the first number that feeds ``queue``: who a new outbound text comes from."""
        for (gateway, number), fed in self._queues.items():
            if fed == queue:
                return gateway, number
        return None
