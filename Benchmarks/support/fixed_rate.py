"""Posts single journal entries at a fixed rate and prints latency percentiles, measured from each request's
scheduled start (so a stall is not hidden by the client waiting)."""
import http.client, json, sys, threading, time, uuid
from concurrent.futures import ThreadPoolExecutor

port, token, debit, credit, rate, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
local = threading.local()
def post(scheduled):
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.perf_counter() < scheduled:
        time.sleep(max(0, scheduled - time.perf_counter()))
    body = json.dumps({"date": "2026-06-15", "description": "Latency probe", "id": str(uuid.uuid4()),
                       "lines": [{"accountId": debit, "side": "debit", "amount": 100}, {"accountId": credit, "side": "credit", "amount": 100}]})
    conn.request("POST", "/v1/accounting/journal-entries", body, {"content-type": "application/json", "authorization": "Bearer " + token})
    response = conn.getresponse(); response.read()
    if response.status != 201: raise SystemExit(f"status {response.status}")
    return time.perf_counter() - scheduled
start = time.perf_counter() + 0.5
with ThreadPoolExecutor(max_workers=64) as pool:
    latencies = sorted(pool.map(post, [start + i / rate for i in range(rate * seconds)]))
def pct(p): return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000
print(f"{len(latencies)} requests at {rate}/s: p50 {pct(50):.2f} ms, p99 {pct(99):.2f} ms, max {latencies[-1] * 1000:.2f} ms")
