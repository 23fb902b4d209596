internal import CMicroHTTPD
#if canImport(Glibc)
import Glibc
#endif

/// Turns an `HTTPResponse` into an MHD response and queues it.
enum ResponseSender {
    static func queue(_ response: HTTPResponse, on connection: OpaquePointer, requestID: String, sent: SentBytes? = nil) -> MHD_Result {
        guard let mhdResponse = makeResponse(response.body, sent: sent) else {
            let fallback = Array("{\"detail\":\"internal error: cannot open response body\"}".utf8)
            guard let failed = bytesResponse(fallback) else { return MHD_Result.NO }
            defer { MHD_destroy_response(failed) }
            _ = MHD_add_response_header(failed, "Content-Type", "application/json")
            _ = MHD_add_response_header(failed, "X-Request-ID", requestID)
            return MHD_queue_response(connection, 500, failed)
        }
        defer { MHD_destroy_response(mhdResponse) }
        for (name, value) in response.headers {
            _ = MHD_add_response_header(mhdResponse, name, value)
        }
        _ = MHD_add_response_header(mhdResponse, "X-Request-ID", requestID)
        return MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    }

    private static func makeResponse(_ body: HTTPResponseBody, sent: SentBytes?) -> OpaquePointer? {
        switch body {
        case .empty:
            return bytesResponse([])
        case .bytes(let bytes):
            sent?.add(bytes.count)
            return bytesResponse(bytes)
        case .file(let path, let offset, let length):
            sent?.add(Int(length))
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return nil }
            // MHD owns the descriptor from here (closed when the response is destroyed) and
            // sends it with sendfile().
            guard let response = MHD_create_response_from_fd_at_offset64(length, descriptor, offset) else {
                close(descriptor)
                return nil
            }
            return response
        case .stream(let length, let reader):
            let box = Unmanaged.passRetained(StreamBox(reader, sent: sent)).toOpaque()
            return MHD_create_response_from_callback(length ?? mw_mhd_size_unknown, 256 * 1024,
                                                     StreamCallbacks.read, box, StreamCallbacks.free)
        }
    }

    private static func bytesResponse(_ bytes: [UInt8]) -> OpaquePointer? {
        bytes.withUnsafeBytes { buffer in
            MHD_create_response_from_buffer(buffer.count, UnsafeMutableRawPointer(mutating: buffer.baseAddress),
                                            MHD_ResponseMemoryMode.RESPMEM_MUST_COPY)
        }
    }
}

/// Owns a streamed body's reader for the lifetime of the MHD response.
final class StreamBox {
    let reader: any HTTPBodyReader
    let sent: SentBytes?
    init(_ reader: any HTTPBodyReader, sent: SentBytes?) {
        self.reader = reader
        self.sent = sent
    }
}

enum StreamCallbacks {
    static let read: MHD_ContentReaderCallback = { cls, _, buffer, max in
        guard let cls, let buffer else { return mw_mhd_reader_end_with_error }
        let box = Unmanaged<StreamBox>.fromOpaque(cls).takeUnretainedValue()
        do {
            let count = try box.reader.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: max))
            box.sent?.add(count)
            return count == 0 ? mw_mhd_reader_end_of_stream : count
        } catch {
            return mw_mhd_reader_end_with_error
        }
    }

    static let free: MHD_ContentReaderFreeCallback = { cls in
        guard let cls else { return }
        let box = Unmanaged<StreamBox>.fromOpaque(cls).takeRetainedValue()
        box.reader.close()
    }
}
