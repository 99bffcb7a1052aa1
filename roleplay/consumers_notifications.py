"""``ws/notifications/``: the unread notification count of one user, pushed live to every open page.

Read-only: the page never sends anything but ``ping``. Events come from
``roleplay.notify.user_notify`` (services, after commit); the count is also right on any page load.
"""

from __future__ import annotations

import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from roleplay.db_hop import db_hop
from roleplay.notify import user_group
from roleplay.selectors.notifications import unread_count

logger = logging.getLogger(__name__)

CLOSE_ANONYMOUS = 4401


@db_hop
def _unread(user) -> int:
    return unread_count(user=user)


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    group: str = ""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_ANONYMOUS)
            return
        await self.accept()
        try:
            self.group = user_group(user.pk)
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.send_json({"type": "notification", "unread": await _unread(user)})
        except Exception as exc:  # layer or database down: the page retries with backoff
            logger.warning("notifications socket of user %s: %s", user.pk, exc)
            self.group = ""
            await self.close(code=1013)

    async def disconnect(self, code: int) -> None:
        if self.group:
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except Exception as exc:
                logger.warning("notifications group_discard failed (%s)", exc)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def user_event(self, event: dict) -> None:
        await self.send_json(event["event"])
