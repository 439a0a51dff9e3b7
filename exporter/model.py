"""Frozen views of qBittorrent's state: Torrent, ServerState, AppInfo and the Snapshot that holds them.

Everything here is immutable and built only from already-parsed JSON values, so managers and
collectors can share one Snapshot across threads without copying or locking. The conversions from
qBittorrent's loosely typed JSON (numbers as strings, "-" for unknown, 4.x vs 5.x state names) live
here and nowhere else.
"""

from __future__ import annotations

import itertools
import math
import operator
import re
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from dataclasses import FrozenInstanceError, dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import urlsplit

# qBittorrent 5.x (Web API 2.11) renamed the paused states; we always speak the 5.x names.
RENAMED_STATES = {"pausedUP": "stoppedUP", "pausedDL": "stoppedDL"}
# Every state qBittorrent 4.x and 5.x report (qbittorrentapi's TorrentState, in 5.x names; a unit
# test checks that the two lists agree), sorted.
KNOWN_STATES: tuple[str, ...] = (
    "allocating",
    "checkingDL",
    "checkingResumeData",
    "checkingUP",
    "downloading",
    "error",
    "forcedDL",
    "forcedMetaDL",
    "forcedUP",
    "metaDL",
    "missingFiles",
    "moving",
    "queuedDL",
    "queuedUP",
    "stalledDL",
    "stalledUP",
    "stoppedDL",
    "stoppedUP",
    "unknown",
    "uploading",
)
# Every spelling qBittorrent sends -> the 5.x name, one shared string object per state.
CANONICAL_STATES: Mapping[str, str] = MappingProxyType({s: s for s in KNOWN_STATES} | RENAMED_STATES)


def normalize_state(raw: Any) -> str:
    """qBittorrent's state string in 5.x spelling; anything unrecognised becomes "unknown"."""
    if not isinstance(raw, str):
        return "unknown"
    return CANONICAL_STATES.get(raw, "unknown")


def tracker_host(url: Any) -> str:
    """The host of a tracker URL, lower-cased, with no scheme, port, path, user or passkey.

    "" for an empty or unparsable URL. Tracker URLs carry passkeys: only this ever reaches a label.
    """
    if not url or not isinstance(url, str):
        return ""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return ""
    return clean_text(host or "")


# The range of qBittorrent's own integers (qint64): sizes, byte counts, speeds, times. A value outside it
# is clamped, so that sums of 100,000 of them still convert to a float in the exposition.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` as valid UTF-8: a lone surrogate (a JSON "\\ud800" escape, which UTF-8 cannot encode and
    the exposition would fail on) becomes U+FFFD. The same string back when it is already valid."""
    if text.isascii():
        return text
    return _SURROGATES.sub("\ufffd", text)


def _clamp(value: int) -> int:
    return INT_MIN if value < INT_MIN else INT_MAX if value > INT_MAX else value


def to_float(value: Any) -> float | None:
    """A finite float from a JSON number or numeric string (bools count as 0/1); None for qBittorrent's
    "-", NaN, infinities, numbers past float range and anything that is not a number."""
    if isinstance(value, (int, float, str)):
        try:
            result = float(value)
        except (ValueError, OverflowError):
            return None
        return result if math.isfinite(result) else None
    return None


def to_int_or_none(value: Any) -> int | None:
    """An int in qint64 range (clamped), or None where to_float gives None. qBittorrent sometimes sends
    numbers as strings; JSON integers past float range are clamped rather than refused."""
    if isinstance(value, int):  # bool included: True -> 1
        return _clamp(int(value))
    number = to_float(value)
    return None if number is None else _clamp(int(number))


def to_int(value: Any, default: int = 0) -> int:
    """to_int_or_none, with `default` for a value that is not a number."""
    result = to_int_or_none(value)
    return default if result is None else result


def split_tags(value: Any) -> tuple[str, ...]:
    """A torrent's tags, sorted. qBittorrent (4.x and 5.x) sends them as one string, "a, b"; anything
    else (a list, an object, a number) is not that format and means no tags."""
    if not isinstance(value, str):
        return ()
    return tuple(sorted({clean_text(t.strip()) for t in value.split(",") if t.strip()}))


def _str(value: Any) -> str:
    """Text from a JSON string (made valid UTF-8) or number; "" for null, lists and objects."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, (int, float)):
        try:
            return str(value)
        except ValueError:  # an integer of more than 4300 digits
            return ""
    return ""


