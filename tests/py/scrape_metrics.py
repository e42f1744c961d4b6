"""Scrapes a running `outage-sim run --metrics-addr` with an HTTP client and parses every
scrape with the Prometheus client's OpenMetrics parser; after the run's end (during
--metrics-linger) checks that the counters equal the sums of windows.csv.

usage: scrape_metrics.py URL OUT_DIR     (exit 0 and one summary line when they agree)
"""
import csv
import glob
import sys
import time
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families

COUNTERS = ["offered", "ok", "failed", "timed_out", "dropped", "retries"]


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return {
            (s.name, s.labels.get("op")): s.value
            for family in text_string_to_metric_families(response.read().decode())
            for s in family.samples
        }


def ended(out):
    return any("run_end" in open(p).read() for p in glob.glob(f"{out}/*/events.csv"))


def main(url, out):
    deadline = time.time() + 300
    during = []
    final = None
    while time.time() < deadline:
        try:
            if ended(out):
                final = scrape(url)
                break
            during.append(scrape(url)[("outage_sim_windows_total", None)])
        except OSError:
            pass  # not listening yet
        time.sleep(0.3)
    if final is None:
        print("no scrape after the run's end")
        return 1
    (run,) = glob.glob(f"{out}/*/windows.csv")
    rows = list(csv.DictReader(open(run)))
    total_windows = len(rows) // 3
    if not [w for w in during if 0 < w < total_windows]:
        print(f"no scrape during the run (windows seen: {during})")
        return 1
    for op in ("browse", "checkout", "report"):
        for counter in COUNTERS:
            expected = sum(int(r[counter]) for r in rows if r["op"] == op)
            got = final[(f"outage_sim_{counter}_total", op)]
            if got != expected:
                print(f"{counter} {op}: metrics {got}, windows.csv {expected}")
                return 1
        count = final[("outage_sim_latency_seconds_count", op)]
        finished = sum(int(r["ok"]) + int(r["failed"]) + int(r["timed_out"]) for r in rows if r["op"] == op)
        if count != finished:
            print(f"latency count {op}: metrics {count}, windows.csv {finished}")
            return 1
    if final[("outage_sim_windows_total", None)] != total_windows:
        print(f"windows: metrics {final[('outage_sim_windows_total', None)]}, windows.csv {total_windows}")
        return 1
    print(f"{len(during)} scrapes during the run; at the end every counter equals windows.csv ({total_windows} windows)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
