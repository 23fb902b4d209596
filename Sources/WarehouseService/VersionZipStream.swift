import Foundation
import WarehouseCore
import WarehouseZip

/// A whole version as a ZIP, produced while it is read: each `read` pulls the next piece of
/// the current file from the store, hands it to libarchive, and returns what came out. No
/// temporary archive, and memory bounded by one piece (1 MiB) plus libarchive's state.
public final class VersionZipStream: ObjectReader {
    private let store: any ObjectStore
    private let record: ModelVersionRecord
    private let writer: ZipStreamWriter
    private var nextFile = 0
    private var current: (any ObjectReader)?
    private var finished = false
    private let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    private let modificationTime: Int

    init(store: any ObjectStore, record: ModelVersionRecord, compression: ZipStreamWriter.Compression) throws {
        self.store = store
        self.record = record
        self.writer = try ZipStreamWriter(compression: compression)
        let created = try? Date(record.createdAt, strategy: .iso8601)
        modificationTime = Int(created?.timeIntervalSince1970 ?? 0)
    }

    deinit {
        piece.deallocate()
        current?.close()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while writer.pendingCount == 0 {
            if finished { return 0 }
            try step()
        }
        return writer.take(into: buffer)
    }

    public func close() {
        current?.close()
        current = nil
    }

    /// Advances the archive by one piece: a header, a piece of data, an entry's end, or the
    /// central directory.
    private func step() throws {
        if let reader = current {
            let count = try reader.read(into: piece)
            if count > 0 {
                try writer.write(UnsafeRawBufferPointer(rebasing: piece[0..<count]))
            } else {
                try writer.finishEntry()
                reader.close()
                current = nil
            }
            return
        }
        guard nextFile < record.files.count else {
            try writer.finish()
            finished = true
            return
        }
        let file = record.files[nextFile]
        nextFile += 1
        let key = ObjectKeys.file(user: record.userID, model: record.modelID, version: record.version, path: file.filePath)
        current = try store.open(key: key, range: nil)
        try writer.beginEntry(path: file.filePath, size: file.fileSize, modificationTime: modificationTime)
    }
}

extension ModelService {
    /// The whole version as a streamed ZIP.
    public func archiveStream(for record: ModelVersionRecord, deflate: Bool) throws -> VersionZipStream {
        try mappingZipErrors {
            try VersionZipStream(store: store, record: record, compression: deflate ? .deflate : .store)
        }
    }
}
