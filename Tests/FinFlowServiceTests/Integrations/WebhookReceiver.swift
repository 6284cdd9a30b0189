import Crypto
import FinFlowCore
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import Testing

/// A tenant's webhook receiver on 127.0.0.1: records every POST it gets and answers with the status a test sets.
final class WebhookReceiver: Sendable {
    struct Hit: Sendable {
        let path: String
        /// Header values by lower-cased name.
        let headers: [String: String]
        let body: Data

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: self.body) as? [String: Any]) ?? [:] }
        var eventId: String? { self.headers["finflow-event-id"] }

        /// The `v1` signatures of the `FinFlow-Signature` header, and its timestamp.
        var signatures: (timestamp: Int64?, v1: [String]) {
            var timestamp: Int64?
            var v1: [String] = []
            for part in (self.headers["finflow-signature"] ?? "").split(separator: ",") {
                let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { continue }
                if pair[0] == "t" { timestamp = Int64(pair[1]) } else if pair[0] == "v1" { v1.append(pair[1]) }
            }
            return (timestamp, v1)
        }

        /// Whether one `v1` is the HMAC-SHA256 of `"<t>.<body>"` under `secret`, as the receiver's documentation says to check.
        func isSigned(with secret: String) -> Bool {
            let (timestamp, v1) = self.signatures
            guard let timestamp else { return false }
            var signed = Data("\(timestamp).".utf8)
            signed.append(self.body)
            let expected = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
            let hex = expected.map { String(format: "%02x", $0) }.joined()
            return v1.contains(hex)
        }
    }

    let hits = Mutex<[Hit]>([])
    let status = Mutex<Int>(200)

    var received: [Hit] { self.hits.withLock { $0 } }

    /// Serves the receiver and hands its base URL to `body`.
    func serving(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/hooks/{name}") { request, _ -> Response in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            self.hits.withLock { $0.append(Hit(path: request.uri.path, headers: headers, body: Data(buffer: buffer))) }
            return Response(status: .init(code: self.status.withLock { $0 }), body: .init(byteBuffer: ByteBuffer(string: "noted")))
        }
        try await StandIn.serving(router, body)
    }
}
