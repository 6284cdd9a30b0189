import FinFlowCore
import Foundation
import OpenAPIHummingbird

/// multi-tenant-service: tenants, settings and memberships.
public enum TenancyService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "tenancy", title: "multi-tenant-service", migrations: TenancyMigrations.all,
        openAPIIn: .module, sendsMail: true,
        personalData: TenancyService.personalData,
        make: { env in Running(directory: TenantDirectory(env: env)) })

    struct Running: FinFlowService {
        let directory: TenantDirectory

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try TenancyAPI(directory: self.directory).registerHandlers(on: api, configuration: .finFlow)
        }

        var consumers: [EventConsumer] {
            let directory = self.directory
            return [
                .of(UserRegistered.self, name: "tenancy.user-registered", database: directory.database) { event, db in
                    try await directory.provision(event.data, on: db)
                }
            ]
        }
    }
}
