import Configuration
import Foundation

/// Every setting of a FinFlow process, read once at start through swift-configuration (command-line flags first,
/// then `FINFLOW_*` environment variables, then these defaults) and validated: a bad value stops the start with a
/// message naming the setting.
public struct Settings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Service names to run; empty means all built services.
    public var services: [String] = []
    /// Where embedded mode keeps its SQLite files and keys.
    public var dataDirectory = ".finflow"
    /// `postgres://…`; nil runs on SQLite files in `dataDirectory`.
    public var databaseURL: String?
    public var databasePoolSizeMax = 10
    /// Reader connections of each service's SQLite file (each holds two file descriptors).
    public var sqliteReaders = SQLiteDatabase.readerCount
    /// Apply pending PostgreSQL migrations at start instead of refusing to start.
    public var migrateOnStart = false
    /// `json`, `text`, or `auto` (JSON unless the output is a terminal).
    public var logFormat = "auto"
    public var logLevel = "info"
    public var requestBodyBytesMax = 1 << 20
    /// How long a connection may wait for its first request's head, or stay open idle between requests, before the
    /// server ends it (a first request too slow gets a 408 problem).
    public var httpIdleTimeoutSeconds = 60
    /// The `iss` of access tokens.
    public var tokenIssuer = "urn:finflow:auth"
    /// The `aud` of access tokens.
    public var tokenAudience = "urn:finflow:api"
    public var accessTokenTTLSeconds = 900
    public var refreshTokenTTLSeconds = 30 * 86_400
    public var bcryptCost = 12
    public var lockoutThreshold = 5
    public var lockoutWindowSeconds = 900
    public var lockoutBaseSeconds = 900
    public var lockoutMaxSeconds = 86_400
    /// Sign-in attempts allowed per client address per minute.
    public var signInAttemptsPerAddressPerMinute = 30
    /// Where the auth service's public keys are fetched when auth runs in another process.
    public var jwksURL: String?
    /// Kafka's bootstrap brokers (`host:port,…`): events travel through Kafka; in-process when nil.
    public var kafkaBrokers: String?
    /// The public address of this deployment, used in links sent by mail.
    public var publicBaseURL: String?
    /// An external OpenID Connect provider for sign-in (its issuer URL); none when nil.
    public var oidcIssuer: String?
    public var oidcClientId: String?
    public var oidcClientSecret: String?
    /// Where the provider sends the browser back with the code (the front end's callback page).
    public var oidcRedirectURI: String?
    /// Counterparty countries (ISO 3166-1 alpha-2) the transaction service refuses: by default FATF's call-for-action
    /// list (2025). `none` empties it.
    public var transactionsSanctionedCountries: Set<String> = ["IR", "KP", "MM"]
    /// Counterparty names the transaction service refuses (compared with case, accents, punctuation and spacing
    /// ignored), from `FINFLOW_TRANSACTIONS_BLOCKED_COUNTERPARTIES` (`;`-separated) and the file of one name a line.
    public var transactionsBlockedCounterparties: [String] = []
    /// The key (32 bytes, base64) that seals payment gateways' credentials at rest; when nil the payment service makes
    /// one and keeps it in its own database (set it in production so a copy of the database alone opens nothing).
    public var paymentsCredentialKey: String?
    /// The key (32 bytes, base64) that seals the integration service's secrets at rest (webhook signing secrets,
    /// providers' tokens); when nil the integration service makes one and keeps it in its own database.
    public var integrationsSecretKey: String?
    /// Webhook endpoints may be plain `http://` on the loopback address (127.0.0.1, ::1, localhost): for trying webhooks
    /// against a receiver on the same machine. Off by default: endpoints are HTTPS on public names only.
    public var integrationsWebhookAllowLoopback = false
    /// FinFlow's app at QuickBooks Online and at Xero; a provider whose app has no id and secret cannot be connected.
    public var quickbooks = ProviderApp()
    public var xero = ProviderApp()
    /// The key (32 bytes, base64) that seals the auth service's signing keys at rest; when nil the auth service makes
    /// one and keeps it in its own database. `authKeyEncryptionKeyPrevious` still opens what the previous key sealed,
    /// and the keys are sealed again with the new one as they are loaded: that is how the key is rotated.
    public var authKeyEncryptionKey: String?
    public var authKeyEncryptionKeyPrevious: String?
    /// Redis shared by the replicas (`redis://[:password@]host:port[/db]`): rate limits and the hot idempotency cache.
    /// None: each process keeps its own counters, and idempotency is answered from the database alone.
    public var redisURL: String?
    /// Compliance monitoring keeps a copy of each tenant's windowed figures in Redis (`redisURL`, required), so that a
    /// process taking a tenant's events after another reads them there rather than from its tables. Off by default:
    /// `Benchmarks/monitoring.sh --redis-url` measures whether it pays on a given deployment.
    public var complianceSharedFigures = false
    /// The VIES REST service the tax service confirms EU VAT numbers with (`…/rest-api`, to which
    /// `/ms/{country}/vat/{number}` is added); `off` checks form and check digits only (numbers are "not confirmed").
    public var viesURL: String? = Settings.viesDefaultURL
    /// The European Commission's VIES REST service.
    public static let viesDefaultURL = "https://ec.europa.eu/taxation_customs/vies/rest-api"
    /// Where mail is sent (`smtp://[user:password@]host[:587]` with STARTTLS, `smtps://` with TLS from the start,
    /// `smtp+plain://` in the clear for a relay on the same host); nil writes each message to `<dataDirectory>/mail/`.
    public var smtpURL: String?
    /// `smtpURL` read (checked when the settings are loaded).
    public var smtpAddress: SMTPAddress? { self.smtpURL.flatMap(SMTPAddress.init(url:)) }
    /// The sender of FinFlow's mail.
    public var smtpFrom = "FinFlow <no-reply@finflow.invalid>"
    /// PEM trust roots for an SMTP server whose certificate a private CA signed.
    public var smtpTrustRootsFile: String?
    /// After this long a request still running under an `Idempotency-Key` is taken to have died with its process, and
    /// a retry with the same key runs it again (finding what it had committed).
    public var idempotencyRunningTimeoutSeconds = 60
    /// The Ed25519 key (32 bytes, base64) every service signs its audit checkpoints with; when nil each service makes
    /// one and keeps it in its own database.
    public var auditSigningKey: String?
    /// How long a moved audit chain head waits for its signed checkpoint, at most.
    public var auditCheckpointSeconds = 300
    /// Every database statement is timed by its fingerprint (the performance service's figures); false measures nothing,
    /// for comparing the cost of measuring.
    public var statementStatistics = true
    /// A database statement taking this long or longer is logged as slow (with its fingerprint).
    public var slowStatementMillis = StatementBook.slowMillisDefault
    /// The tenant whose members operate the platform: the performance service answers only tokens of this tenant (with
    /// `performance:read` or `performance:manage`). None by default: the fleet's figures are then read with `finflow top`.
    public var operatorTenant: String?
    /// How often the performance service keeps a sample of the process's figures as its own time series.
    public var performanceSampleSeconds = 60
    /// Other processes of the fleet (base URLs) whose `/metrics` the performance service reads into its time series at
    /// each sample. None by default: the samples cover the performance service's own process (every service, embedded).
    public var performanceTargets: [String] = []
    /// A fault to inject, for the crash tests only: `crash-before-idempotent-answer` stops the process (SIGKILL) after
    /// a keyed request's effect has committed and before its answer is stored. None by default.
    public var faultInjection: FaultInjection?
    /// The most processes `FINFLOW_PERFORMANCE_TARGETS` may name.
    public static let performanceTargetsMax = 64
    /// `redisURL` read (checked when the settings are loaded).
    public var redisAddress: RedisAddress? { self.redisURL.flatMap(RedisAddress.init(url:)) }

    /// Defaults only.
    public init() {}

    /// Every `FINFLOW_*` environment variable a FinFlow process reads.
    public static var environmentVariables: Set<String> { Set(Key.allCases.map(\.environmentName)) }

    /// The configuration keys, with the flag and environment variable each is read from.
    enum Key: String, CaseIterable {
        case host, port, services, dataDirectory, databaseUrl, databasePoolSizeMax, migrate, logFormat, logLevel,
            requestBodyBytesMax, httpIdleTimeoutSeconds, tokenIssuer, tokenAudience, accessTokenTtlSeconds, refreshTokenTtlSeconds, bcryptCost,
            lockoutThreshold, lockoutWindowSeconds, lockoutBaseSeconds, lockoutMaxSeconds,
            signInAttemptsPerAddressPerMinute, jwksUrl, kafkaBrokers, publicBaseUrl, oidcIssuer, oidcClientId, oidcClientSecret,
            oidcRedirectUri, transactionsSanctionedCountries, transactionsBlockedCounterparties, transactionsBlockedCounterpartiesFile,
            paymentsCredentialKey, authKeyEncryptionKey, authKeyEncryptionKeyPrevious, redisUrl, complianceSharedFigures, idempotencyRunningTimeoutSeconds, faultInjection, smtpUrl, smtpFrom,
            smtpTrustRootsFile, auditSigningKey, auditCheckpointSeconds, viesUrl, integrationsSecretKey, integrationsWebhookAllowLoopback,
            quickbooksClientId, quickbooksClientSecret, quickbooksUrls, quickbooksWebhookVerifier, xeroClientId, xeroClientSecret, xeroUrls,
            xeroWebhookKey, sqliteReaders, statementStatistics, slowStatementMillis, operatorTenant, performanceSampleSeconds,
            performanceTargets

        var configKey: ConfigKey { ConfigKey(["finflow", self.rawValue]) }

        /// `FINFLOW_DATABASE_URL`.
        var environmentName: String {
            "FINFLOW_" + self.rawValue.reduce(into: "") { name, character in
                if character.isUppercase { name += "_" }
                name += character.uppercased()
            }
        }

        /// `--database-url`.
        var flagName: String {
            "--" + self.rawValue.reduce(into: "") { name, character in
                if character.isUppercase { name += "-" }
                name += character.lowercased()
            }
        }
    }

    /// Reads the settings: `flags` (already parsed from the command line, keyed by setting) over `environment`.
    public static func load(flags: [String: String], environment: [String: String]) throws -> Settings {
        var flagValues: [AbsoluteConfigKey: ConfigValue] = [:]
        for (name, value) in flags {
            guard let key = Key(rawValue: name) else { continue }
            flagValues[AbsoluteConfigKey(key.configKey)] = ConfigValue(.string(value), isSecret: key == .databaseUrl)
        }
        let reader = ConfigReader(providers: [
            InMemoryProvider(name: "command line", values: flagValues),
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .specific(["FINFLOW_DATABASE_URL", "FINFLOW_OIDC_CLIENT_SECRET", "FINFLOW_PAYMENTS_CREDENTIAL_KEY", "FINFLOW_INTEGRATIONS_SECRET_KEY", "FINFLOW_REDIS_URL", "FINFLOW_QUICKBOOKS_CLIENT_SECRET", "FINFLOW_XERO_CLIENT_SECRET", "FINFLOW_QUICKBOOKS_WEBHOOK_VERIFIER", "FINFLOW_XERO_WEBHOOK_KEY"])),
        ])
        var settings = Settings()
        func text(_ key: Key) -> String? {
            reader.string(forKey: key.configKey, isSecret: key == .databaseUrl)?.trimmingCharacters(in: .whitespaces)
        }
        func integer(_ key: Key, _ range: ClosedRange<Int>, into value: inout Int) throws {
            guard let raw = text(key) else { return }
            guard let parsed = Int(raw), range.contains(parsed) else {
                throw SettingError(key: key, message: "'\(raw)' is not a whole number in \(range.lowerBound)…\(range.upperBound)")
            }
            value = parsed
        }
        if let host = text(.host) {
            guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".:-".contains($0) }) else {
                throw SettingError(key: .host, message: "'\(host)' is not a host name or address")
            }
            settings.host = host
        }
        try integer(.port, 0...65_535, into: &settings.port)
        if let services = text(.services) {
            settings.services = services.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                .filter { !$0.isEmpty }
        }
        if let directory = text(.dataDirectory) {
            guard !directory.isEmpty else { throw SettingError(key: .dataDirectory, message: "must not be empty") }
            settings.dataDirectory = directory
        }
        if let url = text(.databaseUrl), !url.isEmpty {
            guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), URLComponents(string: url)?.host != nil
            else {
                throw SettingError(key: .databaseUrl, message: "expected postgres://user:password@host:port/database")
            }
            settings.databaseURL = url
        }
        try integer(.databasePoolSizeMax, 1...200, into: &settings.databasePoolSizeMax)
        func flag(_ key: Key, into target: inout Bool) throws {
            guard let value = text(key) else { return }
            guard let flag = ["true": true, "1": true, "yes": true, "false": false, "0": false, "no": false][value.lowercased()]
            else { throw SettingError(key: key, message: "'\(value.prefix(40))' is not true or false") }
            target = flag
        }
        try flag(.migrate, into: &settings.migrateOnStart)
        if let format = text(.logFormat) {
            guard ["auto", "json", "text"].contains(format) else {
                throw SettingError(key: .logFormat, message: "'\(format)' is not one of auto, json, text")
            }
            settings.logFormat = format
        }
        if let level = text(.logLevel) {
            guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(level) else {
                throw SettingError(key: .logLevel, message: "'\(level)' is not a log level (trace … critical)")
            }
            settings.logLevel = level
        }
        try integer(.requestBodyBytesMax, 1_024...(64 << 20), into: &settings.requestBodyBytesMax)
        try integer(.httpIdleTimeoutSeconds, 1...3_600, into: &settings.httpIdleTimeoutSeconds)
        if let issuer = text(.tokenIssuer), !issuer.isEmpty { settings.tokenIssuer = issuer }
        if let audience = text(.tokenAudience), !audience.isEmpty { settings.tokenAudience = audience }
        try integer(.accessTokenTtlSeconds, 60...86_400, into: &settings.accessTokenTTLSeconds)
        try integer(.refreshTokenTtlSeconds, 300...(365 * 86_400), into: &settings.refreshTokenTTLSeconds)
        try integer(.bcryptCost, 4...31, into: &settings.bcryptCost)
        try integer(.lockoutThreshold, 1...100, into: &settings.lockoutThreshold)
        try integer(.lockoutWindowSeconds, 1...86_400, into: &settings.lockoutWindowSeconds)
        try integer(.lockoutBaseSeconds, 1...86_400, into: &settings.lockoutBaseSeconds)
        try integer(.lockoutMaxSeconds, 1...(30 * 86_400), into: &settings.lockoutMaxSeconds)
        try integer(.signInAttemptsPerAddressPerMinute, 1...100_000, into: &settings.signInAttemptsPerAddressPerMinute)
        if let jwks = text(.jwksUrl), !jwks.isEmpty {
            guard let url = URL(string: jwks), ["http", "https"].contains(url.scheme ?? "") else {
                throw SettingError(key: .jwksUrl, message: "'\(jwks)' is not an http(s) URL")
            }
            settings.jwksURL = jwks
        }
        if let brokers = text(.kafkaBrokers), !brokers.isEmpty {
            for broker in brokers.split(separator: ",", omittingEmptySubsequences: false) {
                let parts = broker.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isLetter || $0.isNumber || ".-_".contains($0) }),
                    let port = Int(parts[1]), (1...65_535).contains(port)
                else {
                    throw SettingError(key: .kafkaBrokers, message: "'\(broker)' is not host:port (brokers are comma-separated host:port)")
                }
            }
            settings.kafkaBrokers = brokers.replacingOccurrences(of: " ", with: "")
        }
        if let base = text(.publicBaseUrl), !base.isEmpty { settings.publicBaseURL = base }
        try integer(.idempotencyRunningTimeoutSeconds, 1...86_400, into: &settings.idempotencyRunningTimeoutSeconds)
        try integer(.auditCheckpointSeconds, 1...86_400, into: &settings.auditCheckpointSeconds)
        if let key = text(.auditSigningKey), !key.isEmpty {
            guard AuditSigner.key(setting: key) != nil else {
                throw SettingError(key: .auditSigningKey, message: "must be an Ed25519 private key: 32 bytes in base64 (openssl rand -base64 32)")
            }
            settings.auditSigningKey = key
        }
        if let vies = text(.viesUrl), !vies.isEmpty {
            if vies == "off" { settings.viesURL = nil } else {
                guard let url = URL(string: vies), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                    throw SettingError(key: .viesUrl, message: "'\(vies.prefix(80))' is not an http(s) URL or off")
                }
                settings.viesURL = vies.hasSuffix("/") ? String(vies.dropLast()) : vies
            }
        }
        if let smtp = text(.smtpUrl), !smtp.isEmpty {
            guard SMTPAddress(url: smtp) != nil else {
                throw SettingError(key: .smtpUrl, message: "is not smtp://[user:password@]host[:port] (STARTTLS), smtps://… or smtp+plain://…")
            }
            settings.smtpURL = smtp
        }
        if let from = text(.smtpFrom), !from.isEmpty {
            guard EmailAddress.normalized(SMTPMailer.bareAddress(from)) != nil, !from.contains(where: \.isNewline) else {
                throw SettingError(key: .smtpFrom, message: "'\(from.prefix(80))' is not an address (name@domain or Name <name@domain>)")
            }
            settings.smtpFrom = from
        }
        if let file = text(.smtpTrustRootsFile), !file.isEmpty {
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw SettingError(key: .smtpTrustRootsFile, message: "'\(file)' cannot be read")
            }
            settings.smtpTrustRootsFile = file
        }
        if let fault = text(.faultInjection), !fault.isEmpty {
            guard let injected = FaultInjection(rawValue: fault) else {
                let known = FaultInjection.allCases.map(\.rawValue).joined(separator: ", ")
                throw SettingError(key: .faultInjection, message: "'\(fault.prefix(40))' is not a known fault (\(known))")
            }
            settings.faultInjection = injected
        }
        if let redis = text(.redisUrl), !redis.isEmpty {
            guard RedisAddress(url: redis) != nil else {
                throw SettingError(key: .redisUrl, message: "is not redis://[:password@]host:port[/db] (db 0–15)")
            }
            settings.redisURL = redis
        }
        try flag(.complianceSharedFigures, into: &settings.complianceSharedFigures)
        if settings.complianceSharedFigures && settings.redisURL == nil {
            throw SettingError(key: .complianceSharedFigures, message: "needs FINFLOW_REDIS_URL: the figures are shared through Redis")
        }
        for (key, path) in [(Key.oidcIssuer, \Settings.oidcIssuer), (.oidcRedirectUri, \Settings.oidcRedirectURI)] {
            guard let value = text(key), !value.isEmpty else { continue }
            guard let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw SettingError(key: key, message: "'\(value)' is not an http(s) URL")
            }
            settings[keyPath: path] = value
        }
        if let id = text(.oidcClientId), !id.isEmpty { settings.oidcClientId = id }
        if let secret = text(.oidcClientSecret), !secret.isEmpty { settings.oidcClientSecret = secret }
        if settings.oidcIssuer != nil, settings.oidcClientId == nil || settings.oidcRedirectURI == nil {
            throw SettingError(key: .oidcIssuer, message: "needs FINFLOW_OIDC_CLIENT_ID and FINFLOW_OIDC_REDIRECT_URI too")
        }
        try Self.loadScreening(into: &settings, text: text)
        if let key = text(.paymentsCredentialKey), !key.isEmpty {
            guard Data(base64Encoded: key)?.count == 32 else {
                throw SettingError(key: .paymentsCredentialKey, message: "must be 32 bytes in base64 (openssl rand -base64 32)")
            }
            settings.paymentsCredentialKey = key
        }
        if let key = text(.integrationsSecretKey), !key.isEmpty {
            guard Data(base64Encoded: key)?.count == 32 else {
                throw SettingError(key: .integrationsSecretKey, message: "must be 32 bytes in base64 (openssl rand -base64 32)")
            }
            settings.integrationsSecretKey = key
        }
        try flag(.integrationsWebhookAllowLoopback, into: &settings.integrationsWebhookAllowLoopback)
        for (path, id, secret, urls, webhookKey) in [
            (\Settings.quickbooks, Key.quickbooksClientId, Key.quickbooksClientSecret, Key.quickbooksUrls, Key.quickbooksWebhookVerifier),
            (\Settings.xero, .xeroClientId, .xeroClientSecret, .xeroUrls, .xeroWebhookKey),
        ] {
            var app = ProviderApp()
            app.clientId = text(id).flatMap { $0.isEmpty ? nil : $0 }
            app.clientSecret = text(secret).flatMap { $0.isEmpty ? nil : $0 }
            app.webhookKey = text(webhookKey).flatMap { $0.isEmpty ? nil : $0 }
            if let list = text(urls), !list.isEmpty {
                switch ProviderApp.parseURLs(list) {
                case .success(let parsed): app.urls = parsed
                case .failure(let error): throw SettingError(key: urls, message: error.message)
                }
            }
            guard (app.clientId == nil) == (app.clientSecret == nil) else {
                throw SettingError(key: id, message: "is set together with \(secret.environmentName), or neither is")
            }
            settings[keyPath: path] = app
        }
        for (name, path) in [(Key.authKeyEncryptionKey, \Settings.authKeyEncryptionKey), (.authKeyEncryptionKeyPrevious, \Settings.authKeyEncryptionKeyPrevious)] {
            guard let key = text(name), !key.isEmpty else { continue }
            guard Data(base64Encoded: key)?.count == 32 else {
                throw SettingError(key: name, message: "must be 32 bytes in base64 (openssl rand -base64 32)")
            }
            settings[keyPath: path] = key
        }
        if settings.authKeyEncryptionKeyPrevious != nil, settings.authKeyEncryptionKey == nil {
            throw SettingError(key: .authKeyEncryptionKeyPrevious, message: "needs FINFLOW_AUTH_KEY_ENCRYPTION_KEY, the key that replaces it")
        }
        try flag(.statementStatistics, into: &settings.statementStatistics)
        try integer(.sqliteReaders, 1...64, into: &settings.sqliteReaders)
        try integer(.slowStatementMillis, 1...3_600_000, into: &settings.slowStatementMillis)
        try integer(.performanceSampleSeconds, 1...86_400, into: &settings.performanceSampleSeconds)
        if let targets = text(.performanceTargets), !targets.isEmpty {
            let list = targets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard list.count <= Self.performanceTargetsMax else {
                throw SettingError(key: .performanceTargets, message: "names \(list.count) processes; at most \(Self.performanceTargetsMax)")
            }
            for target in list {
                guard let url = URL(string: target), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false,
                    url.query == nil, url.fragment == nil
                else {
                    throw SettingError(key: .performanceTargets, message: "'\(target.prefix(200))' is not an http(s) base URL")
                }
            }
            settings.performanceTargets = list.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        }
        if let tenant = text(.operatorTenant), !tenant.isEmpty {
            guard tenant.count <= 64, tenant.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw SettingError(key: .operatorTenant, message: "'\(tenant.prefix(70))' is not a tenant id (letters, digits, - and _, up to 64)")
            }
            settings.operatorTenant = tenant
        }
        guard settings.lockoutBaseSeconds <= settings.lockoutMaxSeconds else {
            throw SettingError(key: .lockoutBaseSeconds, message: "must not exceed lockout-max-seconds")
        }
        return settings
    }

    /// Most blocked counterparty names, and the largest file of them.
    static let blockedCounterpartiesMax = 100_000
    static let blockedCounterpartiesFileBytesMax = 8 << 20

    /// The transaction service's screening lists.
    private static func loadScreening(into settings: inout Settings, text: (Key) -> String?) throws {
        if let countries = text(.transactionsSanctionedCountries), !countries.isEmpty {
            if countries.lowercased() == "none" {
                settings.transactionsSanctionedCountries = []
            } else {
                var codes: Set<String> = []
                for code in countries.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).uppercased() }) where !code.isEmpty {
                    guard code.count == 2, code.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) }) else {
                        throw SettingError(key: .transactionsSanctionedCountries, message: "'\(code)' is not an ISO 3166-1 alpha-2 code (comma-separated, or none)")
                    }
                    codes.insert(code)
                }
                settings.transactionsSanctionedCountries = codes
            }
        }
        var names: [String] = []
        if let listed = text(.transactionsBlockedCounterparties), !listed.isEmpty {
            names += listed.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let path = text(.transactionsBlockedCounterpartiesFile), !path.isEmpty {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
            guard let size else { throw SettingError(key: .transactionsBlockedCounterpartiesFile, message: "'\(path)' cannot be read") }
            guard size <= Self.blockedCounterpartiesFileBytesMax else {
                throw SettingError(key: .transactionsBlockedCounterpartiesFile, message: "'\(path)' is over \(Self.blockedCounterpartiesFileBytesMax) bytes")
            }
            guard let data = FileManager.default.contents(atPath: path), let content = String(data: data, encoding: .utf8) else {
                throw SettingError(key: .transactionsBlockedCounterpartiesFile, message: "'\(path)' is not UTF-8 text")
            }
            names += content.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        guard names.count <= Self.blockedCounterpartiesMax else {
            throw SettingError(key: .transactionsBlockedCounterparties, message: "more than \(Self.blockedCounterpartiesMax) names")
        }
        if !names.isEmpty { settings.transactionsBlockedCounterparties = names }
    }

    /// The SQLite file of a service in embedded mode.
    public func sqlitePath(service: String) -> String {
        (self.dataDirectory as NSString).appendingPathComponent("\(service).sqlite")
    }

    /// Every setting with its flag and environment variable, for `--help` texts and the README.
    public static var reference: [(flag: String, environment: String)] {
        Key.allCases.map { ($0.flagName, $0.environmentName) }
    }
}

/// A setting whose value cannot be used; its message names the flag and the environment variable.
public struct SettingError: Error, CustomStringConvertible {
    let key: Settings.Key
    let message: String

    public var description: String {
        "invalid setting \(self.key.flagName) (\(self.key.environmentName)): \(self.message)"
    }
}

/// Faults a test can ask a server process to suffer at a named point, to prove what survives a crash there.
public enum FaultInjection: String, Sendable, CaseIterable {
    /// SIGKILL after a keyed request's effect committed, before its answer is stored under the key.
    case crashBeforeIdempotentAnswer = "crash-before-idempotent-answer"
    /// SIGKILL after an accounting provider answered a token refresh, before the rotated tokens are saved.
    case crashAfterTokenRefresh = "crash-after-token-refresh"
}
