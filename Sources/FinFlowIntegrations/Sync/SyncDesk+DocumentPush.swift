import FinFlowCore
import Foundation
import NIOHTTP1
import SQLKit

/// Invoices, bills and their payments pushed as the provider's own documents: the customer or vendor found among the
/// synced contacts by name, else at the provider by name, else made there once; QuickBooks' items (an invoice line names
/// an item, which names the income account) found or made once per revenue account; a void voiding the document there.
extension SyncDesk {
    /// The push of entry `entryId` to the connection: whether it went, and what it made.
    func earlierPush(tenantId: String, connectionId: String, entryId: String) async throws -> DocumentPush.Earlier? {
        try await self.database.tenantRead(tenantId: tenantId) { db in
            try await db.raw("""
                SELECT status, entity, external_id FROM integration_pushes
                WHERE tenant_id = \(bind: tenantId) AND connection_id = \(bind: connectionId) AND entry_id = \(bind: entryId)
                """).first(decoding: DocumentPush.Earlier.self)
        }
    }

    /// Sends the document, payment or void `plan` names; answers the provider's document as a sync would read it.
    func pushDocument(
        _ push: PushRecord, entry: JournalEntryShared, plan: DocumentPush.Plan, provider: AccountingProvider, company: String,
        accounts: BooksPush.Accounts, api: ProviderAPI
    ) async throws -> ProviderDocument {
        let ids = (tenantId: push.tenant_id, connectionId: push.connection_id)
        switch plan {
        case .document(let entity):
            guard let document = entry.document else { throw BooksPush.Unpushable(message: "the entry carries no document") }
            let contact = try await self.contact(document, vendor: entity == .bill, ids: ids, provider: provider, company: company, api: api)
            var items: [String: String] = [:]
            if provider == .quickbooks && entity == .invoice {
                for line in DocumentPush.lines(document) where items[line.accountId] == nil {
                    items[line.accountId] = try await self.item(line, ids: ids, accounts: accounts, company: company, api: api)
                }
            }
            let body = try DocumentPush.documentBody(entry, entity: entity, contact: contact, items: items, accounts: accounts, provider: provider)
            let answer = try await self.create(body, entity: entity, provider: provider, company: company, key: push.idempotency_key, api: api)
            return try DocumentPush.document(answer: answer, entity: entity, provider: provider)
        case .payment(let entity, let paid, _):
            guard let document = entry.document else { throw BooksPush.Unpushable(message: "the entry carries no document") }
            let contact = try await self.contact(document, vendor: entity == .billPayment, ids: ids, provider: provider, company: company, api: api)
            let body = try DocumentPush.paymentBody(entry, entity: entity, paid: paid, contact: contact, accounts: accounts, provider: provider)
            let answer = try await self.create(body, entity: entity, provider: provider, company: company, key: push.idempotency_key, api: api)
            return try DocumentPush.document(answer: answer, entity: entity, provider: provider)
        case .void(let entity, let externalId):
            let answer: Data
            switch provider {
            case .quickbooks:
                // Voided (a bill, which QuickBooks cannot void, deleted) at the SyncToken it has now: FinFlow voids only a
                // document nothing was applied to, and QuickBooks refuses to void one with payments.
                let name = entity.quickbooksName.lowercased()
                let current: Data
                do {
                    current = try await api.get("/v3/company/\(company)/\(name)/\(externalId)", query: [("minorversion", SyncReader.minorVersion)])
                } catch let refusal as ProviderRefusal where refusal.code == "610" && entity == .bill {
                    // Deleted already: the deletion's answer was lost, and this is its retry.
                    return ProviderDocument(entity: .bill, externalId: externalId, version: "deleted", deleted: true, updatedAtMillis: nil, label: nil,
                                            json: Data("{}".utf8))
                }
                let read = try DocumentPush.document(answer: current, entity: entity, provider: provider)
                let body = try JSONSerialization.data(withJSONObject: ["Id": externalId, "SyncToken": read.version], options: [.sortedKeys])
                answer = try await api.send(
                    .POST, "/v3/company/\(company)/\(name)",
                    query: [("operation", entity == .bill ? "delete" : "void"), ("requestid", push.idempotency_key),
                            ("minorversion", SyncReader.minorVersion)],
                    json: body)
                if entity == .bill {
                    // A deletion answers with the bill's id and status only: kept as the deleted document a sync would read.
                    return ProviderDocument(entity: .bill, externalId: externalId, version: "deleted:" + read.version, deleted: true,
                                            updatedAtMillis: nil, label: read.label, json: Data("{}".utf8))
                }
            case .xero:
                let body = try JSONSerialization.data(withJSONObject: ["Invoices": [["InvoiceID": externalId, "Status": "VOIDED"]]], options: [.sortedKeys])
                answer = try await api.send(.POST, "/api.xro/2.0/Invoices/\(externalId)", headers: [("Idempotency-Key", push.idempotency_key)], json: body)
            }
            return try DocumentPush.document(answer: answer, entity: entity, provider: provider)
        case .journal, .wait:
            throw BooksPush.Unpushable(message: "the entry is no document")
        }
    }

