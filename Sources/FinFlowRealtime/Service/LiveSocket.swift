import FinFlowCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOWebSocket

/// The live feed over a WebSocket: the same anomalies, order, resume and back-pressure as the Server-Sent Events,
/// one text message each. The upgrade is taken only for a token allowed to read analytics (the authentication
/// middleware has run); anything else falls through to the HTTP route of the same path, which answers the problem.
struct LiveSocket {
    static let path = "/v1/realtime/anomalies/ws"
    /// The sub-protocol a browser names beside its token; answered when offered.
    static let subprotocol = "finflow.v1"

    let desk: RealtimeDesk

    func register(on router: FinFlowWebSocketRouter) {
        let desk = self.desk
        router.ws(RouterPath(stringLiteral: Self.path), shouldUpgrade: { request, context in
            guard let principal = context.principal, principal.has("analytics:read"),
                Self.after(request) != nil
            else { return .dontUpgrade }
            let offered = (request.headers[.secWebSocketProtocol] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return .upgrade(offered.contains(Self.subprotocol) ? [.secWebSocketProtocol: Self.subprotocol] : [:])
        }, onUpgrade: { inbound, outbound, context in
            guard let principal = context.requestContext.principal, let after = Self.after(context.request) else { return }
            let watch = context.requestContext.tokenWatch
            guard let reader = FeedReader(desk: desk, tenantId: principal.tenantId, after: after, watch: watch, encode: { anomaly in
                try RealtimeAPI.encoder.encode(RealtimeAPI.dto(anomaly))
            }) else {
                // 1013, try again later.
                try await outbound.close(.unknown(1013), reason: "the live feed takes no more clients on this process")
                return
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                // The client's messages are read (so its close and pongs are seen) and ignored.
                group.addTask { for try await _ in inbound {} }
                group.addTask {
                    while let message = try await reader.next() {
                        guard let text = FeedReader.webSocketText(message) else { continue }
                        try await outbound.write(.text(text))
                        if case .refused(let code) = message {
                            // 1008, policy violation: the token no longer allows the feed.
                            try await outbound.close(.policyViolation, reason: code)
                            return
                        }
                        if case .resume = message { break }
                    }
                    // The feed ended (a full queue, or the process stopping): close, so the client's answer ends the reading too.
                    try await outbound.close(.goingAway, reason: "resume from the last id")
                }
                // Whichever ends first (the client left, or the feed ended) ends the other.
                try await group.next()
                group.cancelAll()
            }
        })
    }

    /// The `after` query parameter (0 when absent); nil when it is not a sequence number.
    static func after(_ request: Request) -> Int64? {
        guard let text = request.uri.queryParameters["after"] else { return 0 }
        guard let value = Int64(String(text)), value >= 0 else { return nil }
        return value
    }
}
