"""An independent model of weir's tumbling-window semantics (DESIGN.md section 3),
used to compute the expected results of the integration tests. It shares no
code with weir.

Per partition, in offset order: a record whose time can be read moves the
watermark to max(event time) - max_out_of_orderness (before the record is
handled, filtered or not); windows [k*size, (k+1)*size) close when
watermark >= end + allowed_lateness; a record whose window has closed is late.
"""
import json
import math


def tumbling(partitions, *, size, lateness, ooo, accept, group, value_of):
    """partitions: {partition: [raw value bytes/str, ...]} in offset order.
    accept(event) -> bool is the filter; group(event) -> group key;
    value_of(event) -> number or None for the aggregates.
    Returns (results keyed by (group, start), late_count)."""
    results = {}
    late = 0
    for records in partitions.values():
        wm = None
        open_windows = {}
        for raw in records:
            try:
                e = json.loads(raw)
            except (ValueError, TypeError):
                continue
            if not isinstance(e, dict) or not isinstance(e.get("ts"), (int, float)):
                continue
            t = math.floor(e["ts"])
            wm = t - ooo if wm is None else max(wm, t - ooo)
            for (g, start) in sorted(k for k in open_windows if wm >= k[1] + size + lateness):
                results[(g, start)] = open_windows.pop((g, start))
            if not accept(e):
                continue
            start = (t // size) * size
            if wm >= start + size + lateness:
                late += 1
                continue
            acc = open_windows.setdefault((group(e), start), [])
            acc.append(value_of(e))
        # Windows still open at the end emit nothing (their close never came).
    return results, late


def summarize(values):
    nums = [v for v in values if v is not None]
    return {
        "count": len(values),
        "sum": sum(nums) if nums else None,
        "min": min(nums) if nums else None,
        "max": max(nums) if nums else None,
        "avg": (sum(nums) / len(nums)) if nums else None,
    }
