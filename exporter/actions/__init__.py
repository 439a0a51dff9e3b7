"""Scheduled actions: APScheduler jobs that carry out what the managers decide.

scheduler.py   Actions: builds the jobs from Settings, runs them on a BackgroundScheduler, counts runs
control.py     the `control` job: stalled downloads, ratio emergency, seeding slots
completion.py  the `completion` job: detect completions, run handlers exactly once (ledger in the store)
handlers.py    webhook, command, set_category, add_tags
perform.py     one action: dry-run aware, one log line, an audit row, a counter
settings.py    what the jobs are configured with (parsed by exporter/config/actions.py)
metrics.py     the counters and gauges (in App.events)
"""
