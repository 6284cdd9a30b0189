import FinFlowCore
import Foundation

/// The password rules: 12–128 characters, not among the 10,000 most common passwords, not containing the local
/// part of the account's email.
struct PasswordPolicy: Sendable {
    static let lengthMin = 12
    static let lengthMax = 128
    let commonPasswords: Set<String>

    /// The policy with the shipped list of common passwords.
    static let standard: PasswordPolicy = {
        guard let url = Bundle.module.url(forResource: "common-passwords", withExtension: "txt", subdirectory: "Resources"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { preconditionFailure("the common-passwords resource is missing from the build") }
        return PasswordPolicy(commonPasswords: Set(text.split(separator: "\n").map { $0.lowercased() }))
    }()

    /// The reasons `password` is refused for `email`, as field errors of `field`.
    func problems(password: String, email: String, field: String) -> [AppError.FieldError] {
        var validator = Validator()
        let length = password.count
        validator.check(
            (Self.lengthMin...Self.lengthMax).contains(length), field,
            "must be \(Self.lengthMin)–\(Self.lengthMax) characters")
        validator.check(!self.commonPasswords.contains(password.lowercased()), field, "is one of the most common passwords")
        let localPart = email.split(separator: "@").first.map { String($0).lowercased() } ?? ""
        if localPart.count >= 3 {
            validator.check(!password.lowercased().contains(localPart), field, "must not contain the email's name")
        }
        return validator.errors
    }
}

