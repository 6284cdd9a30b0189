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
        openAPIDocument: {
            guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
                preconditionFailure("openapi.yaml is missing from the payments bundle")
            }
            return try String(contentsOf: url, encoding: .utf8)
        },
        make: { env in Running(desk: PaymentDesk(env: env)) })

    struct Running: FinFlowService {
        let desk: PaymentDesk

        func registerRoutes(api: FinFlowRouterGroup, root: FinFlowRouter) throws {
            try PaymentsAPI(desk: self.desk).registerHandlers(on: api, configuration: .finFlow)
            let desk = self.desk
            // Outside the generated API: each signature is over the exact bytes, so the body is read raw.
            let receivers: [(String, String, @Sendable (String, String?, Data) async throws -> PaymentDesk.WebhookReceipt)] = [
                ("stripe", "Stripe-Signature", desk.receiveStripe),
                ("square", "x-square-hmacsha256-signature", desk.receiveSquare),
            ]
            for (provider, header, receive) in receivers {
                let name = HTTPField.Name(header)!
                root.post("/v1/payments/webhooks/\(provider)/{tenantId}") { request, context -> Response in
                    let tenantId = context.parameters.get("tenantId") ?? ""
                    let body = try await request.body.collect(upTo: PaymentDesk.webhookBodyBytesMax)
                    let receipt = try await receive(tenantId, request.headers[name], Data(body.readableBytesView))
                    return Response(
                        status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(receipt))))
                }
            }
        }
    }
}
