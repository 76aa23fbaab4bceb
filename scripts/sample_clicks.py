#!/usr/bin/env python3
"""Produces a reproducible clickstream for the example pipeline.

Events are JSON objects {ts, user, action, page, duration_ms}, keyed by user,
spread over a few minutes of event time starting at a minute boundary ten
minutes ago (so that broker retention keeps them), with some events out of
order. The same seed gives the same users, actions and durations. The last event is a `heartbeat` far enough ahead that the
watermark closes every window before it.

Usage: sample_clicks.py BOOTSTRAP TOPIC [--events N] [--seed S]
"""
import argparse
import json
import random
import time

from confluent_kafka import Producer


def events(n, seed, start_ms):
    rng = random.Random(seed)
    users = [f"u{i}" for i in range(1, 6)]
    t = start_ms
    for _ in range(n):
        t += rng.randint(200, 1500)
        jitter = -rng.randint(0, 4000) if rng.random() < 0.1 else 0
        yield {
            "ts": t + jitter,
            "user": rng.choice(users),
            "action": rng.choice(["view", "view", "view", "click"]),
            "page": rng.choice(["/", "/pricing", "/docs", "/blog"]),
            "duration_ms": rng.randint(100, 30_000),
        }
    # Moves every partition's watermark past the last window (+ lateness).
    for u in users:
        yield {"ts": t + 120_000, "user": u, "action": "heartbeat", "page": "/", "duration_ms": 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("--events", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start-ms", type=int, default=(int(time.time()) // 60 - 10) * 60_000)
    args = ap.parse_args()
    p = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 20})
    count = 0
    for e in events(args.events, args.seed, args.start_ms):
        p.produce(args.topic, key=e["user"], value=json.dumps(e), timestamp=e["ts"])
        count += 1
    p.flush(30)
    print(f"produced {count} clicks to {args.topic}")


if __name__ == "__main__":
    main()
