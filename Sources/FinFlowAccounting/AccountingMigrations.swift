import FinFlowCore

/// The accounting service's schema, forward-only. Integrity lives in the database as well as in the code: lines
/// are one-sided positive amounts, the balance constraints are `CHECK`s on the running totals, and posted lines
/// and entries cannot be changed or deleted (triggers), so no bug above can quietly rewrite the books.
enum AccountingMigrations {
    static let all: [Migration] = [
        Migration(1, "create ledgers, accounts, entries, lines, periods", Self.tables + Self.immutabilitySQLite,
                  postgres: Self.tables + Self.immutabilityPostgres
                    + ["ledgers", "accounts", "journal_entries", "journal_lines", "fiscal_periods", "fiscal_years"]
                    .flatMap(Migration.rowLevelSecurity(table:))),
        Migration(2, "create invoices, their lines and payments", Self.invoiceTables,
                  postgres: Self.invoiceTables
                    + ["invoices", "invoice_lines", "invoice_payments", "document_sequences"].flatMap(Migration.rowLevelSecurity(table:))),
        Migration(3, "create exchange rates", [
            """
            CREATE TABLE exchange_rates (
                tenant_id TEXT NOT NULL, currency TEXT NOT NULL, rate_date TEXT NOT NULL, rate TEXT NOT NULL,
                updated_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, currency, rate_date))
            """,
        ], postgresAfter: Migration.rowLevelSecurity(table: "exchange_rates")),
        Migration(4, "keep posted totals per account and day; drop the date index of journal lines",
                  Self.dayTotals(tableOptions: " WITHOUT ROWID"),
                  postgres: Self.dayTotals(tableOptions: "") + Migration.rowLevelSecurity(table: "account_day_totals")),
        Migration(5, "keep customers' credit; the default chart's customer deposits take the customer_credit role", Self.customerCredits,
                  postgres: Self.customerCredits + Migration.rowLevelSecurity(table: "customer_credits")),
        // An import made under an idempotency key, recorded in its own transaction: a retry after a crash between its
        // commit and the stored answer finds it instead of posting the journal twice.
        Migration(6, "record journal imports made under an idempotency key", [
            """
            CREATE TABLE journal_imports (
                tenant_id TEXT NOT NULL, id TEXT NOT NULL, entries INTEGER NOT NULL, accounts_created INTEGER NOT NULL,
                lines INTEGER NOT NULL, created_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, id))
            """,
        ], postgresAfter: Migration.rowLevelSecurity(table: "journal_imports")),
        Migration(7, "create vendor bills, their lines and payments", Self.billTables,
                  postgres: Self.billTables + ["bills", "bill_lines", "bill_payments"].flatMap(Migration.rowLevelSecurity(table:))),
        Migration(8, "let an erasure replace a data subject's name in posted entries' text while it marks them", Self.erasureSQLite,
                  postgres: Self.erasurePostgres),
        Migration(9, "keep the tax service's committed calculations; invoices and bills name the one they take their tax from", Self.taxRecords,
                  postgresAfter: Migration.rowLevelSecurity(table: "tax_records")),
        // While any connection of a tenant pushes its ledger to QuickBooks or Xero, each entry it posts is shared; the
        // flag is read with the ledger, so a tenant that pushes nothing pays no extra read per posting.
        Migration(10, "keep which connections push a tenant's ledger to the provider's books", Self.pushing,
                  postgresAfter: Migration.rowLevelSecurity(table: "ledger_push_connections")),
    ]

    static let pushing = [
        "CREATE TABLE ledger_push_connections (tenant_id TEXT NOT NULL, connection_id TEXT NOT NULL, since TEXT, changed_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, connection_id))",
        "ALTER TABLE ledgers ADD COLUMN books_pushed INTEGER NOT NULL DEFAULT 0",
    ]

