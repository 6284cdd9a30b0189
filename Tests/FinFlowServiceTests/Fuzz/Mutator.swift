import Foundation

/// A seeded source of hostile text for parser fuzzing: SplitMix64 draws (so a failing case is reproduced by its seed
/// and index), generated tokens that have trapped parsers before (digits Swift calls numbers, amounts at the edge of
/// 64 bits, stray separators), and mutations of valid documents (flips, cuts, splices, repeats).
struct Mutator {
    private var state: UInt64

    /// A mutator whose whole sequence follows from `seed`.
    init(seed: UInt64) {
        self.state = seed
    }

    /// The next 64 random bits.
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound`.
    mutating func below(_ bound: Int) -> Int { Int(self.next() % UInt64(max(bound, 1))) }

    /// One element of `items`.
    mutating func pick<T>(_ items: [T]) -> T { items[self.below(items.count)] }

    /// Tokens that have broken number and text handling: non-ASCII digits, fractions, signs, separators, the edges
    /// of Int64, control characters, markup.
    static let tokens: [String] = [
        "½", "٣", "٣.00", "۱۲", "①", "Ⅻ", "𝟗", "1½", "-", "+", "--", "+-", ".", ",", "..", ",,", "(", ")", "'", "\"", ";", "#", "=", "@",
        "*", "!", "\t", "\r", "\n", "\r\n", "\u{0}", "\u{FEFF}", "\u{202E}", "\u{00A0}", "  ", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "999999999999999.999", "999999999999999999999999", "1e308", "NaN", "0.0000000000000000001", "00000000000000000001",
        "0", "-0", "1,000,000", "1.000.000,00", "1'000", "USD", "BHD", "JPY", "EUR", "XAU", "XXX", "usd", "$", "€", "£", "¥", "<", ">", "</", "&",
        "&amp;", "&#0;", "&#x110000;", "&#99999999999;", "<![CDATA[", "]]>", "<!--", "-->", "<?xml", "2026-02-30", "2026-13-01", "0000-00-00",
        "99999-12-31", "20261301", "😀", "é", "e\u{301}", String(repeating: "9", count: 40), String(repeating: "(", count: 50),
    ]

    /// A random token or a short random string of printable and unusual characters.
    mutating func token() -> String {
        if self.below(4) > 0 { return self.pick(Self.tokens) }
        let alphabet = Array("0123456789.,-+ ;:()<>/=*@$€½٣\t\nABCXYZabcxyz\"'&#")
        return String((0..<(1 + self.below(12))).map { _ in self.pick(alphabet) })
    }

    /// `text` changed in one to four places: a token inserted or substituted, a span cut, duplicated or swapped.
    mutating func mutate(_ text: String) -> String {
        var characters = Array(text)
        for _ in 0..<(1 + self.below(4)) {
            let at = self.below(characters.count + 1)
            switch self.below(6) {
            case 0: characters.insert(contentsOf: self.token(), at: at)
            case 1:
                let end = min(characters.count, at + 1 + self.below(8))
                if at < end { characters.replaceSubrange(at..<end, with: self.token()) }
            case 2:
                let end = min(characters.count, at + 1 + self.below(40))
                if at < end { characters.removeSubrange(at..<end) }
            case 3:
                let end = min(characters.count, at + 1 + self.below(60))
                if at < end { characters.insert(contentsOf: characters[at..<end], at: at) }
            case 4:
                if at < characters.count { characters[at] = self.pick(Array("0½٣-.,;<>&\n\t \"")) }
            default:
                characters = Array(characters.prefix(at))
            }
        }
        return String(characters)
    }
}
