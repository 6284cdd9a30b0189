"""An OTLP/HTTP receiver that answers every export and keeps nothing: the far end of the tracing benchmark.
Usage: otlp_sink.py PORT"""
import http.server
import sys


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = b"" if "protobuf" in (self.headers.get("content-type") or "") else b"{}"
        self.send_response(200)
        self.send_header("content-type", self.headers.get("content-type") or "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
