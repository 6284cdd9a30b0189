import FinFlowCore
import Foundation
import SQLKit

/// A tenant's ledger settings.
struct LedgerRow: Codable, Sendable {
    let tenant_id: String
    let base_currency: String
    let fiscal_year_start_month: Int
    let approval_threshold_minor: Int64?
    let created_at_ms: Int64
    let updated_at_ms: Int64
    /// 1 while a connection pushes the tenant's ledger to a provider's books: each posted entry is then shared.
    let books_pushed: Int?
}

/// An account with its running totals.
struct AccountRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let code: String
    let name: String
    let type: String
    let contra: Int
    let normal_side: String
    let parent_id: String?
    let currency: String
    let cash_flow_tag: String?
    let balance_constraint: String
    let status: String
    let system_role: String?
    var posted_debits_minor: Int64
    var posted_credits_minor: Int64
    var pending_debits_minor: Int64
    var pending_credits_minor: Int64
    let created_at_ms: Int64
    let updated_at_ms: Int64

    var accountType: AccountType { AccountType(rawValue: self.type) ?? .asset }
    var normalSide: Side { Side(rawValue: self.normal_side) ?? .debit }
    var constraint: BalanceConstraint { BalanceConstraint(rawValue: self.balance_constraint) ?? .none }
    var isActive: Bool { self.status == AccountStatus.active.rawValue }

    /// Posted balance, positive on the account's normal side.
    var postedBalanceMinor: Int64 {
        self.normalSide == .debit ? self.posted_debits_minor &- self.posted_credits_minor
            : self.posted_credits_minor &- self.posted_debits_minor
    }

    static let columns = """
        id, tenant_id, code, name, type, contra, normal_side, parent_id, currency, cash_flow_tag, balance_constraint,
        status, system_role, posted_debits_minor, posted_credits_minor, pending_debits_minor, pending_credits_minor,
        created_at_ms, updated_at_ms
        """
}

/// A journal entry's header.
struct EntryRow: Codable, Sendable {
    let id: String
    let tenant_id: String
    let status: String
    let source: String
    let source_id: String?
    let accounting_date: String
    let description: String
    let reference: String?
    let metadata: String
    let request_hash: String
    let reverses_id: String?
    let reversed_by_id: String?
    let pending_id: String?
    let resolved_by_id: String?
    let timeout_at_ms: Int64?
    let batch_id: String?
    let created_by: String?
    let approved_by: String?
    let created_at_ms: Int64
    let posted_at_ms: Int64?
    let resolved_at_ms: Int64?

    var entryStatus: EntryStatus { EntryStatus(rawValue: self.status) ?? .draft }

    var metadataDictionary: [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(self.metadata.utf8))) ?? [:]
    }
}

/// One line of an entry.
struct LineRow: Codable, Sendable {
    let entry_id: String
    let line_no: Int
    let tenant_id: String
    let account_id: String
    let state: String
    let source: String
    let accounting_date: String
    let posted_at_ms: Int64
    let debit_minor: Int64
    let credit_minor: Int64
    let currency: String
    let memo: String?

    var side: Side { self.debit_minor > 0 ? .debit : .credit }
    var amountMinor: Int64 { self.debit_minor > 0 ? self.debit_minor : self.credit_minor }
}

/// An entry with its lines, as the ledger returns it.
struct EntryRecord: Sendable {
    let entry: EntryRow
    let lines: [LineRow]
}
