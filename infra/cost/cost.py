#!/usr/bin/env python3
"""The monthly AWS list-price cost of the reference tenant, from the counts the runtime benchmark
measured (infra/cost/counts.json, written by infra/bench-runtime.sh). All arithmetic is here; the
README table is this script's output:

    python3 infra/cost/cost.py [counts.json]

It also prints the month's total with events sent 100 per request instead of one.

The benchmark ran each operation of the reference tenant at a small scale through the function
binaries (Runtime API, metering proxy in front of moto); this script scales each measured phase to
the reference tenant by its own unit (per event, per customer, per row, per tick, per read) and
prices it. Prices: us-east-1 list prices, USD, no free tier.
"""
import json
import math
import sys
from pathlib import Path

# The reference tenant (issue 12).
CUSTOMERS = 1_000_000
GROUPS = 50
EVENTS_PER_DAY = 100_000          # one event per POST /events (a webhook per event); see "halve it"
RESYNCS_PER_DAY = 1               # nightly, steady state: events and wake-ups keep membership current
WAKE_TICKS_PER_DAY = 24 * 60 // 5  # WakeSchedule rate(5 minutes)
EXPORTS_PER_DAY = 10
EXPORT_ROWS = 100_000
API_READS_PER_DAY = 1_000
DAYS = 30
# Assumptions the benchmark cannot measure, stated where they are used.
WAKES_PER_CUSTOMER_MONTH = 2      # time thresholds crossed a month (a monthly renewal: enter "renewing", leave)
HISTORY_DAYS = 90                 # history and event ids expire after 90 days (TTL)
EXPORT_RETENTION_DAYS = 7         # ExportRetentionDays
RESYNC_SHARD_MESSAGES = 16        # a large tenant's resync fans out to at most one message per partition
PLATFORM_LOG_BYTES = 300          # Lambda's START/END/REPORT lines per invocation
ESM_POLLERS = 5                   # an SQS event source mapping long-polls with 5 connections when idle
ESM_POLL_SECONDS = 20

PRICE = {
    "ddb_wru": 0.625 / 1e6,       # on-demand write request unit
    "ddb_rru": 0.125 / 1e6,       # on-demand read request unit
    "ddb_gb": 0.25,               # table storage, GB-month (standard class)
    "pitr_gb": 0.20,              # continuous backups (PointInTimeRecoveryEnabled), GB-month
    "lambda_req": 0.20 / 1e6,
    "lambda_gbs": 0.0000133334,   # arm64
    "sqs_req": 0.40 / 1e6,        # standard queue, per 64 KB chunk
    "s3_put": 0.005 / 1000,       # PUT, POST, LIST
    "s3_get": 0.0004 / 1000,
    "s3_gb": 0.023,
    "transfer_gb": 0.09,          # S3 to the internet (downloads)
    "httpapi_req": 1.00 / 1e6,    # HTTP API, first 300 million
    "logs_gb": 0.50,              # CloudWatch Logs ingestion
    "xray_trace": 5.00 / 1e6,     # traces recorded (Tracing: Active)
}
GIB = 1024 ** 3


class Usage:
    """Monthly quantities by (service, item) and by activity."""

    def __init__(self):
        self.rows = {}

    def add(self, activity, service, item, quantity, price):
        key = (service, item, price)
        row = self.rows.setdefault(key, {"quantity": 0.0, "by": {}})
        row["quantity"] += quantity
        row["by"][activity] = row["by"].get(activity, 0.0) + quantity * price


def phase(counts, name):
    p = counts["phases"].get(name)
    if p is None or not p["units"]:
        raise SystemExit(f"counts.json has no measured phase {name!r}; run infra/bench-runtime.sh")
    return p


def dynamodb(p, ops=None):
    """(read units, write units incl. WakeIndex) of a phase, optionally only some operations."""
    reads = writes = 0.0
    for op, c in p["aws"]["dynamodb"].items():
        if ops is None or op in ops:
            reads += c["read_units"]
            writes += c["write_units"] + c["index_write_units"]
    return reads, writes


