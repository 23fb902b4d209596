#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
internal import CMicroHTTPD

/// Writes one file part to its spool file, hashing it on the way, off the connection's thread.
///
/// The connection's thread only copies each piece of the body into one of a few slots; a
/// serial queue hashes each full slot, writes it to the file and tells the observer. So
/// receiving overlaps hashing and the disk write (SHA-256 alone costs about as much CPU as
/// receiving and writing together). Slots are small enough to stay in a core's L2 cache
/// while the queue reads them twice: with 1 MiB slots the page-cache copy alone took 4x
/// longer here. Memory stays at `slotCount` slots.
final class SpoolWriter {
    let file: UploadedFile
    private let sink: Sink
    private let queue = DispatchQueue(label: "warehouse.spool")
    private let freeSlots = DispatchSemaphore(value: SpoolWriter.slotCount)
    private let slots: [UnsafeMutableRawBufferPointer]
    /// The slot being filled and how much of it is.
    private var filling: Int?
    private var filled = 0
    /// The queue gives slots back in the order they went, so the next free one is the next in turn.
    private var nextSlot = 0
    private var finished = false

    static let slotBytes = 256 << 10
    static let slotCount = 8

    init(file: UploadedFile, digest: (any UploadDigest)?, observer: (any SpoolObserver)? = nil, startsWriteback: Bool = true) throws {
        let descriptor = open(file.spoolPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw HTTPBodyError.spool("cannot create spool file \(file.spoolPath): \(String(cString: strerror(errno)))")
        }
        self.file = file
        file.observer = observer
        sink = Sink(descriptor: descriptor, file: file, digest: digest, startsWriteback: startsWriteback)
        slots = (0..<Self.slotCount).map { _ in .allocate(byteCount: Self.slotBytes, alignment: 64) }
    }

    /// Waits for the queue, so nothing touches the file after its owner lets go of it (a
    /// failed request's spool file is then removed before the client reads the error).
    deinit {
        queue.sync {}
        // libdispatch traps on a semaphore freed below its initial count: give back the slot
        // an abandoned part was filling.
        if filling != nil { freeSlots.signal() }
        close(sink.descriptor)
        for slot in slots { slot.deallocate() }
    }

    /// Takes a copy of `bytes`; throws the queue's first failure, if there was one.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try sink.check()
        var offset = 0
        while offset < bytes.count {
            let slot: Int
            if let filling {
                slot = filling
            } else {
                freeSlots.wait()
                slot = nextSlot
                nextSlot = (nextSlot + 1) % Self.slotCount
                filling = slot
                filled = 0
            }
            let take = min(bytes.count - offset, Self.slotBytes - filled)
            UnsafeMutableRawBufferPointer(rebasing: slots[slot][filled..<(filled + take)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            filled += take
            offset += take
            if filled == Self.slotBytes { submit() }
        }
    }

    /// Hands the last slot on, waits for the queue, and records the digest.
    func finish() throws {
        guard !finished else { return }
        finished = true
        submit()
        queue.sync {}
        try sink.check()
        file.digest = sink.digest?.finalizeHex()
    }

    private func submit() {
        guard let slot = filling else { return }
        let handOver = SlotBytes(bytes: UnsafeRawBufferPointer(rebasing: slots[slot][0..<filled]))
        filling = nil
        filled = 0
        let sink = self.sink, freeSlots = self.freeSlots
        queue.async {
            sink.store(handOver.bytes)
            freeSlots.signal()
        }
    }

    /// A filled slot on its way to the queue; the writer does not touch it until it is back.
    private struct SlotBytes: @unchecked Sendable { let bytes: UnsafeRawBufferPointer }

    /// The queue's side: the file, the digest and the observer, used only on the queue (and
    /// by the writer once the queue is drained).
    final class Sink: @unchecked Sendable {
        let descriptor: Int32
        let file: UploadedFile
        let digest: (any UploadDigest)?
        let startsWriteback: Bool
        private var writebackStart: UInt64 = 0
        private let failure = Mutex<HTTPBodyError?>(nil)

        /// Start writeback every this many bytes: the store fsyncs the file when it commits,
        /// and by then most of it is already on disk.
        static let writebackInterval: UInt64 = 8 << 20

        init(descriptor: Int32, file: UploadedFile, digest: (any UploadDigest)?, startsWriteback: Bool) {
            self.descriptor = descriptor
            self.file = file
            self.digest = digest
            self.startsWriteback = startsWriteback
        }

        func check() throws {
            if let error = failure.withLock({ $0 }) { throw error }
        }

        func store(_ bytes: UnsafeRawBufferPointer) {
            guard failure.withLock({ $0 == nil }), var base = bytes.baseAddress, bytes.count > 0 else { return }
            digest?.update(bytes)
            var remaining = bytes.count
            while remaining > 0 {
                let written = Glibc.write(descriptor, base, remaining)
                if written < 0 {
                    if errno == EINTR { continue }
                    let reason = String(cString: strerror(errno))
                    failure.withLock { $0 = .spool("writing spool file failed: \(reason)") }
                    return
                }
                remaining -= written
                base += written
            }
            file.size += UInt64(bytes.count)
            file.observer?.spooled(bytes, path: file.spoolPath, size: file.size)
            if startsWriteback, file.size - writebackStart >= Self.writebackInterval {
                _ = mw_start_writeback(descriptor, off_t(writebackStart), off_t(file.size - writebackStart))
                writebackStart = file.size
            }
        }
    }
}
