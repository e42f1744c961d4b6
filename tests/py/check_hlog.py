"""Decodes a run's latency.hlog with Python's hdrhistogram package (an independent reader) and
checks each window's p99 against windows.csv, within the histogram's precision.

usage: check_hlog.py RUN_DIR     (exit 0 and one summary line when every window agrees)
"""
import csv
import math
import sys
from pathlib import Path

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader


def p99_as_outage_sim_ranks_it(h):
    """The value at rank ceil(0.99 × count), the highest value of its bucket: the rank the Rust
    crate uses (the Python package rounds the rank to the nearest, which differs when a window
    holds few values). Walked from the decoded counts, not from either library's percentile."""
    rank = max(1, math.ceil(0.99 * h.get_total_count()))
    for item in h.get_recorded_iterator():
        if item.total_count_to_this_value >= rank:
            return item.value_iterated_to
    return h.get_max_value()


def main(run: Path) -> int:
    reference = HdrHistogram(1, 3_600_000_000, 3)
    reader = HistogramLogReader(str(run / "latency.hlog"), reference)
    intervals = []
    while (h := reader.get_next_interval_histogram()) is not None:
        intervals.append(h)
    with open(run / "windows.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if len(intervals) != len(rows):
        print(f"{len(intervals)} histograms in latency.hlog, {len(rows)} rows in windows.csv")
        return 1
    compared = 0
    for i, (h, row) in enumerate(zip(intervals, rows)):
        if h.get_tag() != row["op"]:
            print(f"interval {i + 1}: tag {h.get_tag()!r}, windows.csv op {row['op']!r}")
            return 1
        finished = int(row["ok"]) + int(row["failed"]) + int(row["timed_out"])
        if h.get_total_count() != finished:
            print(f"interval {i + 1} ({row['clock']} {row['op']}): {h.get_total_count()} values, {finished} finished attempts")
            return 1
        if not row["p99_ms"]:
            continue
        p99_us = p99_as_outage_sim_ranks_it(h)
        csv_us = float(row["p99_ms"]) * 1000.0
        # Two readers of one histogram may report either end of the same bucket (3 digits).
        if abs(p99_us - csv_us) > max(1.0, 0.002 * csv_us):
            print(f"interval {i + 1} ({row['clock']} {row['op']}): hlog p99 {p99_us} µs, windows.csv {csv_us} µs")
            return 1
        compared += 1
    print(f"latency.hlog agrees with windows.csv: {len(intervals)} histograms, {compared} p99s compared")
    return 0 if compared > 0 else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
