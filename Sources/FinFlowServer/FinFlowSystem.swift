import FinFlowCore
#if Kafka
import FinFlowKafka
#endif
#if Redis
import FinFlowRedis
#endif
import AsyncHTTPClient
import NIOHTTP1
import Foundation
import JWTKit
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle


/// The composition root: the chosen services with their databases, bus, relays and one HTTP router.
/// Unchecked sendability: the router is complete when `build` returns and only read after that.
public final class FinFlowSystem: @unchecked Sendable {
    public let settings: Settings
    public let router: FinFlowRouter
    /// The WebSocket upgrades the services offer, tried before a request reaches `router`.
    public let webSocketRouter: FinFlowWebSocketRouter
    /// In-process, or Kafka when `kafkaBrokers` is set.
    public let bus: any EventBus
    public let clock: any FinFlowClock
    /// Service name → its database.
    public let databases: [String: any Database]
    public let relays: [OutboxRelay]
    /// Each service's audit shipper, also among the background services.
    public let auditShippers: [AuditShipper]
    /// Each service's retention sweep (those that keep personal data with a period), also among the background services.
    public let retentionSweeps: [RetentionSweep]
    let background: [any Service]
    /// The services' own background work (also among `background`): what a test serving the router on a socket runs
    /// beside it, so that a graceful shutdown ends what the services hold open (live feeds).
    public let servicesBackground: [any Service]
    /// The Kafka bus's consumers and producer, when distributed: started first, so stopped last, after the relays
    /// that publish through it.
    let busServices: [any Service]
    let logger: Logger

