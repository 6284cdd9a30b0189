import AsyncHTTPClient
import FinFlowCore
import Foundation
import NIOCore
import NIOHTTP1

/// The European Commission's VIES REST service: `GET {base}/ms/{country}/vat/{number}`, with the requester's own VAT
/// number so that VIES issues a consultation number (`requestIdentifier`), the proof of the check a tax audit asks for.
/// Anything but a clear answer (a member state's system down, a timeout, a refusal to serve, an unreadable body) is
/// "not confirmed", never "invalid".
struct VIESClient: Sendable {
    let baseURL: String
    let client: HTTPClient
    let timeoutSeconds: Int64

    /// The longest answer read.
    static let answerBytesMax = 64 * 1024

    /// What VIES said.
    struct Answer: Sendable, Equatable {
        var status: VATNumberStatus
        var name: String?
        var address: String?
    }

    /// The answer's fields this service reads.
    private struct Wire: Decodable {
        let isValid: Bool?
        let userError: String?
        let name: String?
        let address: String?
        let requestIdentifier: String?
    }

    /// The client VIES calls go through: no redirects, a short connect timeout.
    static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(3))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Asks VIES about `number` (normalised, with its prefix), as `requester` when the tenant has a VAT number.
    func check(_ number: String, requester: String?) async -> Answer {
        let prefix = String(number.prefix(2)), body = String(number.dropFirst(2))
        var url = "\(self.baseURL)/ms/\(prefix)/vat/\(body)"
        if let requester, requester.count > 2 {
            url += "?requesterMemberStateCode=\(requester.prefix(2))&requesterNumber=\(requester.dropFirst(2))"
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        do {
            let response = try await self.client.execute(request, timeout: .seconds(self.timeoutSeconds))
            let data = Data(try await response.body.collect(upTo: Self.answerBytesMax).readableBytesView)
            guard response.status == .ok else {
                return Answer(status: .notConfirmed(reason: "VIES answered HTTP \(response.status.code)"))
            }
            let wire = try JSONDecoder().decode(Wire.self, from: data)
            if let error = wire.userError, !["VALID", "INVALID"].contains(error) {
                return Answer(status: .notConfirmed(reason: "VIES: \(error)"))
            }
            guard let valid = wire.isValid else { return Answer(status: .notConfirmed(reason: "VIES gave no verdict")) }
            let name = Self.meaningful(wire.name), address = Self.meaningful(wire.address)
            if valid { return Answer(status: .valid(consultation: Self.meaningful(wire.requestIdentifier)), name: name, address: address) }
            return Answer(status: .invalid(reason: "VIES: not a registered VAT number"))
        } catch {
            return Answer(status: .notConfirmed(reason: "VIES could not be reached: \(String(describing: error).prefix(120))"))
        }
    }

    /// VIES writes `---` where a member state does not give a field.
    private static func meaningful(_ text: String?) -> String? {
        guard let text = text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty, text != "---" else { return nil }
        return String(text.prefix(500))
    }
}
