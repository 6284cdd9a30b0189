import FinFlowAccounting
import FinFlowAnalytics
import FinFlowAuth
import FinFlowCompliance
import FinFlowCore
import FinFlowCredit
import FinFlowInsights
import FinFlowIntegrations
import FinFlowPayments
import FinFlowPerformance
import FinFlowRealtime
import FinFlowTax
import FinFlowTenancy
import FinFlowTransactions

/// Every service this build contains. Adding a service to FinFlow: write its descriptor, list it here.
public enum ServiceCatalog {
    public static let all: [ServiceDescriptor] = [
        AuthService.descriptor,
        TenancyService.descriptor,
        AccountingService.descriptor,
        TransactionsService.descriptor,
        PaymentsService.descriptor,
        CreditService.descriptor,
        ComplianceService.descriptor,
        TaxService.descriptor,
        IntegrationsService.descriptor,
        InsightsService.descriptor,
        AnalyticsService.descriptor,
        RealtimeService.descriptor,
        PerformanceService.descriptor,
    ]

    /// The descriptors named in `names` (all when empty); an unknown name is a setting error.
    public static func select(_ names: [String]) throws -> [ServiceDescriptor] {
        guard !names.isEmpty else { return all }
        return try names.map { name in
            guard let descriptor = all.first(where: { $0.name == name }) else {
                throw AppError.invalid(
                    code: "unknown-service",
                    "invalid setting --services (FINFLOW_SERVICES): '\(name)' is not a service of this build; known: \(all.map(\.name).joined(separator: ", "))")
            }
            return descriptor
        }
    }
}