    /// The accounting service's own copy of each committed tax calculation (from `TaxCommitted`), which an invoice or
    /// bill takes its lines' tax from; the per-jurisdiction tax accounts are accounts with the role `tax:output:DE`.
    static let taxRecords = [
        """
        CREATE TABLE tax_records (
            tenant_id TEXT NOT NULL, document_id TEXT NOT NULL, code TEXT NOT NULL, document_type TEXT NOT NULL, document_date TEXT NOT NULL,
            currency TEXT NOT NULL, net_minor BIGINT NOT NULL, tax_minor BIGINT NOT NULL, self_assessed_minor BIGINT NOT NULL,
            total_minor BIGINT NOT NULL, amounts TEXT NOT NULL, lines TEXT NOT NULL, status TEXT NOT NULL, received_at_ms BIGINT NOT NULL,
            PRIMARY KEY (tenant_id, document_id))
        """,
        "ALTER TABLE invoices ADD COLUMN tax_document_id TEXT",
        "ALTER TABLE bills ADD COLUMN tax_document_id TEXT",
        "CREATE UNIQUE INDEX invoices_tax_document ON invoices (tenant_id, tax_document_id) WHERE tax_document_id IS NOT NULL",
        "CREATE UNIQUE INDEX bills_tax_document ON bills (tenant_id, tax_document_id) WHERE tax_document_id IS NOT NULL",
    ]

    /// An erasure (GDPR article 17) lists the entries it changes in `ledger_erasure_marks` within its transaction; the
    /// guards of posted entries and lines then let their text (description, memo) change, and nothing else. A mark
    /// never outlives the transaction that made it.
    static let erasureMarks = """
        CREATE TABLE ledger_erasure_marks (request_id TEXT NOT NULL, entry_id TEXT NOT NULL, PRIMARY KEY (request_id, entry_id))
        """

    static let erasureSQLite = [
        Self.erasureMarks,
        "DROP TRIGGER journal_lines_posted_immutable",
        """
        CREATE TRIGGER journal_lines_posted_immutable BEFORE UPDATE ON journal_lines WHEN OLD.state = 'posted' AND (
            NEW.entry_id IS NOT OLD.entry_id OR NEW.line_no IS NOT OLD.line_no OR NEW.tenant_id IS NOT OLD.tenant_id
            OR NEW.account_id IS NOT OLD.account_id OR NEW.state IS NOT OLD.state OR NEW.source IS NOT OLD.source
            OR NEW.accounting_date IS NOT OLD.accounting_date OR NEW.posted_at_ms IS NOT OLD.posted_at_ms
            OR NEW.debit_minor IS NOT OLD.debit_minor OR NEW.credit_minor IS NOT OLD.credit_minor OR NEW.currency IS NOT OLD.currency
            OR (NEW.memo IS NOT OLD.memo AND NOT EXISTS (SELECT 1 FROM ledger_erasure_marks m WHERE m.entry_id = OLD.entry_id)))
        BEGIN SELECT RAISE(ABORT, 'posted journal lines are immutable'); END
        """,
        "DROP TRIGGER journal_entries_posted_immutable",
        """
        CREATE TRIGGER journal_entries_posted_immutable BEFORE UPDATE ON journal_entries
        WHEN OLD.status = 'posted' AND (NEW.status IS NOT OLD.status OR NEW.accounting_date IS NOT OLD.accounting_date
            OR (NEW.description IS NOT OLD.description AND NOT EXISTS (SELECT 1 FROM ledger_erasure_marks m WHERE m.entry_id = OLD.id))
            OR NEW.posted_at_ms IS NOT OLD.posted_at_ms
            OR NEW.reversed_by_id IS NOT OLD.reversed_by_id AND OLD.reversed_by_id IS NOT NULL)
        BEGIN SELECT RAISE(ABORT, 'posted journal entries are immutable'); END
        """,
    ]

