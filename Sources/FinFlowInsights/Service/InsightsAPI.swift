import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The insights service's HTTP contract (generated from `openapi.yaml`) implemented: decode, validate, call the desk, map.
struct InsightsAPI: APIProtocol {
    let desk: InsightsDesk

    static let accountIdLengthMax = 64
    /// The longest horizon per interval: a year of days, two years of weeks, three years of months.
    static let horizonMax: [Interval: Int] = [.day: 366, .week: 104, .month: 36]

    func getSeries(_ input: Operations.GetSeries.Input) async throws -> Operations.GetSeries.Output {
        let principal = try RequestScope.require("forecasts:read")
        let query = input.query
        var validator = Validator()
        let currency = Self.currency(query.currency, into: &validator)
        let accountId = Self.accountId(query.accountId, metric: query.metric.rawValue, into: &validator)
        let from = CalendarDay.parse(query.from, field: "from", into: &validator)
        let to = CalendarDay.parse(query.to, field: "to", into: &validator)
        if let from, let to { validator.check(from <= to, "to", "must not be before from") }
        try validator.throwIfInvalid()
        let metric = ReadModel.Metric(rawValue: query.metric.rawValue) ?? .netCashFlow
        let interval = Interval(rawValue: query.interval.rawValue) ?? .month
        let series = try await self.desk.series(
            tenantId: principal.tenantId, metric: metric, interval: interval, currency: currency, accountId: accountId)
        let points = series.points.filter { point in
            (from.map { interval.next(point.period) > $0 } ?? true) && (to.map { point.period <= $0 } ?? true)
        }
        if query.format == .csv {
            let csv = "period,value\n" + points.map { "\($0.period),\($0.value)\n" }.joined()
            return .ok(.init(body: .csv(HTTPBody(csv))))
        }
        return .ok(.init(body: .json(.init(
            metric: query.metric, interval: query.interval, currency: series.currency, accountId: accountId,
            points: points.map { .init(period: $0.period.description, value: $0.value) }))))
    }

    func createForecast(_ input: Operations.CreateForecast.Input) async throws -> Operations.CreateForecast.Output {
        let principal = try RequestScope.require("forecasts:run")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let id = validator.clientId(body.id, field: "id")
        let interval = Interval(rawValue: body.interval.rawValue) ?? .month
        let horizonMax = Self.horizonMax[interval] ?? 36
        validator.check((1...horizonMax).contains(body.horizon), "horizon", "must be 1–\(horizonMax) \(interval.rawValue)s")
        let levels = body.levels ?? [80, 95]
        validator.check((1...4).contains(levels.count) && Set(levels).count == levels.count && levels.allSatisfy { (50...99).contains($0) },
                        "levels", "must be 1–4 different percentages from 50 to 99")
        let currency = Self.currency(body.currency, into: &validator)
        let accountId = Self.accountId(body.accountId, metric: body.metric.rawValue, into: &validator)
        try validator.throwIfInvalid()
        let method = body.method.flatMap { $0 == .auto ? nil : $0.rawValue }
        let request = ForecastRequest(
            id: id, metric: ReadModel.Metric(rawValue: body.metric.rawValue) ?? .netCashFlow, interval: interval, horizon: body.horizon,
            levels: levels.sorted(), currency: currency, accountId: accountId, method: method)
        let (stored, created) = try await self.desk.forecast(request, principal: principal)
        let dto = Self.dto(stored)
        return created ? .created(.init(body: .json(dto))) : .ok(.init(body: .json(dto)))
    }

    func listForecasts(_ input: Operations.ListForecasts.Input) async throws -> Operations.ListForecasts.Output {
        let principal = try RequestScope.require("forecasts:read")
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.desk.list(tenantId: principal.tenantId, page: page)
        return .ok(.init(body: .json(.init(
            items: result.items.map { row in
                .init(
                    id: row.id, metric: .init(rawValue: row.metric) ?? .netCashFlow, interval: .init(rawValue: row.interval) ?? .month,
                    currency: row.currency, accountId: row.account_id, horizon: row.horizon, method: row.method,
                    createdAt: Date(timeIntervalSince1970: Double(row.created_at_ms) / 1000))
            },
            nextCursor: result.nextCursor))))
    }

