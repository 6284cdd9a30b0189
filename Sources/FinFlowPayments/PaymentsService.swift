import FinFlowCore
import Foundation
import HTTPTypes
import Hummingbird
import OpenAPIHummingbird

/// payments-service: payment intents over the tenant's gateways, refunds, and the gateways' webhooks.
public enum PaymentsService {
    /// The descriptor `FinFlowServer` lists.
    public static let descriptor = ServiceDescriptor(
        name: "payments", title: "payments-service", migrations: PaymentsMigrations.all,
        openAPIIn: .module,
        personalData: PaymentsService.personalData,
        make: { env in Running(desk: PaymentDesk(env: env)) })

    struct Running: FinFlowService {
        let desk: PaymentDesk

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try PaymentsAPI(desk: self.desk).registerHandlers(on: api, configuration: .finFlow)
            let desk = self.desk
            // Outside the generated API: each signature is over the exact bytes, so the body is read raw.
            let receivers: [(String, @Sendable (String, HTTPFields, Data) async throws -> PaymentDesk.WebhookReceipt)] = [
                ("stripe", desk.receiveStripe), ("square", desk.receiveSquare), ("paypal", desk.receivePayPal),
            ]
            for (provider, receive) in receivers {
                root.post("/v1/payments/webhooks/\(provider)/{tenantId}") { request, context -> Response in
                    let tenantId = context.parameters.get("tenantId") ?? ""
                    let body = try await request.body.collect(upTo: PaymentDesk.webhookBodyBytesMax)
                    let receipt = try await receive(tenantId, request.headers, Data(body.readableBytesView))
                    return Response(
                        status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(receipt))))
                }
            }
        }
    }
}
