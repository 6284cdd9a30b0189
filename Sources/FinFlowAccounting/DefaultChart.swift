import FinFlowCore
import Foundation

/// Accounts the ledger itself needs to find: where year-end close, payments and revaluation post.
enum SystemRole: String, Sendable, CaseIterable {
    case retainedEarnings = "retained_earnings"
    case receivables
    case payables
    case paymentClearing = "payment_clearing"
    case paymentFees = "payment_fees"
    case salesTax = "sales_tax"
    case revenue
    case fxGainLoss = "fx_gain_loss"
    /// The bank account loans are paid out from.
    case disbursement
    case loansReceivable = "loans_receivable"
    case loanFeeIncome = "loan_fee_income"
    /// Customer deposits: money received from customers that no open invoice took (overpayments, payments naming a
    /// paid, void or unknown invoice), owed back or kept for a later invoice.
    case customerCredit = "customer_credit"
    /// Tax on vendor bills that can be reclaimed (input VAT), an asset until the tax return offsets it.
    case inputTax = "input_tax"
}

/// One account of a chart as written by hand or imported: its parent named by code.
struct ChartAccount: Sendable {
    let code: String
    let name: String
    let type: AccountType
    let contra: Bool
    let parentCode: String?
    let currency: String?
    let cashFlowTag: CashFlowTag?
    let balanceConstraint: BalanceConstraint
    let systemRole: SystemRole?

    init(
        _ code: String, _ name: String, _ type: AccountType, contra: Bool = false, parent: String? = nil,
        currency: String? = nil, tag: CashFlowTag? = nil, constraint: BalanceConstraint = .none, role: SystemRole? = nil
    ) {
        self.code = code
        self.name = name
        self.type = type
        self.contra = contra
        self.parentCode = parent
        self.currency = currency
        self.cashFlowTag = tag
        self.balanceConstraint = constraint
        self.systemRole = role
    }
}

/// The chart a new tenant starts with: a small business's accounts, numbered by the usual convention (1 assets,
/// 2 liabilities, 3 equity, 4 revenue, 5–6 expenses), grouped under header accounts, tagged for the cash-flow
/// statement.
enum DefaultChart {
    static let accounts: [ChartAccount] = [
        ChartAccount("1000", "Current assets", .asset, tag: .operating),
        ChartAccount("1010", "Cash on hand", .asset, parent: "1000", tag: .cash),
        ChartAccount("1020", "Bank: operating account", .asset, parent: "1000", tag: .cash, role: .disbursement),
        ChartAccount("1030", "Payment processor balance", .asset, parent: "1000", tag: .cash, role: .paymentClearing),
        ChartAccount("1100", "Accounts receivable", .asset, parent: "1000", tag: .operating, role: .receivables),
        ChartAccount("1200", "Inventory", .asset, parent: "1000", tag: .operating),
        ChartAccount("1300", "Prepaid expenses", .asset, parent: "1000", tag: .operating),
        ChartAccount("1350", "Input tax recoverable", .asset, parent: "1000", tag: .operating, role: .inputTax),
        ChartAccount("1400", "Loans receivable", .asset, parent: "1000", tag: .investing, role: .loansReceivable),
        ChartAccount("1500", "Fixed assets", .asset, tag: .investing),
        ChartAccount("1510", "Equipment", .asset, parent: "1500", tag: .investing),
        ChartAccount("1590", "Accumulated depreciation", .asset, contra: true, parent: "1500", tag: .noncash),
        ChartAccount("2000", "Current liabilities", .liability, tag: .operating),
        ChartAccount("2010", "Accounts payable", .liability, parent: "2000", tag: .operating, role: .payables),
        ChartAccount("2100", "Accrued liabilities", .liability, parent: "2000", tag: .operating),
        ChartAccount("2200", "Sales tax payable", .liability, parent: "2000", tag: .operating, role: .salesTax),
        ChartAccount("2300", "Payroll liabilities", .liability, parent: "2000", tag: .operating),
        ChartAccount("2400", "Customer deposits", .liability, parent: "2000", tag: .operating, role: .customerCredit),
        ChartAccount("2500", "Loans payable", .liability, tag: .financing),
        ChartAccount("3000", "Owner's capital", .equity, tag: .financing),
        ChartAccount("3100", "Owner's drawings", .equity, contra: true, tag: .financing),
        ChartAccount("3200", "Retained earnings", .equity, role: .retainedEarnings),
        ChartAccount("4000", "Sales revenue", .revenue, role: .revenue),
        ChartAccount("4100", "Service revenue", .revenue),
        ChartAccount("4500", "Sales returns and discounts", .revenue, contra: true),
        ChartAccount("4300", "Loan fee income", .revenue, role: .loanFeeIncome),
        ChartAccount("4900", "Other income", .revenue),
        ChartAccount("5000", "Cost of goods sold", .expense),
        ChartAccount("6000", "Salaries and wages", .expense),
        ChartAccount("6100", "Rent", .expense),
        ChartAccount("6150", "Payment processing fees", .expense, role: .paymentFees),
        ChartAccount("6200", "Utilities", .expense),
        ChartAccount("6300", "Office supplies", .expense),
        ChartAccount("6400", "Depreciation", .expense),
        ChartAccount("6500", "Interest expense", .expense),
        ChartAccount("6600", "Bank charges", .expense),
        ChartAccount("6900", "Foreign exchange gains and losses", .expense, role: .fxGainLoss),
    ]

