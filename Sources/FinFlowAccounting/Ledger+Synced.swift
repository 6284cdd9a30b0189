import FinFlowCore
import Foundation
import SQLKit

/// Documents synced from QuickBooks Online and Xero, in FinFlow's books: their accounts opened in the chart under the
/// sync's document ids, and each document's double entry posted once per content (source `sync`, sourceId
/// `documentId:version:content`). A document that changes what it posts has its entry reversed (on that entry's date)
/// and the new one posted; one deleted, voided or back to draft is reversed; one whose version changed nothing it posts
/// (a memo edited) is left as it is. The provider stays the book of record for these documents: FinFlow mirrors them.
extension Ledger {
    func take(synced event: IntegrationSynced, on db: any SQLDatabase) async throws {
        let principal = Principal.system(tenantId: event.tenantId)
        guard UUID(uuidString: event.documentId) != nil else {
            return try await self.refuseSynced(event, key: "-", code: "validation-failed", reason: "documentId is not a UUID", on: db)
        }
        if event.kind == "account" {
            return try await self.keep(syncedAccount: event, on: db)
        }
        let documentId = event.documentId.lowercased()
        // The entry of the document's version posted last and not reversed; a range on the source index (every
        // source id of the document starts `documentId:`, and `;` follows `:`).
        struct Live: Decodable { let id, source_id: String }
        let live = try await db.raw("""
            SELECT id, source_id FROM journal_entries
            WHERE tenant_id = \(bind: event.tenantId) AND source = \(bind: EntrySource.sync.rawValue) AND source_id >= \(bind: documentId + ":")
                AND source_id < \(bind: documentId + ";")
                AND status = 'posted' AND reverses_id IS NULL AND reversed_by_id IS NULL
            """).first(decoding: Live.self)
        let key = event.posting.map(Self.contentKey)
        // The same content posted already (under any version): nothing changes in the books.
        if let live, let key, live.source_id.hasSuffix(":" + key), !event.deleted { return }
        if let live {
            do {
                _ = try await self.reverseInTransaction(
                    principal: principal, id: live.id, date: nil,
                    description: String("Reversal: \(event.kind.replacingOccurrences(of: "_", with: " ")) \(event.label ?? event.externalId) "
                        + (event.deleted ? "deleted at \(event.provider)" : "changed at \(event.provider)")).prefix(LedgerLimits.descriptionLengthMax)
                        .description,
                    newId: nil, db: db)
            } catch let error as AppError where error.kind != .unavailable {
                return try await self.refuseSynced(event, key: key ?? "-", code: error.code, reason: error.message, on: db)
            }
        }
        guard !event.deleted, let posting = event.posting, let key else { return }
        let sourceId = "\(documentId):\(event.version.prefix(100)):\(key)"
        try await self.postAnswering(source: .sync, sourceId: sourceId, principal: principal, on: db) {
            let ledger = try await LedgerStore.ledger(tenantId: event.tenantId, db: db)
            let currency = posting.currency ?? ledger.base_currency
            guard let money = Currency(code: currency), money.exponent != nil else {
                throw AppError.invalid("the document's currency \(currency.prefix(8)) is not an ISO 4217 currency of money")
            }
            guard (1...Self.syncedLinesMax).contains(posting.lines.count) else {
                throw AppError.invalid("the document has \(posting.lines.count) lines; the ledger posts 1 to \(Self.syncedLinesMax)")
            }
            // The accounts the lines name, read once: a document names a few, often the same one twice.
            let named = Set(posting.lines.compactMap { $0.accountId?.lowercased() })
            let held = Set(try await LedgerStore.accounts(tenantId: event.tenantId, ids: named.sorted(), forUpdate: false, db: db).map(\.id))
            var roles: [SystemRole: String] = [:]
            var lines: [LineRequest] = []
            for (index, line) in posting.lines.enumerated() {
                guard let amount = money.minorUnits(plainDecimal: line.amount), amount > 0 else {
                    throw AppError.invalid("line \(index + 1)'s amount '\(line.amount.prefix(40))' is not a positive amount in \(currency)")
                }
                guard let side = Side(rawValue: line.side) else { throw AppError.invalid("line \(index + 1)'s side is neither debit nor credit") }
                let accountId: String
                if let id = line.accountId?.lowercased() {
                    guard held.contains(id) else {
                        throw AppError(.rejected, code: "unknown-account", "line \(index + 1)'s account has not been synced into the chart")
                    }
                    accountId = id
                } else {
                    guard let role = line.role.flatMap(SystemRole.init(rawValue:)) else {
                        throw AppError(.rejected, code: "system-account-missing", "line \(index + 1) names neither an account nor a role of the ledger")
                    }
                    if roles[role] == nil {
                        roles[role] = try await LedgerStore.accountBySystemRole(tenantId: event.tenantId, role: role.rawValue, db: db)?.id
                    }
                    guard let account = roles[role] else {
                        throw AppError(.rejected, code: "system-account-missing", "line \(index + 1) needs the chart's \(role.rawValue) account, and it has none")
                    }
                    accountId = account
                }
                lines.append(LineRequest(accountId: accountId, side: side, amountMinor: amount, currency: currency,
                                         memo: line.description.map { String($0.prefix(LedgerLimits.descriptionLengthMax)) }))
            }
            var metadata = ["syncedDocumentId": documentId, "provider": String(event.provider.prefix(20)), "kind": String(event.kind.prefix(20)),
                            "externalId": String(event.externalId.prefix(100)), "connectionId": String(event.connectionId.prefix(64))]
            if let contact = posting.contact { metadata["contact"] = String(contact.prefix(200)) }
            let title = [event.kind.replacingOccurrences(of: "_", with: " ").capitalized, posting.number, posting.contact.map { "(\($0))" }]
                .compactMap { $0 }.joined(separator: " ")
            return try EntryRequest.validated(
                id: nil, date: posting.date, description: String(title.prefix(LedgerLimits.descriptionLengthMax)),
                reference: posting.number.map { String($0.prefix(LedgerLimits.referenceLengthMax)) }, metadata: metadata, lines: lines,
                source: .sync, sourceId: sourceId, mode: .post, timeoutSeconds: nil)
        }
    }

