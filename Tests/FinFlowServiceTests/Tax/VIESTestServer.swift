import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A test server for the European Commission's VIES REST service, written to its published interface:
/// `GET /ms/{memberStateCode}/vat/{number}` with optional `requesterMemberStateCode` and `requesterNumber`, answering
/// `{isValid, requestDate, userError, name, address, requestIdentifier, vatNumber}`. `userError` is `VALID` or
/// `INVALID` for an answer, or a fault (`MS_UNAVAILABLE`, `TIMEOUT`, `SERVICE_UNAVAILABLE`, `MS_MAX_CONCURRENT_REQ`);
/// `---` stands for a field a member state does not give; a consultation number is issued only to a named requester.
final class VIESTestServer: Sendable {
    /// Registered numbers (prefix + number) and their holders.
    static let registered = ["FR23334175221": ("ACME SARL", "1 RUE DE LA PAIX\n75002 PARIS"), "DE136695976": ("---", "---")]
    /// Member states whose systems are down.
    let unavailable = Mutex<Set<String>>([])
    let calls = Mutex(0)

    var callCount: Int { self.calls.withLock { $0 } }

    var router: Router<BasicRequestContext> {
        let router = Router()
        router.get("/ms/:country/vat/:number") { request, context -> Response in
            self.calls.withLock { $0 += 1 }
            let country = try context.parameters.require("country"), number = try context.parameters.require("number")
            let requester = request.uri.queryParameters.get("requesterNumber")
            let date = "2026-03-02+01:00"
            if self.unavailable.withLock({ $0.contains(country) }) {
                return Self.json(#"{"isValid":false,"requestDate":"\#(date)","userError":"MS_UNAVAILABLE","name":"---","address":"---","requestIdentifier":"","vatNumber":"\#(number)","viesApproximate":{}}"#)
            }
            guard let holder = Self.registered[country + number] else {
                return Self.json(#"{"isValid":false,"requestDate":"\#(date)","userError":"INVALID","name":"---","address":"---","requestIdentifier":"","vatNumber":"\#(number)","viesApproximate":{}}"#)
            }
            let consultation = requester == nil ? "" : "WAPIAAAAY\(country)\(number.suffix(4))"
            let address = holder.1.replacingOccurrences(of: "\n", with: "\\n")
            return Self.json(#"{"isValid":true,"requestDate":"\#(date)","userError":"VALID","name":"\#(holder.0)","address":"\#(address)","requestIdentifier":"\#(consultation)","vatNumber":"\#(number)","viesApproximate":{}}"#)
        }
        return router
    }

    static func json(_ body: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
