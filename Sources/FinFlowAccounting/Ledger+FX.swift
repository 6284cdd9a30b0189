import FinFlowCore
import Foundation
import SQLKit

/// An exchange rate: how many units of the base currency one unit of `currency` buys on `date`.
struct RateRow: Codable, Sendable {
    let currency: String
    let rate_date: String
    let rate: String
}

/// Rates of a tenant's ledger, looked up the way reports need them.
struct RateBook: Sendable {
    let base: String
    let rates: [String: [(date: String, rate: Decimal)]]

    /// The closing rate of `currency` on `date`: the latest rate dated on or before it.
    func closing(_ currency: String, on date: LedgerDate) throws -> Decimal {
        if currency == self.base { return 1 }
        guard let rate = self.rates[currency]?.last(where: { $0.date <= date.description })?.rate else {
            throw AccountingError.missingRate(currency, date.description)
        }
        return rate
    }

    /// The average rate of `currency` over a range: the mean of the rates dated within it, or the closing rate at
    /// its end when none is.
    func average(_ currency: String, over range: ReportRange) throws -> Decimal {
        if currency == self.base { return 1 }
        let start = range.from?.description ?? ""
        let inRange = (self.rates[currency] ?? []).filter { $0.date <= range.to.description && $0.date >= start }
        guard !inRange.isEmpty else { return try self.closing(currency, on: range.to) }
        return inRange.reduce(Decimal(0)) { $0 + $1.rate } / Decimal(inRange.count)
    }

    /// `minor` units of `currency` in minor units of the base currency at `rate`, rounded half away from zero.
    /// Throws `amount-overflow` when the result does not fit in 64 bits.
    func translate(_ minor: Int64, from currency: String, at rate: Decimal) throws -> Int64 {
        guard currency != self.base else { return minor }
        let fromExponent = Currency(code: currency)?.exponent ?? 2
        let toExponent = Currency(code: self.base)?.exponent ?? 2
        var value = Decimal(minor) * rate
        if toExponent > fromExponent {
            for _ in 0..<(toExponent - fromExponent) { value *= 10 }
        } else {
            for _ in 0..<(fromExponent - toExponent) { value /= 10 }
        }
        let rounded = InvoiceMath.rounded(value)
        guard rounded <= Decimal(Int64.max), rounded >= Decimal(Int64.min) else { throw MinorUnits.overflow("a translated amount") }
        return NSDecimalNumber(decimal: rounded).int64Value
    }
}

extension AccountingError {
    static func missingRate(_ currency: String, _ date: String) -> AppError {
        AppError(.rejected, code: "missing-exchange-rate", "no \(currency) exchange rate on or before \(date); enter one first")
    }
}

extension Ledger {
    /// Rates one request may enter.
    static let ratesPerRequestMax = 1000

