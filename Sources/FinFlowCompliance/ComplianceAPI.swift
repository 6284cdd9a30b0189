import FinFlowCore
import Foundation
import OpenAPIRuntime

/// The compliance service's HTTP contract (generated from `openapi.yaml`) implemented: validate, call the desk, map
/// to DTOs.
struct ComplianceAPI: APIProtocol {
    let desk: ComplianceDesk

    /// The longest CSV list a request may carry.
    static let listTextBytesMax = 32 * 1024 * 1024
    static let listNameLengthMax = 64

    func screen(_ input: Operations.Screen.Input) async throws -> Operations.Screen.Output {
        let principal = try RequestScope.require("compliance:screen")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        let request = Self.request(body, prefix: "", into: &validator)
        try validator.throwIfInvalid()
        let (record, created) = try await self.desk.screen(request, principal: principal)
        let dto = try Self.dto(record)
        return created ? .created(.init(body: .json(dto))) : .ok(.init(body: .json(dto)))
    }

    func screenBulk(_ input: Operations.ScreenBulk.Input) async throws -> Operations.ScreenBulk.Output {
        let principal = try RequestScope.require("compliance:screen")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        validator.check((1...Self.bulkSubjectsMax).contains(body.subjects.count), "subjects", "must hold 1–\(Self.bulkSubjectsMax) subjects")
        let requests = body.subjects.prefix(Self.bulkSubjectsMax).enumerated().map { index, subject in
            Self.request(subject, prefix: "subjects[\(index)].", into: &validator)
        }
        let ids = requests.compactMap(\.id)
        validator.check(Set(ids).count == ids.count, "subjects", "must not repeat a client id")
        try validator.throwIfInvalid()
        var items: [Components.Schemas.ScreeningSummary] = []
        for (index, request) in requests.enumerated() {
            let (record, _) = try await self.desk.screen(request, principal: principal, origin: "bulk")
            items.append(.init(
                index: index, id: record.row.id, status: try Self.known(Components.Schemas.ScreeningSummary.StatusPayload.self, record.row.status, "screening status"),
                topScore: record.row.top_score, matchCount: record.row.match_count, alertId: record.row.alert_id))
        }
        return .ok(.init(body: .json(.init(items: items))))
    }

    /// The most subjects one bulk screening holds.
    static let bulkSubjectsMax = 1_000

    /// A screening request from its body, each fault recorded under `prefix`.
    static func request(_ body: Components.Schemas.ScreeningRequest, prefix: String, into validator: inout Validator) -> ComplianceDesk.ScreeningRequest {
        let id = validator.clientId(body.id, field: prefix + "id")
        validator.check((1...ComplianceDesk.queryNamesMax).contains(body.names.count), prefix + "names", "must hold 1–\(ComplianceDesk.queryNamesMax) names")
        for (index, name) in body.names.enumerated() {
            validator.check(
                (1...ListFile.nameLengthMax).contains(name.count) && !NameText.tokens(name).isEmpty, "\(prefix)names[\(index)]",
                "must be 1–\(ListFile.nameLengthMax) characters with letters or digits to compare")
        }
        if let ref = body.subjectRef {
            validator.check((1...ComplianceDesk.subjectRefLengthMax).contains(ref.count), prefix + "subjectRef", "must be 1–\(ComplianceDesk.subjectRefLengthMax) characters")
        }
        if let date = body.birthDate { validator.check(ListFile.isPartialDate(date), prefix + "birthDate", "must be YYYY, YYYY-MM or YYYY-MM-DD") }
        if let country = body.country { validator.check(ListFile.isCountry(country), prefix + "country", "must be an ISO 3166-1 alpha-2 code in capitals") }
        if let threshold = body.threshold { Self.checkThreshold(threshold, field: prefix + "threshold", into: &validator) }
        if body.monitor == true { validator.check(body.subjectRef != nil, prefix + "monitor", "needs a subjectRef to know the subject again") }
        return ComplianceDesk.ScreeningRequest(
            id: id, subjectType: body.subjectType.rawValue, subjectRef: body.subjectRef, kind: body.kind?.rawValue, names: body.names,
            birthDate: body.birthDate, country: body.country, gender: body.gender?.rawValue, threshold: body.threshold,
            monitor: body.monitor ?? (body.subjectRef != nil))
    }

    func listScreenings(_ input: Operations.ListScreenings.Input) async throws -> Operations.ListScreenings.Output {
        let principal = try RequestScope.require("compliance:read")
        var validator = Validator()
        if let ref = input.query.subjectRef {
            validator.check((1...ComplianceDesk.subjectRefLengthMax).contains(ref.count), "subjectRef", "must be 1–\(ComplianceDesk.subjectRefLengthMax) characters")
        }
        try validator.throwIfInvalid()
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let filter = ComplianceStore.ScreeningFilter(
            status: input.query.status?.rawValue, subjectType: input.query.subjectType?.rawValue, subjectRef: input.query.subjectRef)
        let result = try await self.desk.screenings(tenantId: principal.tenantId, filter: filter, page: page)
        // A listing shows each screening without its matches; one screening's own page has them.
        let items = try result.items.map { try Self.dto(.init(row: $0, matches: [])) }
        return .ok(.init(body: .json(.init(items: items, nextCursor: result.nextCursor))))
    }

