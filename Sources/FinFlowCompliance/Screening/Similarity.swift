/// String measures for name tokens, on ASCII lower-case text (as `NameText.tokens` gives).
public enum Similarity {
    /// Jaro-Winkler similarity, 0…1 (prefix scale 0.1, prefix up to 4).
    public static func jaroWinkler(_ a: String, _ b: String) -> Double {
        let s = Array(a.utf8), t = Array(b.utf8)
        if s.isEmpty || t.isEmpty { return s.isEmpty && t.isEmpty ? 1 : 0 }
        if s == t { return 1 }
        let window = max(0, max(s.count, t.count) / 2 - 1)
        var sMatched = [Bool](repeating: false, count: s.count), tMatched = [Bool](repeating: false, count: t.count)
        var matches = 0
        for i in 0..<s.count {
            let low = max(0, i - window), high = min(t.count - 1, i + window)
            guard low <= high else { continue }
            for j in low...high where !tMatched[j] && s[i] == t[j] {
                sMatched[i] = true
                tMatched[j] = true
                matches += 1
                break
            }
        }
        guard matches > 0 else { return 0 }
        var transpositions = 0, k = 0
        for i in 0..<s.count where sMatched[i] {
            while !tMatched[k] { k += 1 }
            if s[i] != t[k] { transpositions += 1 }
            k += 1
        }
        let m = Double(matches)
        let jaro = (m / Double(s.count) + m / Double(t.count) + (m - Double(transpositions / 2)) / m) / 3
        var prefix = 0
        while prefix < min(4, s.count, t.count) && s[prefix] == t[prefix] { prefix += 1 }
        return jaro + Double(prefix) * 0.1 * (1 - jaro)
    }

    /// Levenshtein edit distance.
    public static func levenshtein(_ a: String, _ b: String) -> Int {
        let s = Array(a.utf8), t = Array(b.utf8)
        if s.isEmpty { return t.count }
        if t.isEmpty { return s.count }
        var previous = Array(0...t.count), current = [Int](repeating: 0, count: t.count + 1)
        for i in 1...s.count {
            current[0] = i
            for j in 1...t.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (s[i - 1] == t[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[t.count]
    }

    /// 1 − distance / longer length: 1 for equal tokens, 0 for nothing in common.
    public static func levenshteinRatio(_ a: String, _ b: String) -> Double {
        let longer = max(a.utf8.count, b.utf8.count)
        return longer == 0 ? 1 : 1 - Double(Self.levenshtein(a, b)) / Double(longer)
    }

    /// A phonetic key in the spirit of Metaphone: letters that sound alike share a code, vowels after the first letter
    /// and silent letters drop, doubles collapse. "Mohammed", "Muhamad" and "Mohamet" share "MHMT".
    public static func phonetic(_ token: String) -> String {
        let letters = Array(token.utf8)
        guard let first = letters.first else { return "" }
        func code(_ index: Int) -> UInt8? {
            let c = letters[index], next = index + 1 < letters.count ? letters[index + 1] : 0
            switch c {
            case UInt8(ascii: "a"), UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "o"), UInt8(ascii: "u"), UInt8(ascii: "y"):
                return index == 0 ? UInt8(ascii: "A") : nil
            case UInt8(ascii: "h"), UInt8(ascii: "w"): return index == 0 ? c - 32 : nil
            case UInt8(ascii: "b"), UInt8(ascii: "p"): return next == UInt8(ascii: "h") && c == UInt8(ascii: "p") ? UInt8(ascii: "F") : UInt8(ascii: "P")
            case UInt8(ascii: "f"), UInt8(ascii: "v"): return UInt8(ascii: "F")
            case UInt8(ascii: "c"):
                return [UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "y")].contains(next) ? UInt8(ascii: "S") : UInt8(ascii: "K")
            case UInt8(ascii: "g"), UInt8(ascii: "k"), UInt8(ascii: "q"): return UInt8(ascii: "K")
            case UInt8(ascii: "j"): return UInt8(ascii: "J")
            case UInt8(ascii: "s"), UInt8(ascii: "z"), UInt8(ascii: "x"): return UInt8(ascii: "S")
            case UInt8(ascii: "d"), UInt8(ascii: "t"): return UInt8(ascii: "T")
            case UInt8(ascii: "l"): return UInt8(ascii: "L")
            case UInt8(ascii: "m"), UInt8(ascii: "n"): return c == UInt8(ascii: "m") ? UInt8(ascii: "M") : UInt8(ascii: "N")
            case UInt8(ascii: "r"): return UInt8(ascii: "R")
            default: return c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") ? c : nil
            }
        }
        var key: [UInt8] = []
        for index in letters.indices {
            guard let value = code(index) else { continue }
            if key.last != value { key.append(value) }
        }
        _ = first
        return String(decoding: key, as: UTF8.self)
    }

    /// The token's consonants, doubles collapsed: how a name reads when a script writes no short vowels (Arabic
    /// "lạdn" and "Laden" both give "ldn").
    public static func skeleton(_ token: String) -> String {
        var result: [UInt8] = []
        for c in token.utf8 where !"aeiouy".utf8.contains(c) && result.last != c { result.append(c) }
        return String(decoding: result, as: UTF8.self)
    }
}
