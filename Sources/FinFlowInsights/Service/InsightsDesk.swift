import FinFlowCore
import Foundation
import SQLKit

/// A forecast as stored and answered: its inputs, the backtest of every method, the choice and the points.
struct StoredForecast: Codable, Sendable {
    struct Point: Codable, Sendable { var period: String; var value: Int64 }
    struct Bound: Codable, Sendable { var level: Int; var lower: Int64; var upper: Int64 }
    struct ForecastPoint: Codable, Sendable { var period: String; var mean: Int64; var bounds: [Bound] }
    struct Scheduled: Codable, Sendable { var period: String; var receipts: Int64; var payments: Int64; var documents: Int }

    var id: String
    var metric: String
    var interval: String
    var currency: String
    var accountId: String?
    var horizon: Int
    var levels: [Int]
    var method: String
    var reason: String
    var seasonalPeriod: Int
    var history: [Point]
    var points: [ForecastPoint]
    var backtests: [Forecaster.Scored]
    var scheduled: [Scheduled]
    var createdAtMs: Int64
}

/// What a caller asks to forecast.
struct ForecastRequest: Sendable {
    var id: String?
    var metric: ReadModel.Metric
    var interval: Interval
    var horizon: Int
    var levels: [Int]
    var currency: String?
    var accountId: String?
    var method: String?

    var hash: String {
        Digest.sha256Hex(SortedJSON.text([
            self.metric.rawValue, self.interval.rawValue, String(self.horizon), self.levels.map(String.init).joined(separator: ","),
            self.currency ?? "", self.accountId ?? "", self.method ?? "",
        ]))
    }
}

struct ForecastRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let metric: String
    let interval: String
    let currency: String
    let account_id: String?
    let horizon: Int
    let method: String
    let request_hash: String
    let result: String
    let created_by: String
    let created_at_ms: Int64
}

/// The insights service's use cases: the only API its HTTP handlers call.
struct InsightsDesk: Sendable {
    let env: ServiceEnvironment
    let outbox: Outbox

    init(env: ServiceEnvironment) {
        self.env = env
        self.outbox = env.outbox(serviceName: "insights")
    }

    var database: any Database { self.env.database }
    var today: CalendarDay { CalendarDay(instant: self.env.clock.now()) }

    /// A series of complete periods, in the named currency or the one with the most movement.
    func series(tenantId: String, metric: ReadModel.Metric, interval: Interval, currency: String?, accountId: String?)
        async throws -> (currency: String, points: [(period: CalendarDay, value: Int64)])
    {
        let today = self.today
        return try await self.database.tenantRead(tenantId: tenantId) { db in
            if let accountId {
                guard let type = try await ReadModel.accountType(tenantId: tenantId, accountId: accountId, db: db) else {
                    throw AppError.notFound("account")
                }
                guard (metric == .revenue && type == "revenue") || (metric == .expenses && type == "expense") else {
                    throw AppError.invalid("accountId: a \(metric.rawValue) series takes a \(metric == .revenue ? "revenue" : "expense") account, this one is \(type)")
                }
            }
            var named = currency
            if named == nil { named = try await ReadModel.mainCurrency(tenantId: tenantId, db: db) }
            guard let currency = named else {
                throw AppError.conflict(code: "no-books", "no ledger movements have reached the insights service yet")
            }
            let daily = try await ReadModel.daily(tenantId: tenantId, metric: metric, currency: currency, accountId: accountId, db: db)
            var points = interval.periods(daily, before: today)
            if metric == .cashBalance {
                var balance: Int64 = 0
                points = points.map { period, value in
                    balance = balance.addingReportingOverflow(value).partialValue
                    return (period, balance)
                }
            }
            return (currency, points)
        }
    }

