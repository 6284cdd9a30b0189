import FinFlowCore
import SQLKit

/// The validation pipeline of one request, its state loaded once. Each step refuses with its own code; a draft that
/// passes is counted, so the next draft of the same request is checked against it too.
struct Pipeline: Sendable {
    let tenantId: String
    let limits: TransactionLimits
    let screening: Screening
    let accounts: [String: AccountRow]
    var existingById: [String: TransactionRow]
    var accountUsage: [String: Usage]
    var tenantUsage: Usage
    /// Drafts accepted so far in this request, for duplicate checks among them.
    var accepted: [TransactionDraft] = []

    /// The stored transaction a draft's client id names, if any.
    func existing(_ draft: TransactionDraft) -> TransactionRow? {
        draft.id.flatMap { self.existingById[$0] }
    }

    /// Runs every step on `draft`; on success the draft counts towards the velocity of the rest.
    mutating func check(_ draft: TransactionDraft, prefix: String, db: any SQLDatabase) async throws {
        try self.checkAmount(draft, prefix: prefix)
        try self.checkCurrencyAndAccounts(draft, prefix: prefix)
        try await self.checkDuplicate(draft, prefix: prefix, db: db)
        try self.checkVelocity(draft, prefix: prefix)
        try self.checkScreening(draft, prefix: prefix)
        self.accountUsage[draft.sourceAccountId, default: Usage()].add(draft.amountMinor, currency: draft.currency)
        self.tenantUsage.add(draft.amountMinor, currency: draft.currency)
        self.accepted.append(draft)
    }

    /// Step 2 (after the fields): the tenant's largest single amount.
    func checkAmount(_ draft: TransactionDraft, prefix: String) throws {
        if let limit = self.limits.transactionAmountMaxMinor[draft.currency], draft.amountMinor > limit {
            throw TransactionsError.amountAboveLimit(field: prefix + "amount", limit: limit, currency: draft.currency)
        }
    }

    /// Steps 3 and 4: an allowed currency, accounts that exist, are active and keep that currency.
    func checkCurrencyAndAccounts(_ draft: TransactionDraft, prefix: String) throws {
        if let allowed = self.limits.allowedCurrencies, !allowed.contains(draft.currency) {
            throw TransactionsError.currencyNotAllowed(field: prefix + "currency", currency: draft.currency)
        }
        for (field, id) in [("sourceAccountId", draft.sourceAccountId), ("destinationAccountId", draft.destinationAccountId)] {
            guard let account = self.accounts[id] else { throw TransactionsError.unknownAccount(field: prefix + field) }
            guard account.currency == draft.currency else {
                throw TransactionsError.currencyMismatch(field: prefix + field, account: account.code, expected: account.currency, got: draft.currency)
            }
            guard account.status == "active" else { throw TransactionsError.archivedAccount(field: prefix + field, account: account.code) }
        }
    }

    /// Step 5: the same amount, accounts, counterparty and reference with a value date within the window, among stored
    /// transactions that were not rejected and among the drafts before this one. A statement line is compared with
    /// transactions taken in by hand only: lines of statements are told apart by their fingerprints.
    func checkDuplicate(_ draft: TransactionDraft, prefix: String, db: any SQLDatabase) async throws {
        let window = self.limits.duplicateWindowDays
        guard !draft.allowDuplicate, window > 0 else { return }
        let key = Counterparty.key(draft.counterparty?.name)
        let imported = draft.importFingerprint != nil
        if !imported, let twin = self.accepted.firstIndex(where: {
            $0.amountMinor == draft.amountMinor && $0.currency == draft.currency && $0.sourceAccountId == draft.sourceAccountId
                && $0.destinationAccountId == draft.destinationAccountId && Counterparty.key($0.counterparty?.name) == key
                && $0.referenceKey == draft.referenceKey && abs($0.valueDate.dayNumber - draft.valueDate.dayNumber) <= window
        }) {
            throw TransactionsError.duplicate(field: prefix.isEmpty ? "amount" : prefix + "amount", existingId: self.accepted[twin].id ?? "#\(twin)")
        }
        if let existingId = try await TransactionStore.lookalike(
            tenantId: self.tenantId, draft: draft, counterpartyKey: key, windowDays: window, manualOnly: imported, db: db)
        {
            throw TransactionsError.duplicate(field: prefix + "amount", existingId: existingId)
        }
    }

    /// Step 6: the rolling-window count and amount limits, per source account and for the tenant.
    func checkVelocity(_ draft: TransactionDraft, prefix: String) throws {
        let account = self.accountUsage[draft.sourceAccountId] ?? Usage()
        if let detail = Self.exceeded(self.limits.accountVelocity, usage: account, draft: draft) {
            let code = self.accounts[draft.sourceAccountId]?.code ?? draft.sourceAccountId
            throw TransactionsError.accountVelocity(field: prefix + "sourceAccountId", account: code, detail: detail)
        }
        if let detail = Self.exceeded(self.limits.tenantVelocity, usage: self.tenantUsage, draft: draft) {
            throw TransactionsError.tenantVelocity(field: prefix + "amount", detail: detail)
        }
    }

    /// What the draft would exceed, in words; nil when within the limit.
    static func exceeded(_ limit: VelocityLimit, usage: Usage, draft: TransactionDraft) -> String? {
        if usage.count + 1 > Int64(limit.countMax) {
            return "more than \(limit.countMax) transactions in \(limit.windowSeconds) s"
        }
        if let amountMax = limit.amountMaxMinor[draft.currency] {
            let total = (usage.amountMinor[draft.currency] ?? 0).addingReportingOverflow(draft.amountMinor)
            if total.overflow || total.partialValue > amountMax {
                return "more than \(amountMax) minor units of \(draft.currency) in \(limit.windowSeconds) s"
            }
        }
        return nil
    }

    /// Step 7: the configured sanctioned countries and blocked counterparties.
    func checkScreening(_ draft: TransactionDraft, prefix: String) throws {
        guard let counterparty = draft.counterparty else { return }
        if let country = counterparty.country, self.screening.sanctionedCountries.contains(country) {
            throw TransactionsError.sanctionedCountry(field: prefix + "counterparty.country", country: country)
        }
        if self.screening.blockedKeys.contains(Counterparty.key(counterparty.name)) {
            throw TransactionsError.blockedCounterparty(field: prefix + "counterparty.name")
        }
    }
}
