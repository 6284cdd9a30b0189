"""Calculates ten-line tax documents over HTTP at a fixed rate (POST /v1/tax/calculations, kept but not committed: each
request reads the tenant's rules, profile and tallies, calculates, and writes the calculation), and prints the latency
percentiles from each request's scheduled start and the lines calculated per second.
Usage: tax_rate.py PORT TOKEN RATE SECONDS"""
import json, os, sys, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen

port, token, rate, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
products = ["goods", "books", "food", "e-books", "digital-services", "services", "medicines", "goods", "food", "goods"]
buyers = [{"address": {"country": "FR"}, "business": False}, {"address": {"country": "DE"}, "business": True},
          {"address": {"country": "AT"}, "business": False}]
run = uuid.uuid4().hex[:8]


def request(index):
    body = {"code": f"B-{run}-{index}", "type": "sales-invoice", "date": "2026-03-02", "currency": "EUR",
            "seller": {"address": {"country": "DE"}, "business": True}, "buyer": buyers[index % len(buyers)],
            "lines": [{"amount": 1000 + 137 * line, "productCode": products[line]} for line in range(10)]}
    return loadgen.post_bytes(port, token, "/v1/tax/calculations", json.dumps(body).encode())


timed = loadgen.run(port, rate, seconds, request, 201)
p50, p99, worst = loadgen.percentiles([latency for _, latency, _ in timed])
print(f"{len(timed)} ten-line calculations at {rate}/s ({rate * 10} lines/s): p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms")