    func getForecast(_ input: Operations.GetForecast.Input) async throws -> Operations.GetForecast.Output {
        let principal = try RequestScope.require("forecasts:read")
        let stored = try await self.desk.stored(tenantId: principal.tenantId, id: input.path.forecastId)
        switch input.query.format {
        case .csv: return .ok(.init(body: .csv(HTTPBody(Self.csv(stored)))))
        case .svg: return .ok(.init(body: .imageSvgXml(HTTPBody(ForecastChart.svg(stored)))))
        case .json, nil: return .ok(.init(body: .json(Self.dto(stored))))
        }
    }

    func listAdvice(_ input: Operations.ListAdvice.Input) async throws -> Operations.ListAdvice.Output {
        let principal = try RequestScope.require("forecasts:read")
        let status = input.query.status.map { $0 == .all ? nil : $0.rawValue } ?? "open"
        let rows = try await self.desk.advice(tenantId: principal.tenantId, status: status)
        return .ok(.init(body: .json(.init(items: try rows.map(Self.dto)))))
    }

    func refreshAdvice(_ input: Operations.RefreshAdvice.Input) async throws -> Operations.RefreshAdvice.Output {
        let principal = try RequestScope.require("forecasts:run")
        var validator = Validator()
        let currency = Self.currency(input.query.currency, into: &validator)
        try validator.throwIfInvalid()
        let rows = try await self.desk.refreshAdvice(principal: principal, currency: currency)
        return .ok(.init(body: .json(.init(items: try rows.map(Self.dto)))))
    }

    func dismissAdvice(_ input: Operations.DismissAdvice.Input) async throws -> Operations.DismissAdvice.Output {
        let principal = try RequestScope.require("forecasts:run")
        var reason: String?
        if case .json(let body) = input.body {
            reason = body.reason?.trimmingCharacters(in: .whitespacesAndNewlines)
            var validator = Validator()
            validator.check((reason?.count ?? 0) <= 500, "reason", "is longer than 500 characters")
            try validator.throwIfInvalid()
            if reason?.isEmpty == true { reason = nil }
        }
        return .ok(.init(body: .json(try Self.dto(try await self.desk.dismiss(id: input.path.adviceId, reason: reason, principal: principal)))))
    }

    func getLatePayments(_ input: Operations.GetLatePayments.Input) async throws -> Operations.GetLatePayments.Output {
        let principal = try RequestScope.require("forecasts:read")
        var validator = Validator()
        let currency = Self.currency(input.query.currency, into: &validator)
        try validator.throwIfInvalid()
        let report = try await self.desk.latePayments(tenantId: principal.tenantId, currency: currency)
        let model = report.model
        return .ok(.init(body: .json(.init(
            currency: report.currency,
            model: .init(
                kind: .init(rawValue: model.kind) ?? .baseRate, trainedOn: model.trainedOn, baseRate: model.baseRate, features: model.features,
                weights: model.kind == "logistic" ? model.weights : nil, auc: model.auc.flatMap { $0.isFinite ? $0 : nil },
                brier: model.brier.flatMap { $0.isFinite ? $0 : nil },
                calibration: model.calibration.map { .init(predicted: $0.predicted, observed: $0.observed, count: $0.count) },
                seed: Int64(bitPattern: model.seed)),
            invoices: report.invoices.map {
                .init(
                    invoiceId: $0.id, customerId: $0.customer, owed: $0.owed, dueDate: $0.due.description, probability: $0.probability,
                    expectedDelayDays: $0.expectedDelayDays, expectedDate: $0.expected.description)
            }))))
    }

    // MARK: reading the request

