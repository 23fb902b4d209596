import Foundation
import WarehouseCore
#if canImport(Glibc)
import Glibc
#endif

/// Random access to bytes for the format parsers.
public protocol ByteSource: AnyObject {
    var size: UInt64 { get }
    /// Up to `count` bytes at `offset` (fewer at the end).
    func read(at offset: UInt64, count: Int) throws -> [UInt8]
}

extension ByteSource {
    /// Exactly `count` bytes at `offset`, or a truncation error.
    public func readExactly(at offset: UInt64, count: Int) throws -> [UInt8] {
        let bytes = try read(at: offset, count: count)
        guard bytes.count == count else { throw FormatError("truncated: wanted \(count) bytes at offset \(offset)") }
        return bytes
    }
}

/// Bytes already in memory (a small member of an archive).
public final class MemoryByteSource: ByteSource {
    let bytes: [UInt8]
    public var size: UInt64 { UInt64(bytes.count) }
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard offset < size, count > 0 else { return [] }
        let start = Int(offset)
        return Array(bytes[start..<min(bytes.count, start + count)])
    }
}

/// Random access to a file's bytes for the format parsers, which read headers only. Counts
/// what it reads, so tests can prove that detection never reads a file's weights.
public final class FileByteSource: ByteSource {
    private let descriptor: Int32
    public let size: UInt64
    public private(set) var bytesRead: UInt64 = 0

    public init(path: String) throws {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FormatError("cannot open \(path)") }
        var status = stat()
        fstat(descriptor, &status)
        size = UInt64(status.st_size)
    }

    deinit { close(descriptor) }

    /// Up to `count` bytes at `offset` (fewer at the end of the file).
    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard offset < size, count > 0 else { return [] }
        let wanted = Int(min(UInt64(count), size - offset))
        var bytes = [UInt8](repeating: 0, count: wanted)
        var done = 0
        while done < wanted {
            let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, wanted - done, off_t(offset) + off_t(done)) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { break }
            done += got
        }
        bytesRead += UInt64(done)
        return done == wanted ? bytes : Array(bytes.prefix(done))
    }
}

@available(*, unavailable)
extension FileByteSource: Sendable {}

/// A parser gave up: the bytes are not what they claim, or are cut short.
public struct FormatError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Sequential little-endian reads over a `FileByteSource` through a 64 KiB window.
final class ByteCursor {
    let source: any ByteSource
    private(set) var position: UInt64
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0
    let end: UInt64

    init(_ source: any ByteSource, at position: UInt64 = 0, end: UInt64? = nil) {
        self.source = source
        self.position = position
        self.end = min(end ?? source.size, source.size)
    }

    var remaining: UInt64 { end > position ? end - position : 0 }

    func bytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0, UInt64(count) <= remaining else { throw FormatError("truncated at offset \(position)") }
        if count > 1 << 16 {
            let data = try source.readExactly(at: position, count: count)
            position += UInt64(count)
            return data
        }
        if position < windowStart || position + UInt64(count) > windowStart + UInt64(window.count) {
            windowStart = position
            window = try source.read(at: position, count: Int(min(UInt64(1 << 16), end - position)))
        }
        let start = Int(position - windowStart)
        position += UInt64(count)
        return Array(window[start..<(start + count)])
    }

    func skip(_ count: UInt64) throws {
        guard count <= remaining else { throw FormatError("truncated: skipping \(count) bytes at offset \(position)") }
        position += count
    }

    func seek(_ offset: UInt64) { position = offset }

    func u8() throws -> UInt8 { try bytes(1)[0] }
    func u32() throws -> UInt32 { let b = try bytes(4); return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24 }
    func u64() throws -> UInt64 { let b = try bytes(8); return (0..<8).reduce(0) { $0 | UInt64(b[$1]) << (8 * UInt64($1)) } }
    func f32() throws -> Float { Float(bitPattern: try u32()) }
    func f64() throws -> Double { Double(bitPattern: try u64()) }

    func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
            guard shift < 64 else { throw FormatError("varint too long at offset \(position)") }
        }
    }
}