def _float0(value: Any) -> float:
    result = to_float(value)
    return 0.0 if result is None else result


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


class Torrent(NamedTuple):
    """One torrent as the managers see it. Field names follow qBittorrent's JSON keys.

    A NamedTuple, not a frozen dataclass, because the mirror builds tens of thousands of them per full
    sync: `tuple.__new__` takes 0.8 µs where a frozen dataclass's __init__ takes 7-12 µs (38
    object.__setattr__ calls); attribute reads cost the same. Immutable all the same: assigning a field
    raises FrozenInstanceError, as the dataclass did.

    `tracker` is the host of the tracker qBittorrent currently announces to ("" when none works);
    `trackers` are the hosts of all its trackers (from sync/maindata's `trackers` map).
    """

    hash: str
    name: str = ""
    state: str = "unknown"
    category: str = ""
    tags: tuple[str, ...] = ()
    size: int = 0
    total_size: int = 0
    progress: float = 0.0
    amount_left: int = 0
    completed: int = 0
    downloaded: int = 0
    uploaded: int = 0
    downloaded_session: int = 0
    uploaded_session: int = 0
    dlspeed: int = 0
    upspeed: int = 0
    ratio: float = 0.0
    added_on: int = 0
    completion_on: int = 0
    last_activity: int = 0
    seen_complete: int = 0
    seeding_time: int = 0
    time_active: int = 0
    eta: int = 0
    num_seeds: int = 0
    num_leechs: int = 0
    num_complete: int = 0
    num_incomplete: int = 0
    priority: int = 0
    force_start: bool = False
    availability: float = 0.0
    save_path: str = ""
    content_path: str = ""
    tracker: str = ""
    trackers: tuple[str, ...] = ()
    # qBittorrent 5.2+ (Web API 2.11.7): an announce failed or warned; None when qBittorrent does not say.
    has_tracker_error: bool | None = None
    has_tracker_warning: bool | None = None
    has_other_announce_error: bool | None = None

    @property
    def hosts(self) -> tuple[str, ...]:
        """All tracker hosts, falling back to the working tracker when the trackers map is absent."""
        if self.trackers:
            return self.trackers
        return (self.tracker,) if self.tracker else ()

    @property
    def primary_tracker(self) -> str:
        """The one host this torrent is accounted to: the working tracker, else the first known host."""
        if self.tracker:
            return self.tracker
        return self.trackers[0] if self.trackers else ""

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")


# Where each field sits in a Torrent tuple (the mirror builds them positionally).
TORRENT_INDEX: Mapping[str, int] = MappingProxyType({name: i for i, name in enumerate(Torrent._fields)})


# How each qBittorrent JSON key becomes a Torrent field. Keys not listed here are ignored, which keeps
# secrets such as magnet_uri (it embeds tracker passkeys) out of the model entirely.
TORRENT_FIELDS: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
    {
        "name": _str,
        "state": normalize_state,
        "category": _str,
        "tags": split_tags,
        "size": to_int,
        "total_size": to_int,
        "progress": _float0,
        "amount_left": to_int,
        "completed": to_int,
        "downloaded": to_int,
        "uploaded": to_int,
        "downloaded_session": to_int,
        "uploaded_session": to_int,
        "dlspeed": to_int,
        "upspeed": to_int,
        "ratio": _float0,
        "added_on": to_int,
        "completion_on": to_int,
        "last_activity": to_int,
        "seen_complete": to_int,
        "seeding_time": to_int,
        "time_active": to_int,
        "eta": to_int,
        "num_seeds": to_int,
        "num_leechs": to_int,
        "num_complete": to_int,
        "num_incomplete": to_int,
        "priority": to_int,
        "force_start": _bool,
        "availability": _float0,
        "save_path": _str,
        "content_path": _str,
        "tracker": tracker_host,
        "has_tracker_error": _bool,
        "has_tracker_warning": _bool,
        "has_other_announce_error": _bool,
    }
)


