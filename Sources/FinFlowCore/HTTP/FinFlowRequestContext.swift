import HTTPTypes
import Hummingbird
import NIOCore

/// The Hummingbird request context of every FinFlow route: the core storage plus the peer address.
public struct FinFlowRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's socket address, when the transport knows it.
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}

/// The router type every service registers on.
public typealias FinFlowRouter = Router<FinFlowRequestContext>
/// A group of routes sharing middleware (one per service).
public typealias FinFlowRouterGroup = RouterGroup<FinFlowRequestContext>
