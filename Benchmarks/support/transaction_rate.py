"""Creates business transactions at a fixed rate (each a new counterparty, so none is a duplicate), prints the create
latency percentiles from each request's scheduled start, then waits until the ledger has posted every one of them and
prints how long after the last create that was."""
import json, os, sys, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen

port, token, source, destination, currency, rate, seconds = (
    int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7]))
date = time.strftime("%Y-%m-%d", time.gmtime())


def request_bytes(index):
    body = {"kind": "expense", "amount": 100 + index, "currency": currency, "valueDate": date, "sourceAccountId": source,
            "destinationAccountId": destination, "counterparty": {"name": f"Supplier {rate}-{index}"}}
    return loadgen.post_bytes(port, token, "/v1/transactions", json.dumps(body).encode())


timed = loadgen.run(port, rate, seconds, request_bytes, 201)
created_by = time.monotonic()
ids = {json.loads(body)["id"] for _, _, body in timed}


def pending():
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/transactions?status=pending&limit=1",
                                     headers={"authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["items"]


while pending():
    if time.monotonic() - created_by > 120:
        raise SystemExit("transactions still pending two minutes after the last create")
    time.sleep(0.02)
lag = (time.monotonic() - created_by) * 1000
p50, p99, worst = loadgen.percentiles([latency for _, latency, _ in timed])
print(f"{len(ids)} transactions at {rate}/s: create p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms; "
      f"every one posted by the ledger {lag:.0f} ms after the last create")
