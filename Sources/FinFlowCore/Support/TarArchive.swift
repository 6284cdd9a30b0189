import Foundation

/// Writes POSIX ustar archives a file at a time, so a large archive can be streamed: each file is a 512-byte header,
/// its bytes, and zeros up to the next 512-byte boundary; two zero blocks end the archive.
public enum TarArchive {
    /// The longest file name a header holds without the prefix field.
    public static let nameBytesMax = 100

    /// The header of a regular file `name` of `size` bytes, modified at `modifiedAtSeconds`.
    public static func header(name: String, size: Int, modifiedAtSeconds: Int64) -> [UInt8] {
        precondition(name.utf8.count <= Self.nameBytesMax, "tar names are the archive writer's own, and short")
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            put(String(repeating: "0", count: max(0, width - 1 - String(value, radix: 8).count)) + String(value, radix: 8), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(0o644, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(Int64(size), at: 124, width: 12)
        octal(modifiedAtSeconds, at: 136, width: 12)
        put("        ", at: 148, width: 8)
        block[156] = UInt8(ascii: "0")
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        put("finflow", at: 265, width: 32)
        put("finflow", at: 297, width: 32)
        let checksum = block.reduce(0) { $0 + Int64($1) }
        octal(checksum, at: 148, width: 7)
        block[154] = 0
        block[155] = UInt8(ascii: " ")
        return block
    }

    /// The zeros after a file of `size` bytes.
    public static func padding(size: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: (512 - size % 512) % 512)
    }

    /// What ends an archive.
    public static let end = [UInt8](repeating: 0, count: 1_024)

    /// A whole archive of `files`, in order.
    public static func archive(_ files: [(name: String, data: [UInt8])], modifiedAtSeconds: Int64) -> [UInt8] {
        var out: [UInt8] = []
        for file in files {
            out += self.header(name: file.name, size: file.data.count, modifiedAtSeconds: modifiedAtSeconds)
            out += file.data
            out += self.padding(size: file.data.count)
        }
        return out + self.end
    }

    /// The files of an archive this writer made (or any ustar archive of regular files), for tests and tools.
    public static func files(_ archive: [UInt8]) -> [(name: String, data: [UInt8])] {
        var files: [(String, [UInt8])] = []
        var offset = 0
        while offset + 512 <= archive.count {
            let header = Array(archive[offset..<offset + 512])
            if header.allSatisfy({ $0 == 0 }) { break }
            let name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            let sizeText = String(decoding: header[124..<136].prefix { $0 != 0 && $0 != 32 }, as: UTF8.self)
            let size = Int(sizeText, radix: 8) ?? 0
            offset += 512
            guard offset + size <= archive.count else { break }
            files.append((name, Array(archive[offset..<offset + size])))
            offset += size + (512 - size % 512) % 512
        }
        return files
    }
}
