extension VATNumber {
    static func austria(_ b: [Character]) -> Bool {
        guard b.count == 9, b[0] == "U", digits(b[1...]) else { return false }
        // Luhn-like: odd positions doubled with digit sums, over the seven digits after U, then (96 − sum) mod 10.
        var sum = 0
        for (index, character) in b[1..<8].enumerated() {
            let value = digit(character)
            sum += index % 2 == 0 ? value : (value * 2 / 10 + value * 2 % 10)
        }
        return (96 - sum) % 10 == digit(b[8])
    }

    static func belgium(_ b: [Character]) -> Bool {
        let n = b.count == 9 ? ["0"] + b : b
        guard n.count == 10, digits(n), n[0] == "0" || n[0] == "1", value(n) > 0 else { return false }
        return (value(n[0..<8]) + value(n[8..<10])) % 97 == 0
    }

    static func bulgaria(_ b: [Character]) -> Bool {
        guard digits(b) else { return false }
        if b.count == 9 {
            var check = weighted(b, [1, 2, 3, 4, 5, 6, 7, 8]) % 11
            if check == 10 { check = weighted(b, [3, 4, 5, 6, 7, 8, 9, 10]) % 11 }
            return check % 10 == digit(b[8])
        }
        guard b.count == 10 else { return false }
        // A person's number (EGN), a foreigner's (PNF), or another body's.
        let person = weighted(b, [2, 4, 8, 5, 10, 9, 7, 3, 6]) % 11 % 10 == digit(b[9])
        let foreigner = weighted(b, [21, 19, 17, 13, 11, 9, 7, 3, 1]) % 10 == digit(b[9])
        let other = (11 - weighted(b, [4, 3, 2, 7, 6, 5, 4, 3, 2]) % 11) % 11 == digit(b[9])
        return person || foreigner || other
    }