    /// Opens, migrates (SQLite, or PostgreSQL when allowed) and wires the services `settings` name.
    public static func build(settings: Settings, clock: any FinFlowClock = SystemClock(), logger: Logger) async throws
        -> FinFlowSystem
    {
        let descriptors = try ServiceCatalog.select(settings.services)
        let ids = IdentifierGenerator(clock: clock)
        let bus: any EventBus
        var busServices: [any Service] = []
        if let brokers = settings.kafkaBrokers {
            #if Kafka
            let options = KafkaEventBus.Options(brokers: brokers, clientId: "finflow-" + descriptors.map(\.name).joined(separator: "-"))
            let kafka = try KafkaEventBus(options: options, clock: clock, logger: logger)
            bus = kafka
            busServices.append(kafka)
            #else
            _ = brokers
            throw Self.missing(trait: "Kafka", setting: "--kafka-brokers (FINFLOW_KAFKA_BROKERS)", package: "librdkafka-dev")
            #endif
        } else {
            bus = InProcessEventBus(clock: clock)
        }
        let shared = try Self.sharedStore(settings: settings, logger: logger)
        let revocations = RevocationList(sessionMemorySeconds: TimeInterval(settings.accessTokenTTLSeconds) * 2)
        let verifier = TokenVerifier(
            issuer: settings.tokenIssuer, audience: settings.tokenAudience, clock: clock, revocations: revocations)
        var databases: [String: any Database] = [:]
        var services: [any FinFlowService] = []
        var relays: [OutboxRelay] = []
        var auditShippers: [AuditShipper] = []
        var platformConsumers: [EventConsumer] = []
        var retentionSweeps: [RetentionSweep] = []
        var housekeeping: [any Service] = []
        let mailer = Self.mailer(settings: settings, logger: logger)
        // Every service's declaration of its personal data, for the compliance service's records of processing.
        let personalData = Dictionary(ServiceCatalog.all.map { ($0.name, $0.personalData) }) { first, _ in first }
        let process = ProcessDatabases(slowMillis: settings.slowStatementMillis, logger: logger)
        // A start that fails part way closes the databases it opened before it reports why.
        do {
            for descriptor in descriptors {
                let database = try await ServiceDatabases.open(
                    descriptor, settings: settings, logger: logger, statements: settings.statementStatistics ? process.statements : nil)
                databases[descriptor.name] = database
                process.add(database, service: descriptor.name)
                let pending = try await ServiceDatabases.pending(descriptor, database: database, clock: clock)
                if !pending.isEmpty {
                    guard database.kind == .sqlite || settings.migrateOnStart else {
                        throw AppError.conflict(
                            code: "pending-migrations",
                            "the database has pending migrations (\(pending.joined(separator: "; "))): run `finflow migrate` or start with --migrate")
                    }
                    try await ServiceDatabases.migrate(descriptor, database: database, clock: clock)
                }
                let wakeup = OutboxWakeup()
                let env = ServiceEnvironment(
                    settings: settings, database: database, clock: clock, ids: ids, bus: bus, verifier: verifier,
                    revocations: revocations, logger: logger.with(service: descriptor.name), outboxWakeup: wakeup, shared: shared,
                    personalDataCatalogue: personalData, process: process)
                services.append(try await descriptor.make(env))
                // Woken by its outbox, a relay need poll only for what other processes write: once a second.
                relays.append(OutboxRelay(
                    database: database, bus: bus, clock: clock, logger: logger.with(service: descriptor.name), pollIntervalMillis: 1_000,
                    wakeup: wakeup, serviceName: descriptor.name))
                housekeeping.append(Housekeeping(database: database, clock: clock, logger: logger.with(service: descriptor.name)))
                // A service that keeps personal data answers data subject requests from its declaration of it.
                if !descriptor.personalData.isEmpty {
                    let responder = DataSubjectResponder(
                        serviceName: descriptor.name, sources: descriptor.personalData, outbox: env.outbox(serviceName: descriptor.name), clock: clock)
                    let sweep = RetentionSweep(
                        serviceName: descriptor.name, sources: descriptor.personalData, database: database, clock: clock, ids: ids,
                        logger: logger.with(service: descriptor.name))
                    if sweep.isNeeded { retentionSweeps.append(sweep) }
                    platformConsumers.append(.of(DataSubjectRequestOpened.self, name: "\(descriptor.name).data-subject-requests", database: database) { event, db in
                        try await responder.answer(event.data, db: db)
                    })
                }
                // Every service's audit chains travel to the compliance service's trail and are signed at intervals.
                let signer = try await AuditSigner.load(configured: settings.auditSigningKey, database: database, clock: clock)
                auditShippers.append(AuditShipper(
                    serviceName: descriptor.name, database: database, outbox: env.outbox(serviceName: descriptor.name), signer: signer,
                    clock: clock, checkpointIntervalSeconds: settings.auditCheckpointSeconds, logger: logger.with(service: descriptor.name)))
                if descriptor.sendsMail {
                    housekeeping.append(MailRelay(database: database, sender: mailer, clock: clock, logger: logger.with(service: descriptor.name)))
                }
            }
        } catch {
            for database in databases.values { try? await database.shutdown() }
            throw error
        }
        var background: [any Service] = []
        if !descriptors.contains(where: { $0.name == "auth" }), let jwksURL = settings.jwksURL {
            let refresher = RemoteKeysRefresher(url: jwksURL, verifier: verifier, logger: logger)
            try await refresher.refresh()
            background.append(refresher)
        }
        for service in services { for consumer in service.consumers { bus.subscribe(consumer) } }
        for consumer in platformConsumers { bus.subscribe(consumer) }
        bus.subscribe(.inMemory(SessionRevoked.self, name: "process.session-revoked") { event in
            revocations.revokeSession(event.data.sessionId, at: event.time)
        })
        bus.subscribe(.inMemory(TenantStatusChanged.self, name: "process.tenant-status") { event in
            revocations.setTenant(event.data.tenantId, suspended: event.data.status == "suspended")
        })
        let router = try Self.router(
            settings: settings, descriptors: descriptors, services: services, databases: databases, ids: ids,
            verifier: verifier, clock: clock, shared: shared)
        let webSocketRouter = FinFlowWebSocketRouter(context: FinFlowRequestContext.self)
        webSocketRouter.add(middleware: AuthenticationMiddleware(verifier: verifier))
        for service in services { try service.registerWebSockets(on: webSocketRouter) }
        return FinFlowSystem(
            settings: settings, router: router, webSocketRouter: webSocketRouter, bus: bus, clock: clock, databases: databases, relays: relays, auditShippers: auditShippers, retentionSweeps: retentionSweeps,
            busServices: busServices, background: background + housekeeping + auditShippers.map { $0 as any Service } + retentionSweeps.map { $0 as any Service } + services.flatMap(\.backgroundServices),
            servicesBackground: services.flatMap(\.backgroundServices), logger: logger)
    }

    private init(
        settings: Settings, router: FinFlowRouter, webSocketRouter: FinFlowWebSocketRouter, bus: any EventBus, clock: any FinFlowClock,
        databases: [String: any Database], relays: [OutboxRelay], auditShippers: [AuditShipper], retentionSweeps: [RetentionSweep], busServices: [any Service], background: [any Service],
        servicesBackground: [any Service], logger: Logger
    ) {
        self.servicesBackground = servicesBackground
        self.busServices = busServices
        self.settings = settings
        self.router = router
        self.webSocketRouter = webSocketRouter
        self.bus = bus
        self.clock = clock
        self.databases = databases
        self.relays = relays
        self.auditShippers = auditShippers
        self.retentionSweeps = retentionSweeps
        self.background = background
        self.logger = logger
    }

    /// The refusal of a setting this build cannot honour: the library behind it is a package trait left out.
    /// Where the services' mail goes: SMTP when configured, else the development folder; the start says which.
    public static func mailer(settings: Settings, logger: Logger) -> any MailSender {
        let sender: any MailSender = if let address = settings.smtpAddress {
            SMTPMailer(address: address, from: settings.smtpFrom, trustRootsFile: settings.smtpTrustRootsFile)
        } else {
            MailFolder(directory: URL(fileURLWithPath: settings.dataDirectory).appendingPathComponent("mail"), logger: logger)
        }
        logger.notice("\(sender.summary)")
        return sender
    }

