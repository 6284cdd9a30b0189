import FinFlowCore
import Foundation
import SQLKit

/// A suspicious-activity report drawn from a case: who, which transactions and screenings, why (the narrative and the
/// alerts), and who files it. Exported as JSON and as goAML XML, the reporting format of the UN's goAML system that
/// many financial intelligence units receive.
struct SuspiciousActivityReport: Codable, Sendable {
    struct Filer: Codable, Sendable {
        let name: String
        let email: String
        let role: String?
    }

    struct Subject: Codable, Sendable, Hashable {
        let type: String
        let reference: String
        let names: [String]
        let country: String?
    }

    struct Decision: Codable, Sendable {
        let decisionId: String
        let scenarioId: String
        let outcome: String
        let score: Int
        let rulesHit: [String]
    }

    struct Transaction: Codable, Sendable {
        let id: String
        let eventType: String
        let date: String
        let kind: String?
        let status: String?
        /// The amount in major units, as a decimal text (`1500.00`).
        let amount: String
        let currency: String
        let sourceAccount: String?
        let destinationAccount: String?
        let counterparty: String?
        let counterpartyCountry: String?
        let customer: String?
        let gateway: String?
        let decisions: [Decision]
    }

    struct ScreeningMatch: Codable, Sendable {
        let list: String
        let reference: String
        let names: [String]
        let score: Double
    }

    struct Screening: Codable, Sendable {
        let id: String
        let names: [String]
        let matches: [ScreeningMatch]
    }

    struct Alert: Codable, Sendable {
        let id: String
        let kind: String
        let severity: String
        let reason: String
        let raisedAt: String
    }

    struct TimelineEntry: Codable, Sendable {
        let at: String
        let kind: String
        let actor: String
        let text: String?
        let reference: String?
    }

    let reportCode: String
    let caseId: String
    let caseTitle: String
    let caseStatus: String
    let caseOutcome: String?
    let generatedAt: String
    let reportingEntityId: String?
    let filer: Filer
    let narrative: String
    let subjects: [Subject]
    let transactions: [Transaction]
    let screenings: [Screening]
    let alerts: [Alert]
    let timeline: [TimelineEntry]

    static func instant(_ millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(unixMillis: millis))
    }

    /// `minor` units of `currency` as a decimal text with the currency's digits.
    static func amount(_ minor: Int64, currency: String) -> String {
        let digits = Currency(code: currency)?.exponent ?? 0
        let factor = MonitoredEvent.minorUnitsPerMajor(currency)
        let whole = minor / factor
        let fraction = (minor % factor).magnitude
        guard digits > 0 else { return String(minor) }
        let sign = minor < 0 && whole == 0 ? "-" : ""
        return sign + String(whole) + "." + String(repeating: "0", count: max(0, digits - String(fraction).count)) + String(fraction)
    }
}

/// What a report request gives besides the case.
struct ReportRequest: Sendable {
    var format: String
    var reportCode: String
    var narrative: String
    var filer: SuspiciousActivityReport.Filer
    var reportingEntityId: String?
    var localCurrency: String?
    /// Units of the local currency per unit of another currency, for amounts in goAML's `amount_local`.
    var exchangeRates: [String: Decimal]
    var transmodeCode: String
}

extension ComplianceDesk {
    static let narrativeLengthMax = 20_000

    /// The report of a case, recorded on its timeline (with the document's SHA-256) and audited; answers the document
    /// and its content type.
    func report(caseId: String, request: ReportRequest, principal: Principal) async throws -> (body: String, contentType: String) {
        let tenantId = principal.tenantId
        let report = try await self.database.tenantRead(tenantId: tenantId) { db in
            guard let record = try await Self.caseRecord(caseId, tenantId: tenantId, db: db) else { throw AppError.notFound("case") }
            return try await self.sar(record, request: request, tenantId: tenantId, db: db)
        }
        let body: String
        let contentType: String
        if request.format == "goaml" {
            body = try GoAMLWriter.xml(report, request: request)
            contentType = "application/xml"
        } else {
            body = Self.json(report)
            contentType = "application/json"
        }
        try await self.database.tenantTransaction(tenantId: tenantId) { db in
            try await self.note(
                caseId, kind: "report", text: "\(request.reportCode) as \(request.format) for \(request.reportingEntityId ?? "no reporting entity")",
                sha256: Digest.sha256Hex(body), principal: principal, db: db)
            try await self.env.audit.append(
                AuditEntry(tenantId: tenantId, actorId: principal.subject, action: "compliance.case.reported", target: caseId,
                           details: ["format": request.format, "sha256": Digest.sha256Hex(body)]),
                on: db, kind: self.database.kind)
        }
        return (body, contentType)
    }

