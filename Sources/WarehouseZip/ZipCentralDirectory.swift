import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One entry as the ZIP central directory describes it (APPNOTE.TXT §4.3.12), before any
/// data is read: what we validate an archive against before extracting a byte.
public struct ZipDirectoryEntry: Sendable, Equatable {
    /// The name decoded: UTF-8 (flag bit 11, the Info-ZIP Unicode Path field, or bytes that
    /// happen to be valid UTF-8, as macOS writes them), else CP437.
    public let name: String
    /// The name's bytes as stored.
    public let rawName: [UInt8]
    public let flags: UInt16
    public let method: UInt16
    /// CRC-32 of the uncompressed bytes.
    public let crc32: UInt32
    public let compressedSize: UInt64
    public let uncompressedSize: UInt64
    public let localHeaderOffset: UInt64
    /// High byte of "version made by": 0 MS-DOS, 3 Unix, …
    public let madeByHost: UInt8
    public let externalAttributes: UInt32

    public var isEncrypted: Bool { flags & 0x0001 != 0 || flags & 0x0040 != 0 || method == 99 }

    /// Unix file type bits, when the archive was made on a Unix-like system and says one.
    /// Python's `writestr` stores permission bits alone (`0o600 << 16`) and `ZipInfo("dir/")`
    /// no mode at all: no type bits means a regular file, or a directory by its name.
    public var unixFileType: UInt32? {
        guard madeByHost == 3 || madeByHost == 19 /* OS X */ else { return nil }
        let type = (externalAttributes >> 16) & 0o170000
        return type == 0 ? nil : type
    }

    public var isDirectory: Bool {
        name.hasSuffix("/") || name.hasSuffix("\\") || unixFileType == 0o040000
            || (unixFileType == nil && externalAttributes & 0x10 != 0)
    }

    public var isSymbolicLink: Bool { unixFileType == 0o120000 }

    /// Character or block device, FIFO or socket.
    public var isSpecialFile: Bool {
        guard let type = unixFileType else { return false }
        return type != 0o100000 && type != 0o040000 && type != 0o120000
    }
}