    /// The state shared with the other replicas: Redis when `FINFLOW_REDIS_URL` is set (a build without the Redis trait
    /// refuses the setting), none otherwise.
    public static func sharedStore(settings: Settings, logger: Logger) throws -> (any SharedStore)? {
        guard let address = settings.redisAddress else { return nil }
        #if Redis
        return RedisStore(address: address, logger: logger)
        #else
        _ = address
        throw Self.missing(trait: "Redis", setting: "FINFLOW_REDIS_URL", package: "libhiredis-dev")
        #endif
    }

    static func missing(trait: String, setting: String, package: String) -> AppError {
        AppError.invalid(
            code: "trait-not-built",
            "\(setting) is set, but this build has no \(trait) support: build with `swift build --traits \(trait)` (needs Debian's \(package))")
    }

    /// Publishes every waiting outbox event until all outboxes are empty (events can cause events).
    public func deliverEvents() async throws {
        var rounds = 0
        while rounds < 100 {
            var published = 0
            for relay in self.relays { published += try await relay.drain() }
            if published == 0 { return }
            rounds += 1
        }
    }

    /// Ships every service's new audit records and, with `checkpoint`, signs every moved chain head now, then delivers
    /// the events: what the shippers do at their intervals, for a test or a command that cannot wait.
    public func shipAudit(checkpoint: Bool = true) async throws {
        for shipper in self.auditShippers {
            while try await shipper.ship() > 0 {}
            if checkpoint { while try await shipper.checkpoint() > 0 {} }
        }
        try await self.deliverEvents()
    }

    /// Runs what the services' scheduled work has due now (the reports to mail); how many things it did.
    public func runScheduledWork() async throws -> Int {
        var done = 0
        for work in self.servicesBackground.compactMap({ $0 as? any ScheduledWork }) { done += try await work.runDue() }
        return done
    }

    /// Runs every service's retention sweep now; the rows deleted by table.
    public func sweepRetention() async throws -> [String: Int] {
        var deleted: [String: Int] = [:]
        for sweep in self.retentionSweeps { deleted.merge(try await sweep.sweep()) { $0 + $1 } }
        return deleted
    }

    /// The HTTP application with the relays and background services beside it.
    /// `alongside` are more services to run with them (the trace exporter).
    public func application(
        alongside: [any Service] = [], onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: self.router,
            server: self.server,
            configuration: .init(address: .hostname(self.settings.host, port: self.settings.port), serverName: "FinFlow"),
            services: self.busServices + self.relays.map { $0 as any Service } + self.background + alongside,
            onServerRunning: onServerRunning,
            logger: self.logger)
    }

    /// HTTP/1.1 with the services' WebSocket upgrades (an upgrade the WebSocket router refuses is an ordinary request),
    /// where a first request that cannot be parsed gets a problem instead of a connection left open.
    public var server: HTTPServerBuilder {
        let webSocketResponder = self.webSocketRouter.buildResponder()
        let ids = IdentifierGenerator(clock: self.clock)
        let idle = TimeAmount.seconds(Int64(self.settings.httpIdleTimeoutSeconds))
        return HTTPServerBuilder { responder in
            AnsweringMalformedRequests(
                inner: HTTP1WebSocketUpgradeChannel(
                    responder: responder, webSocketResponder: webSocketResponder,
                    configuration: .init(
                        http1: .init(idleTimeout: idle), ws: .init(maxFrameSize: 1 << 16, autoPing: .enabled(timePeriod: .seconds(30))))),
                ids: ids, firstRequestTimeout: idle)
        }
    }

    /// Closes every database.
    public func shutdown() async throws {
        for database in self.databases.values { try await database.shutdown() }
    }
}

extension Logger {
    /// This logger with the service name in its metadata.
    func with(service: String) -> Logger {
        var logger = self
        logger[metadataKey: "service"] = .string(service)
        return logger
    }
}

/// Keeps a process without the auth service trusting auth's current public keys, fetched from its JWKS URL at
/// start and every `intervalSeconds`, so rotated keys are picked up.
final class RemoteKeysRefresher: Service {
    let url: String
    let verifier: TokenVerifier
    let logger: Logger
    static let intervalSeconds = 300
    static let responseBytesMax = 1 << 20

    init(url: String, verifier: TokenVerifier, logger: Logger) {
        self.url = url
        self.verifier = verifier
        self.logger = logger
    }

    func refresh() async throws {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: self.url), timeout: .seconds(10))
        guard response.status == .ok else {
            throw AppError(.unavailable, code: "jwks-unavailable", "the JWKS at \(self.url) answered \(response.status.code)")
        }
        let body = try await response.body.collect(upTo: Self.responseBytesMax)
        try await self.verifier.trust(jwks: try JSONDecoder().decode(JWKS.self, from: Data(body.readableBytesView)))
    }

    func run() async throws {
        while await Periodic.wait(.seconds(Self.intervalSeconds)) {
            do { try await self.refresh() } catch {
                self.logger.warning("could not refresh the auth service's keys", metadata: ["error": "\(error)"])
            }
        }
    }
}
