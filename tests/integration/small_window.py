"""A small windowed pipeline with its input and exact results, for tests whose
subject is how weir connects (SASL, TLS) rather than what it computes."""

BASE = 1_700_000_000_000  # a multiple of the window size
SIZE = 10_000

# str.format fields: name, source, sink.
PIPELINE = """
pipeline: {name}
source:
  topic: {source}
  partitioned_by: user
  event_time: {{field: ts, format: epoch_ms}}
  watermark: {{max_out_of_orderness: 1s}}
steps:
  - id: spend
    window:
      group_by: [user]
      tumbling: 10s
      allowed_lateness: 2s
      aggregate:
        n: count()
        total: sum(amount)
sink:
  topic: {sink}
processing:
  commit_interval: 200ms
"""

EVENTS = [
    {"ts": BASE + 1_000, "user": "a", "amount": 5},
    {"ts": BASE + 2_000, "user": "b", "amount": 10},
    {"ts": BASE + 3_000, "user": "a", "amount": 7},
    {"ts": BASE + 4_000, "user": "c", "amount": 1},
    {"ts": BASE + 30_000, "user": "a", "amount": 0},  # closes [BASE, BASE+10s); its own stays open
]

# By record key (the user).
EXPECTED = {
    "a": {"user": "a", "window_start": BASE, "window_end": BASE + SIZE, "n": 2, "total": 12},
    "b": {"user": "b", "window_start": BASE, "window_end": BASE + SIZE, "n": 1, "total": 10},
    "c": {"user": "c", "window_start": BASE, "window_end": BASE + SIZE, "n": 1, "total": 1},
}