def add_phase(u, counts, activity, p, per_month, dynamo_scale=None, lambda_scale=None, api_requests=0,
              per_request=1.0):
    """Books a measured phase `per_month` times. `dynamo_scale(op) -> factor` and `lambda_scale(binary)`
    scale parts of one run to the reference size (default 1); `per_request` scales what each request
    (invocation) costs once, whatever it carries: its requests, invocations and logs."""
    ds = dynamo_scale or (lambda op: 1.0)
    ls = lambda_scale or (lambda b: 1.0)
    for op, c in p["aws"]["dynamodb"].items():
        u.add(activity, "DynamoDB", "read request units", c["read_units"] * ds(op) * per_month, PRICE["ddb_rru"])
        u.add(activity, "DynamoDB", "write request units (incl. WakeIndex)",
              (c["write_units"] + c["index_write_units"]) * ds(op) * per_month, PRICE["ddb_wru"])
    for op, c in p["aws"]["sqs"].items():
        u.add(activity, "SQS", "requests (64 KB chunks)", c["billed_requests"] * per_month, PRICE["sqs_req"])
    for op, c in p["aws"]["s3"].items():
        price = PRICE["s3_get"] if op in ("GetObject", "HeadObject") else PRICE["s3_put"]
        u.add(activity, "S3", "GET requests" if price == PRICE["s3_get"] else "PUT/POST/LIST requests",
              c["requests"] * per_month, price)
    # The metering proxy's own reads ran inside the functions' requests: out of the billed time.
    billed = sum(inv["billed_ms"] for inv in p["invocations"].values())
    kept = 1 - min(p["aws"].get("metering_ms", 0) / billed, 1) if billed else 1
    for binary, inv in p["invocations"].items():
        memory_gb = counts["memory_mb"][binary] / 1024
        n = inv["count"] * per_month * per_request
        u.add(activity, "Lambda", "requests", n, PRICE["lambda_req"])
        u.add(activity, "Lambda", "GB-seconds (arm64)", inv["billed_ms"] * kept / 1000 * memory_gb * ls(binary) * per_month,
              PRICE["lambda_gbs"])
        u.add(activity, "CloudWatch Logs", "GB ingested",
              (inv["log_bytes"] * ls(binary) + PLATFORM_LOG_BYTES * inv["count"]) * per_request * per_month / 1e9,
              PRICE["logs_gb"])
    if api_requests:
        u.add(activity, "API Gateway", "HTTP API requests", api_requests * per_request * per_month,
              PRICE["httpapi_req"])