    /// The report's content from the case's alerts: the decisions and the events behind them, the screenings and their matches.
    func sar(_ record: CaseRecord, request: ReportRequest, tenantId: String, db: any SQLDatabase) async throws -> SuspiciousActivityReport {
        var transactions: [SuspiciousActivityReport.Transaction] = []
        var screenings: [SuspiciousActivityReport.Screening] = []
        var subjects: [SuspiciousActivityReport.Subject] = []
        var decisionsByEvent: [String: [DecisionRow]] = [:]
        var eventOrder: [String] = []
        for alert in record.alerts {
            switch alert.source_type {
            case "decision":
                guard let decision = try await db.select().column("*").from("monitoring_decisions").where("tenant_id", .equal, tenantId)
                    .where("id", .equal, alert.source_id).first(decoding: DecisionRow.self)
                else { throw InvariantViolation("alert \(alert.id) names a missing decision") }
                if decisionsByEvent[decision.event_id] == nil { eventOrder.append(decision.event_id) }
                decisionsByEvent[decision.event_id, default: []].append(decision)
            case "screening":
                guard let (row, matches) = try await ComplianceStore.screening(tenantId: tenantId, id: alert.source_id, db: db) else {
                    throw InvariantViolation("alert \(alert.id) names a missing screening")
                }
                let names = try ComplianceAPI.decoded([String].self, row.names, "names of screening \(row.id)")
                screenings.append(.init(id: row.id, names: names, matches: try matches.map { match in
                    let explanation = try ComplianceAPI.decoded(MatchExplanation.self, match.explanation, "match explanation of screening \(row.id)")
                    return .init(list: explanation.listName, reference: explanation.reference, names: explanation.entryNames, score: match.score)
                }))
                subjects.append(.init(type: row.subject_type, reference: row.subject_ref ?? row.id, names: names, country: row.country))
            default:
                break
            }
        }
        for eventId in eventOrder {
            guard let stored = try await db.raw("SELECT * FROM monitored_events WHERE tenant_id = \(bind: tenantId) AND id = \(bind: eventId)")
                .first(decoding: MonitoredEventRow.self)
            else { throw InvariantViolation("decision names a missing event \(eventId)") }
            let event = try stored.event()
            let decisions = try (decisionsByEvent[eventId] ?? []).map { decision in
                let rules = try ComplianceAPI.decoded([RuleResult].self, decision.rules, "rule results of decision \(decision.id)")
                return SuspiciousActivityReport.Decision(
                    decisionId: decision.id, scenarioId: decision.scenario_id, outcome: decision.outcome, score: decision.score,
                    rulesHit: rules.filter { $0.result == "hit" }.map(\.rule))
            }
            let currency = event.currency ?? ""
            transactions.append(.init(
                id: event.subjectId, eventType: event.type.rawValue, date: SuspiciousActivityReport.instant(event.atMillis), kind: event.kind,
                status: event.status, amount: SuspiciousActivityReport.amount(event.amountMinor ?? 0, currency: currency), currency: currency,
                sourceAccount: event.sourceAccount, destinationAccount: event.destinationAccount,
                counterparty: event.counterpartyName ?? event.counterparty, counterpartyCountry: event.counterpartyCountry, customer: event.customer,
                gateway: event.gateway, decisions: decisions))
            if let name = event.counterpartyName ?? event.counterparty {
                subjects.append(.init(type: "counterparty", reference: event.counterparty ?? name, names: [name], country: event.counterpartyCountry))
            } else if let customer = event.customer {
                subjects.append(.init(type: "customer", reference: customer, names: [], country: nil))
            }
        }
        var seen = Set<SuspiciousActivityReport.Subject>()
        return SuspiciousActivityReport(
            reportCode: request.reportCode, caseId: record.row.id, caseTitle: record.row.title, caseStatus: record.row.status,
            caseOutcome: record.row.outcome, generatedAt: SuspiciousActivityReport.instant(self.now), reportingEntityId: request.reportingEntityId,
            filer: request.filer, narrative: request.narrative, subjects: subjects.filter { seen.insert($0).inserted },
            transactions: transactions, screenings: screenings,
            alerts: record.alerts.map { .init(id: $0.id, kind: $0.kind, severity: $0.severity, reason: $0.reason, raisedAt: SuspiciousActivityReport.instant($0.created_at_ms)) },
            timeline: record.timeline.map { .init(at: SuspiciousActivityReport.instant($0.created_at_ms), kind: $0.kind, actor: $0.actor, text: $0.text, reference: $0.reference) })
    }
}