    /// Opens a synced account under its document id, or renames, recodes, archives or reopens it. Its type and
    /// currency are fixed once it is open (its entries were posted in them).
    private func keep(syncedAccount event: IntegrationSynced, on db: any SQLDatabase) async throws {
        let id = event.documentId.lowercased()
        let existing = try await LedgerStore.accounts(tenantId: event.tenantId, ids: [id], forUpdate: self.kind == .postgres, db: db).first
        do {
            guard let account = event.account, !event.deleted else {
                guard let existing, existing.status != AccountStatus.archived.rawValue else { return }
                return try await self.setSynced(existing, name: existing.name, code: existing.code, status: .archived, db: db)
            }
            var validator = Validator()
            AccountRules.checkName(account.name, field: "name", into: &validator)
            let type = AccountType(rawValue: account.type)
            if type == nil { validator.fail("type", "is not an account type") }
            if let currency = account.currency { validator.check(Currency(code: currency)?.exponent != nil, "currency", "is not an ISO 4217 currency of money") }
            try validator.throwIfInvalid()
            guard let type else { return }
            let code = try await self.syncedCode(account.code, documentId: id, tenantId: event.tenantId, keeping: existing, db: db)
            if let existing {
                let status: AccountStatus = account.active ? .active : .archived
                guard existing.name != account.name || existing.code != code || existing.status != status.rawValue else { return }
                return try await self.setSynced(existing, name: account.name, code: code, status: status, db: db)
            }
            _ = try await self.openAccount(
                tenantId: event.tenantId, id: id,
                account: ChartAccount(code, account.name, type, currency: account.currency), parentId: nil, db: db)
            if !account.active, let opened = try await LedgerStore.accounts(tenantId: event.tenantId, ids: [id], forUpdate: false, db: db).first {
                try await self.setSynced(opened, name: opened.name, code: opened.code, status: .archived, db: db)
            }
        } catch let error as AppError where error.kind != .unavailable {
            try await self.refuseSynced(event, key: "-", code: error.code, reason: error.message, on: db)
        }
    }

    /// The provider's code when it is a valid code no other account holds; else one made from the document id.
    private func syncedCode(_ wanted: String?, documentId: String, tenantId: String, keeping existing: AccountRow?, db: any SQLDatabase) async throws -> String {
        let fallback = "SYNC-" + documentId.replacingOccurrences(of: "-", with: "").prefix(12).uppercased()
        guard let wanted, !wanted.isEmpty else { return existing?.code ?? fallback }
        var validator = Validator()
        AccountRules.checkCode(wanted, field: "code", into: &validator)
        guard validator.errors.isEmpty else { return existing?.code ?? fallback }
        let holder = try await db.raw("SELECT id FROM accounts WHERE tenant_id = \(bind: tenantId) AND code = \(bind: wanted)")
            .first(decoding: IdOnly.self)
        return holder == nil || holder?.id == documentId ? wanted : existing?.code ?? fallback
    }

    private func setSynced(_ account: AccountRow, name: String, code: String, status: AccountStatus, db: any SQLDatabase) async throws {
        if status == .archived && account.system_role != nil {
            throw AppError.conflict(code: "system-account", "the ledger posts to this account; it cannot be archived")
        }
        try await db.raw("""
            UPDATE accounts SET name = \(bind: name), code = \(bind: code), status = \(bind: status.rawValue), updated_at_ms = \(bind: self.now)
            WHERE tenant_id = \(bind: account.tenant_id) AND id = \(bind: account.id)
            """).run()
        guard let changed = try await LedgerStore.accounts(tenantId: account.tenant_id, ids: [account.id], forUpdate: false, db: db).first else { return }
        try await self.announce(changed, on: db)
    }

    private func refuseSynced(_ event: IntegrationSynced, key: String, code: String, reason: String, on db: any SQLDatabase) async throws {
        try await self.outbox.enqueue(
            JournalEntryRejected(
                tenantId: event.tenantId, source: EntrySource.sync.rawValue,
                sourceId: "\(event.documentId.lowercased().prefix(64)):\(event.version.prefix(100)):\(key)", code: code, reason: reason),
            subject: event.documentId, tenantId: event.tenantId, on: db)
    }

    /// The most lines a synced document may post (integrations sends at most this many).
    static let syncedLinesMax = 500

    /// A short digest of what a document posts: equal content, equal key.
    static func contentKey(_ posting: IntegrationSynced.Posting) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = (try? encoder.encode(posting)) ?? Data()
        return String(Digest.sha256Hex(data).prefix(16))
    }
}

private struct IdOnly: Decodable { let id: String }