    static let erasurePostgres = [
        Self.erasureMarks,
        """
        CREATE OR REPLACE FUNCTION journal_lines_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.state = 'posted' THEN
                IF TG_OP = 'DELETE' OR NEW.entry_id IS DISTINCT FROM OLD.entry_id OR NEW.line_no IS DISTINCT FROM OLD.line_no
                   OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id OR NEW.account_id IS DISTINCT FROM OLD.account_id
                   OR NEW.state IS DISTINCT FROM OLD.state OR NEW.source IS DISTINCT FROM OLD.source
                   OR NEW.accounting_date IS DISTINCT FROM OLD.accounting_date OR NEW.posted_at_ms IS DISTINCT FROM OLD.posted_at_ms
                   OR NEW.debit_minor IS DISTINCT FROM OLD.debit_minor OR NEW.credit_minor IS DISTINCT FROM OLD.credit_minor
                   OR NEW.currency IS DISTINCT FROM OLD.currency
                   OR (NEW.memo IS DISTINCT FROM OLD.memo
                       AND NOT EXISTS (SELECT 1 FROM ledger_erasure_marks m WHERE m.entry_id = OLD.entry_id)) THEN
                    RAISE EXCEPTION 'posted journal lines are immutable';
                END IF;
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$
        """,
        """
        CREATE OR REPLACE FUNCTION journal_entries_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'posted' THEN
                IF TG_OP = 'DELETE' OR NEW.status IS DISTINCT FROM OLD.status
                   OR NEW.accounting_date IS DISTINCT FROM OLD.accounting_date
                   OR (NEW.description IS DISTINCT FROM OLD.description
                       AND NOT EXISTS (SELECT 1 FROM ledger_erasure_marks m WHERE m.entry_id = OLD.id))
                   OR NEW.posted_at_ms IS DISTINCT FROM OLD.posted_at_ms
                   OR (OLD.reversed_by_id IS NOT NULL AND NEW.reversed_by_id IS DISTINCT FROM OLD.reversed_by_id) THEN
                    RAISE EXCEPTION 'posted journal entries are immutable';
                END IF;
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$
        """,
    ]

    /// Accounts payable: bills and vendor credit notes, their lines (input tax per line), and what was applied to them.
    /// A vendor's document number is on one live bill of that vendor at most.
    static let billTables = [
        """
        CREATE TABLE bills (
            id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, number TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
            vendor_id TEXT NOT NULL, vendor_name TEXT NOT NULL, vendor_reference TEXT, currency TEXT NOT NULL, bill_date TEXT NOT NULL,
            due_date TEXT NOT NULL, subtotal_minor BIGINT NOT NULL, tax_minor BIGINT NOT NULL, recoverable_tax_minor BIGINT NOT NULL,
            total_minor BIGINT NOT NULL, paid_minor BIGINT NOT NULL DEFAULT 0, credited_minor BIGINT NOT NULL DEFAULT 0,
            credited_bill_id TEXT, payable_account_id TEXT NOT NULL, entry_id TEXT, void_entry_id TEXT, memo TEXT,
            request_hash TEXT NOT NULL, created_by TEXT, approved_by TEXT, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL,
            UNIQUE (tenant_id, number),
            CHECK (total_minor > 0 AND paid_minor >= 0 AND credited_minor >= 0 AND paid_minor + credited_minor <= total_minor
                   AND recoverable_tax_minor >= 0 AND recoverable_tax_minor <= tax_minor))
        """,
        "CREATE INDEX bills_vendor ON bills (tenant_id, vendor_id, bill_date)",
        """
        CREATE UNIQUE INDEX bills_vendor_reference ON bills (tenant_id, vendor_id, vendor_reference)
        WHERE vendor_reference IS NOT NULL AND kind = 'bill' AND status <> 'void'
        """,
        """
        CREATE TABLE bill_lines (
            bill_id TEXT NOT NULL, line_no INTEGER NOT NULL, tenant_id TEXT NOT NULL, description TEXT NOT NULL,
            quantity TEXT NOT NULL, unit_price_minor BIGINT NOT NULL, tax_rate TEXT NOT NULL, tax_recoverable INTEGER NOT NULL,
            expense_account_id TEXT NOT NULL, net_minor BIGINT NOT NULL, tax_minor BIGINT NOT NULL, PRIMARY KEY (bill_id, line_no))
        """,
        """
        CREATE TABLE bill_payments (
            id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, bill_id TEXT NOT NULL, kind TEXT NOT NULL, amount_minor BIGINT NOT NULL,
            payment_date TEXT NOT NULL, entry_id TEXT, source_id TEXT, created_at_ms BIGINT NOT NULL)
        """,
        "CREATE INDEX bill_payments_bill ON bill_payments (tenant_id, bill_id, payment_date)",
    ]

