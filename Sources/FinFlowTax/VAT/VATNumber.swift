/// EU VAT identification numbers: their form and check digits for every member state (Greece's prefix is `EL`) and
/// Northern Ireland (`XI`), following each administration's published algorithm. A number that passes may still
/// not be registered: only VIES can say that.
enum VATNumber {
    /// What a check of form and check digits found.
    enum Verdict: Equatable, Sendable {
        case valid
        case invalid(String)
    }

    /// The longest text accepted as a VAT number before normalising.
    static let textLengthMax = 32

    /// The VAT prefix of each jurisdiction and the country it stands for.
    static let countryOfPrefix: [String: String] = [
        "AT": "AT", "BE": "BE", "BG": "BG", "CY": "CY", "CZ": "CZ", "DE": "DE", "DK": "DK", "EE": "EE", "EL": "GR", "ES": "ES",
        "FI": "FI", "FR": "FR", "HR": "HR", "HU": "HU", "IE": "IE", "IT": "IT", "LT": "LT", "LU": "LU", "LV": "LV", "MT": "MT",
        "NL": "NL", "PL": "PL", "PT": "PT", "RO": "RO", "SE": "SE", "SI": "SI", "SK": "SK", "XI": "XI",
    ]

    /// Upper case, without spaces, dots, dashes or slashes; nil when anything else than letters, digits, `+` and `*`
    /// (Irish numbers) remains, or it is too long.
    static func normalise(_ text: String) -> String? {
        guard text.count <= Self.textLengthMax else { return nil }
        let kept = text.uppercased().filter { !" .-/".contains($0) }
        guard kept.count >= 4, kept.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "*") }) else { return nil }
        return kept
    }

    /// The country a normalised number belongs to (`GR` for `EL…`).
    static func country(of number: String) -> String? {
        Self.countryOfPrefix[String(number.prefix(2))]
    }

    /// Checks a normalised number's form and check digits.
    static func check(_ number: String) -> Verdict {
        let prefix = String(number.prefix(2))
        let body = Array(number.dropFirst(2))
        guard Self.countryOfPrefix[prefix] != nil else { return .invalid("\(prefix) is not an EU VAT prefix (Greece is EL, Northern Ireland XI)") }
        let ok: Bool
        switch prefix {
        case "AT": ok = Self.austria(body)
        case "BE": ok = Self.belgium(body)
        case "BG": ok = Self.bulgaria(body)
        case "CY": ok = Self.cyprus(body)
        case "CZ": ok = Self.czechia(body)
        case "DE": ok = body.count == 9 && Self.digits(body) && body[0] != "0" && Self.mod11x10(body)
        case "DK": ok = body.count == 8 && Self.digits(body) && body[0] != "0" && Self.weighted(body, [2, 7, 6, 5, 4, 3, 2, 1]) % 11 == 0
        case "EE": ok = body.count == 9 && Self.digits(body) && Self.weighted(body, [3, 7, 1, 3, 7, 1, 3, 7, 1]) % 10 == 0
        case "EL": ok = Self.greece(body)
        case "ES": ok = Self.spain(body)
        case "FI": ok = body.count == 8 && Self.digits(body) && Self.weighted(body, [7, 9, 10, 5, 8, 4, 2, 1]) % 11 == 0
        case "FR": ok = Self.france(body)
        case "HR": ok = body.count == 11 && Self.digits(body) && Self.mod11x10(body)
        case "HU": ok = body.count == 8 && Self.digits(body) && Self.weighted(body, [9, 7, 3, 1, 9, 7, 3, 1]) % 10 == 0
        case "IE": ok = Self.ireland(body)
        case "IT": ok = Self.italy(body)
        case "LT": ok = Self.lithuania(body)
        case "LU": ok = body.count == 8 && Self.digits(body) && Self.value(body[0..<6]) % 89 == Self.value(body[6..<8])
        case "LV": ok = Self.latvia(body)
        case "MT": ok = body.count == 8 && Self.digits(body) && body[0] != "0" && Self.weighted(body, [3, 4, 6, 7, 8, 9, 10, 1]) % 37 == 0
        case "NL": ok = Self.netherlands(body)
        case "PL": ok = body.count == 10 && Self.digits(body) && Self.weighted(body, [6, 5, 7, 2, 3, 4, 5, 6, 7, -1]) % 11 == 0
        case "PT": ok = body.count == 9 && Self.digits(body) && body[0] != "0" && Self.portugal(body)
        case "RO": ok = Self.romania(body)
        case "SE": ok = body.count == 12 && Self.digits(body) && body[10] == "0" && body[11] == "1" && Self.luhn(body[0..<10])
        case "SI": ok = Self.slovenia(body)
        case "SK": ok = Self.slovakia(body)
        case "XI": ok = Self.northernIreland(body)
        default: ok = false
        }
        return ok ? .valid : .invalid("\(number) fails the form or check digits of a \(prefix) VAT number")
    }

    // MARK: shared arithmetic

    static func digits(_ characters: some Collection<Character>) -> Bool {
        !characters.isEmpty && characters.allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func digit(_ character: Character) -> Int { Int(character.asciiValue ?? 48) - 48 }

    static func value(_ characters: some Collection<Character>) -> Int {
        characters.reduce(0) { $0 * 10 + Self.digit($1) }
    }

    static func weighted(_ characters: some Collection<Character>, _ weights: [Int]) -> Int {
        zip(characters, weights).reduce(0) { $0 + Self.digit($1.0) * $1.1 }
    }

    /// ISO 7064 MOD 11,10 over all the digits (Germany, Croatia).
    static func mod11x10(_ characters: [Character]) -> Bool {
        var check = 5
        for character in characters { check = ((check == 0 ? 10 : check) * 2 % 11 + Self.digit(character)) % 10 }
        return check == 1
    }

    /// The Luhn check over all the digits.
    static func luhn(_ characters: some Collection<Character>) -> Bool {
        var sum = 0
        for (index, character) in characters.reversed().enumerated() {
            let value = Self.digit(character)
            sum += index % 2 == 0 ? value : (value * 2 / 10 + value * 2 % 10)
        }
        return sum % 10 == 0
    }

    /// A remainder of `n` modulo 97 of a long digit string, without overflow.
    static func mod97(_ text: some Sequence<Character>) -> Int {
        var remainder = 0
        for character in text {
            if character.isNumber { remainder = (remainder * 10 + Self.digit(character)) % 97 }
            else if let letter = character.asciiValue { remainder = (remainder * 100 + Int(letter) - 55) % 97 }
        }
        return remainder
    }
}
