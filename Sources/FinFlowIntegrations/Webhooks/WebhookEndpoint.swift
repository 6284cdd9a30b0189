import FinFlowCore
import Foundation

/// A tenant's webhook endpoint as stored (its secrets stay sealed in the store).
struct WebhookEndpoint: Sendable {
    enum Status: String, Sendable { case active, disabled }

    let id: String
    let url: String
    let description: String?
    let notifyEmail: String?
    let eventTypes: [String]
    let status: Status
    let disabledReason: String?
    let disabledAtMillis: Int64?
    let createdBy: String
    let createdAtMillis: Int64
    /// Until when the secret rotated out still signs deliveries beside the current one.
    let previousSecretUntilMillis: Int64?
}

/// What a manager asks of an endpoint, checked: everything the API takes, validated once here.
struct WebhookEndpointDraft: Sendable {
    var url: String?
    var eventTypes: [String]?
    var description: String??
    var notifyEmail: String??
    var enabled: Bool?

    static let descriptionMax = 200

    /// Checks each field given, recording failures in `validator`; answers the draft with normalised values.
    static func checked(
        url: String?, eventTypes: [String]?, description: String??, notifyEmail: String??, enabled: Bool?, allowLoopback: Bool,
        validator: inout Validator
    ) -> WebhookEndpointDraft {
        var draft = WebhookEndpointDraft(enabled: enabled)
        if let url {
            if let problem = WebhookURL.problem(url, allowLoopback: allowLoopback) { validator.fail("url", problem) } else { draft.url = url }
        }
        if let eventTypes {
            let unknown = eventTypes.filter { !WebhookCatalogue.types.contains($0) }
            validator.check(!eventTypes.isEmpty, "eventTypes", "must name at least one event type")
            validator.check(
                unknown.isEmpty, "eventTypes",
                "\(unknown.prefix(3).map { "'\($0.prefix(80))'" }.joined(separator: ", ")) not offered; GET /v1/integrations/webhooks/event-types lists them")
            draft.eventTypes = Array(Set(eventTypes)).sorted()
        }
        if let description {
            let text = description?.trimmingCharacters(in: .whitespacesAndNewlines)
            validator.check(
                (text?.count ?? 0) <= Self.descriptionMax && !(text?.contains(where: \.isNewline) ?? false), "description",
                "must be one line of at most \(Self.descriptionMax) characters")
            draft.description = .some(text?.isEmpty == true ? nil : text)
        }
        if let notifyEmail {
            if let address = notifyEmail {
                let normalised = EmailAddress.normalized(address)
                validator.check(normalised != nil, "notifyEmail", "is not an email address")
                draft.notifyEmail = .some(normalised)
            } else {
                draft.notifyEmail = .some(nil)
            }
        }
        return draft
    }
}
