"""After a projection commits: refresh the hot status cache and wake long-polls, in one Redis round trip."""

from __future__ import annotations

import orjson
import redis

from commands.directory import NOTIFY_CHANNEL, STATUS_PREFIX
from projections.base import Changes


class RedisNotifier:
    def __init__(self, client: redis.Redis, ttl_s: int = 24 * 3600) -> None:
        self._redis = client
        self._ttl_s = ttl_s

    def publish(self, changes: Changes) -> None:
        if not changes.statuses and not changes.inboxes:
            return
        pipe = self._redis.pipeline(transaction=False)
        for command_id, body in changes.statuses.items():
            pipe.set(STATUS_PREFIX + command_id, orjson.dumps(body), ex=self._ttl_s)
        # c: commands whose final status (delivered/rejected) was just committed; i: inboxes with news
        pipe.publish(NOTIFY_CHANNEL, orjson.dumps({"c": list(changes.statuses), "i": sorted(changes.inboxes)}))
        pipe.execute()
