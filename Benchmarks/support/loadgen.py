"""Sends requests at a fixed rate over keep-alive connections and times each from its scheduled start (so a stall is not
hidden by the client waiting).

One asyncio loop (connections opened before the clock starts, more opened if all are busy): the load generator shares
the machine with the server, so it is kept light (a thread per connection and http.client took about 0.4 of a core at
500 requests/s, which the server's latency paid for)."""
import asyncio

warm_connections = 16


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
    body = await reader.readexactly(length)
    return status, body


def post_bytes(port, token, path, body):
    """An HTTP/1.1 POST of a JSON body with a bearer token."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def run(port, rate, seconds, make_request, expected_status):
    """Sends rate * seconds requests made by make_request(i); returns (scheduled offset, latency s, body) per request."""
    async def main():
        loop = asyncio.get_running_loop()
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(warm_connections)]

        async def send(index, scheduled):
            payload = make_request(index)
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            connection = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
            status, body = await exchange(connection, payload)
            latency = loop.time() - scheduled
            idle.append(connection)
            if status != expected_status:
                raise SystemExit(f"status {status}: {body[:300]!r}")
            return scheduled - start, latency, body

        start = loop.time() + 0.5
        timed = await asyncio.gather(*(send(i, start + i / rate) for i in range(rate * seconds)))
        for _, writer in idle:
            writer.close()
        return timed

    return asyncio.run(main())


def percentiles(latencies):
    """p50, p99 and max of latencies in seconds, as milliseconds."""
    ordered = sorted(latencies)
    def pct(p): return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000
    return pct(50), pct(99), ordered[-1] * 1000