def model(counts, events_per_request=1):
    u = Usage()
    sample = counts["sample"]["customers"]
    if counts["sample"]["groups"] != GROUPS:
        print(f"warning: measured with {counts['sample']['groups']} groups, the reference has {GROUPS}", file=sys.stderr)
    customers_factor = CUSTOMERS / sample

    # Events: each single-event request, as measured per accepted event.
    # With several events per request, the group-list Query and the customers' BatchGetItem are made
    # once per request (up to 100 customers); the writes stay per item, the billed time per event.
    ev = phase(counts, "events")
    per_event = 1 / ev["units"]
    batch = 1 / events_per_request
    add_phase(u, counts, "events", ev, EVENTS_PER_DAY * DAYS * per_event,
              lambda op: batch if op in ("Query", "BatchGetItem") else 1.0, api_requests=ev["units"],
              per_request=batch)

    # Nightly resync in steady state: customer pages grow with the customers; the job's own writes
    # (start and end, all groups' sync status) do not; one partition record per shard message.
    rs = phase(counts, "resync_steady")
    def resync_dynamo(op):
        return customers_factor if op in ("Query", "BatchGetItem", "GetItem") else 1.0
    add_phase(u, counts, "nightly resync", rs, RESYNCS_PER_DAY * DAYS, resync_dynamo,
              lambda b: customers_factor if b == "worker-group-jobs" else 1.0)
    shard_record = rs["aws"]["dynamodb"].get("UpdateItem", {"write_units": 0})["write_units"]
    u.add("nightly resync", "DynamoDB", "write request units (incl. WakeIndex)",
          shard_record * (RESYNC_SHARD_MESSAGES - 1) * DAYS, PRICE["ddb_wru"])
    u.add("nightly resync", "SQS", "requests (64 KB chunks)", (RESYNC_SHARD_MESSAGES - 1) * DAYS, PRICE["sqs_req"])
    u.add("nightly resync", "Lambda", "requests", (RESYNC_SHARD_MESSAGES - 1) * DAYS, PRICE["lambda_req"])

    # Wake-ups: every tick's scheduler side, and the worker per customer woken.
    add_phase(u, counts, "wake-ups", phase(counts, "wake_tick"), WAKE_TICKS_PER_DAY * DAYS)
    ww = phase(counts, "wake_worker")
    add_phase(u, counts, "wake-ups", ww, CUSTOMERS * WAKES_PER_CUSTOMER_MONTH / ww["units"])

    # Exports: pages and the worker's time grow with the rows; the file is one PutObject below 8 MiB,
    # else 8 MiB parts; each export is started, read once and downloaded once.
    ex = phase(counts, "export")
    rows_factor = EXPORT_ROWS / ex["units"]
    monthly = EXPORTS_PER_DAY * DAYS
    export_bytes = ex["aws"]["s3"].get("PutObject", {"bytes_in": 0})["bytes_in"] * rows_factor
    s3_ops = {op: c for op, c in ex["aws"]["s3"].items() if op not in ("PutObject",)}
    ex_scaled = dict(ex, aws=dict(ex["aws"], s3=s3_ops))
    add_phase(u, counts, "exports", ex_scaled, monthly, lambda op: rows_factor if op == "Query" else 1.0,
              lambda b: rows_factor if b == "worker-exports" else 1.0, api_requests=2)
    parts = 1 if export_bytes < 8 * 1024 * 1024 else math.ceil(export_bytes / (8 * 1024 * 1024)) + 2
    u.add("exports", "S3", "PUT/POST/LIST requests", parts * monthly, PRICE["s3_put"])
    u.add("exports", "S3", "data transfer out (GB)", export_bytes * monthly / 1e9, PRICE["transfer_gb"])
    u.add("exports", "S3", "storage (GB-month)", export_bytes * EXPORTS_PER_DAY * EXPORT_RETENTION_DAYS / GIB,
          PRICE["s3_gb"])

    # API reads: the measured mix of read routes, per read.
    rd = phase(counts, "api_reads")
    add_phase(u, counts, "API reads", rd, API_READS_PER_DAY * DAYS / rd["units"], api_requests=rd["units"])

    # Storage: customers and their identities and member rows grow with the customers; history and
    # event ids are kept 90 days; every item carries 100 bytes of overhead.
    st = counts["storage"]
    def stored(kind, factor):
        k = st.get(kind, {"items": 0, "bytes": 0})
        return (k["bytes"] + 100 * k["items"]) * factor
    changes_per_event = ev.get("membership_changes", 0) / ev["units"]
    history_rows = (EVENTS_PER_DAY * changes_per_event * HISTORY_DAYS
                    + CUSTOMERS * WAKES_PER_CUSTOMER_MONTH * HISTORY_DAYS / DAYS)
    history_row = (st["history"]["bytes"] / st["history"]["items"] + 100) if st.get("history") else 300
    event_row = (st["event_id"]["bytes"] / st["event_id"]["items"] + 100) if st.get("event_id") else 200
    table_bytes = (stored("customer", customers_factor) + stored("identity", customers_factor)
                   + stored("member", customers_factor) + stored("group", 1) + stored("job", 1)
                   + history_rows * history_row + EVENTS_PER_DAY * HISTORY_DAYS * event_row)
    wake_entries = st.get("customer", {}).get("in_wake_index", 0) * customers_factor
    index_bytes = wake_entries * (150 + 100)
    u.add("storage", "DynamoDB", "storage (GB-month)", (table_bytes + index_bytes) / GIB, PRICE["ddb_gb"])
    u.add("storage", "DynamoDB", "point-in-time recovery (GB-month)", table_bytes / GIB, PRICE["pitr_gb"])

    # Traffic that has no request of ours behind it: the SQS triggers' idle long polls (two queues), and
    # X-Ray's default sampling (the first request each second, 5% of the rest) of every invocation.
    polls = 2 * ESM_POLLERS * (DAYS * 86400 / ESM_POLL_SECONDS)
    u.add("fixed", "SQS", "requests (64 KB chunks)", polls, PRICE["sqs_req"])
    invocations = sum(r["quantity"] for (s, i, _), r in u.rows.items() if (s, i) == ("Lambda", "requests"))
    rate = invocations / (DAYS * 86400)
    traces = (min(rate, 1) + 0.05 * max(rate - 1, 0)) * DAYS * 86400
    u.add("fixed", "X-Ray", "traces recorded", traces, PRICE["xray_trace"])
    return u, {"storage_gb": table_bytes / GIB, "changes_per_event": changes_per_event}


