"""Building blocks shared by the generator parts: seeded streams, group-wise draws, the calendar,
id formatting and typed Arrow columns.

Everything is column-at-a-time numpy: the few Python loops run over digits, days or feeds,
never over rows.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa

DAY_S = 86_400
LOCAL_OFFSET_S = 8 * 3600  # Asia/Shanghai is UTC+8 all year (no DST)
SESSION_TIMEOUT_S = 30 * 60


def stream(seed: int, *key: str | int) -> np.random.Generator:
    """A generator for one named part of the data, derived from the seed.

    Each part draws from its own stream so that changing how many numbers one part draws does not
    shift every other part.
    """
    words = [seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF]
    words += [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in key]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


def normalise(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return p / p.sum(axis=-1, keepdims=True)


def choice_from_u(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Categorical codes by inverse CDF: probs is one (K,) mix or one (n, K) mix per element."""
    cum = np.cumsum(normalise(probs), axis=-1)
    if cum.ndim == 1:
        return np.searchsorted(cum[:-1], u, side="right").astype(np.int64)
    return (u[:, None] >= cum[:, :-1]).sum(axis=1).astype(np.int64)


def choice(rng: np.random.Generator, n: int, probs: np.ndarray) -> np.ndarray:
    return choice_from_u(rng.random(n), probs)


