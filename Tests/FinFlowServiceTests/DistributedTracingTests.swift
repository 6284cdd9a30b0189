import FinFlowServer
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import Testing

/// One span as an OTLP/HTTP JSON export carries it, with the process that sent it.
struct ExportedSpan: Sendable {
    let service: String
    let traceId: String
    let spanId: String
    let parentSpanId: String
    let name: String
    let kind: Int
    let attributes: [String: String]
}

/// An OpenTelemetry collector's OTLP/HTTP receiver (`POST /v1/traces`, JSON), keeping every span it is sent.
final class TraceReceiver: Sendable {
    private let received = Mutex<[ExportedSpan]>([])

    var spans: [ExportedSpan] { self.received.withLock { $0 } }

    var router: Router<BasicRequestContext> {
        let router = Router()
        router.post("/v1/traces") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 << 20)
            let spans = Self.spans(in: Data(buffer: body))
            self.received.withLock { $0.append(contentsOf: spans) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        return router
    }

    /// The spans of an `ExportTraceServiceRequest` in its JSON form. Ids are hex, as the specification writes them, or
    /// base64, as protobuf's JSON mapping does; both are read as hex.
    static func spans(in data: Data) -> [ExportedSpan] {
        func hex(_ value: Any?) -> String {
            guard let text = value as? String, !text.isEmpty else { return "" }
            if text.count % 16 == 0, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
            return Data(base64Encoded: text).map { $0.map { String(format: "%02x", $0) }.joined() } ?? text
        }
        func attributes(_ list: Any?) -> [String: String] {
            var out: [String: String] = [:]
            for item in list as? [[String: Any]] ?? [] {
                guard let key = item["key"] as? String, let value = (item["value"] as? [String: Any])?.values.first else { continue }
                out[key] = "\(value)"
            }
            return out
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        var spans: [ExportedSpan] = []
        for resource in root["resourceSpans"] as? [[String: Any]] ?? [] {
            let service = attributes((resource["resource"] as? [String: Any])?["attributes"])["service.name"] ?? ""
            for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scope["spans"] as? [[String: Any]] ?? [] {
                    let kind = (span["kind"] as? Int) ?? ["SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5][
                        span["kind"] as? String ?? ""] ?? 0
                    spans.append(ExportedSpan(
                        service: service, traceId: hex(span["traceId"]), spanId: hex(span["spanId"]), parentSpanId: hex(span["parentSpanId"]),
                        name: span["name"] as? String ?? "", kind: kind, attributes: attributes(span["attributes"])))
                }
            }
        }
        return spans
    }
}

@Suite("tracing: what the OTEL_* variables turn on")
struct TracingSetupTests {
    @Test("off by default; on with an OTLP endpoint or exporter; off when disabled; values it cannot honour are refused by name")
    func choice() throws {
        #expect(try TracingSetup.choice([:]) == .off)
        #expect(try TracingSetup.choice(["OTEL_SERVICE_NAME": "ledger"]) == .off)
        #expect(try TracingSetup.choice(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"]) == .otlp)
        #expect(try TracingSetup.choice(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"]) == .otlp)
        #expect(try TracingSetup.choice(["OTEL_TRACES_EXPORTER": "otlp"]) == .otlp)
        #expect(try TracingSetup.choice(["OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"]) == .off)
        #expect(try TracingSetup.choice(["OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"]) == .off)
        #expect(try TracingSetup.choice(["OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"]) == .otlp)
        for bad in [
            ["OTEL_TRACES_EXPORTER": "zipkin"], ["OTEL_SDK_DISABLED": "maybe"], ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"],
            ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift", "OTEL_TRACES_EXPORTER": "otlp"],
        ] {
            let error = #expect(throws: TracingSettingError.self) { try TracingSetup.choice(bad) }
            #expect(error?.description.contains(bad.keys.sorted().last!) == true || error?.description.contains(bad.keys.sorted().first!) == true)
        }
    }
}

