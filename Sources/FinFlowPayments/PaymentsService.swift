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
            let stripe = HTTPField.Name("Stripe-Signature")!
            let square = HTTPField.Name("x-square-hmacsha256-signature")!
            let receivers: [(String, @Sendable (String, HTTPFields, Data) async throws -> PaymentDesk.WebhookReceipt)] = [
                ("stripe", { try await desk.receiveStripe(tenantId: $0, signature: $1[stripe], body: $2) }),
                ("square", { try await desk.receiveSquare(tenantId: $0, signature: $1[square], body: $2) }),
                ("paypal", { tenantId, fields, body in
                    let headers = Dictionary(fields.map { ($0.name.canonicalName, $0.value) }, uniquingKeysWith: { first, _ in first })
                    return try await desk.receivePayPal(tenantId: tenantId, headers: headers, body: body)
                }),
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
