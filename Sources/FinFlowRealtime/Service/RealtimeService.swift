import FinFlowCore
import Foundation
import OpenAPIHummingbird
import ServiceLifecycle

/// realtime-analytics-service: every transaction and payment scored on arrival by its tenant's detector; anomalies
/// stored, announced and pushed live to the tenant's clients.
public enum RealtimeService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "realtime", title: "realtime-analytics-service", migrations: RealtimeMigrations.all, openAPIIn: .module,
        personalData: RealtimeService.personalData,
        make: { env in Running(desk: RealtimeDesk(env: env)) })

    struct Running: FinFlowService {
        let desk: RealtimeDesk

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try RealtimeAPI(desk: self.desk).registerHandlers(on: api, configuration: .finFlow)
        }

        func registerWebSockets(on router: FinFlowWebSocketRouter) throws {
            LiveSocket(desk: self.desk).register(on: router)
        }

        var consumers: [EventConsumer] {
            let desk = self.desk
            return [
                EventConsumer(
                    name: "realtime.transaction-created", topic: TransactionCreated.topic, database: desk.database,
                    applyAll: { events, db in try await desk.consume(events.compactMap(Observations.transaction), db: db) },
                    committed: { desk.committed($0) }),
                EventConsumer(
                    name: "realtime.payment-processed", topic: PaymentProcessed.topic, database: desk.database,
                    applyAll: { events, db in try await desk.consume(events.compactMap(Observations.payment), db: db) },
                    committed: { desk.committed($0) }),
                // An erasure rewrites the names in the stored detector; the one held in memory still has them, and would
                // write them back with its next snapshot. Forget it now and once more after the erasure has surely
                // committed (its answer is written in the same transaction), so the next delivery reads the rewritten one.
                .inMemory(DataSubjectRequestOpened.self, name: "realtime.forget-on-erasure") { event in
                    guard event.data.kind == "erasure" else { return }
                    let tenantId = event.data.tenantId
                    desk.forget(tenantId: tenantId)
                    Task {
                        try? await Task.sleep(for: .seconds(10))
                        desk.forget(tenantId: tenantId)
                    }
                },
            ]
        }

        var backgroundServices: [any Service] { [FeedTicker(feed: self.desk.feed)] }
    }

    /// Ticks the live feed every two seconds; ends every subscription when the process stops.
    struct FeedTicker: Service {
        let feed: LiveFeed

        func run() async throws {
            while await Periodic.wait(.seconds(2)) { self.feed.tick() }
            self.feed.closeAll()
        }
    }

    static let personalData: [PersonalDataSource] = [
        PersonalDataSource(
            category: "anomalies", purpose: "detect fraud and errors in money movements as they happen (legitimate interest)",
            retention: "as long as the tenant keeps them", table: "realtime_anomalies",
            columns: ["id", "subject_type", "subject_id", "score_bp:int", "amount_minor:int", "currency", "counterparty", "reasons", "detected_at_ms:int"],
            matches: [.customerId: "counterparty", .name: "counterparty"], erasure: .delete, orderBy: "seq"),
        PersonalDataSource(
            category: "recent-observations", purpose: "rebuild the detectors after a restart (legitimate interest)",
            retention: "until the next snapshot of the tenant's detector (at most 5,000 movements)", table: "realtime_recent",
            columns: ["seq:int", "observation"], matches: [:], mentions: ["observation"],
            erasure: .pseudonymise([], rule: "the observations since the last snapshot are what the detector is rebuilt from", years: nil, dateColumn: nil),
            orderBy: "seq"),
        PersonalDataSource(
            category: "detector-snapshot", purpose: "keep each counterparty's usual amounts to tell an unusual one (legitimate interest)",
            retention: "until replaced by the next snapshot", table: "realtime_state", columns: ["seq:int", "saved_at_ms:int"], matches: [:],
            mentions: ["state"],
            erasure: .pseudonymise([], rule: "the detector keeps the counterparty's statistics under the pseudonym", years: nil, dateColumn: nil),
            orderBy: "seq"),
    ]
}

/// What the detector observes of each event it reads; an event it cannot read is left out.
enum Observations {
    static func transaction(_ event: PublishedEvent) -> (PublishedEvent, Observation, tenantId: String)? {
        guard let decoded = try? event.decode(TransactionCreated.self) else { return nil }
        let t = decoded.data
        guard (1...64).contains(t.tenantId.count), (1...64).contains(t.transactionId.count), Currency(code: t.currency) != nil else { return nil }
        let counterparty = t.counterparty.map { String($0.trimmingCharacters(in: .whitespacesAndNewlines).lowercased().prefix(120)) }
        return (event, Observation(
            kind: "transaction", subjectId: t.transactionId, atMillis: Int64(decoded.time.timeIntervalSince1970 * 1000), amountMinor: t.amountMinor,
            currency: t.currency, accountKey: "account:" + String(t.sourceAccountId.prefix(64)), counterparty: counterparty?.isEmpty == false ? counterparty : nil),
            t.tenantId)
    }

    static func payment(_ event: PublishedEvent) -> (PublishedEvent, Observation, tenantId: String)? {
        guard let decoded = try? event.decode(PaymentProcessed.self) else { return nil }
        let p = decoded.data
        // An instant outside the calendar's years (the producer's own clock) would make the window arithmetic overflow.
        guard (1...64).contains(p.tenantId.count), (1...64).contains(p.paymentId.count), Currency(code: p.currency) != nil,
            ["succeeded", "failed", "refunded"].contains(p.status), (0...32_503_680_000_000).contains(p.processedAtMillis)
        else { return nil }
        return (event, Observation(
            kind: "payment", subjectId: p.refundId.map { "\(p.paymentId)/\($0)" } ?? p.paymentId, atMillis: p.processedAtMillis,
            amountMinor: p.amountMinor, currency: p.currency, accountKey: "gateway:\(p.gateway.prefix(20)):\(p.status):\(p.currency)",
            counterparty: p.customerId.map { String($0.prefix(64)) }), p.tenantId)
    }
}