def group_rank(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """0-based rank of every element within its group, ordered by key (ties by position)."""
    n = len(group)
    order = np.lexsort((key, group))
    g = group[order]
    is_start = np.ones(n, dtype=bool)
    is_start[1:] = g[1:] != g[:-1]
    pos = np.arange(n)
    start_pos = np.maximum.accumulate(np.where(is_start, pos, 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = pos - start_pos
    return rank


def strat_uniform(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    """Uniforms that cover [0, 1) evenly within every group, in random order.

    Used for the daily mixes (payment outcomes, coupon use, basket sizes...): a day's shares then
    follow the intended probabilities closely instead of wandering binomially, so the ordinary days
    of the KPI series stay ordinary and the planted days stand out.
    """
    n = len(group)
    if n == 0:
        return np.empty(0)
    rank = group_rank(group, rng.random(n))
    size = np.bincount(group)[group]
    return (rank + rng.random(n)) / size


def diffuse(x: np.ndarray) -> np.ndarray:
    """Daily counts from expected values by error diffusion: the running total of the counts
    tracks the running total of x. Small fractional expectations (0.4 failures a day) then
    spread evenly over the days instead of rounding to 0 every day, so a weekday's comparison
    weeks never all show the same count.
    """
    running = np.rint(np.cumsum(np.asarray(x, dtype=np.float64)))
    return np.diff(running, prepend=0.0).astype(np.int64)


def assign_counts(rng: np.random.Generator, group: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Category per element from exact per-group counts: counts[g, k] random elements of group g
    get category k for k >= 1, the rest category 0 (counts[:, 0] is not used)."""
    rank = group_rank(group, rng.random(len(group)))
    bounds = np.cumsum(counts[:, 1:], axis=1)[group]  # per element: its group's boundaries
    k = (rank[:, None] >= bounds).sum(axis=1)
    return np.where(k < bounds.shape[1], k + 1, 0).astype(np.int64)


def pick_exact(
    rng: np.random.Generator, group: np.ndarray, k: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Mask choosing exactly k[g] elements of each group g (all if fewer), favouring weight.

    Weighted sampling without replacement by exponential keys (Efraimidis-Spirakis), done for all
    groups at once with one sort. Elements of weight 0 are chosen only if a group runs short.
    """
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=bool)
    with np.errstate(divide="ignore"):
        keys = rng.exponential(size=n) / np.asarray(weights, dtype=np.float64)
    rank = group_rank(group, keys)
    return rank < np.asarray(k)[group]


def runs(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For per-parent counts: (parent index, 0-based ordinal) of every child, in parent order."""
    counts = np.asarray(counts, dtype=np.int64)
    parent = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    ordinal = np.arange(len(parent)) - first[parent]
    return parent, ordinal


def split_points(sorted_keys: np.ndarray, n_keys: int) -> np.ndarray:
    """Boundaries [b_0..b_n] of each key value 0..n-1 in an ascending key array."""
    return np.searchsorted(sorted_keys, np.arange(n_keys + 1), side="left")


def hash_uniform(a: np.ndarray, b: np.ndarray | int, salt: int) -> np.ndarray:
    """Counter-based uniforms in [0, 1) from integer pairs (splitmix64).

    Lets two events of one session (a product page view and its add-to-cart) agree on a product
    without storing it, independently of how the events are chunked.
    """
    x = (np.asarray(a, dtype=np.uint64) << np.uint64(20)) ^ np.asarray(b, dtype=np.uint64)
    x = x + np.uint64((salt * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass(frozen=True)
class Clock:
    """The generated range: local business days (UTC+8) mapped to UTC epoch seconds."""

    start: date
    days: int

    @property
    def day0(self) -> int:
        """UTC epoch second of local midnight starting the first business day."""
        midnight = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        return int(midnight.timestamp()) - LOCAL_OFFSET_S

    @property
    def end(self) -> int:
        """UTC epoch second of local midnight after the last business day (exclusive)."""
        return self.day0 + self.days * DAY_S

    @property
    def epoch_day0(self) -> int:
        """The first business day as days since 1970-01-01 (for DATE columns)."""
        return (self.start - date(1970, 1, 1)).days

    def day_of(self, ts: np.ndarray) -> np.ndarray:
        """Local business-day index of UTC epoch seconds (may be <0 or >=days)."""
        return (np.asarray(ts, dtype=np.int64) - self.day0) // DAY_S

    def midnight(self, day: np.ndarray | int) -> np.ndarray:
        """UTC epoch second of the local midnight that starts a day index."""
        return self.day0 + np.asarray(day, dtype=np.int64) * DAY_S

    def iso(self, day: int) -> str:
        return date.fromordinal(self.start.toordinal() + day).isoformat()

    def weekday(self) -> np.ndarray:
        return (self.start.weekday() + np.arange(self.days)) % 7


def local_times(
    rng: np.random.Generator, clock: Clock, day: np.ndarray, hour_weights: np.ndarray
) -> np.ndarray:
    """UTC epoch seconds at a local hour drawn from the profile, uniform within the hour."""
    hour = choice(rng, len(day), hour_weights)
    sec = rng.integers(0, 3600, size=len(day))
    return clock.midnight(day) + hour * 3600 + sec


# --- ids -----------------------------------------------------------------------------------------
def id_width(count: int, minimum: int) -> int:
    return max(minimum, len(str(max(count, 1))))


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    """prefix + zero-padded number as an Arrow string array, built from a byte matrix."""
    nums = np.asarray(numbers, dtype=np.int64)
    n = len(nums)
    pfx = np.frombuffer(prefix.encode(), dtype=np.uint8)
    row = len(pfx) + width
    buf = np.empty((n, row), dtype=np.uint8)
    buf[:, : len(pfx)] = pfx
    x = nums.copy()
    for j in range(row - 1, len(pfx) - 1, -1):  # one pass per digit position
        buf[:, j] = (x % 10 + 48).astype(np.uint8)
        x //= 10
    if n * row >= 2**31:
        raise ValueError("id column too large for one Arrow string array; chunk it")
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(row)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes()))


def take(values: pa.Array, index: np.ndarray) -> pa.Array:
    """values[index] with null where index < 0."""
    index = np.asarray(index, dtype=np.int64)
    return values.take(pa.array(index, mask=index < 0))


def strings(values: tuple[str | None, ...] | list[str | None]) -> pa.StringArray:
    return pa.array(list(values), type=pa.string())


# --- typed columns -------------------------------------------------------------------------------
def ts_col(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Naive UTC timestamps in whole seconds (writers convert per format)."""
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(np.asarray(seconds, dtype=np.int64), type=pa.timestamp("s"), mask=mask)


def date_col(epoch_days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(np.asarray(epoch_days, dtype=np.int32), type=pa.date32(), mask=mask)


def money_col(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """DECIMAL(18,2) from integer cents, built from the 128-bit little-endian buffer directly."""
    c = np.asarray(cents, dtype=np.int64)
    words = np.empty((len(c), 2), dtype=np.int64)
    words[:, 0] = c
    words[:, 1] = c >> 63  # sign extension of the high word
    validity = None
    null_count = 0
    if valid is not None:
        v = np.asarray(valid, dtype=bool)
        null_count = int((~v).sum())
        validity = pa.py_buffer(np.packbits(v, bitorder="little").tobytes())
    return pa.Array.from_buffers(
        pa.decimal128(18, 2),
        len(c),
        [validity, pa.py_buffer(words.tobytes())],
        null_count=null_count,
    )


def int_col(values: np.ndarray, bits: int = 32, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    dtype = np.int32 if bits == 32 else np.int64
    arrow = pa.int32() if bits == 32 else pa.int64()
    return pa.array(np.asarray(values, dtype=dtype), type=arrow, mask=mask)


def bool_col(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=bool), type=pa.bool_())


def cents(amount: np.ndarray) -> np.ndarray:
    """CNY floats to integer cents, rounding half away from zero."""
    a = np.asarray(amount, dtype=np.float64) * 100.0
    return (np.sign(a) * np.floor(np.abs(a) + 0.5)).astype(np.int64)
