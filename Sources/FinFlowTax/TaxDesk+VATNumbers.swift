import FinFlowCore
import Foundation
import SQLKit

extension TaxDesk {
    /// What is known of `number` today: its form and check digits, then VIES (asked at most once per number and day
    /// while it answers; a "not confirmed" is asked again next time).
    func checkVATNumber(_ text: String, tenantId: String) async throws -> VATCheck {
        let now = self.now
        guard let number = VATNumber.normalise(text) else {
            return VATCheck(number: String(text.prefix(32)), country: nil, status: "invalid", detail: "not a VAT number: letters and digits after a country prefix", checkedAtMs: now)
        }
        if case .invalid(let why) = VATNumber.check(number) {
            return VATCheck(number: number, country: VATNumber.country(of: number), status: "invalid", detail: why, checkedAtMs: now)
        }
        let country = VATNumber.country(of: number)
        guard let vies = self.vies else {
            return VATCheck(
                number: number, country: country, status: "not-confirmed", detail: "form and check digits are right; VIES checks are off",
                checkedAtMs: now)
        }
        let day = self.today.description
        if let kept = try await self.database.tenantRead(tenantId: tenantId, { db in
            try await db.select().column("*").from("tax_vies_checks").where("tenant_id", .equal, tenantId).where("number", .equal, number)
                .where("day", .equal, day).first(decoding: VIESRow.self)
        }) {
            return VATCheck(
                number: number, country: country, status: kept.status, detail: kept.detail, name: kept.name, address: kept.address,
                consultationNumber: kept.consultation_number, checkedAtMs: kept.checked_at_ms)
        }
        let profile = try await self.profile(tenantId: tenantId)
        let answer = await vies.check(number, requester: profile.vatNumber)
        var check = VATCheck(number: number, country: country, status: "not-confirmed", name: answer.name, address: answer.address, checkedAtMs: now)
        switch answer.status {
        case .valid(let consultation): (check.status, check.consultationNumber) = ("valid", consultation)
        case .invalid(let reason): (check.status, check.detail) = ("invalid", reason)
        case .notConfirmed(let reason): check.detail = reason
        }
        if check.status != "not-confirmed" {
            let row = VIESRow(
                tenant_id: tenantId, number: number, day: day, status: check.status, detail: check.detail, name: check.name,
                address: check.address, consultation_number: check.consultationNumber, checked_at_ms: now)
            // Two checks of one number at once keep the first answer.
            try await self.database.tenantTransaction(tenantId: tenantId) { db in
                try await db.insert(into: "tax_vies_checks").model(row).ignoringConflicts(with: ["tenant_id", "number", "day"]).run()
            }
        }
        return check
    }
}
