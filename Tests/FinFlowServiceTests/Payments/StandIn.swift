import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// What the gateway stand-ins (Stripe's lossy one, the Square and PayPal test servers) share.
enum StandIn {
    /// Serves `router` on 127.0.0.1 and hands its base URL to `body`.
    static func serving(_ router: Router<BasicRequestContext>, _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(try #require(client.port))")
        }
    }

    /// An error answer a stand-in throws from deep in a handler.
    struct Failure: Error {
        let status: HTTPResponse.Status
        let body: String
    }

    /// A JSON response.
    static func response(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