    /// Forecasts a series, stores the forecast and answers it; a client id seen before with the same request answers
    /// the stored forecast.
    func forecast(_ request: ForecastRequest, principal: Principal) async throws -> (StoredForecast, created: Bool) {
        let tenantId = principal.tenantId
        if let id = request.id, let existing = try await self.row(tenantId: tenantId, id: id) {
            guard existing.request_hash == request.hash else { throw AppError.idReused("forecast") }
            return (try Self.decode(existing), false)
        }
        var series = try await self.series(
            tenantId: tenantId, metric: request.metric, interval: request.interval, currency: request.currency, accountId: request.accountId)
        series.points = Array(series.points.suffix(request.interval.historyMax))
        let values = series.points.map { Double($0.value) }
        let outcome: Forecaster.Outcome
        do {
            outcome = try Forecaster.run(
                values, period: request.interval.seasonalPeriod, horizon: request.horizon, levels: request.levels, requested: request.method)
        } catch let error as ForecastError {
            throw AppError.conflict(code: "not-enough-history", error.description)
        }
        var start = series.points.last.map { request.interval.next($0.period) } ?? request.interval.start(of: self.today)
        var periods: [CalendarDay] = []
        for _ in 0..<request.horizon {
            periods.append(start)
            start = request.interval.next(start)
        }
        let scheduled = request.metric == .netCashFlow || request.metric == .cashBalance
            ? try await self.scheduled(tenantId: tenantId, currency: series.currency, interval: request.interval, periods: periods) : []
        let now = self.env.clock.nowMillis()
        let stored = StoredForecast(
            id: request.id ?? self.env.ids.nextString(), metric: request.metric.rawValue, interval: request.interval.rawValue,
            currency: series.currency, accountId: request.accountId, horizon: request.horizon, levels: request.levels,
            method: outcome.method, reason: outcome.reason, seasonalPeriod: outcome.period,
            history: series.points.map { .init(period: $0.period.description, value: $0.value) },
            points: periods.enumerated().map { h, period in
                .init(
                    period: period.description, mean: Self.minor(outcome.forecast.mean[h]),
                    bounds: request.levels.compactMap { level in
                        outcome.forecast.intervals[level].map { .init(level: level, lower: Self.minor($0.lower[h]), upper: Self.minor($0.upper[h])) }
                    })
            },
            backtests: outcome.backtests, scheduled: scheduled, createdAtMs: now)
        let row = ForecastRow(
            id: stored.id, tenant_id: tenantId, metric: stored.metric, interval: stored.interval, currency: stored.currency,
            account_id: stored.accountId, horizon: stored.horizon, method: stored.method, request_hash: request.hash,
            result: SortedJSON.text(stored), created_by: principal.subject, created_at_ms: now)
        do {
            try await self.database.tenantTransaction(tenantId: tenantId) { db in
                try await db.insert(into: "insights_forecasts").model(row).run()
            }
        } catch where violatedConstraint(error) != nil {
            // The same id stored at the same moment by a retry: answer what was stored.
            if let existing = try await self.row(tenantId: tenantId, id: row.id), existing.request_hash == row.request_hash {
                return (try Self.decode(existing), false)
            }
            throw AppError.idReused("forecast")
        }
        return (stored, true)
    }

    /// Open receivables at their due date moved by the expected delay (the late-payment probability times the
    /// customer's mean days late, or the tenant's; never before the first period), open payables by their due date,
    /// summed per forecast period.
    func scheduled(tenantId: String, currency: String, interval: Interval, periods: [CalendarDay]) async throws -> [StoredForecast.Scheduled] {
        guard let first = periods.first, let last = periods.last else { return [] }
        let end = interval.next(last)
        let documents = try await self.documents(tenantId: tenantId, currency: currency).documents
        let expected = Dictionary(Self.predict(documents, currency: currency).invoices.map { ($0.id, $0.expected) }, uniquingKeysWith: { first, _ in first })
        var byPeriod: [CalendarDay: StoredForecast.Scheduled] = [:]
        for document in documents where document.open && document.owed > 0 {
            let day = max(document.kind == "invoice" ? expected[document.id] ?? document.due : document.due, first)
            guard day < end else { continue }
            let period = interval.start(of: day)
            var entry = byPeriod[period] ?? .init(period: period.description, receipts: 0, payments: 0, documents: 0)
            if document.kind == "invoice" { entry.receipts &+= document.owed } else { entry.payments &+= document.owed }
            entry.documents += 1
            byPeriod[period] = entry
        }
        return periods.map { byPeriod[$0] ?? .init(period: $0.description, receipts: 0, payments: 0, documents: 0) }
    }

    func row(tenantId: String, id: String) async throws -> ForecastRow? {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.select().column("*").from("insights_forecasts").where("tenant_id", .equal, tenantId).where("id", .equal, id)
                .first(decoding: ForecastRow.self)
        }
    }

    func stored(tenantId: String, id: String) async throws -> StoredForecast {
        guard let row = try await self.row(tenantId: tenantId, id: id) else { throw AppError.notFound("forecast") }
        return try Self.decode(row)
    }

    func list(tenantId: String, page: PageRequest) async throws -> (items: [ForecastRow], nextCursor: String?) {
        let rows = try await self.database.tenantRead(tenantId: tenantId) { db in
            var query = db.select().columns("id", "tenant_id", "metric", "interval", "currency", "account_id", "horizon", "method", "request_hash",
                                            "created_by", "created_at_ms")
                .column(SQLRaw("'' AS result")).from("insights_forecasts").where("tenant_id", .equal, tenantId)
            if let after = page.after { query = query.where("id", .lessThan, after) }
            return try await query.orderBy("id", .descending).limit(page.limit + 1).all(decoding: ForecastRow.self)
        }
        return page.page(rows, key: \.id)
    }

    static func decode(_ row: ForecastRow) throws -> StoredForecast {
        do { return try JSONDecoder().decode(StoredForecast.self, from: Data(row.result.utf8)) } catch {
            throw InvariantViolation("a stored forecast cannot be read: \(error)")
        }
    }

    /// A forecast value as whole minor units, held within what an amount can be.
    static func minor(_ value: Double) -> Int64 {
        guard value.isFinite else { return 0 }
        return Int64(max(-9e15, min(9e15, value.rounded())))
    }
}
