import Foundation
import WarehouseZip

/// Where an upload's file part comes from: a file as it is, or a folder zipped while it is
/// sent (stored, not compressed: models rarely shrink, and the server reads it as it comes).
public enum UploadSource {
    case file(String)
    case folder(String)
}

/// The multipart body: fields, the file part pulled piece by piece, the closing boundary.
final class MultipartBody {
    private let head: [UInt8]
    private let tail: [UInt8]
    private var phase = 0
    private var offset = 0
    private let file: FileHandle?
    private let zip: FolderZipStream?
    let length: UInt64?
    private(set) var sent: UInt64 = 0

    init(head: [UInt8], source: UploadSource, tail: [UInt8]) {
        self.head = head
        self.tail = tail
        switch source {
        case .file(let path):
            file = FileHandle(forReadingAtPath: path)
            zip = nil
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value
            length = size.map { UInt64(head.count + tail.count) + $0 }
        case .folder(let path):
            file = nil
            zip = try? FolderZipStream(root: path)
            length = nil
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            switch phase {
            case 0, 2:
                let bytes = phase == 0 ? head : tail
                if offset < bytes.count {
                    let count = min(buffer.count, bytes.count - offset)
                    bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
                    offset += count
                    sent += UInt64(count)
                    return count
                }
                if phase == 2 { return 0 }
                phase = 1
                offset = 0
            default:
                let count: Int
                if let file {
                    let data = try file.read(upToCount: buffer.count) ?? Data()
                    data.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: data.count) }
                    count = data.count
                } else if let zip {
                    count = try zip.read(into: buffer)
                } else {
                    throw ClientError(status: 0, detail: "cannot read the upload's source")
                }
                if count > 0 {
                    sent += UInt64(count)
                    return count
                }
                phase = 2
            }
        }
    }
}

/// A local folder as a ZIP archive, produced while it is read.
final class FolderZipStream {
    private let writer: ZipStreamWriter
    private var files: [(path: String, relative: String, size: UInt64)]
    private var next = 0
    private var current: FileHandle?
    private var finished = false

    init(root: String) throws {
        writer = try ZipStreamWriter(compression: .store)
        let base = URL(fileURLWithPath: root).standardizedFileURL
        var found: [(String, String, UInt64)] = []
        let enumerator = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey])
        while let url = enumerator?.nextObject() as? URL {
            let values = try url.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
            guard values.isRegularFile == true else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(base.path.count + 1))
            found.append((url.path, relative, UInt64(values.fileSize ?? 0)))
        }
        files = found.sorted { $0.1 < $1.1 }
        guard !files.isEmpty else { throw ClientError(status: 0, detail: "\(root) has no files") }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while writer.pendingCount == 0 {
            if finished { return 0 }
            if let handle = current {
                let data = try handle.read(upToCount: 1 << 20) ?? Data()
                if data.isEmpty {
                    try writer.finishEntry()
                    try handle.close()
                    current = nil
                } else {
                    try data.withUnsafeBytes { try writer.write($0) }
                }
            } else if next < files.count {
                let file = files[next]
                next += 1
                guard let handle = FileHandle(forReadingAtPath: file.path) else { throw ClientError(status: 0, detail: "cannot read \(file.path)") }
                try writer.beginEntry(path: file.relative, size: file.size)
                current = handle
            } else {
                try writer.finish()
                finished = true
            }
        }
        return writer.take(into: buffer)
    }
}
