"""Scheduled actions: APScheduler jobs that carry out what the managers decide.

    scheduler.py   Actions: builds the jobs from Settings, runs them on a BackgroundScheduler, counts runs
    control.py     the `control` job: stalled downloads, ratio emergency, seeding slots
    completion.py  the `completion` job: detect completions, run handlers exactly once (ledger in the store)
    handlers.py    webhook, command, set_category, add_tags
    perform.py     one action: dry-run aware, one log line, an audit row, a counter
    settings.py    the `control:` and `completion:` config sections
    metrics.py     the counters and gauges (in App.events)
    history.py     `qbittorrent-monitor completions` and /api/completions
"""

# config.py registers the sections parsed in settings.py (its last lines import it): load config first,
# so that importing any module of this package, whatever comes first, finds config complete.
from .. import config as _config  # noqa: E402,F401
