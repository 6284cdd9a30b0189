"""Posts single two-line journal entries over HTTP as fast as the server takes them, from several keep-alive
connections, for a number of seconds; prints the entries posted per second.
Usage: post_rate.py PORT TOKEN DEBIT_ACCOUNT CREDIT_ACCOUNT SECONDS [CONNECTIONS]"""
import http.client, json, sys, threading, time

port, token, debit, credit = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
seconds = float(sys.argv[5])
connections = int(sys.argv[6]) if len(sys.argv) > 6 else 8
headers = {"content-type": "application/json", "authorization": "Bearer " + token}
deadline = time.perf_counter() + seconds
counts = [0] * connections


def worker(index):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    n = 0
    while time.perf_counter() < deadline:
        body = json.dumps({"date": "2026-06-%02d" % (1 + n % 28), "description": "Rate %d-%d" % (index, n),
                           "lines": [{"accountId": debit, "side": "debit", "amount": 1 + n % 5},
                                     {"accountId": credit, "side": "credit", "amount": 1 + n % 5}]})
        conn.request("POST", "/v1/accounting/journal-entries", body, headers)
        response = conn.getresponse(); response.read()
        if response.status != 201: raise SystemExit(f"status {response.status}")
        n += 1
    counts[index] = n


start = time.perf_counter()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
for thread in threads: thread.start()
for thread in threads: thread.join()
elapsed = time.perf_counter() - start
print(f"{sum(counts) / elapsed:.1f}")