def torrent_changes(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The Torrent fields present in a (possibly partial) qBittorrent torrent dict, converted."""
    return {key: conv(raw[key]) for key, conv in TORRENT_FIELDS.items() if key in raw}


@dataclass(frozen=True, slots=True)
class ServerState:
    """sync/maindata's server_state. None means qBittorrent did not report the value (or sent "-")."""

    alltime_dl: int | None = None
    alltime_ul: int | None = None
    dl_info_data: int | None = None
    up_info_data: int | None = None
    dl_info_speed: int | None = None
    up_info_speed: int | None = None
    dl_rate_limit: int | None = None
    up_rate_limit: int | None = None
    global_ratio: float | None = None
    free_space_on_disk: int | None = None
    dht_nodes: int | None = None
    total_peer_connections: int | None = None
    total_wasted_session: int | None = None
    total_queued_size: int | None = None
    queued_io_jobs: int | None = None
    average_time_queue: int | None = None
    connection_status: str = ""
    queueing: bool = False
    use_alt_speed_limits: bool = False

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> ServerState:
        values: dict[str, Any] = {f: to_int_or_none(raw.get(f)) for f in _SERVER_INTEGERS}
        values["global_ratio"] = to_float(raw.get("global_ratio"))
        values["connection_status"] = _str(raw.get("connection_status", ""))
        values["queueing"] = _bool(raw.get("queueing", False))
        values["use_alt_speed_limits"] = _bool(raw.get("use_alt_speed_limits", False))
        return cls(**values)


_SERVER_INTEGERS = (
    "alltime_dl",
    "alltime_ul",
    "dl_info_data",
    "up_info_data",
    "dl_info_speed",
    "up_info_speed",
    "dl_rate_limit",
    "up_rate_limit",
    "free_space_on_disk",
    "dht_nodes",
    "total_peer_connections",
    "total_wasted_session",
    "total_queued_size",
    "queued_io_jobs",
    "average_time_queue",
)


@dataclass(frozen=True, slots=True)
class AppInfo:
    """What qBittorrent says about itself; read once per login."""

    version: str = ""
    webapi_version: str = ""
    libtorrent: str = ""

    @property
    def uses_stop_start(self) -> bool:
        """5.x (Web API 2.11+) renamed pause/resume to stop/start."""
        parts = [to_int(p) for p in self.webapi_version.split(".")[:2]] + [0, 0]
        return (parts[0], parts[1]) >= (2, 11)


@dataclass(frozen=True, slots=True)
class Group:
    """Totals of the torrents in one category or on one tracker host."""

    torrents: int = 0
    size: int = 0
    uploaded: int = 0
    downloaded: int = 0


# Bounded values of the `reason` label of qbittorrent_exporter_sync_errors_total.
SYNC_ERROR_REASONS = ("auth", "banned", "connection", "timeout", "tls", "http", "response")


@dataclass
class SyncStats:
    """What the exporter's own metrics report about syncing one instance. Written under its mirror's lock."""

    up: bool = False
    last_duration: float = 0.0
    last_success: float = 0.0
    syncs: int = 0
    full_syncs: int = 0
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SYNC_ERROR_REASONS, 0))
    last_error: str = ""


class Layered(Mapping[str, Torrent]):
    """An immutable hash -> Torrent mapping: a frozen `base` dict under the torrents added or replaced
    since (`over`), without those of `base` removed since. `changed` holds every hash added, replaced
    or removed since `base` was taken; `size` is how many torrents there are.

    Why: a snapshot of 50,000 torrents as a copy of the mirror's dict costs ~2 ms to make and as much
    again to free when the next one replaces it (every key and value touched twice), in every scrape,
    for the ~500 torrents a delta changes. The mirror shares one base between snapshots and copies
    only what changed since it (bench/notes.md, round 5). A lookup costs a Python call more than a
    dict's; iteration runs in C (keys, values and items in the same order: base's, then over's).
    """

    __slots__ = ("_base", "_over", "_changed", "_len", "_mask")

    def __init__(
        self, base: dict[str, Torrent], over: dict[str, Torrent], changed: frozenset[str], size: int
    ) -> None:
        """`over` must hold only hashes of `changed`; neither dict may change afterwards."""
        self._base, self._over, self._changed, self._len = base, over, changed, size
        self._mask: bytes | None = None  # _shown(), made by the first iteration

    def __getitem__(self, h: str) -> Torrent:
        t = self._over.get(h)
        if t is not None:
            return t
        if h in self._changed:
            raise KeyError(h)
        return self._base[h]

    def get(self, h: str, default: Any = None) -> Any:  # Mapping.get goes through a KeyError: slower
        t = self._over.get(h)
        if t is not None:
            return t
        return default if h in self._changed else self._base.get(h, default)

    def __contains__(self, h: object) -> bool:
        return h in self._over or (h not in self._changed and h in self._base)

    def __len__(self) -> int:
        return self._len

    def _shown(self) -> bytes:
        """For each of base's hashes, in order: 1 if base's torrent is shown. Made once (3-4 ms at 50,000:
        a set lookup per hash); each iteration after it costs what one of a dict does."""
        mask = self._mask
        if mask is None:  # two threads may both make it: the same bytes
            mask = self._mask = bytes(map(operator.not_, map(self._changed.__contains__, self._base)))
        return mask

    def __iter__(self) -> Iterator[str]:
        return itertools.chain(itertools.compress(self._base, self._shown()), self._over)

    def copy(self) -> dict[str, Torrent]:
        """A dict of the same torrents in the same order: the base cloned in C, then the changes."""
        out = self._base.copy()
        for h in self._changed:
            out.pop(h, None)
        out.update(self._over)
        return out

    def keys(self) -> KeysView[str]:
        return _LayeredKeys(self)

    def values(self) -> ValuesView[Torrent]:
        return _LayeredValues(self)

    def items(self) -> ItemsView[str, Torrent]:
        return _LayeredItems(self)

    def __repr__(self) -> str:
        return f"Layered({self._len} torrents, {len(self._changed)} changed since its base)"


