import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The Hummingbird request context of every FinFlow route: the core storage, the peer address, and what a WebSocket
/// upgrade carries over to the connection it opens.
public struct FinFlowRequestContext: RequestContext, RemoteAddressRequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's socket address, when the transport knows it.
    public let remoteAddress: SocketAddress?
    /// The handler a matched WebSocket route hands to the upgrade.
    public let webSocket: WebSocketHandlerReference<Self>
    /// Who the verified access token speaks for: set by the authentication middleware, and read by a WebSocket
    /// connection, which lives on after the request scope of its upgrade has ended.
    public var principal: Principal?
    /// The bearer token the principal came from (see `RequestScope.tokenWatch`).
    public var tokenWatch: TokenWatch?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.webSocket = .init()
    }
}

/// The router type every service registers on.
public typealias FinFlowRouter = Router<FinFlowRequestContext>
/// A router of WebSocket upgrades (`ws` routes), beside the HTTP router.
public typealias FinFlowWebSocketRouter = Router<FinFlowRequestContext>
/// A group of routes sharing middleware (one per service).
public typealias FinFlowRouterGroup = RouterGroup<FinFlowRequestContext>
