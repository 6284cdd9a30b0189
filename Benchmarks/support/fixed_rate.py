"""Posts single journal entries at a fixed rate and prints latency percentiles, measured from each request's
scheduled start (so a stall is not hidden by the client waiting).

One asyncio loop over keep-alive connections (opened before the clock starts, more opened if all are busy): the
load generator shares the machine with the server, so it is kept light (a thread per connection and http.client
took about 0.4 of a core at 500 requests/s, which the server's latency paid for).

With FINFLOW_LATENCY_TRACE=path it also writes each request's scheduled offset and latency, to see when stalls come."""
import asyncio, json, os, sys, uuid

port, token, debit, credit, rate, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
# "server": the server assigns each entry its id (time-ordered UUIDv7); "client": each request carries a random UUIDv4
# id of its own, the costliest case for the ledger's indexes (every entry lands on a random page).
ids = sys.argv[7] if len(sys.argv) > 7 else "server"
if ids not in ("server", "client"):
    raise SystemExit("ids must be server or client")
warm_connections = 16


def request_bytes():
    entry = {"date": "2026-06-15", "description": "Latency probe",
             "lines": [{"accountId": debit, "side": "debit", "amount": 100},
                       {"accountId": credit, "side": "credit", "amount": 100}]}
    if ids == "client":
        entry["id"] = str(uuid.uuid4())
    body = json.dumps(entry).encode()
    head = (f"POST /v1/accounting/journal-entries HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def exchange(connection, payload):
    reader, writer = connection
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def main():
    loop = asyncio.get_running_loop()
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(warm_connections)]

    async def post(scheduled):
        payload = request_bytes()
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        connection = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
        status = await exchange(connection, payload)
        latency = loop.time() - scheduled
        idle.append(connection)
        if status != 201:
            raise SystemExit(f"status {status}")
        return scheduled - start, latency

    start = loop.time() + 0.5
    timed = await asyncio.gather(*(post(start + i / rate) for i in range(rate * seconds)))
    for _, writer in idle:
        writer.close()
    return timed


timed = asyncio.run(main())
if os.environ.get("FINFLOW_LATENCY_TRACE"):  # one line per request: scheduled offset (s), latency (ms)
    with open(os.environ["FINFLOW_LATENCY_TRACE"], "w") as trace:
        trace.writelines(f"{offset:.4f} {latency * 1000:.2f}\n" for offset, latency in timed)
latencies = sorted(latency for _, latency in timed)
def pct(p): return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000
print(f"{len(latencies)} requests at {rate}/s, {ids} ids: p50 {pct(50):.2f} ms, p99 {pct(99):.2f} ms, max {latencies[-1] * 1000:.2f} ms")