    static func currency(_ text: String?, into validator: inout Validator) -> String? {
        guard let text else { return nil }
        let code = text.uppercased()
        validator.check(Currency(code: code) != nil, "currency", "is not an ISO 4217 code")
        return code
    }

    static func accountId(_ text: String?, metric: String, into validator: inout Validator) -> String? {
        guard let text else { return nil }
        validator.check((1...Self.accountIdLengthMax).contains(text.count), "accountId", "must be 1–\(Self.accountIdLengthMax) characters")
        validator.check(metric == "revenue" || metric == "expenses", "accountId", "only a revenue or expenses series is one account's")
        return text.lowercased()
    }

    // MARK: answering

    static func dto(_ stored: StoredForecast) -> Components.Schemas.Forecast {
        .init(
            id: stored.id, metric: .init(rawValue: stored.metric) ?? .netCashFlow, interval: .init(rawValue: stored.interval) ?? .month,
            currency: stored.currency, accountId: stored.accountId, horizon: stored.horizon, levels: stored.levels, method: stored.method,
            reason: stored.reason, seasonalPeriod: stored.seasonalPeriod,
            history: stored.history.map { .init(period: $0.period, value: $0.value) },
            points: stored.points.map { point in
                .init(period: point.period, mean: point.mean, bounds: point.bounds.map { .init(level: $0.level, lower: $0.lower, upper: $0.upper) })
            },
            backtests: stored.backtests.map { score in
                .init(
                    method: score.method, windows: score.windows, mase: score.mase, smape: score.smape,
                    coverage: score.coverage.sorted(by: { $0.key < $1.key }).map { .init(level: $0.key, percent: $0.value) }, error: score.error)
            },
            scheduled: stored.scheduled.map { .init(period: $0.period, receipts: $0.receipts, payments: $0.payments, documents: $0.documents) },
            createdAt: Date(timeIntervalSince1970: Double(stored.createdAtMs) / 1000))
    }

    static func dto(_ row: AdviceRow) throws -> Components.Schemas.Advice {
        let evidence: [Advice.Evidence]
        do { evidence = try JSONDecoder().decode([Advice.Evidence].self, from: Data(row.evidence.utf8)) } catch {
            throw InvariantViolation("a stored insight's evidence cannot be read: \(error)")
        }
        func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
        return .init(
            id: row.id, kind: .init(rawValue: row.kind) ?? .overdueInvoices, subject: row.subject, status: .init(rawValue: row.status) ?? .open,
            currency: row.currency, amountAtStake: row.amount_minor, sentence: row.sentence,
            evidence: evidence.map { .init(label: $0.label, value: $0.value, period: $0.period, reference: $0.reference) },
            raisedAt: date(row.raised_at_ms), updatedAt: date(row.updated_at_ms), dismissedAt: row.dismissed_at_ms.map(date),
            dismissedBy: row.dismissed_by, dismissReason: row.dismiss_reason)
    }

    /// The history and the forecast as one table: a row per period, the bounds of each level, and for cash what is
    /// already scheduled.
    static func csv(_ stored: StoredForecast) -> String {
        let levels = stored.levels.sorted()
        var text = "period,kind,value" + levels.map { ",lower_\($0),upper_\($0)" }.joined() + ",scheduled_receipts,scheduled_payments\n"
        let blanks = String(repeating: ",,", count: levels.count)
        for point in stored.history { text += "\(point.period),history,\(point.value)\(blanks),,\n" }
        let scheduled = Dictionary(stored.scheduled.map { ($0.period, $0) }, uniquingKeysWith: { first, _ in first })
        for point in stored.points {
            let bounds = levels.map { level in
                point.bounds.first { $0.level == level }.map { ",\($0.lower),\($0.upper)" } ?? ",,"
            }.joined()
            let planned = scheduled[point.period].map { ",\($0.receipts),\($0.payments)" } ?? ",,"
            text += "\(point.period),forecast,\(point.mean)\(bounds)\(planned)\n"
        }
        return text
    }
}
