import Foundation
import Logging
import ServiceLifecycle

/// What a service is built from: its database, the shared clock, ids, bus and token verifier.
public struct ServiceEnvironment: Sendable {
    public let settings: Settings
    public let database: any Database
    public let clock: any FinFlowClock
    public let ids: IdentifierGenerator
    public let bus: any EventBus
    public let verifier: TokenVerifier
    public let revocations: RevocationList
    public let logger: Logger
    /// Wakes the relay of this service's outbox when an event is written.
    public let outboxWakeup: OutboxWakeup
    /// State shared with the other replicas (Redis), when configured.
    public let shared: (any SharedStore)?
    /// Where every service of the product keeps personal data, by service: the platform's record of processing.
    public let personalDataCatalogue: [String: [PersonalDataSource]]
    /// The databases of every service this process runs and what their statements cost: what the performance service
    /// reads of the process it runs in.
    public let process: ProcessDatabases

    /// An environment for one service.
    public init(
        settings: Settings, database: any Database, clock: any FinFlowClock, ids: IdentifierGenerator,
        bus: any EventBus, verifier: TokenVerifier, revocations: RevocationList, logger: Logger,
        outboxWakeup: OutboxWakeup = OutboxWakeup(), shared: (any SharedStore)? = nil,
        personalDataCatalogue: [String: [PersonalDataSource]] = [:], process: ProcessDatabases = ProcessDatabases()
    ) {
        self.process = process
        self.personalDataCatalogue = personalDataCatalogue
        self.outboxWakeup = outboxWakeup
        self.shared = shared
        self.settings = settings
        self.database = database
        self.clock = clock
        self.ids = ids
        self.bus = bus
        self.verifier = verifier
        self.revocations = revocations
        self.logger = logger
    }

    /// The outbox of the service named `serviceName`.
    public func outbox(serviceName: String) -> Outbox {
        Outbox(serviceName: serviceName, ids: self.ids, clock: self.clock, wakeup: self.outboxWakeup)
    }

    /// The mail this service sends itself, kept in its own database until its `MailRelay` has sent it.
    public var mail: MailOutbox { MailOutbox(ids: self.ids, clock: self.clock) }

    /// The audit log of this service's database.
    public var audit: AuditLog { AuditLog(ids: self.ids, clock: self.clock) }

    /// An environment for an operator's command acting on a service's database directly, outside a running system:
    /// an in-process bus nobody listens to (the events stay in the outbox for the service's relay) and no tokens.
    /// `shared` is the replicas' shared store, for a command (a benchmark) that works as a replica would.
    public static func forOperator(
        settings: Settings, database: any Database, clock: any FinFlowClock, logger: Logger, shared: (any SharedStore)? = nil
    ) -> ServiceEnvironment {
        let revocations = RevocationList(sessionMemorySeconds: 60)
        return ServiceEnvironment(
            settings: settings, database: database, clock: clock, ids: IdentifierGenerator(clock: clock),
            bus: InProcessEventBus(clock: clock),
            verifier: TokenVerifier(issuer: settings.tokenIssuer, audience: settings.tokenAudience, clock: clock, revocations: revocations),
            revocations: revocations, logger: logger, shared: shared)
    }
}

/// A running service: the routes, consumers and background work it contributes to the process.
public protocol FinFlowService: Sendable {
    /// Registers the service's routes; `api` carries the service's idempotency middleware, `root` has none.
    func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws
    /// Registers the service's WebSocket upgrades (`ws` routes), which the authentication middleware runs before. An
    /// upgrade refused there falls through to the HTTP router, where the same path answers with the problem.
    func registerWebSockets(on router: FinFlowWebSocketRouter) throws
    /// The event consumers this service runs.
    var consumers: [EventConsumer] { get }
    /// Long-running work besides the HTTP server (timers, caches).
    var backgroundServices: [any Service] { get }
}

/// Background work a service does on a schedule (reports to mail): a service lists it among its background services,
/// which run it periodically; `FinFlowSystem.runScheduledWork()` runs what is due at once.
public protocol ScheduledWork: Service {
    /// Does what is due now; answers how many things it did.
    func runDue() async throws -> Int
}

extension FinFlowService {
    public func registerWebSockets(on router: FinFlowWebSocketRouter) throws {}
    public var consumers: [EventConsumer] { [] }
    public var backgroundServices: [any Service] { [] }
}

/// How the composition root knows a service: name, migrations, HTTP contract and how to build it.
/// Adding a service to FinFlow is writing one of these and listing it in `FinFlowServer`.
public struct ServiceDescriptor: Sendable {
    /// Short name, used in `--services`, the SQLite file name and the PostgreSQL schema (`auth`).
    public let name: String
    /// Product name (`auth-service`).
    public let title: String
    /// The service's own migration track.
    public let migrations: [Migration]
    /// The service's OpenAPI document, as YAML text.
    public let openAPIDocument: @Sendable () throws -> String
    /// Builds the service.
    public let make: @Sendable (ServiceEnvironment) async throws -> any FinFlowService
    /// Whether the service sends mail through its `MailOutbox` (the process then runs a `MailRelay` for it).
    public let sendsMail: Bool
    /// Where the service keeps personal data; the process answers data subject requests from it.
    public let personalData: [PersonalDataSource]

    /// A descriptor.
    public init(
        name: String, title: String, migrations: [Migration], openAPIDocument: @escaping @Sendable () throws -> String,
        sendsMail: Bool = false, personalData: [PersonalDataSource] = [],
        make: @escaping @Sendable (ServiceEnvironment) async throws -> any FinFlowService
    ) {
        self.name = name
        self.title = title
        self.migrations = migrations
        self.openAPIDocument = openAPIDocument
        self.sendsMail = sendsMail
        self.personalData = personalData
        self.make = make
    }

    /// A descriptor whose OpenAPI document is the `openapi.yaml` resource of `bundle` (the service module's own).
    public init(
        name: String, title: String, migrations: [Migration], openAPIIn bundle: Bundle, sendsMail: Bool = false,
        personalData: [PersonalDataSource] = [], make: @escaping @Sendable (ServiceEnvironment) async throws -> any FinFlowService
    ) {
        let url = bundle.url(forResource: "openapi", withExtension: "yaml")
        self.init(name: name, title: title, migrations: migrations, openAPIDocument: {
            guard let url else { throw InvariantViolation("openapi.yaml is missing from the \(name) bundle") }
            return try String(contentsOf: url, encoding: .utf8)
        }, sendsMail: sendsMail, personalData: personalData, make: make)
    }
}
