import Foundation

/// International Bank Account Numbers (ISO 13616): the shape and the mod-97 check digits.
public enum IBAN {
    /// The longest IBAN any country issues (Saint Lucia's are 32; the standard allows 34).
    public static let lengthMax = 34

    /// The IBAN without spaces, in capitals, when it is one; nil otherwise.
    public static func normalized(_ text: String) -> String? {
        let compact = text.replacingOccurrences(of: " ", with: "").uppercased()
        guard (15...Self.lengthMax).contains(compact.count), compact.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return nil }
        let chars = Array(compact)
        guard chars[0].isLetter, chars[1].isLetter, chars[2].isNumber, chars[3].isNumber else { return nil }
        // Move the country and check digits to the end, letters to 10…35, and take the remainder by 97 digit by digit.
        var remainder = 0
        for character in chars[4...] + chars[..<4] {
            let value = character.isNumber ? Int(String(character))! : Int(character.asciiValue! - 55)
            for digit in String(value) { remainder = (remainder * 10 + Int(String(digit))!) % 97 }
        }
        return remainder == 1 ? compact : nil
    }
}