    /// A new document: QuickBooks by POST with `requestid`, Xero by PUT with `Idempotency-Key`.
    private func create(_ body: Data, entity: SyncEntity, provider: AccountingProvider, company: String, key: String, api: ProviderAPI)
        async throws -> Data
    {
        let path = DocumentPush.path(entity, provider: provider, company: company)
        switch provider {
        case .quickbooks: return try await api.send(.POST, path, query: [("requestid", key), ("minorversion", SyncReader.minorVersion)], json: body)
        case .xero: return try await api.send(.PUT, path, headers: [("Idempotency-Key", key)], json: body)
        }
    }

    /// The provider's contact standing for the document's customer or vendor: the one FinFlow found or made before;
    /// else a synced one of the same name; else one of that name at the provider; else one made there (once, under a key
    /// of the connection and FinFlow's contact).
    private func contact(
        _ document: JournalEntryShared.Document, vendor: Bool, ids: (tenantId: String, connectionId: String), provider: AccountingProvider,
        company: String, api: ProviderAPI
    ) async throws -> String {
        let kind = vendor ? "vendor" : "customer"
        let name = DocumentPush.providerName(document.contactName, limit: provider == .quickbooks ? 100 : 255)
        // Xero keeps one contact for both sides; QuickBooks a customer and a vendor apart.
        let entities = provider == .xero ? ["customer", "vendor"] : [kind]
        let known = try await self.database.tenantRead(tenantId: ids.tenantId) { db -> String? in
            struct Row: Decodable { let external_id: String }
            if let ref = try await db.raw("""
                SELECT external_id FROM integration_push_refs WHERE tenant_id = \(bind: ids.tenantId) AND connection_id = \(bind: ids.connectionId)
                    AND kind = \(bind: kind) AND finflow_id = \(bind: document.contactId)
                """).first(decoding: Row.self) {
                return ref.external_id
            }
            return try await db.raw("""
                SELECT external_id FROM integration_records WHERE tenant_id = \(bind: ids.tenantId) AND connection_id = \(bind: ids.connectionId)
                    AND entity IN (\(binds: entities)) AND status = 'active' AND LOWER(label) = LOWER(\(bind: name))
                ORDER BY external_id LIMIT 1
                """).first(decoding: Row.self)?.external_id
        }
        if let known { return try await self.remember(kind: kind, finflowId: document.contactId, externalId: known, name: name, ids: ids) }
        let key = UUID.derived(from: "finflow-contact\u{1F}\(ids.connectionId)\u{1F}\(kind)\u{1F}\(document.contactId)").canonical
        let made: String?
        switch provider {
        case .quickbooks:
            let entity = vendor ? "Vendor" : "Customer"
            let found = try await api.get(
                "/v3/company/\(company)/query",
                query: [("query", "select * from \(entity) where DisplayName = \(DocumentPush.quoted(name))"), ("minorversion", SyncReader.minorVersion)])
            if let existing = Self.firstId(found, path: ["QueryResponse", entity], idField: "Id") {
                made = existing
            } else {
                var fields: [String: Any] = ["DisplayName": name]
                if !document.currency.isEmpty { fields["CurrencyRef"] = ["value": document.currency] }
                let answer = try await api.send(
                    .POST, "/v3/company/\(company)/\(entity.lowercased())", query: [("requestid", key), ("minorversion", SyncReader.minorVersion)],
                    json: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
                made = Self.firstId(answer, path: [entity], idField: "Id")
            }
        case .xero:
            let found = try await api.get("/api.xro/2.0/Contacts", query: [("where", "Name==\"\(name.replacingOccurrences(of: "\"", with: ""))\"")])
            if let existing = Self.firstId(found, path: ["Contacts"], idField: "ContactID") {
                made = existing
            } else {
                let answer = try await api.send(
                    .PUT, "/api.xro/2.0/Contacts", headers: [("Idempotency-Key", key)],
                    json: try JSONSerialization.data(withJSONObject: ["Contacts": [["Name": name]]], options: [.sortedKeys]))
                made = Self.firstId(answer, path: ["Contacts"], idField: "ContactID")
            }
        }
        guard let made else { throw AppError(.unavailable, code: "provider-unreadable", "\(provider.title) answered without the \(kind) it made") }
        return try await self.remember(kind: kind, finflowId: document.contactId, externalId: made, name: name, ids: ids)
    }

    /// The QuickBooks item an invoice line to the revenue account of `line` names: the one FinFlow made before, else the
    /// one named for the account (which must earn into that account), else one made (a service item into that account).
    private func item(
        _ line: JournalEntryShared.DocumentLine, ids: (tenantId: String, connectionId: String), accounts: BooksPush.Accounts, company: String,
        api: ProviderAPI
    ) async throws -> String {
        let target = try DocumentPush.target(accounts, id: line.accountId, code: line.accountCode, name: line.accountName, provider: .quickbooks)
        let known = try await self.database.tenantRead(tenantId: ids.tenantId) { db in
            struct Row: Decodable { let external_id: String }
            return try await db.raw("""
                SELECT external_id FROM integration_push_refs WHERE tenant_id = \(bind: ids.tenantId) AND connection_id = \(bind: ids.connectionId)
                    AND kind = 'item' AND finflow_id = \(bind: line.accountId)
                """).first(decoding: Row.self)?.external_id
        }
        if let known { return known }
        let name = DocumentPush.providerName("FinFlow \(line.accountCode) \(line.accountName)", limit: 100)
        let found = try await api.get(
            "/v3/company/\(company)/query",
            query: [("query", "select * from Item where Name = \(DocumentPush.quoted(name))"), ("minorversion", SyncReader.minorVersion)])
        let made: String?
        if let object = ((Self.json(found)?["QueryResponse"] as? [String: Any])?["Item"] as? [Any])?.first as? [String: Any],
            let id = ProviderDocuments.text(object["Id"])
        {
            let income = ProviderDocuments.text((object["IncomeAccountRef"] as? [String: Any])?["value"])
            guard income == target.id else {
                throw BooksPush.Unpushable(message: "QuickBooks' item \(name) earns into another account than FinFlow's \(line.accountCode): rename it, or point it at that account")
            }
            made = id
        } else {
            let key = UUID.derived(from: "finflow-item\u{1F}\(ids.connectionId)\u{1F}\(line.accountId)").canonical
            let fields: [String: Any] = ["Name": name, "Type": "Service", "IncomeAccountRef": ["value": target.id]]
            let answer = try await api.send(
                .POST, "/v3/company/\(company)/item", query: [("requestid", key), ("minorversion", SyncReader.minorVersion)],
                json: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
            made = Self.firstId(answer, path: ["Item"], idField: "Id")
        }
        guard let made else { throw AppError(.unavailable, code: "provider-unreadable", "QuickBooks answered without the item it made") }
        return try await self.remember(kind: "item", finflowId: line.accountId, externalId: made, name: name, ids: ids)
    }

    /// Keeps what stands for a FinFlow customer, vendor or account at the provider; the first one kept wins.
    private func remember(kind: String, finflowId: String, externalId: String, name: String, ids: (tenantId: String, connectionId: String))
        async throws -> String
    {
        let now = self.clock.nowMillis()
        return try await self.database.tenantTransaction(tenantId: ids.tenantId) { db in
            try await db.raw("""
                INSERT INTO integration_push_refs (tenant_id, connection_id, kind, finflow_id, external_id, name, created_at_ms)
                VALUES (\(bind: ids.tenantId), \(bind: ids.connectionId), \(bind: kind), \(bind: finflowId), \(bind: externalId), \(bind: name), \(bind: now))
                ON CONFLICT (tenant_id, connection_id, kind, finflow_id) DO NOTHING
                """).run()
            struct Row: Decodable { let external_id: String }
            return try await db.raw("""
                SELECT external_id FROM integration_push_refs WHERE tenant_id = \(bind: ids.tenantId) AND connection_id = \(bind: ids.connectionId)
                    AND kind = \(bind: kind) AND finflow_id = \(bind: finflowId)
                """).first(decoding: Row.self)?.external_id ?? externalId
        }
    }

    private static func json(_ data: Data) -> [String: Any]? { (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] }

    /// The id of the first object at `path` (an object, or a list whose first element is one).
    private static func firstId(_ data: Data, path: [String], idField: String) -> String? {
        var value: Any? = Self.json(data)
        for key in path { value = (value as? [String: Any])?[key] }
        let object = (value as? [String: Any]) ?? ((value as? [Any])?.first as? [String: Any])
        return ProviderDocuments.text(object?[idField]).flatMap { $0.isEmpty ? nil : $0 }
    }
}
