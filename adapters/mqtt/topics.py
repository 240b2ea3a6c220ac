"""MQTT topic layout of alvhd (one place builds every topic string).

```
{prefix}/{instance}/status              retained, QoS 1   StatusPayload (online/offline; Last Will)
{prefix}/{instance}/alerts/{kind}       QoS 1             AlertPayload (kind = AlertKind value)
{prefix}/{instance}/orders/proposed     QoS 1             OrderPayload
{prefix}/{instance}/layers              retained, QoS 1   LayerPayload (active layers + last change)
{prefix}/{instance}/signals             retained, QoS 0   SignalsPayload (latest readings, optional)
{prefix}/{instance}/market              retained, QoS 0   MarketPayload (quotes + layers, live)
```

Retained topics carry *state* (a new subscriber sees it at once); alerts and orders are
*events* (QoS 1, not retained, so a subscriber joining later does not see old proposals).
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.core.model import AlertKind
from daemon.errors import ConfigError

QOS_STATE = 1
"""QoS of retained state topics (status, layers)."""
QOS_EVENT = 1
"""QoS of alerts and proposed orders (at least once; consumers dedup on ``decision_id``)."""
QOS_SIGNALS = 0
"""QoS of the informational signals topic."""

_FORBIDDEN_CHARS = frozenset("+#\x00")


def _check_segment(name: str, value: str) -> None:
    """Reject a topic part that would break the layout.

    Raises:
        ConfigError: empty, or contains a wildcard (``+``, ``#``) or NUL.
    """
    if not value or value.startswith("/") or value.endswith("/"):
        raise ConfigError(f"mqtt {name} {value!r} must be non-empty without edge '/'", key=name)
    if "//" in value or _FORBIDDEN_CHARS & set(value):
        raise ConfigError(f"mqtt {name} {value!r} contains '//', '+', '#' or NUL", key=name)


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic builder for one daemon instance.

    Args:
        prefix: root of the tree (``"alvh"``); may contain ``/`` between segments.
        instance: this daemon's name (``"paper-1"``), one or more segments.

    Raises:
        ConfigError: a part is empty or contains an MQTT wildcard.
    """

    prefix: str
    instance: str

    def __post_init__(self) -> None:
        _check_segment("mqtt.prefix", self.prefix)
        _check_segment("mqtt.instance", self.instance)

    @property
    def base(self) -> str:
        """``{prefix}/{instance}``."""
        return f"{self.prefix}/{self.instance}"

    @property
    def status(self) -> str:
        """Retained online/offline status (also the Last Will topic)."""
        return f"{self.base}/status"

    def alert(self, kind: AlertKind) -> str:
        """Topic of alerts of one kind (``.../alerts/layer_activated``)."""
        return f"{self.base}/alerts/{kind.value}"

    @property
    def alerts_wildcard(self) -> str:
        """Subscription filter matching every alert kind (for consumers and tests)."""
        return f"{self.base}/alerts/+"

    @property
    def orders_proposed(self) -> str:
        """Proposed limit orders (QoS 1)."""
        return f"{self.base}/orders/proposed"

    @property
    def orders_status(self) -> str:
        """Placed orders' state changes: submitted, fills, cancel/expiry, rejections (QoS 1)."""
        return f"{self.base}/orders/status"

    @property
    def layers(self) -> str:
        """Retained ladder state: active layers and the last layer change."""
        return f"{self.base}/layers"

    @property
    def market(self) -> str:
        """Retained latest quotes and active layers (live; informational)."""
        return f"{self.base}/market"

    @property
    def signals(self) -> str:
        """Retained latest signal readings (informational)."""
        return f"{self.base}/signals"

    @property
    def everything(self) -> str:
        """Subscription filter matching every topic of this instance."""
        return f"{self.base}/#"