    static func cyprus(_ b: [Character]) -> Bool {
        guard b.count == 9, digits(b[0..<8]), let last = b[8].asciiValue, (65...90).contains(last), !(b[0] == "1" && b[1] == "2") else { return false }
        let odd = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21]
        var sum = 0
        for (index, character) in b[0..<8].enumerated() { sum += index % 2 == 0 ? odd[digit(character)] : digit(character) }
        return Int(last) - 65 == sum % 26
    }

    static func czechia(_ b: [Character]) -> Bool {
        guard digits(b) else { return false }
        switch b.count {
        case 8:
            guard b[0] != "9" else { return false }
            let check = (11 - weighted(b, [8, 7, 6, 5, 4, 3, 2])) % 11
            return (check == 0 ? 1 : check) % 10 == digit(b[7])
        case 9 where b[0] == "6":
            let check = weighted(b[1..<8], [8, 7, 6, 5, 4, 3, 2]) % 11
            return (8 - (10 - check) % 11 + 11) % 11 % 10 == digit(b[8])
        case 9:
            return true
        case 10:
            // A birth number: divisible by 11 (the check digit is the first nine digits mod 11, 10 written as 0).
            return value(b[0..<9]) % 11 % 10 == digit(b[9])
        default:
            return false
        }
    }

    static func greece(_ b: [Character]) -> Bool {
        guard b.count == 9, digits(b) else { return false }
        var sum = 0
        for character in b[0..<8] { sum = sum * 2 + digit(character) }
        return sum * 2 % 11 % 10 == digit(b[8])
    }

    static func spain(_ b: [Character]) -> Bool {
        guard b.count == 9, digits(b[1..<8]) else { return false }
        let letters = Array("TRWAGMYFPDXBNJZSQVHLCKE")
        let first = b[0], last = b[8]
        if first.isNumber {
            // A resident's DNI: eight digits and a letter.
            return digits(b[0..<8]) && letters[value(b[0..<8]) % 23] == last
        }
        if let index = "XYZ".firstIndex(of: first) {
            let lead = "XYZ".distance(from: "XYZ".startIndex, to: index)
            return letters[(lead * 10_000_000 + value(b[1..<8])) % 23] == last
        }
        if "KLM".contains(first) { return letters[value(b[1..<8]) % 23] == last }
        guard "ABCDEFGHJNPQRSUVW".contains(first) else { return false }
        // A company's CIF: a Luhn digit over the seven digits, written as a digit or a letter.
        var sum = 0
        for (index, character) in b[1..<8].enumerated() {
            let value = digit(character)
            sum += index % 2 == 1 ? value : (value * 2 / 10 + value * 2 % 10)
        }
        let check = (10 - sum % 10) % 10
        return last == Character(String(check)) || last == Array("JABCDEFGHI")[check]
    }

    static func france(_ b: [Character]) -> Bool {
        let alphabet = Array("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
        guard b.count == 11, alphabet.contains(b[0]), alphabet.contains(b[1]), digits(b[2...]) else { return false }
        let siren = Array(b[2...])
        // Monaco's numbers (000…) are valid VAT numbers but not SIREN numbers.
        if !(siren[0] == "0" && siren[1] == "0" && siren[2] == "0") && !luhn(siren) { return false }
        let sirenValue = value(siren)
        if digits(b[0..<2]) { return value(b[0..<2]) == (sirenValue * 100 + 12) % 97 }
        guard let a = alphabet.firstIndex(of: b[0]), let c = alphabet.firstIndex(of: b[1]) else { return false }
        let check = b[0].isNumber ? a * 24 + c - 10 : a * 34 + c - 100
        return (sirenValue + 1 + check / 11) % 11 == check % 11
    }

    static func ireland(_ b: [Character]) -> Bool {
        let alphabet = Array("WABCDEFGHIJKLMNOPQRSTUV")
        guard (8...9).contains(b.count), b[0].isNumber, digits(b[2..<7]), b[7...].allSatisfy({ alphabet.contains($0) }) else { return false }
        func check(_ sevenDigits: [Character], _ extra: Character?) -> Character {
            var sum = 0
            for (index, character) in sevenDigits.enumerated() { sum += (8 - index) * digit(character) }
            if let extra, let at = alphabet.firstIndex(of: extra) { sum += 9 * at }
            return alphabet[sum % 23]
        }
        if digits(b[0..<7]) { return b[7] == check(Array(b[0..<7]), b.count == 9 ? b[8] : nil) }
        guard b.count == 8, "ABCDEFGHIJKLMNOPQRSTUVWXYZ+*".contains(b[1]) else { return false }
        return b[7] == check(["0"] + Array(b[2..<7]) + [b[0]], nil)
    }

    static func italy(_ b: [Character]) -> Bool {
        guard b.count == 11, digits(b), value(b[0..<7]) > 0 else { return false }
        let office = value(b[7..<10])
        guard (1...100).contains(office) || [120, 121, 888, 999].contains(office) else { return false }
        return luhn(b)
    }

    static func lithuania(_ b: [Character]) -> Bool {
        guard digits(b), (b.count == 9 && b[7] == "1") || (b.count == 12 && b[10] == "1") else { return false }
        let body = b.dropLast()
        var check = body.enumerated().reduce(0) { $0 + (1 + $1.offset % 9) * digit($1.element) } % 11
        if check == 10 { check = body.enumerated().reduce(0) { $0 + (1 + ($1.offset + 2) % 9) * digit($1.element) } % 11 }
        return check % 10 == digit(b[b.count - 1])
    }

    static func latvia(_ b: [Character]) -> Bool {
        guard b.count == 11, digits(b) else { return false }
        if b[0] > "3" { return weighted(b, [9, 1, 4, 8, 3, 10, 2, 5, 7, 6, 1]) % 11 == 3 }
        if !(b[0] == "3" && b[1] == "2") {
            // A person's code with a birth date DDMMYY and a century digit.
            let day = value(b[0..<2]), month = value(b[2..<4])
            guard (1...12).contains(month), (1...31).contains(day) else { return false }
        }
        return (1 + weighted(b, [10, 5, 8, 4, 2, 1, 6, 3, 7, 9])) % 11 % 10 == digit(b[10])
    }

    static func netherlands(_ b: [Character]) -> Bool {
        guard b.count == 12, digits(b[0..<9]), b[9] == "B", digits(b[10...]), value(b[0..<9]) > 0, value(b[10...]) > 0 else { return false }
        // The old form is an eleven-test citizen service number; since 2020 the ISO 7064 MOD 97-10 check of "NL" + number.
        let eleven = (zip(b[0..<8], [9, 8, 7, 6, 5, 4, 3, 2]).reduce(0) { $0 + digit($1.0) * $1.1 } - digit(b[8])) % 11 == 0
        return eleven || mod97(["N", "L"] + b) == 1
    }

    static func portugal(_ b: [Character]) -> Bool {
        let sum = b[0..<8].enumerated().reduce(0) { $0 + (9 - $1.offset) * digit($1.element) }
        return (11 - sum % 11) % 11 % 10 == digit(b[8])
    }

    static func romania(_ b: [Character]) -> Bool {
        guard (2...10).contains(b.count), digits(b), b[0] != "0" else { return false }
        let padded = Array(repeating: Character("0"), count: 10 - b.count) + b
        let sum = weighted(padded[0..<9], [7, 5, 3, 2, 1, 7, 5, 3, 2])
        return sum * 10 % 11 % 10 == digit(b[b.count - 1])
    }

    static func slovenia(_ b: [Character]) -> Bool {
        guard b.count == 8, digits(b), b[0] != "0" else { return false }
        let check = 11 - b[0..<7].enumerated().reduce(0) { $0 + (8 - $1.offset) * digit($1.element) } % 11
        guard check != 11 else { return false }
        return (check == 10 ? 0 : check) == digit(b[7])
    }

    static func slovakia(_ b: [Character]) -> Bool {
        guard b.count == 10, digits(b), b[0] != "0", [2, 3, 4, 7, 8, 9].contains(digit(b[2])) else { return false }
        return value(b) % 11 == 0
    }

    static func northernIreland(_ b: [Character]) -> Bool {
        if b.count == 5 {
            guard digits(b[2...]) else { return false }
            let n = value(b[2...])
            return (b[0] == "G" && b[1] == "D" && n < 500) || (b[0] == "H" && b[1] == "A" && n >= 500)
        }
        guard b.count == 9 || b.count == 12, digits(b) else { return false }
        let sum = weighted(b[0..<9], [8, 7, 6, 5, 4, 3, 2, 10, 1]) % 97
        return value(b[0..<3]) >= 100 ? [0, 42, 55].contains(sum) : sum == 0
    }
}
