import Foundation

/// Names brought to one comparable form: any script transliterated to Latin (ICU's transforms: Cyrillic, Greek,
/// Arabic, Han and the rest), diacritics stripped, lower case, split into tokens on anything that is not a letter or
/// a digit. "Владимир Путин", "VLADIMIR putin" and "Vladímir Putin" all become ["vladimir", "putin"].
public enum NameText {
    /// Letters ICU keeps as themselves that have a usual ASCII spelling.
    static let spelled: [Character: String] = ["ß": "ss", "æ": "ae", "ø": "o", "đ": "d", "ł": "l", "þ": "th", "ð": "d", "œ": "oe", "ı": "i"]

    /// Connecting words of names (Arabic, Dutch, German, Romance) that documents write or leave out at will; they
    /// count little when names are compared.
    public static let particles: Set<String> = [
        "al", "el", "bin", "bn", "ibn", "bint", "abu", "abd", "von", "van", "der", "den", "de", "da", "del", "della", "di", "du", "la", "le", "y",
    ]

    /// Titles and honorifics, left out.
    static let titles: Set<String> = ["mr", "mrs", "ms", "miss", "dr", "prof", "sir", "sheikh", "shaikh", "haji", "hajji", "mme", "mlle"]

    /// ICU writes Cyrillic by ISO 9 (č, š, ž, ŝ, û, â); sanctions lists and passports mostly spell it the English way.
    static let romanised: [Character: String] = ["č": "ch", "š": "sh", "ž": "zh", "ŝ": "shch", "û": "yu", "â": "ya", "ë": "yo", "ʹ": "", "ʺ": ""]

    /// `name` in Latin letters, without diacritics, lower case.
    public static func latin(_ name: String) -> String {
        // Plain ASCII is already Latin without diacritics: ICU's transforms (a transliterator built per call) would
        // leave it as it is, at most of a screening's cost.
        if name.utf8.allSatisfy({ $0 < 0x80 }) { return name.lowercased() }
        var source = name
        if name.unicodeScalars.contains(where: { (0x0600...0x06FF).contains($0.value) }) {
            // Ta marbuta and alif maqsura end names in a vowel in the usual romanisations (Usama, Mustafa), not in
            // ICU's "ẗ" and "ỳ".
            source = String(name.map { $0 == "ة" || $0 == "ى" ? "a" : $0 })
        }
        var transliterated = source.applyingTransform(.toLatin, reverse: false) ?? source
        if name.unicodeScalars.contains(where: { (0x0400...0x04FF).contains($0.value) }) {
            transliterated = String(transliterated.lowercased().flatMap { Self.romanised[$0] ?? String($0) })
        }
        let plain = (transliterated.applyingTransform(.stripDiacritics, reverse: false) ?? transliterated).lowercased()
        var result = ""
        result.reserveCapacity(plain.count)
        for character in plain {
            if let spelled = Self.spelled[character] { result += spelled } else { result.append(character) }
        }
        return result
    }

    /// The tokens of `name`: Latin, lower case, ASCII letters and digits only; titles left out.
    public static func tokens(_ name: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        for scalar in Self.latin(name).unicodeScalars {
            if scalar.isASCII, CharacterSet.alphanumerics.contains(scalar) {
                current.unicodeScalars.append(scalar)
            } else if (scalar == "\u{2BE}" || scalar == "\u{2BF}") && current.isEmpty {
                current.append("a")  // ayn or hamza opening a word is usually romanised as a vowel: ʿAbd, ʿUmar
            } else if scalar == "'" || scalar == "\u{2019}" || scalar == "\u{2BC}" || scalar == "\u{2B9}" || scalar == "\u{2BE}" || scalar == "\u{2BF}" {
                continue  // apostrophes and transliteration marks join what they separate: O'Brien, Alʹ
            } else if !current.isEmpty {
                tokens.append(current)
                current = ""
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens.filter { !Self.titles.contains($0) }
    }

    /// The ways `name` is compared: its tokens and, when it holds a compound name written apart, its tokens with the
    /// compound joined. Both are kept, since joining would cost a reordered name its pairs.
    public static func variants(_ name: String) -> [[String]] {
        let tokens = Self.tokens(name)
        let joined = Self.joiningCompounds(tokens)
        return joined == tokens ? [tokens] : [tokens, joined]
    }

    /// The first parts of Arabic compound names ("servant of …"), which documents write apart or together at will.
    static let compoundHeads: Set<String> = ["abd", "abdul", "abdel", "abdal", "abdoul", "abdou"]
    /// The article that may stand between a compound's head and its second part.
    static let compoundArticles: Set<String> = ["al", "el", "ul", "ar", "as", "ad", "an", "ash", "at", "az"]

    /// `tokens` with each compound name written as one token, as it is in the other usual spelling: "Abd Allah" gives
    /// "abdallah" as "Abdallah" does, "Abd al-Rahman" "abdalrahman" (which pairs with "abdulrahman" by its consonants).
    /// A head with nothing after it stays as it is.
    static func joiningCompounds(_ tokens: [String]) -> [String] {
        guard tokens.contains(where: { Self.compoundHeads.contains($0) }) else { return tokens }
        var joined: [String] = []
        var index = 0
        while index < tokens.count {
            var token = tokens[index]
            index += 1
            if Self.compoundHeads.contains(token), index < tokens.count {
                if Self.compoundArticles.contains(tokens[index]), index + 1 < tokens.count {
                    token += tokens[index] + tokens[index + 1]
                    index += 2
                } else {
                    token += tokens[index]
                    index += 1
                }
            }
            joined.append(token)
        }
        return joined
    }
}
