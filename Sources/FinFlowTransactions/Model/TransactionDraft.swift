import FinFlowCore
import Foundation

/// The other party of a transaction.
struct Counterparty: Sendable, Equatable {
    let name: String
    /// ISO 3166-1 alpha-2, upper case.
    let country: String?
    let accountNumber: String?

    /// The name as duplicate detection and the blocked list compare it: case, accents, punctuation and spacing ignored.
    static func key(_ name: String?) -> String {
        guard let name else { return "" }
        let folded = name.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
        return folded.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(String.init).joined()
    }
}

/// A transaction as a caller asked for it, every field checked: only valid drafts can be built.
struct TransactionDraft: Sendable {
    let id: String?
    let kind: TransactionKind
    let amountMinor: Int64
    let currency: String
    let valueDate: ValueDate
    let sourceAccountId: String
    let destinationAccountId: String
    let counterparty: Counterparty?
    let category: String?
    let description: String?
    let externalReference: String?
    let metadata: [String: String]
    let allowDuplicate: Bool
    /// Set for statement lines: what makes a line the same line when a statement is imported again.
    var importFingerprint: String?

    /// The reference as duplicate detection compares it.
    var referenceKey: String { (self.externalReference ?? "").lowercased().filter { !$0.isWhitespace } }

    /// A hash of what the caller asked for, to tell a replay of a client id from a reuse.
    var requestHash: String {
        let fields: [String] = [
            self.kind.rawValue, String(self.amountMinor), self.currency, self.valueDate.description, self.sourceAccountId,
            self.destinationAccountId, self.counterparty?.name ?? "", self.counterparty?.country ?? "",
            self.counterparty?.accountNumber ?? "", self.category ?? "", self.description ?? "", self.externalReference ?? "",
            self.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{1F}"),
        ]
        return Digest.sha256Hex(fields.joined(separator: "\u{1E}"))
    }

    /// Checks every field (names prefixed with `prefix`, as `transactions[2].`) and throws them all at once.
    static func validated(
        id: String?, kind: String, amountMinor: Int64, currency: String, valueDate: String, sourceAccountId: String,
        destinationAccountId: String, counterpartyName: String?, counterpartyCountry: String?, counterpartyAccount: String?,
        category: String?, description: String?, externalReference: String?, metadata: [String: String]?,
        allowDuplicate: Bool = false, prefix: String = ""
    ) throws -> TransactionDraft {
        typealias Bounds = TransactionLimitsBounds
        var validator = Validator()
        if let id { validator.check(UUID(uuidString: id) != nil, prefix + "id", "must be a UUID") }
        let parsedKind = TransactionKind(rawValue: kind)
        validator.check(parsedKind != nil, prefix + "kind", "must be one of \(TransactionKind.allCases.map(\.rawValue).joined(separator: ", "))")
        validator.check(amountMinor > 0, prefix + "amount", "must be a positive number of minor units")
        validator.check(amountMinor <= Bounds.amountMinorMax, prefix + "amount", "must be at most \(Bounds.amountMinorMax) minor units")
        let parsedCurrency = Currency(code: currency.uppercased())
        validator.check(parsedCurrency != nil, prefix + "currency", "is not an ISO 4217 currency code")
        let date = ValueDate(valueDate)
        validator.check(date != nil, prefix + "valueDate", "must be a date YYYY-MM-DD between \(ValueDate.yearRange.lowerBound) and \(ValueDate.yearRange.upperBound)")
        for (field, value) in [("sourceAccountId", sourceAccountId), ("destinationAccountId", destinationAccountId)] {
            validator.check(UUID(uuidString: value) != nil, prefix + field, "must be an account id (UUID)")
        }
        validator.check(sourceAccountId.lowercased() != destinationAccountId.lowercased(), prefix + "destinationAccountId", "must differ from sourceAccountId")
        func text(_ value: String?, _ field: String, _ max: Int) -> String? {
            guard let value else { return nil }
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            validator.check(!trimmed.isEmpty && trimmed.count <= max, prefix + field, "must be 1–\(max) characters")
            validator.check(!trimmed.unicodeScalars.contains { $0.properties.generalCategory == .control }, prefix + field, "must not hold control characters")
            return trimmed.isEmpty ? nil : trimmed
        }
        let name = text(counterpartyName, "counterparty.name", Bounds.counterpartyLengthMax)
        var country: String?
        if let counterpartyCountry {
            country = counterpartyCountry.uppercased()
            validator.check(
                counterpartyCountry.count == 2 && counterpartyCountry.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("a"..."z").contains($0) },
                prefix + "counterparty.country", "must be an ISO 3166-1 alpha-2 code")
        }
        let account = text(counterpartyAccount, "counterparty.accountNumber", Bounds.counterpartyAccountLengthMax)
        let metadata = metadata ?? [:]
        validator.check(metadata.count <= Bounds.metadataKeysMax, prefix + "metadata", "must hold at most \(Bounds.metadataKeysMax) keys")
        for (key, value) in metadata {
            validator.check((1...Bounds.metadataKeyLengthMax).contains(key.count), prefix + "metadata", "keys must be 1–\(Bounds.metadataKeyLengthMax) characters")
            validator.check(value.count <= Bounds.metadataValueLengthMax, prefix + "metadata.\(key.prefix(Bounds.metadataKeyLengthMax))", "must be at most \(Bounds.metadataValueLengthMax) characters")
            validator.check(!(key + value).contains("\u{0}"), prefix + "metadata", "must not hold NUL characters")
        }
        let draftCategory = text(category, "category", Bounds.categoryLengthMax)
        let draftDescription = text(description, "description", Bounds.descriptionLengthMax)
        let reference = text(externalReference, "externalReference", Bounds.referenceLengthMax)
        try validator.throwIfInvalid()
        return TransactionDraft(
            id: id?.lowercased(), kind: parsedKind!, amountMinor: amountMinor, currency: parsedCurrency!.code, valueDate: date!,
            sourceAccountId: sourceAccountId.lowercased(), destinationAccountId: destinationAccountId.lowercased(),
            counterparty: name.map { Counterparty(name: $0, country: country, accountNumber: account) }, category: draftCategory,
            description: draftDescription, externalReference: reference, metadata: metadata, allowDuplicate: allowDuplicate,
            importFingerprint: nil)
    }
}