    /// Each customer's unapplied cash per currency (the customer deposits account, broken down), and the role for the
    /// default chart's account 2400 in ledgers opened before the role existed.
    static let customerCredits = [
        """
        CREATE TABLE customer_credits (
            tenant_id TEXT NOT NULL, customer_id TEXT NOT NULL, currency TEXT NOT NULL, balance_minor BIGINT NOT NULL,
            updated_at_ms BIGINT NOT NULL, PRIMARY KEY (tenant_id, customer_id, currency))
        """,
        """
        UPDATE accounts SET system_role = 'customer_credit'
        WHERE code = '2400' AND name = 'Customer deposits' AND system_role IS NULL
        AND NOT EXISTS (SELECT 1 FROM accounts other WHERE other.tenant_id = accounts.tenant_id AND other.system_role = 'customer_credit')
        """,
    ]

    /// Posted debits and credits per account and accounting date (and the part of them from closing entries),
    /// written in the posting's transaction. Statements sum these instead of every line, so a report costs the
    /// days and accounts it covers, not the journal's length, and posting no longer feeds a second index of lines.
    static func dayTotals(tableOptions: String) -> [String] {
        [
            """
            CREATE TABLE account_day_totals (
                tenant_id TEXT NOT NULL, accounting_date TEXT NOT NULL, account_id TEXT NOT NULL,
                debits_minor BIGINT NOT NULL, credits_minor BIGINT NOT NULL,
                close_debits_minor BIGINT NOT NULL, close_credits_minor BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, accounting_date, account_id))\(tableOptions)
            """,
            """
            INSERT INTO account_day_totals
            SELECT tenant_id, accounting_date, account_id, SUM(debit_minor), SUM(credit_minor),
                SUM(CASE WHEN source = 'close' THEN debit_minor ELSE 0 END), SUM(CASE WHEN source = 'close' THEN credit_minor ELSE 0 END)
            FROM journal_lines WHERE state = 'posted' GROUP BY tenant_id, accounting_date, account_id
            """,
            "DROP INDEX journal_lines_date",
        ]
    }

    static let invoiceTables = [
        """
        CREATE TABLE invoices (
            id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, number TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
            customer_id TEXT NOT NULL, customer_name TEXT NOT NULL, currency TEXT NOT NULL, issue_date TEXT NOT NULL,
            due_date TEXT NOT NULL, subtotal_minor BIGINT NOT NULL, tax_minor BIGINT NOT NULL, total_minor BIGINT NOT NULL,
            paid_minor BIGINT NOT NULL DEFAULT 0, credited_minor BIGINT NOT NULL DEFAULT 0, credited_invoice_id TEXT,
            receivable_account_id TEXT NOT NULL, entry_id TEXT, void_entry_id TEXT, memo TEXT, request_hash TEXT NOT NULL,
            created_by TEXT, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL,
            UNIQUE (tenant_id, number),
            CHECK (total_minor >= 0 AND paid_minor >= 0 AND credited_minor >= 0 AND paid_minor + credited_minor <= total_minor))
        """,
        "CREATE INDEX invoices_customer ON invoices (tenant_id, customer_id, issue_date)",
        """
        CREATE TABLE invoice_lines (
            invoice_id TEXT NOT NULL, line_no INTEGER NOT NULL, tenant_id TEXT NOT NULL, description TEXT NOT NULL,
            quantity TEXT NOT NULL, unit_price_minor BIGINT NOT NULL, tax_rate TEXT NOT NULL, revenue_account_id TEXT NOT NULL,
            net_minor BIGINT NOT NULL, tax_minor BIGINT NOT NULL, PRIMARY KEY (invoice_id, line_no))
        """,
        """
        CREATE TABLE invoice_payments (
            id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, invoice_id TEXT NOT NULL, kind TEXT NOT NULL, amount_minor BIGINT NOT NULL,
            payment_date TEXT NOT NULL, entry_id TEXT, source_id TEXT, created_at_ms BIGINT NOT NULL)
        """,
        "CREATE INDEX invoice_payments_invoice ON invoice_payments (tenant_id, invoice_id, payment_date)",
        """
        CREATE TABLE document_sequences (
            tenant_id TEXT NOT NULL, kind TEXT NOT NULL, next_value BIGINT NOT NULL, PRIMARY KEY (tenant_id, kind))
        """,
    ]