    func getScreening(_ input: Operations.GetScreening.Input) async throws -> Operations.GetScreening.Output {
        let principal = try RequestScope.require("compliance:read")
        return .ok(.init(body: .json(try Self.dto(try await self.desk.screening(tenantId: principal.tenantId, id: input.path.screeningId)))))
    }

    func listLists(_ input: Operations.ListLists.Input) async throws -> Operations.ListLists.Output {
        let principal = try RequestScope.require("compliance:read")
        return .ok(.init(body: .json(.init(items: try await self.desk.lists(tenantId: principal.tenantId).map(Self.dto)))))
    }

    func uploadList(_ input: Operations.UploadList.Input) async throws -> Operations.UploadList.Output {
        let principal = try RequestScope.require("compliance:manage")
        var validator = Validator()
        let name = input.query.name
        validator.check(Self.isListName(name), "name", "must be 1–\(Self.listNameLengthMax) lower-case letters, digits and hyphens, starting with a letter or digit")
        validator.check(name != ComplianceDesk.bundledListName, "name", "is the platform's list; choose a name of the tenant's own")
        if let source = input.query.source { validator.check((1...300).contains(source.count), "source", "must be 1–300 characters") }
        try validator.throwIfInvalid()
        let entries: [ListEntry]
        let format: String
        let digest: String
        do {
            switch input.body {
            case .json(let body):
                format = "json"
                entries = try ListFile.entries(body.entries.enumerated().map { index, entry in
                    ("entries[\(index)]", ListFile.RawEntry(
                        id: entry.id, kind: entry.kind.rawValue, names: entry.names, birthDate: entry.birthDate, country: entry.country,
                        gender: entry.gender?.rawValue, program: entry.program, reference: entry.reference,
                        listedOn: entry.listedOn))
                })
                digest = Digest.sha256Hex(ComplianceDesk.json(entries.map(\.id)))
            case .csv(let body):
                format = "csv"
                let text = try await String(collecting: body, upTo: Self.listTextBytesMax)
                entries = try ListFile.csv(text)
                digest = Digest.sha256Hex(text)
            }
        } catch let error as ListFormatError {
            throw AppError.invalid(code: "list-invalid", error.detail)
        }
        let (row, rescreen) = try await self.desk.upload(
            entries: entries, name: name, source: input.query.source ?? "loaded by the tenant", format: format, sha256: digest,
            principal: principal)
        return .created(.init(body: .json(.init(list: try Self.dto(row), rescreened: rescreen.screened, hits: rescreen.hits))))
    }

    func listAlerts(_ input: Operations.ListAlerts.Input) async throws -> Operations.ListAlerts.Output {
        let principal = try RequestScope.require("compliance:read")
        let page = try PageRequest(limit: input.query.limit, cursor: input.query.cursor)
        let result = try await self.desk.alerts(tenantId: principal.tenantId, status: input.query.status?.rawValue, page: page)
        return .ok(.init(body: .json(.init(items: try result.items.map(Self.dto), nextCursor: result.nextCursor))))
    }

    func getAlert(_ input: Operations.GetAlert.Input) async throws -> Operations.GetAlert.Output {
        let principal = try RequestScope.require("compliance:read")
        return .ok(.init(body: .json(try Self.dto(try await self.desk.alert(tenantId: principal.tenantId, id: input.path.alertId)))))
    }

    func closeAlert(_ input: Operations.CloseAlert.Input) async throws -> Operations.CloseAlert.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        if let note = body.note { validator.check(note.count <= ComplianceDesk.noteLengthMax, "note", "must be at most \(ComplianceDesk.noteLengthMax) characters") }
        try validator.throwIfInvalid()
        let row = try await self.desk.close(alertId: input.path.alertId, outcome: body.outcome.rawValue, note: body.note, principal: principal)
        return .ok(.init(body: .json(try Self.dto(row))))
    }

    func getSettings(_ input: Operations.GetSettings.Input) async throws -> Operations.GetSettings.Output {
        let principal = try RequestScope.require("compliance:read")
        return .ok(.init(body: .json(.init(screeningThreshold: try await self.desk.threshold(tenantId: principal.tenantId)))))
    }

    func putSettings(_ input: Operations.PutSettings.Input) async throws -> Operations.PutSettings.Output {
        let principal = try RequestScope.require("compliance:manage")
        guard case .json(let body) = input.body else { throw AppError.invalid("expected a JSON body") }
        var validator = Validator()
        Self.checkThreshold(body.screeningThreshold, field: "screeningThreshold", into: &validator)
        try validator.throwIfInvalid()
        try await self.desk.setThreshold(body.screeningThreshold, principal: principal)
        return .ok(.init(body: .json(.init(screeningThreshold: body.screeningThreshold))))
    }

    static func checkThreshold(_ value: Double, field: String, into validator: inout Validator) {
        validator.check(value.isFinite && value >= ComplianceDesk.thresholdMin && value <= 1, field, "must be \(ComplianceDesk.thresholdMin)–1")
    }

    /// A list's name: lower-case letters, digits and hyphens, starting with a letter or digit.
    static func isListName(_ name: String) -> Bool {
        guard let first = name.utf8.first, (1...Self.listNameLengthMax).contains(name.utf8.count), first != UInt8(ascii: "-") else { return false }
        return name.utf8.allSatisfy { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "-") }
    }
}
