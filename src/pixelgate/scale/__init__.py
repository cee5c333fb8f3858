"""What several gateway processes share besides the database: Redis, when
PIXELGATE_REDIS_URL is set.

- `redis_limiter.RedisLimiter`: per-key requests per minute and concurrency slots, atomic
  across processes (Lua scripts), in place of the in-process `auth.ratelimit.LocalLimiter`.
- `redis_broadcast.RedisBroadcast`: one pub/sub channel that tells every process a task was
  created (their workers claim it at once), a task reached its final state (a request
  waiting on it in any process answers at once) or a key was revoked or changed (every
  process drops it from its key cache before the admin call answers).

Nothing here decides correctness: tasks are rows and keys are rows. Without Redis, or while
it is down, workers still find tasks on their scan, waiting requests still see finished
tasks through the database watcher, and cached keys still expire after
PIXELGATE_KEY_CACHE_SECONDS; only rate limits need Redis to answer (docs/deployment.md).
"""