    static let tables = [
        """
            CREATE TABLE ledgers (
                tenant_id TEXT PRIMARY KEY, base_currency TEXT NOT NULL, fiscal_year_start_month INTEGER NOT NULL,
                approval_threshold_minor BIGINT, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL)
            """,
            """
            CREATE TABLE accounts (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
                contra INTEGER NOT NULL, normal_side TEXT NOT NULL, parent_id TEXT, currency TEXT NOT NULL,
                cash_flow_tag TEXT, balance_constraint TEXT NOT NULL, status TEXT NOT NULL, system_role TEXT,
                posted_debits_minor BIGINT NOT NULL DEFAULT 0, posted_credits_minor BIGINT NOT NULL DEFAULT 0,
                pending_debits_minor BIGINT NOT NULL DEFAULT 0, pending_credits_minor BIGINT NOT NULL DEFAULT 0,
                created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL,
                UNIQUE (tenant_id, code),
                CHECK (posted_debits_minor >= 0 AND posted_credits_minor >= 0 AND pending_debits_minor >= 0
                       AND pending_credits_minor >= 0),
                CHECK (balance_constraint <> 'debits_must_not_exceed_credits'
                       OR posted_debits_minor + pending_debits_minor <= posted_credits_minor),
                CHECK (balance_constraint <> 'credits_must_not_exceed_debits'
                       OR posted_credits_minor + pending_credits_minor <= posted_debits_minor))
            """,
            "CREATE UNIQUE INDEX accounts_system_role ON accounts (tenant_id, system_role) WHERE system_role IS NOT NULL",
            """
            CREATE TABLE journal_entries (
                id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, status TEXT NOT NULL, source TEXT NOT NULL, source_id TEXT,
                accounting_date TEXT NOT NULL, description TEXT NOT NULL, reference TEXT, metadata TEXT NOT NULL,
                request_hash TEXT NOT NULL, reverses_id TEXT, reversed_by_id TEXT, pending_id TEXT, resolved_by_id TEXT,
                timeout_at_ms BIGINT, batch_id TEXT, created_by TEXT, approved_by TEXT, created_at_ms BIGINT NOT NULL,
                posted_at_ms BIGINT, resolved_at_ms BIGINT)
            """,
            """
            CREATE UNIQUE INDEX journal_entries_source ON journal_entries (tenant_id, source, source_id)
            WHERE source_id IS NOT NULL
            """,
            "CREATE INDEX journal_entries_listing ON journal_entries (tenant_id, accounting_date, id)",
            "CREATE INDEX journal_entries_pending ON journal_entries (status, timeout_at_ms) WHERE status = 'pending'",
            """
            CREATE TABLE journal_lines (
                entry_id TEXT NOT NULL, line_no INTEGER NOT NULL, tenant_id TEXT NOT NULL, account_id TEXT NOT NULL,
                state TEXT NOT NULL, source TEXT NOT NULL, accounting_date TEXT NOT NULL, posted_at_ms BIGINT NOT NULL,
                debit_minor BIGINT NOT NULL, credit_minor BIGINT NOT NULL, currency TEXT NOT NULL, memo TEXT,
                PRIMARY KEY (entry_id, line_no),
                CHECK (debit_minor >= 0 AND credit_minor >= 0 AND (debit_minor = 0 OR credit_minor = 0)
                       AND debit_minor + credit_minor > 0))
            """,
            """
            CREATE INDEX journal_lines_account
            ON journal_lines (tenant_id, account_id, state, accounting_date, posted_at_ms, entry_id, line_no)
            """,
            """
            CREATE INDEX journal_lines_date
            ON journal_lines (tenant_id, state, accounting_date, account_id, debit_minor, credit_minor)
            """,
            """
            CREATE TABLE fiscal_years (
                tenant_id TEXT NOT NULL, fiscal_year INTEGER NOT NULL, status TEXT NOT NULL, closing_entry_id TEXT,
                changed_at_ms BIGINT NOT NULL, changed_by TEXT, PRIMARY KEY (tenant_id, fiscal_year))
            """,
            """
            CREATE TABLE fiscal_periods (
                tenant_id TEXT NOT NULL, period TEXT NOT NULL, status TEXT NOT NULL, changed_at_ms BIGINT NOT NULL,
                changed_by TEXT, PRIMARY KEY (tenant_id, period))
            """,
    ]

