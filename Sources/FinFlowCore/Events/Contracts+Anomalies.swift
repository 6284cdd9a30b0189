/// The realtime service scored a transaction or payment as anomalous on arrival (realtime → compliance, any service):
/// how unusual it is, against which threshold, and why, feature by feature.
public struct AnomalyDetected: EventContract, Equatable {
    public static let eventType = "finflow.anomaly.detected"
    public static let schemaVersion = 1

    /// One feature's part in the score.
    public struct Reason: Codable, Sendable, Equatable {
        /// `amount-for-account`, `amount-for-counterparty`, `amount-for-tenant`, `new-counterparty`, `burst`, `drift`.
        public let feature: String
        public let value: Double
        public let contribution: Double
        public let detail: String

        public init(feature: String, value: Double, contribution: Double, detail: String) {
            self.feature = feature
            self.value = value
            self.contribution = contribution
            self.detail = detail
        }
    }

    public let anomalyId: String
    public let tenantId: String
    /// `transaction` or `payment`.
    public let subjectType: String
    public let subjectId: String
    /// 0–1; the tenant's threshold was crossed.
    public let score: Double
    public let threshold: Double
    public let amountMinor: Int64
    public let currency: String
    public let reasons: [Reason]
    /// The position of the anomaly in the tenant's stream (the `id` of its push to live clients).
    public let sequence: Int64
    public let detectedAtMillis: Int64

    public init(
        anomalyId: String, tenantId: String, subjectType: String, subjectId: String, score: Double, threshold: Double, amountMinor: Int64,
        currency: String, reasons: [Reason], sequence: Int64, detectedAtMillis: Int64
    ) {
        self.anomalyId = anomalyId
        self.tenantId = tenantId
        self.subjectType = subjectType
        self.subjectId = subjectId
        self.score = score
        self.threshold = threshold
        self.amountMinor = amountMinor
        self.currency = currency
        self.reasons = reasons
        self.sequence = sequence
        self.detectedAtMillis = detectedAtMillis
    }
}