def money(x):
    return f"${x:,.2f}" if x >= 0.01 or x == 0 else "<$0.01"


def total_of(u):
    return sum(sum(r["by"].values()) for r in u.rows.values())


def report(counts, u, facts):
    total = total_of(u)
    rows = sorted(u.rows.items(), key=lambda kv: -sum(kv[1]["by"].values()))
    print(f"Reference tenant: {CUSTOMERS:,} customers, {GROUPS} dynamic groups, {EVENTS_PER_DAY:,} events/day "
          f"(one per request), nightly resync, wake-ups every 5 min, {EXPORTS_PER_DAY} exports of {EXPORT_ROWS:,} "
          f"rows/day, {API_READS_PER_DAY:,} API reads/day; {DAYS}-day month, us-east-1 list prices.")
    print(f"Measured: {counts['command']} ({counts['build']} build, {counts['measured_at'][:10]}).\n")
    print("| service | item | monthly quantity | unit price | monthly cost |")
    print("|---|---|---:|---:|---:|")
    for (service, item, price), r in rows:
        cost = sum(r["by"].values())
        unit = f"${price * 1e6:,.3f}/M" if price < 1e-3 else f"${price:,.4f}"
        print(f"| {service} | {item} | {r['quantity']:,.1f} | {unit} | {money(cost)} |")
    print(f"| **total** | | | | **{money(total)}** |\n")
    by_activity = {}
    for r in u.rows.values():
        for a, c in r["by"].items():
            by_activity[a] = by_activity.get(a, 0) + c
    print("| activity | monthly cost | share |")
    print("|---|---:|---:|")
    for a, c in sorted(by_activity.items(), key=lambda kv: -kv[1]):
        print(f"| {a} | {money(c)} | {100 * c / total:.0f}% |")
    (service, item, _), top = rows[0]
    top_cost = sum(top["by"].values())
    top_activity = max(top["by"], key=top["by"].get)
    print(f"\nDominant cost: {service} {item}, {money(top_cost)} of {money(total)} "
          f"({100 * top_cost / total:.0f}%), {100 * top['by'][top_activity] / top_cost:.0f}% of it from {top_activity}.")
    ev = phase(counts, "events")
    r, w = dynamodb(ev)
    print(f"Per single-event request: {r / ev['units']:.1f} read units, {w / ev['units']:.1f} write units "
          f"(transactions count twice), {facts['changes_per_event']:.2f} membership changes; "
          f"table storage {facts['storage_gb']:.1f} GB.")


def main():
    args = sys.argv[1:]
    path = Path(args[0]) if args else Path(__file__).with_name("counts.json")
    counts = json.loads(path.read_text())
    u, facts = model(counts)
    report(counts, u, facts)
    batched, _ = model(counts, events_per_request=100)
    print(f"The same month with events sent 100 per request: {money(total_of(batched))} "
          f"(API Gateway, Lambda requests, X-Ray traces and the group-list Query are per request).")


if __name__ == "__main__":
    main()