    /// Enters (or corrects) exchange rates; each is base units per one unit of the currency.
    func setRates(principal: Principal, rates: [(currency: String, date: String, rate: String)]) async throws -> Int {
        var validator = Validator()
        validator.check((1...Self.ratesPerRequestMax).contains(rates.count), "rates", "must hold 1–\(Self.ratesPerRequestMax) rates")
        for (index, rate) in rates.enumerated() {
            validator.check(Currency(code: rate.currency)?.exponent != nil, "rates[\(index)].currency", "is not an ISO 4217 currency of money")
            _ = LedgerDate.parse(rate.date, field: "rates[\(index)].date", into: &validator)
            let value = InvoiceRequest.decimal(rate.rate, fractionDigits: 10)
            validator.check(value.map { $0 > 0 && $0 < 1_000_000 } ?? false, "rates[\(index)].rate", "must be a positive decimal below 1,000,000 with at most 10 decimals")
        }
        try validator.throwIfInvalid()
        let now = self.now
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            if let index = rates.firstIndex(where: { $0.currency.uppercased() == ledger.base_currency }) {
                throw AppError.validation([.init(field: "rates[\(index)].currency", message: "is the base currency")])
            }
            for rate in rates {
                try await db.raw("""
                    INSERT INTO exchange_rates (tenant_id, currency, rate_date, rate, updated_at_ms)
                    VALUES (\(bind: principal.tenantId), \(bind: rate.currency.uppercased()), \(bind: rate.date), \(bind: rate.rate), \(bind: now))
                    ON CONFLICT (tenant_id, currency, rate_date) DO UPDATE SET rate = excluded.rate, updated_at_ms = excluded.updated_at_ms
                    """).run()
            }
            return rates.count
        }
    }

    /// The rates of one currency (or all) between two dates.
    func rates(principal: Principal, currency: String?, from: LedgerDate?, to: LedgerDate?) async throws -> [RateRow] {
        try await self.database.tenantRead(tenantId: principal.tenantId) { db in
            var query = SQLQueryString("SELECT currency, rate_date, rate FROM exchange_rates WHERE tenant_id = \(bind: principal.tenantId)")
            if let currency { query.appendInterpolation(unsafeRaw: " AND currency = "); query.appendInterpolation(bind: currency.uppercased()) }
            if let from { query.appendInterpolation(unsafeRaw: " AND rate_date >= "); query.appendInterpolation(bind: from.description) }
            if let to { query.appendInterpolation(unsafeRaw: " AND rate_date <= "); query.appendInterpolation(bind: to.description) }
            query.appendInterpolation(unsafeRaw: " ORDER BY currency, rate_date LIMIT 10000")
            return try await db.raw(query).all(decoding: RateRow.self)
        }
    }

    static func rateBook(tenantId: String, base: String, db: any SQLDatabase) async throws -> RateBook {
        let rows = try await db.raw("SELECT currency, rate_date, rate FROM exchange_rates WHERE tenant_id = \(bind: tenantId) ORDER BY currency, rate_date")
            .all(decoding: RateRow.self)
        var rates: [String: [(String, Decimal)]] = [:]
        for row in rows { rates[row.currency, default: []].append((row.rate_date, Decimal(string: row.rate, locale: Locale(identifier: "en_US_POSIX")) ?? 0)) }
        return RateBook(base: base, rates: rates.mapValues { $0.map { (date: $0.0, rate: $0.1) } })
    }

    /// The trading accounts of a foreign currency: one in the currency, one in the base currency (equity), opened
    /// on first use. Every conversion passes through them, so the books balance in each currency.
    func tradingAccounts(currency: String, ledger: LedgerRow, principal: Principal, db: any SQLDatabase) async throws -> (foreign: String, base: String) {
        var result: [String] = []
        for (code, accountCurrency) in [("FXT-\(currency)", currency), ("FXT-\(currency)-\(ledger.base_currency)", ledger.base_currency)] {
            if let existing = try await db.raw("""
                SELECT id FROM accounts WHERE tenant_id = \(bind: principal.tenantId) AND code = \(bind: code)
                """).first() {
                result.append(try existing.decode(column: "id", as: String.self))
                continue
            }
            let now = self.now
            let row = AccountRow(
                id: self.env.ids.nextString(), tenant_id: principal.tenantId, code: code, name: "Currency trading \(currency) (\(accountCurrency))",
                type: AccountType.equity.rawValue, contra: 0, normal_side: Side.credit.rawValue, parent_id: nil, currency: accountCurrency,
                cash_flow_tag: nil, balance_constraint: BalanceConstraint.none.rawValue, status: AccountStatus.active.rawValue, system_role: nil,
                posted_debits_minor: 0, posted_credits_minor: 0, pending_debits_minor: 0, pending_credits_minor: 0, created_at_ms: now, updated_at_ms: now)
            try await LedgerStore.insert(account: row, db: db)
            try await self.announce(row, on: db)
            result.append(row.id)
        }
        return (result[0], result[1])
    }

    /// Moves money between accounts of two currencies through the trading accounts, in one balanced entry.
    func convert(
        principal: Principal, date: LedgerDate, fromAccountId: String, fromAmountMinor: Int64, toAccountId: String, toAmountMinor: Int64,
        description: String, id: String?
    ) async throws -> EntryRecord {
        guard fromAmountMinor > 0, toAmountMinor > 0 else { throw AppError.validation([.init(field: "amount", message: "both amounts must be positive")]) }
        return try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            let accounts = try await LedgerStore.accounts(tenantId: principal.tenantId, ids: [fromAccountId.lowercased(), toAccountId.lowercased()].sorted(), forUpdate: false, db: db)
            guard let from = accounts.first(where: { $0.id == fromAccountId.lowercased() }) else { throw AccountingError.unknownAccount(field: "from.accountId") }
            guard let to = accounts.first(where: { $0.id == toAccountId.lowercased() }) else { throw AccountingError.unknownAccount(field: "to.accountId") }
            guard from.currency != to.currency else { throw AppError.invalid(code: "same-currency", "a conversion is between two currencies; post a plain entry") }
            guard from.currency == ledger.base_currency || to.currency == ledger.base_currency else {
                throw AppError.invalid(code: "cross-conversion", "one side of a conversion must be the base currency \(ledger.base_currency)")
            }
            let foreign = from.currency == ledger.base_currency ? to : from
            let trading = try await self.tradingAccounts(currency: foreign.currency, ledger: ledger, principal: principal, db: db)
            let foreignAmount = foreign.id == from.id ? fromAmountMinor : toAmountMinor
            let baseAmount = foreign.id == from.id ? toAmountMinor : fromAmountMinor
            let foreignSide: Side = foreign.id == to.id ? .debit : .credit
            let lines = [
                LineRequest(accountId: to.id, side: .debit, amountMinor: toAmountMinor, currency: nil, memo: nil),
                LineRequest(accountId: from.id, side: .credit, amountMinor: fromAmountMinor, currency: nil, memo: nil),
                LineRequest(accountId: trading.foreign, side: foreignSide.opposite, amountMinor: foreignAmount, currency: nil, memo: nil),
                LineRequest(accountId: trading.base, side: foreignSide, amountMinor: baseAmount, currency: nil, memo: nil),
            ]
            let request = try EntryRequest.validated(
                id: id, date: date.description, description: description, reference: nil, metadata: ["conversion": "\(from.currency)->\(to.currency)"],
                lines: lines, source: .manual, mode: .post, timeoutSeconds: nil)
            return try await self.submit([request], principal: principal, batchId: nil, on: db)[0]
        }
    }

    /// Posts the unrealized exchange gain or loss of every foreign currency held at `date`: the currency's trading
    /// accounts, translated at the closing rate, show what its positions gained or lost since they were taken; the
    /// entry moves that into the FX gain/loss account, so the balance sheet at closing rates balances again.
    func revalue(principal: Principal, date: LedgerDate) async throws -> EntryRecord? {
        try await self.database.tenantTransaction(tenantId: principal.tenantId) { db in
            let ledger = try await LedgerStore.ledger(tenantId: principal.tenantId, db: db)
            let book = try await Self.rateBook(tenantId: principal.tenantId, base: ledger.base_currency, db: db)
            let accounts = try await LedgerStore.allAccounts(tenantId: principal.tenantId, db: db)
            let totals = try await Self.movements(tenantId: principal.tenantId, from: nil, to: date, db: db)
            guard let gainLoss = accounts.first(where: { $0.system_role == SystemRole.fxGainLoss.rawValue }) else {
                throw AppError.conflict(code: "system-account-missing", "the chart has no FX gain/loss account (role fx_gain_loss)")
            }
            var lines: [LineRequest] = []
            var net: Int64 = 0
            for foreign in accounts where foreign.code.hasPrefix("FXT-") && foreign.currency != ledger.base_currency {
                guard let base = accounts.first(where: { $0.code == "\(foreign.code)-\(ledger.base_currency)" }) else { continue }
                let foreignBalance = try totals[foreign.id].map { try MinorUnits.subtract($0.debits, $0.credits) } ?? 0
                let baseBalance = try totals[base.id].map { try MinorUnits.subtract($0.debits, $0.credits) } ?? 0
                let translated = try MinorUnits.add(
                    try book.translate(foreignBalance, from: foreign.currency, at: try book.closing(foreign.currency, on: date)), baseBalance)
                guard translated != 0 else { continue }
                // A credit balance of the trading pair is a gain: debit it away against the gain/loss account.
                lines.append(LineRequest(accountId: base.id, side: translated < 0 ? .debit : .credit, amountMinor: abs(translated), currency: nil,
                                         memo: "revaluation of \(foreign.currency)"))
                net = try MinorUnits.add(net, translated)
            }
            guard !lines.isEmpty else { return nil }
            if net != 0 {
                lines.append(LineRequest(accountId: gainLoss.id, side: net > 0 ? .debit : .credit, amountMinor: abs(net), currency: nil, memo: nil))
            }
            let request = try EntryRequest.validated(
                id: nil, date: date.description, description: "Revaluation of foreign-currency positions at \(date)", reference: nil,
                metadata: ["revaluedAt": date.description], lines: lines, source: .revaluation, mode: .post, timeoutSeconds: nil)
            return try await self.submit([request], principal: principal, batchId: nil, on: db).first
        }
    }
}