    /// Posted lines never change; a posted entry may only gain the link to its reversal.
    static let immutabilitySQLite = [
        """
        CREATE TRIGGER journal_lines_posted_immutable BEFORE UPDATE ON journal_lines WHEN OLD.state = 'posted'
        BEGIN SELECT RAISE(ABORT, 'posted journal lines are immutable'); END
        """,
        """
        CREATE TRIGGER journal_lines_posted_kept BEFORE DELETE ON journal_lines WHEN OLD.state = 'posted'
        BEGIN SELECT RAISE(ABORT, 'posted journal lines are immutable'); END
        """,
        """
        CREATE TRIGGER journal_entries_posted_immutable BEFORE UPDATE ON journal_entries
        WHEN OLD.status = 'posted' AND (NEW.status IS NOT OLD.status OR NEW.accounting_date IS NOT OLD.accounting_date
            OR NEW.description IS NOT OLD.description OR NEW.posted_at_ms IS NOT OLD.posted_at_ms
            OR NEW.reversed_by_id IS NOT OLD.reversed_by_id AND OLD.reversed_by_id IS NOT NULL)
        BEGIN SELECT RAISE(ABORT, 'posted journal entries are immutable'); END
        """,
        """
        CREATE TRIGGER journal_entries_posted_kept BEFORE DELETE ON journal_entries WHEN OLD.status = 'posted'
        BEGIN SELECT RAISE(ABORT, 'posted journal entries are immutable'); END
        """,
    ]

    /// The same guarantees in PL/pgSQL.
    static let immutabilityPostgres = [
        """
        CREATE OR REPLACE FUNCTION journal_lines_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.state = 'posted' THEN RAISE EXCEPTION 'posted journal lines are immutable'; END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$
        """,
        """
        CREATE TRIGGER journal_lines_guard BEFORE UPDATE OR DELETE ON journal_lines
        FOR EACH ROW EXECUTE FUNCTION journal_lines_guard()
        """,
        """
        CREATE OR REPLACE FUNCTION journal_entries_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'posted' THEN
                IF TG_OP = 'DELETE' OR NEW.status IS DISTINCT FROM OLD.status
                   OR NEW.accounting_date IS DISTINCT FROM OLD.accounting_date
                   OR NEW.description IS DISTINCT FROM OLD.description
                   OR NEW.posted_at_ms IS DISTINCT FROM OLD.posted_at_ms
                   OR (OLD.reversed_by_id IS NOT NULL AND NEW.reversed_by_id IS DISTINCT FROM OLD.reversed_by_id) THEN
                    RAISE EXCEPTION 'posted journal entries are immutable';
                END IF;
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$
        """,
        """
        CREATE TRIGGER journal_entries_guard BEFORE UPDATE OR DELETE ON journal_entries
        FOR EACH ROW EXECUTE FUNCTION journal_entries_guard()
        """,
    ]
}
