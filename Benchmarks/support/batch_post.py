"""Posts batches of two-line entries through the HTTP batch endpoint (all-or-nothing batches, the group commit
path) from several connections at once, and prints the posted lines per second.
Usage: batch_post.py PORT TOKEN DEBIT_ACCOUNT CREDIT_ACCOUNT BATCHES [ENTRIES_PER_BATCH] [CONNECTIONS]"""
import http.client, json, sys, time
from concurrent.futures import ThreadPoolExecutor

port, token, debit, credit = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
batches = int(sys.argv[5])
size = int(sys.argv[6]) if len(sys.argv) > 6 else 500
connections = int(sys.argv[7]) if len(sys.argv) > 7 else 4
# The bodies are made before the clock starts, so the client's JSON work is not counted.
bodies = [json.dumps({"entries": [
    {"date": "2026-06-%02d" % (1 + (b + i) % 28), "description": "Batch %d entry %d" % (b, i),
     "lines": [{"accountId": debit, "side": "debit", "amount": 1 + i % 2}, {"accountId": credit, "side": "credit", "amount": 1 + i % 2}]}
    for i in range(size)]}) for b in range(batches)]

def worker(indexes):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for index in indexes:
        conn.request("POST", "/v1/accounting/journal-entries/batch", bodies[index],
                     {"content-type": "application/json", "authorization": "Bearer " + token})
        response = conn.getresponse(); response.read()
        if response.status != 201: raise SystemExit(f"status {response.status}")

start = time.perf_counter()
with ThreadPoolExecutor(max_workers=connections) as pool:
    list(pool.map(worker, [range(c, batches, connections) for c in range(connections)]))
elapsed = time.perf_counter() - start
print(f"{batches * size * 2 / elapsed:.0f} lines/s ({batches} batches of {size} entries over {connections} connections in {elapsed:.2f} s)")
