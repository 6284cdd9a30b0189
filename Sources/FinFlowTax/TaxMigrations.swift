import FinFlowCore

/// The tax service's schema, forward-only. On PostgreSQL every tenant-owned table also gets row-level security behind
/// the store's tenant filters.
enum TaxMigrations {
    static let tables = [
        "tax_profiles", "tax_rule_sets", "tax_rules", "tax_local_rates", "tax_certificates", "tax_documents", "tax_document_amounts",
        "tax_tallies", "tax_vies_checks",
    ]
    static let returnTables = ["tax_ledger_movements", "tax_filings"]

    static let all: [Migration] = [
        Migration(1, "create the tax profile, versioned rules, local rates, certificates, documents, tallies and VIES checks", [
            """
            CREATE TABLE tax_profiles (
                tenant_id TEXT PRIMARY KEY, profile TEXT NOT NULL, updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL)
            """,
            // One row per change of the tenant's rules (profile, rule added or retired, local rates loaded): the version a
            // calculation was made with, and the audit of who changed what.
            """
            CREATE TABLE tax_rule_sets (
                tenant_id TEXT NOT NULL, version INTEGER NOT NULL, summary TEXT NOT NULL, changed_by TEXT NOT NULL,
                changed_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, version))
            """,
            """
            CREATE TABLE tax_rules (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('rate', 'product')),
                jurisdiction TEXT NOT NULL, category TEXT NOT NULL, product TEXT, rate TEXT, valid_from TEXT NOT NULL, valid_to TEXT,
                note TEXT, added_in_version INTEGER NOT NULL, retired_in_version INTEGER, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX tax_rules_tenant ON tax_rules (tenant_id, jurisdiction)",
            """
            CREATE TABLE tax_local_rates (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, state TEXT NOT NULL, level TEXT NOT NULL, name TEXT NOT NULL,
                zip_from INTEGER NOT NULL, zip_to INTEGER NOT NULL, rate TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT,
                CHECK (zip_from <= zip_to))
            """,
            "CREATE INDEX tax_local_rates_state ON tax_local_rates (tenant_id, state, zip_from)",
            """
            CREATE TABLE tax_certificates (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, customer_id TEXT NOT NULL, number TEXT NOT NULL, jurisdictions TEXT NOT NULL,
                reason TEXT NOT NULL, valid_from TEXT NOT NULL, expires_on TEXT, revoked_at_ms BIGINT, request_hash TEXT NOT NULL,
                created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX tax_certificates_customer ON tax_certificates (tenant_id, customer_id)",
            """
            CREATE TABLE tax_documents (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, code TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL,
                document_date TEXT NOT NULL, currency TEXT NOT NULL, net_minor BIGINT NOT NULL, tax_minor BIGINT NOT NULL,
                self_assessed_minor BIGINT NOT NULL, total_minor BIGINT NOT NULL, request TEXT NOT NULL, result TEXT NOT NULL,
                vat_check TEXT, request_hash TEXT NOT NULL, rule_set_version INTEGER NOT NULL, created_by TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL, committed_at_ms BIGINT, voided_at_ms BIGINT, void_reason TEXT,
                UNIQUE (tenant_id, type, code))
            """,
            "CREATE INDEX tax_documents_tenant ON tax_documents (tenant_id, id)",
            // What a committed document adds to returns: its tax by jurisdiction, rate and treatment.
            """
            CREATE TABLE tax_document_amounts (
                document_id TEXT NOT NULL, tenant_id TEXT NOT NULL, row_no INTEGER NOT NULL, document_date TEXT NOT NULL,
                type TEXT NOT NULL, currency TEXT NOT NULL, jurisdiction TEXT NOT NULL, tax_type TEXT NOT NULL, category TEXT NOT NULL,
                rate TEXT NOT NULL, treatment TEXT NOT NULL, self_assessed INTEGER NOT NULL, taxable_minor BIGINT NOT NULL,
                tax_minor BIGINT NOT NULL, PRIMARY KEY (document_id, row_no))
            """,
            "CREATE INDEX tax_document_amounts_period ON tax_document_amounts (tenant_id, jurisdiction, document_date)",
            // Committed sales per scheme (`oss` in EUR cents, `US-XX` in USD cents) and calendar year.
            """
            CREATE TABLE tax_tallies (
                tenant_id TEXT NOT NULL, scheme TEXT NOT NULL, year INTEGER NOT NULL, amount_minor BIGINT NOT NULL,
                transactions INTEGER NOT NULL, PRIMARY KEY (tenant_id, scheme, year))
            """,
            """
            CREATE TABLE tax_vies_checks (
                tenant_id TEXT NOT NULL, number TEXT NOT NULL, day TEXT NOT NULL, status TEXT NOT NULL, detail TEXT, name TEXT,
                address TEXT, consultation_number TEXT, checked_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, number, day))
            """,
        ], postgresAfter: tables.flatMap { Migration.rowLevelSecurity(table: $0) }),
        Migration(2, "name the return and ledger account of each committed amount; keep the ledger's tax movements and filed returns", [
            // The return that declares the amount (`DE`, `OSS`, `US-CA`) and the ledger account that holds it (`DE`, `OSS-FR`, `US-CA`).
            "ALTER TABLE tax_document_amounts ADD COLUMN declared_in TEXT",
            "ALTER TABLE tax_document_amounts ADD COLUMN account TEXT",
            "UPDATE tax_document_amounts SET declared_in = jurisdiction, account = jurisdiction",
            "CREATE INDEX tax_document_amounts_declared ON tax_document_amounts (tenant_id, declared_in, document_date)",
            // The ledger's side of each return: every posted entry's movement of a per-jurisdiction tax account.
            """
            CREATE TABLE tax_ledger_movements (
                entry_id TEXT NOT NULL, row_no INTEGER NOT NULL, tenant_id TEXT NOT NULL, accounting_date TEXT NOT NULL,
                account TEXT NOT NULL, kind TEXT NOT NULL, currency TEXT NOT NULL, amount_minor BIGINT NOT NULL, document_id TEXT,
                filing_id TEXT, PRIMARY KEY (entry_id, row_no))
            """,
            "CREATE INDEX tax_ledger_movements_period ON tax_ledger_movements (tenant_id, account, accounting_date)",
            // A filed return: its figures as filed, and the period it closes to the jurisdiction's documents.
            """
            CREATE TABLE tax_filings (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, jurisdiction TEXT NOT NULL, period_start TEXT NOT NULL,
                period_end TEXT NOT NULL, currency TEXT NOT NULL, output_tax_minor BIGINT NOT NULL, input_tax_minor BIGINT NOT NULL,
                net_minor BIGINT NOT NULL, figures TEXT NOT NULL, request_hash TEXT NOT NULL, filed_by TEXT NOT NULL, filed_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX tax_filings_period ON tax_filings (tenant_id, jurisdiction, period_start)",
        ], postgresAfter: returnTables.flatMap { Migration.rowLevelSecurity(table: $0) }),
    ]
}
