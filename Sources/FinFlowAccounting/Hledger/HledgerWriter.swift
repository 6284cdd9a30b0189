import FinFlowCore
import Foundation

/// Writes the journal in hledger's journal format (https://hledger.org/hledger.html#journal): account directives
/// with their types, then every posted entry in date order. Amounts are in major units with the ISO code after
/// them, credits negative, so `hledger -f export.journal bs` prints the same statements FinFlow does.
struct HledgerWriter {
    let accounts: [String: AccountRow]
    private var names: [String: String] = [:]

    init(accounts: [AccountRow]) {
        self.accounts = Dictionary(uniqueKeysWithValues: accounts.map { ($0.id, $0) })
        for account in accounts { self.names[account.id] = self.path(of: account) }
    }

    /// The top-level hledger account of each type; hledger recognises these names.
    static func root(_ type: AccountType) -> String {
        switch type {
        case .asset: "assets"
        case .liability: "liabilities"
        case .equity: "equity"
        case .revenue: "revenues"
        case .expense: "expenses"
        }
    }

    static func typeLetter(_ account: AccountRow) -> String {
        if account.accountType == .asset && account.cash_flow_tag == CashFlowTag.cash.rawValue { return "C" }
        switch account.accountType {
        case .asset: return "A"
        case .liability: return "L"
        case .equity: return "E"
        case .revenue: return "R"
        case .expense: return "X"
        }
    }

    /// Text safe inside an hledger account name or description: no `:` (hierarchy), `;` (comment), tabs,
    /// newlines or double spaces (which end an account name).
    static func clean(_ text: String, colon: String = " -") -> String {
        var value = text.replacingOccurrences(of: ":", with: colon).replacingOccurrences(of: ";", with: ",")
        value = value.components(separatedBy: .whitespacesAndNewlines).filter { !$0.isEmpty }.joined(separator: " ")
        return value.isEmpty ? "-" : value
    }

    private func path(of account: AccountRow) -> String {
        var segments: [String] = []
        var cursor: AccountRow? = account
        var depth = 0
        while let current = cursor, depth < ChartBuilder.accountsMax {
            segments.insert(Self.clean("\(current.code) \(current.name)"), at: 0)
            cursor = current.parent_id.flatMap { self.accounts[$0] }
            depth += 1
        }
        return ([Self.root(account.accountType)] + segments).joined(separator: ":")
    }

    /// The hledger name of an account.
    func name(_ accountId: String) -> String { self.names[accountId] ?? "unknown:\(accountId)" }

    /// The header: a comment and the account directives.
    func header(tenantId: String, baseCurrency: String) -> String {
        var text = "; FinFlow journal of tenant \(tenantId), base currency \(baseCurrency)\n"
        text += "; amounts in major units, credits negative; one entry per transaction\n\n"
        for account in self.accounts.values.sorted(by: { self.name($0.id) < self.name($1.id) }) {
            text += "account \(self.name(account.id))  ; type: \(Self.typeLetter(account))\n"
        }
        return text + "\n"
    }

    /// One posted entry.
    func transaction(_ entry: EntryRow, lines: [LineRow], into text: inout String) {
        let code = entry.reference.map { " (\(Self.clean($0).replacingOccurrences(of: ")", with: "]").replacingOccurrences(of: "(", with: "[")))" } ?? ""
        text += "\(entry.accounting_date) *\(code) \(Self.clean(entry.description, colon: ":"))  ; entry:\(entry.id), source:\(entry.source)\n"
        for line in lines {
            let signed = line.debit_minor > 0 ? line.debit_minor : -line.credit_minor
            text += "    \(self.name(line.account_id))  \(CSVWriter.amount(signed, line.currency)) \(line.currency)"
            if let memo = line.memo { text += "  ; \(Self.clean(memo, colon: ":"))" }
            text += "\n"
        }
        text += "\n"
    }
}