/// Writes a report in goAML's XML shape: `report` with the reporting entity, submission and report codes, the
/// reporting person, the reason (the narrative), the action taken, one `transaction` per transaction (amounts in the
/// local currency, converted at the rates given), and the indicators (the rules that hit).
enum GoAMLWriter {
    static func xml(_ report: SuspiciousActivityReport, request: ReportRequest) throws -> String {
        guard let entity = request.reportingEntityId else {
            throw AppError.validation([.init(field: "reportingEntityId", message: "is required for goAML: the reporting entity's id at the FIU")])
        }
        let local = request.localCurrency ?? report.transactions.first?.currency ?? "USD"
        var faults = Validator()
        for (index, transaction) in report.transactions.enumerated() where transaction.currency != local && request.exchangeRates[transaction.currency] == nil {
            faults.fail("exchangeRates", "needs the rate of \(transaction.currency) to \(local) for transaction \(index + 1) (\(transaction.id))")
        }
        try faults.throwIfInvalid()
        let names = report.filer.name.split(separator: " ", maxSplits: 1).map(String.init)
        var xml = XMLText()
        xml.open("report")
        xml.element("rentity_id", entity)
        xml.element("submission_code", "E")
        xml.element("report_code", request.reportCode)
        xml.element("entity_reference", report.caseId)
        xml.element("submission_date", String(report.generatedAt.prefix(19)))
        xml.element("currency_code_local", local)
        xml.open("reporting_person")
        xml.element("first_name", names.first ?? report.filer.name)
        xml.element("last_name", names.count > 1 ? names[1] : "")
        xml.element("email", report.filer.email)
        if let role = report.filer.role { xml.element("occupation", role) }
        xml.close("reporting_person")
        xml.element("reason", report.narrative)
        xml.element("action", "Case \(report.caseId) (\(report.caseTitle)): \(report.caseStatus)" + (report.caseOutcome.map { ", \($0)" } ?? "")
            + "; \(report.alerts.count) alerts")
        for transaction in report.transactions {
            xml.open("transaction")
            xml.element("transactionnumber", transaction.id)
            xml.element("internal_ref_number", transaction.decisions.first?.decisionId ?? transaction.id)
            xml.element("transaction_description", [transaction.kind, transaction.status].compactMap { $0 }.joined(separator: ", "))
            xml.element("date_transaction", String(transaction.date.prefix(19)))
            xml.element("transmode_code", request.transmodeCode)
            let amount = Decimal(string: transaction.amount) ?? 0
            let rate = transaction.currency == local ? 1 : request.exchangeRates[transaction.currency] ?? 1
            xml.element("amount_local", Self.decimalText(amount * rate))
            xml.open("t_from_my_client")
            xml.element("from_funds_code", "K")
            if transaction.currency != local {
                xml.open("from_foreign_currency")
                xml.element("foreign_currency_code", transaction.currency)
                xml.element("foreign_amount", transaction.amount)
                xml.element("foreign_exchange_rate", Self.decimalText(rate))
                xml.close("from_foreign_currency")
            }
            xml.open("from_account")
            xml.element("account", transaction.sourceAccount ?? transaction.customer ?? "unknown")
            xml.close("from_account")
            xml.close("t_from_my_client")
            xml.open("t_to")
            xml.element("to_funds_code", "K")
            xml.open("to_entity")
            xml.element("name", transaction.counterparty ?? transaction.destinationAccount ?? "unknown")
            if let country = transaction.counterpartyCountry { xml.element("incorporation_country_code", country) }
            xml.close("to_entity")
            if let country = transaction.counterpartyCountry { xml.element("to_country", country) }
            xml.close("t_to")
            xml.close("transaction")
        }
        let indicators = Array(Set(report.transactions.flatMap { $0.decisions.flatMap(\.rulesHit) } + (report.screenings.isEmpty ? [] : ["sanctions-list-match"]))).sorted()
        if !indicators.isEmpty {
            xml.open("report_indicators")
            for indicator in indicators { xml.element("indicator", indicator) }
            xml.close("report_indicators")
        }
        xml.close("report")
        return xml.text
    }

    static func decimalText(_ value: Decimal) -> String {
        var value = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &value, 2, .bankers)
        return NSDecimalNumber(decimal: rounded).stringValue
    }
}

/// XML text built element by element, indented, with text escaped and characters XML 1.0 cannot hold left out.
struct XMLText {
    private(set) var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    private var depth = 0

    mutating func open(_ name: String) {
        self.text += String(repeating: "  ", count: self.depth) + "<\(name)>\n"
        self.depth += 1
    }

    mutating func close(_ name: String) {
        self.depth -= 1
        self.text += String(repeating: "  ", count: self.depth) + "</\(name)>\n"
    }

    mutating func element(_ name: String, _ value: String) {
        self.text += String(repeating: "  ", count: self.depth) + "<\(name)>\(Self.escaped(value))</\(name)>\n"
    }

    static func escaped(_ value: String) -> String {
        var result = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            case "\t", "\n", "\r": result.unicodeScalars.append(scalar)
            default:
                // XML 1.0 allows no other control characters, nor the non-characters U+FFFE and U+FFFF.
                if scalar.value >= 0x20 && scalar.value != 0xFFFE && scalar.value != 0xFFFF { result.unicodeScalars.append(scalar) }
            }
        }
        return result
    }
}
