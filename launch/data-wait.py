#!/usr/bin/python3
"""How long training waited for data, from a run's metrics.jsonl: over the "train" records (each
covers the steps since the previous one), the share of step time spent in the loader's get(), as
median, maximum and over the whole run, and the records with the largest shares (phase, step,
steps in the record), so a stall can be placed: a phase start, an epoch boundary, a validation.

Usage: launch/data-wait.py RUN_DIR/metrics.jsonl [MORE.jsonl ...] [--top 5]
"""
import argparse
import json
import statistics
import sys


def summary(path, top):
    recs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                j = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit("data-wait: %s:%d: not JSON (%s)" % (path, n, e))
            if j.get("type") == "train" and "data_wait_share" in j:
                recs.append(j)
    if not recs:
        sys.exit("data-wait: %s: no train records with data_wait_share" % path)
    shares = [r["data_wait_share"] for r in recs]
    wait = sum(r["data_wait_s"] for r in recs)
    step = sum(r["data_wait_s"] / r["data_wait_share"] for r in recs if r["data_wait_share"] > 0)
    print("%s: %d records, data wait median %.2f%%, max %.2f%%, whole run %.2f%% (%.1f s of %.0f s)" %
          (path, len(recs), 100 * statistics.median(shares), 100 * max(shares),
           100 * wait / step if step > 0 else 0.0, wait, step))
    for r in sorted(recs, key=lambda r: -r["data_wait_share"])[:top]:
        print("  %.2f%%  phase %d (%s) step %d, %d steps in the record, %.3f s waited" %
              (100 * r["data_wait_share"], r["phase"], r.get("phase_name", "?"), r["step"],
               r.get("data_window_steps", 0), r["data_wait_s"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("metrics", nargs="+")
    ap.add_argument("--top", type=int, default=5, help="records with the largest shares to list")
    args = ap.parse_args()
    for path in args.metrics:
        summary(path, args.top)


if __name__ == "__main__":
    main()
