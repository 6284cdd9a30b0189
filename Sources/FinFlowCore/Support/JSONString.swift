import Foundation

/// Writing JSON strings straight into a buffer, for documents built a value at a time (a data subject's export):
/// an encoder per value was most of the time such a document took.
public enum JSONString {
    /// Appends `text` to `buffer` as a JSON string: quotes, backslashes and control characters escaped, the rest as
    /// UTF-8.
    public static func append(_ text: String, to buffer: inout Data) {
        buffer.append(UInt8(ascii: "\""))
        var pendingStart = text.utf8.startIndex
        let utf8 = text.utf8
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 {
                buffer.append(contentsOf: utf8[pendingStart..<index])
                switch byte {
                case UInt8(ascii: "\""): buffer.append(contentsOf: "\\\"".utf8)
                case UInt8(ascii: "\\"): buffer.append(contentsOf: "\\\\".utf8)
                case 0x0A: buffer.append(contentsOf: "\\n".utf8)
                case 0x0D: buffer.append(contentsOf: "\\r".utf8)
                case 0x09: buffer.append(contentsOf: "\\t".utf8)
                default:
                    let hex = String(byte, radix: 16)
                    buffer.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
                }
                pendingStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        buffer.append(contentsOf: utf8[pendingStart..<utf8.endIndex])
        buffer.append(UInt8(ascii: "\""))
    }
}