#if Kafka
@Suite("distributed: one trace from the HTTP call through Kafka to the ledger's commit", .timeLimit(.minutes(5)))
struct DistributedTracingTests {
    @Test("a transaction taken in by one process and posted by another through Kafka is one trace, continuing the caller's",
          .enabled(if: DistributedKafkaTests.available))
    func oneTraceAcrossProcesses() async throws {
        let receiver = TraceReceiver()
        try await StandIn.serving(receiver.router) { collector in
            let cluster = try await DistributedCluster.open(tag: "tracing", poolSize: 4)
            defer { cluster.close() }
            let tracing = ["OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "100"]
            let front = try await cluster.start("auth,transactions", port: FreePort.next(), environment: cluster.kafka.merging(tracing) { $1 })
            defer { front.kill() }
            let remote = cluster.kafka.merging(tracing) { $1 }.merging(["FINFLOW_JWKS_URL": front.base + "/.well-known/jwks.json"]) { $1 }
            let ledger = try await cluster.start("accounting", port: FreePort.next(), environment: remote)
            defer { ledger.kill() }

            let login = try await front.send(.POST, "/v1/auth/login", json: #"{"email":"\#(cluster.email)","password":"\#(cluster.password)"}"#)
            try #require(login.status == 200, "\(login.body)")
            let token = try #require((login.body["tokens"] as? [String: Any])?["accessToken"] as? String)
            let known = try await front.send(.GET, "/v1/transactions/accounts", token: token)
            let items = (known.body["items"] as? [[String: Any]]) ?? []
            let codes = Dictionary(uniqueKeysWithValues: items.map { ($0["code"] as! String, $0["id"] as! String) })
            let currency = try #require(items.first?["currency"] as? String)
            let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))

            // The caller's own trace: the server continues it.
            let traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
            let callerSpan = "00f067aa0ba902b7"
            let created = try await front.send(.POST, "/v1/transactions", json: """
                {"kind":"expense","amount":4321,"currency":"\(currency)","valueDate":"\(today)","sourceAccountId":"\(try #require(codes["1020"]))",
                 "destinationAccountId":"\(try #require(codes["6200"]))","counterparty":{"name":"Tracewell Utilities"}}
                """, token: token, headers: [("traceparent", "00-\(traceId)-\(callerSpan)-01")])
            try #require(created.status == 201, "\(created.body)")
            let id = try #require(created.body["id"] as? String)

            let posted = try await DistributedKafkaTests.eventually(60) {
                (try await front.send(.GET, "/v1/transactions/\(id)", token: token)).body["status"] as? String == "posted"
            }
            #expect(posted, "the transaction was not posted")
            // The posting's spans reach the receiver from both processes (each exports every 100 ms).
            let complete = try await DistributedKafkaTests.eventually(30) {
                receiver.spans.contains { $0.traceId == traceId && $0.name == "finflow.journal-entry.posted.v1 process" }
                    && receiver.spans.contains { $0.traceId == traceId && $0.attributes["db.query.text"]?.contains("INSERT INTO journal_entries") == true }
            }
            let trace = receiver.spans.filter { $0.traceId == traceId }
            let summary = trace.map { "\($0.service) \($0.kind) \($0.name) \($0.attributes["db.query.text"]?.prefix(60) ?? "")" }.joined(separator: "\n")
            #expect(complete, "the trace lacks the ledger's side:\n\(summary)")

            let byId = Dictionary(trace.map { ($0.spanId, $0) }) { first, _ in first }
            func ancestors(_ span: ExportedSpan) -> [ExportedSpan] {
                var chain: [ExportedSpan] = []
                var next = byId[span.parentSpanId]
                while let parent = next, chain.count < 64 {
                    chain.append(parent)
                    next = byId[parent.parentSpanId]
                }
                return chain
            }
            // The request: a server span in the front process, child of the caller's span.
            let request = try #require(trace.first { $0.kind == 2 && $0.name == "/v1/transactions" }, "\(summary)")
            #expect(request.service == "finflow-auth-transactions")
            #expect(request.parentSpanId == callerSpan)
            // The event written with it, sent to Kafka, taken by the other process.
            let publish = try #require(trace.first { $0.kind == 4 && $0.name == "finflow.transaction.created.v1 publish" }, "\(summary)")
            #expect(publish.parentSpanId == request.spanId)
            let consumed = try #require(
                trace.first { $0.kind == 5 && $0.name == "finflow.transaction.created.v1 process" && $0.service == "finflow-accounting" }, "\(summary)")
            #expect(consumed.parentSpanId == publish.spanId)
            #expect(consumed.attributes["messaging.message.id"] != nil)
            // The ledger's commit: the journal entry's insert and the commit run under the consumer's span.
            let entry = try #require(trace.first { $0.attributes["db.query.text"]?.contains("INSERT INTO journal_entries") == true }, "\(summary)")
            #expect(entry.service == "finflow-accounting")
            #expect(entry.attributes["db.system.name"] == "postgresql")
            #expect(ancestors(entry).contains { $0.spanId == consumed.spanId })
            #expect(trace.contains { $0.service == "finflow-accounting" && $0.name == "COMMIT accounting" && ancestors($0).contains { $0.spanId == consumed.spanId } })
            // And back: the posting's event, taken by the front process, in the same trace.
            let back = try #require(trace.first { $0.name == "finflow.journal-entry.posted.v1 process" && $0.service == "finflow-auth-transactions" }, "\(summary)")
            #expect(ancestors(back).contains { $0.spanId == entry.parentSpanId || $0.spanId == consumed.spanId })
            // Every span of the trace hangs from the caller's span: no orphans.
            for span in trace where span.spanId != request.spanId {
                #expect(ancestors(span).contains { $0.spanId == request.spanId }, "\(span.service) \(span.name) is not under the request")
            }
            // Statements are spans with their fingerprint, never their values.
            let texts = trace.compactMap { $0.attributes["db.query.text"] }
            #expect(texts.count >= 10)
            #expect(!texts.contains { $0.contains("4321") || $0.contains("Tracewell") || $0.contains(id) }, "a statement span carries a value")

            // A caller that does not sample its trace: the request is not recorded, nor are its statements.
            let unsampled = "0af7651916cd43dd8448eb211c80319c"
            let quiet = try await front.send(.GET, "/v1/transactions/\(id)", token: token, headers: [("traceparent", "00-\(unsampled)-b7ad6b7169203331-00")])
            #expect(quiet.status == 200)
            let marker = try await front.send(.GET, "/v1/transactions/\(id)", token: token, headers: [("traceparent", "00-\(traceId)-\(callerSpan)-01")])
            #expect(marker.status == 200)
            // The sampled request after it is exported; by then the unsampled one would have been too.
            #expect(try await DistributedKafkaTests.eventually(30) { receiver.spans.contains { $0.traceId == traceId && $0.kind == 2 && $0.name.hasPrefix("/v1/transactions/") } })
            #expect(!receiver.spans.contains { $0.traceId == unsampled }, "an unsampled request was exported")
        }
    }
}
#endif
