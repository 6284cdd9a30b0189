"""Creates and confirms payments at a fixed rate, either through FinFlow (POST /v1/payments with confirm, which calls the
gateway) or straight at the gateway (localstripe's POST /v1/payment_intents with confirm=true, the call FinFlow makes),
and prints the latency percentiles from each request's scheduled start.
Usage: payment_rate.py finflow PORT TOKEN RATE SECONDS | payment_rate.py stripe PORT SECRET_KEY RATE SECONDS"""
import json, os, sys, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen

mode, port, credential, rate, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])


def finflow(index):
    body = {"amount": 1000 + index, "currency": "USD", "confirm": True,
            "paymentMethod": {"token": "pm_card_visa", "brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2034}}
    return loadgen.post_bytes(port, credential, "/v1/payments", json.dumps(body).encode())


def stripe(index):
    body = f"amount={1000 + index}&currency=usd&payment_method=pm_card_visa&confirm=true".encode()
    head = (f"POST /v1/payment_intents HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nIdempotency-Key: {uuid.uuid4()}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nAuthorization: Bearer {credential}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


timed = loadgen.run(port, rate, seconds, finflow if mode == "finflow" else stripe, 201 if mode == "finflow" else 200)
p50, p99, worst = loadgen.percentiles([latency for _, latency, _ in timed])
print(f"{mode}: {len(timed)} payments created and confirmed at {rate}/s: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms")