    /// The default chart as rows for `tenantId`, every account in `currency`.
    static func accounts(tenantId: String, currency: String, ids: IdentifierGenerator, nowMillis: Int64) throws -> [AccountRow] {
        try ChartBuilder.rows(self.accounts, tenantId: tenantId, baseCurrency: currency, ids: ids, nowMillis: nowMillis)
    }
}

/// Turns a chart written with parent codes into account rows, checking what a chart must satisfy.
enum ChartBuilder {
    /// Accounts one chart may hold.
    static let accountsMax = 2000

    static func rows(
        _ chart: [ChartAccount], tenantId: String, baseCurrency: String, ids: IdentifierGenerator, nowMillis: Int64
    ) throws -> [AccountRow] {
        var validator = Validator()
        validator.check(chart.count <= Self.accountsMax, "accounts", "must hold at most \(Self.accountsMax) accounts")
        var idsByCode: [String: String] = [:]
        var seenRoles: Set<SystemRole> = []
        for (index, account) in chart.enumerated() {
            let field = "accounts[\(index)]"
            AccountRules.checkCode(account.code, field: field + ".code", into: &validator)
            AccountRules.checkName(account.name, field: field + ".name", into: &validator)
            if idsByCode[account.code] != nil { validator.fail(field + ".code", "appears twice") }
            idsByCode[account.code] = ids.nextString()
            if let currency = account.currency, Currency(code: currency) == nil {
                validator.fail(field + ".currency", "is not an ISO 4217 code")
            }
            if let role = account.systemRole {
                if seenRoles.contains(role) { validator.fail(field + ".systemRole", "is given to two accounts") }
                seenRoles.insert(role)
            }
        }
        let byCode = Dictionary(chart.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        for (index, account) in chart.enumerated() {
            guard let parentCode = account.parentCode else { continue }
            let field = "accounts[\(index)].parentCode"
            guard let parent = byCode[parentCode] else { validator.fail(field, "names no account of the chart"); continue }
            if parent.type != account.type { validator.fail(field, "must be an account of the same type") }
            if (parent.currency ?? baseCurrency) != (account.currency ?? baseCurrency) {
                validator.fail(field, "must be an account of the same currency")
            }
            var seen: Set<String> = [account.code]
            var cursor = parent
            while true {
                if seen.contains(cursor.code) { validator.fail(field, "makes a cycle"); break }
                seen.insert(cursor.code)
                guard let next = cursor.parentCode.flatMap({ byCode[$0] }) else { break }
                cursor = next
            }
        }
        try validator.throwIfInvalid()
        return chart.map { account in
            AccountRow(
                id: idsByCode[account.code]!, tenant_id: tenantId, code: account.code, name: account.name,
                type: account.type.rawValue, contra: account.contra ? 1 : 0,
                normal_side: (account.contra ? account.type.naturalSide.opposite : account.type.naturalSide).rawValue,
                parent_id: account.parentCode.flatMap { idsByCode[$0] }, currency: account.currency ?? baseCurrency,
                cash_flow_tag: account.cashFlowTag?.rawValue, balance_constraint: account.balanceConstraint.rawValue,
                status: AccountStatus.active.rawValue, system_role: account.systemRole?.rawValue,
                posted_debits_minor: 0, posted_credits_minor: 0, pending_debits_minor: 0, pending_credits_minor: 0,
                created_at_ms: nowMillis, updated_at_ms: nowMillis)
        }
    }
}

/// The rules every account code and name follows.
enum AccountRules {
    static func checkCode(_ code: String, field: String, into validator: inout Validator) {
        let allowed = code.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-._".unicodeScalars.contains($0)) }
        validator.check((1...20).contains(code.count) && allowed, field, "must be 1–20 letters, digits, '.', '-' or '_'")
    }

    static func checkName(_ name: String, field: String, into validator: inout Validator) {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        validator.check(!trimmed.isEmpty && name.count <= 120 && !name.contains(where: \.isNewline), field,
                        "must be 1–120 characters on one line")
    }
}