/// Reads the central directory of a ZIP file (ZIP64 included) with `pread`, never the whole file.
public enum ZipCentralDirectory {
    /// Entries in central-directory order. `maxEntries` is checked against the declared count
    /// before the directory is read, so a hostile count costs nothing.
    public static func read(path: String, maxEntries: Int) throws -> [ZipDirectoryEntry] {
        let file = try ReadOnlyFile(path: path)
        let size = file.size
        guard size >= 22 else { throw ZipError.malformed("not a ZIP archive (\(size) bytes is too short)") }

        // The end-of-central-directory record sits in the last 22 + 65535 bytes.
        let tailLength = Int(min(size, 22 + 65_535))
        let tail = try file.read(at: size - UInt64(tailLength), count: tailLength)
        guard let eocd = lastIndex(of: 0x0605_4b50, in: tail, from: tailLength - 22) else {
            throw ZipError.malformed("not a ZIP archive (no end-of-central-directory record)")
        }
        var entryCount = UInt64(tail.u16(eocd + 10))
        var directorySize = UInt64(tail.u32(eocd + 12))
        var directoryOffset = UInt64(tail.u32(eocd + 16))
        let diskNumber = tail.u16(eocd + 4)
        guard diskNumber == 0 || diskNumber == 0xffff else {
            throw ZipError.malformed("multi-volume ZIP archives are not supported")
        }

        // ZIP64: a locator 20 bytes before the EOCD points at the ZIP64 end record.
        let eocdPosition = size - UInt64(tailLength) + UInt64(eocd)
        if eocdPosition >= 20 {
            let locator = try file.read(at: eocdPosition - 20, count: 20)
            if locator.u32(0) == 0x0706_4b50 {
                let recordOffset = locator.u64(8)
                guard recordOffset + 56 <= size else { throw ZipError.malformed("corrupt ZIP64 end record offset") }
                let record = try file.read(at: recordOffset, count: 56)
                guard record.u32(0) == 0x0606_4b50 else { throw ZipError.malformed("corrupt ZIP64 end record") }
                entryCount = record.u64(32)
                directorySize = record.u64(40)
                directoryOffset = record.u64(48)
            }
        }
        guard entryCount <= UInt64(maxEntries) else {
            throw ZipError.limitExceeded("the archive has \(entryCount) entries; the limit is \(maxEntries)")
        }
        guard directoryOffset <= size, directorySize <= size - directoryOffset else {
            throw ZipError.malformed("truncated or corrupt ZIP archive (central directory lies outside the file)")
        }
        guard directorySize <= 1 << 30 else { throw ZipError.limitExceeded("the central directory is larger than 1 GiB") }

        let directory = try file.read(at: directoryOffset, count: Int(directorySize))
        var entries: [ZipDirectoryEntry] = []
        entries.reserveCapacity(Int(entryCount))
        var position = 0
        for index in 0..<entryCount {
            guard position + 46 <= directory.count, directory.u32(position) == 0x0201_4b50 else {
                throw ZipError.malformed("corrupt ZIP central directory at entry \(index + 1)")
            }
            let madeBy = directory.u16(position + 4)
            let flags = directory.u16(position + 8)
            let method = directory.u16(position + 10)
            let crc = directory.u32(position + 16)
            var compressed = UInt64(directory.u32(position + 20))
            var uncompressed = UInt64(directory.u32(position + 24))
            let nameLength = Int(directory.u16(position + 28))
            let extraLength = Int(directory.u16(position + 30))
            let commentLength = Int(directory.u16(position + 32))
            let external = directory.u32(position + 38)
            var offset = UInt64(directory.u32(position + 42))
            let nameStart = position + 46
            let extraStart = nameStart + nameLength
            let next = extraStart + extraLength + commentLength
            guard next <= directory.count else { throw ZipError.malformed("corrupt ZIP central directory at entry \(index + 1)") }
            let nameBytes = Array(directory[nameStart..<extraStart])
            var unicodeName: String?

            var extra = extraStart
            while extra + 4 <= extraStart + extraLength {
                let id = directory.u16(extra)
                let length = Int(directory.u16(extra + 2))
                let body = extra + 4
                guard body + length <= extraStart + extraLength else { break }
                if id == 0x0001 {
                    // ZIP64 extended information: present only for the fields that overflowed.
                    var field = body
                    func next64() -> UInt64? {
                        guard field + 8 <= body + length else { return nil }
                        defer { field += 8 }
                        return directory.u64(field)
                    }
                    if uncompressed == 0xffff_ffff, let value = next64() { uncompressed = value }
                    if compressed == 0xffff_ffff, let value = next64() { compressed = value }
                    if offset == 0xffff_ffff, let value = next64() { offset = value }
                } else if id == 0x7075, length > 5, directory[body] == 1 {
                    // Info-ZIP Unicode Path: version 1, CRC of the header name, UTF-8 name.
                    unicodeName = String(validating: directory[(body + 5)..<(body + length)], as: UTF8.self)
                }
                extra = body + length
            }

            let name: String
            if flags & 0x0800 != 0 {
                guard let utf8 = String(validating: nameBytes, as: UTF8.self) else {
                    throw ZipError.malformed("entry \(index + 1) is flagged UTF-8 but its name is not valid UTF-8")
                }
                name = utf8
            } else if let unicodeName {
                name = unicodeName
            } else if let utf8 = String(validating: nameBytes, as: UTF8.self) {
                name = utf8
            } else {
                name = CP437.decode(nameBytes)
            }
            entries.append(ZipDirectoryEntry(
                name: name, rawName: nameBytes, flags: flags, method: method, crc32: crc, compressedSize: compressed, uncompressedSize: uncompressed,
                localHeaderOffset: offset, madeByHost: UInt8(madeBy >> 8), externalAttributes: external))
            position = next
        }
        return entries
    }

    private static func lastIndex(of signature: UInt32, in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index >= 0 {
            if bytes.u32(index) == signature { return index }
            index -= 1
        }
        return nil
    }
}

/// IBM code page 437, the ZIP default for names without the UTF-8 flag.
enum CP437 {
    private static let high: [Character] = Array(
        "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{00A0}")

    static func decode(_ bytes: [UInt8]) -> String {
        String(bytes.map { $0 < 0x80 ? Character(Unicode.Scalar($0)) : high[Int($0) - 0x80] })
    }
}

/// A file opened for positional reads, closed in deinit.
final class ReadOnlyFile {
    private let descriptor: Int32
    let size: UInt64

    init(path: String) throws {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ZipError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        var status = stat()
        fstat(descriptor, &status)
        size = UInt64(status.st_size)
    }

    deinit { close(descriptor) }

    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if got < 0 {
                if errno == EINTR { continue }
                throw ZipError.io("read failed: \(String(cString: strerror(errno)))")
            }
            if got == 0 { throw ZipError.malformed("truncated ZIP archive") }
            done += got
        }
        return bytes
    }
}

extension Array where Element == UInt8 {
    func u16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
    func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
}
