import FinFlowCore
import Foundation

/// The bounds of what one request may ask of the ledger.
enum LedgerLimits {
    /// Lines in one journal entry.
    static let linesPerEntryMax = 200
    /// Entries posted all-or-nothing in one batch request.
    static let batchEntriesMax = 500
    /// Keys in an entry's metadata.
    static let metadataKeysMax = 32
    static let descriptionLengthMax = 500
    static let referenceLengthMax = 200
    static let metadataValueLengthMax = 500
    /// The longest a pending entry may wait before it expires.
    static let pendingTimeoutSecondsMax: Int64 = 90 * 24 * 3600
    /// The largest line amount, and the largest an account's posted or pending debits or credits may grow: 10^15
    /// minor units (ten trillion in a two-decimal currency). With at most `accountsPerTenantMax` accounts, every
    /// report total stays far inside Int64.
    static let amountMinorMax: Int64 = 1_000_000_000_000_000
    /// Accounts one tenant's chart may hold.
    static let accountsPerTenantMax = 5000
    /// Rows per multi-row INSERT, well under both engines' bound-parameter limits.
    static let insertChunkRows = 1000
}

/// One line a caller asks to post: a debit or a credit of a positive amount to an account.
struct LineRequest: Sendable, Hashable {
    let accountId: String
    let side: Side
    let amountMinor: Int64
    /// Optional currency the caller expects the account to keep; a mismatch is refused.
    let currency: String?
    let memo: String?
}

/// How an entry enters the ledger.
enum PostingMode: String, Sendable {
    /// Into the books now.
    case post
    /// Saved, no effect on balances.
    case draft
    /// First phase: amounts reserved in pending balances until posted, voided or expired.
    case pending
}

/// A journal entry as a caller asks for it, validated in shape (the ledger checks it against the accounts).
struct EntryRequest: Sendable {
    let id: String?
    let date: LedgerDate
    let description: String
    let reference: String?
    let metadata: [String: String]
    let lines: [LineRequest]
    let source: EntrySource
    let sourceId: String?
    let mode: PostingMode
    let timeoutSeconds: Int64?

    /// Checks the entry's shape; every problem is named with its field under `prefix` (`entries[3].`).
    static func validated(
        id: String?, date: String, description: String, reference: String?, metadata: [String: String]?,
        lines: [LineRequest], source: EntrySource, sourceId: String? = nil, mode: PostingMode,
        timeoutSeconds: Int64?, prefix: String = ""
    ) throws -> EntryRequest {
        var validator = Validator()
        if let id { validator.check(UUID(uuidString: id) != nil, prefix + "id", "must be a UUID") }
        let parsedDate = LedgerDate.parse(date, field: prefix + "date", into: &validator)
        validator.check(!description.trimmingCharacters(in: .whitespaces).isEmpty, prefix + "description", "must not be empty")
        validator.check(description.count <= LedgerLimits.descriptionLengthMax, prefix + "description",
                        "must be at most \(LedgerLimits.descriptionLengthMax) characters")
        if let reference {
            validator.check(reference.count <= LedgerLimits.referenceLengthMax, prefix + "reference",
                            "must be at most \(LedgerLimits.referenceLengthMax) characters")
        }
        let metadata = metadata ?? [:]
        validator.check(metadata.count <= LedgerLimits.metadataKeysMax, prefix + "metadata",
                        "must have at most \(LedgerLimits.metadataKeysMax) keys")
        for (key, value) in metadata where key.isEmpty || key.count > 64 || value.count > LedgerLimits.metadataValueLengthMax {
            validator.fail(prefix + "metadata.\(key.prefix(64))", "keys are 1–64 characters, values at most \(LedgerLimits.metadataValueLengthMax)")
        }
        validator.check((2...LedgerLimits.linesPerEntryMax).contains(lines.count), prefix + "lines",
                        "must have 2–\(LedgerLimits.linesPerEntryMax) lines")
        for (index, line) in lines.enumerated() {
            let field = prefix + "lines[\(index)]"
            validator.check(UUID(uuidString: line.accountId) != nil, field + ".accountId", "must be a UUID")
            validator.check(line.amountMinor > 0, field + ".amount", "must be a positive number of minor units")
            validator.check(line.amountMinor <= LedgerLimits.amountMinorMax, field + ".amount", "must be at most \(LedgerLimits.amountMinorMax) minor units")
            if let currency = line.currency { validator.check(Currency(code: currency) != nil, field + ".currency", "is not an ISO 4217 code") }
            if let memo = line.memo { validator.check(memo.count <= LedgerLimits.referenceLengthMax, field + ".memo", "is too long") }
        }
        if mode == .pending {
            if let timeoutSeconds {
                validator.check((1...LedgerLimits.pendingTimeoutSecondsMax).contains(timeoutSeconds), prefix + "timeoutSeconds",
                                "must be 1–\(LedgerLimits.pendingTimeoutSecondsMax)")
            }
        } else {
            validator.check(timeoutSeconds == nil, prefix + "timeoutSeconds", "applies to pending entries only")
        }
        try validator.throwIfInvalid()
        return EntryRequest(
            id: id?.lowercased(), date: parsedDate!, description: description, reference: reference, metadata: metadata,
            lines: lines, source: source, sourceId: sourceId, mode: mode, timeoutSeconds: timeoutSeconds)
    }

    /// A digest of everything the entry says, to tell a retry of the same request from a different one that
    /// reuses its id.
    var fingerprint: String {
        // Every field is length-prefixed, so no content can pass for another's by holding a separator.
        var text = ""
        func field(_ value: String) { text += "\(value.utf8.count):\(value)|" }
        field(self.date.description); field(self.description); field(self.reference ?? ""); field(self.source.rawValue)
        field(self.mode.rawValue); field(self.timeoutSeconds.map(String.init) ?? "")
        field(String(self.metadata.count))
        for key in self.metadata.keys.sorted() { field(key); field(self.metadata[key]!) }
        field(String(self.lines.count))
        for line in self.lines {
            field(line.accountId.lowercased()); field(line.side.rawValue); field(String(line.amountMinor)); field(line.currency ?? "")
            field(line.memo ?? "")
        }
        return Digest.sha256Hex(text)
    }
}