def torrent_dict(torrents: Mapping[str, Torrent]) -> dict[str, Torrent]:
    """A new dict of `torrents`: a snapshot's are copied in C (dict(m) would call m[h] for every key)."""
    if isinstance(torrents, (Layered, MappingProxyType, dict)):
        return torrents.copy()
    return dict(torrents)


class _LayeredKeys(KeysView[str]):
    _mapping: Layered

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping)


class _LayeredValues(ValuesView[Torrent]):
    _mapping: Layered

    def __iter__(self) -> Iterator[Torrent]:
        m = self._mapping
        return itertools.chain(itertools.compress(m._base.values(), m._shown()), m._over.values())


class _LayeredItems(ItemsView[str, Torrent]):
    _mapping: Layered

    def __iter__(self) -> Iterator[tuple[str, Torrent]]:
        m = self._mapping
        return itertools.chain(itertools.compress(m._base.items(), m._shown()), m._over.items())


class TorrentChanges(NamedTuple):
    """The hashes whose Torrent was added, replaced or removed since the snapshot of generation `since`
    (of the same mirror): a consumer that saw that one need not compare all 50,000 torrents."""

    since: int
    hashes: frozenset[str]


@dataclass(frozen=True)
class Snapshot:
    """One consistent, immutable view of one qBittorrent instance.

    `generation` increases whenever the content changes, so consumers may cache per generation.
    `by_state_category`, `by_category` and `by_tracker` are the totals the collectors need, kept
    up to date incrementally by the mirror (exporter/qbt/maindata.py, Totals). `changes`: which
    torrents differ from the previous snapshot, when the mirror knows (None after a full update);
    `history`: the `changes` of the last snapshots before this one too, oldest first (changed_since).
    `downloading`: the torrents managers.state.is_downloading says are downloads, kept by the mirror
    so that the jobs need not walk 50,000 torrents for 2,000 downloads; None when not known.
    """

    instance: str
    generation: int
    taken_at: float
    app: AppInfo
    server: ServerState
    torrents: Mapping[str, Torrent]
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    by_state_category: Mapping[tuple[str, str], int] = field(default_factory=dict)
    by_category: Mapping[str, Group] = field(default_factory=dict)
    by_tracker: Mapping[str, Group] = field(default_factory=dict)
    changes: TorrentChanges | None = None
    history: tuple[TorrentChanges, ...] = ()
    downloading: Mapping[str, Torrent] | None = None

    def changed_since(self, generation: int) -> frozenset[str] | None:
        """The hashes whose Torrent was added, replaced or removed since the snapshot of `generation`
        (of the same mirror), or None when this snapshot's history does not reach back to it."""
        if generation == self.generation:
            return frozenset()
        out: set[str] = set()
        for c in reversed((*self.history, self.changes) if self.changes else ()):
            out |= c.hashes
            if c.since == generation:
                return frozenset(out)
            if c.since < generation:
                return None
        return None
