#if canImport(Glibc)
import Glibc
#endif
import Foundation
internal import CMicroHTTPD

/// Streaming `multipart/form-data` parser (RFC 7578). Bytes are fed as they arrive; file
/// parts go straight to spool files, so memory stays at one network chunk plus a boundary.
final class MultipartParser {
    private enum State { case preamble, afterBoundary, headers, body, done }

    private let configuration: MultipartConfiguration
    /// "\r\n--boundary": every boundary line, including the first once a virtual CRLF is prepended.
    private let delimiter: [UInt8]
    private var buffer: [UInt8] = [13, 10]
    private var state = State.preamble
    private var fieldName = ""
    private var fieldValue: [UInt8] = []
    private var writer: SpoolWriter?
    let form = MultipartForm()
    private var partCount = 0

    private static let maxHeaderBytes = 16 * 1024

    /// The request being parsed (handed to `observeFile`).
    private let head: HTTPRequestHead?

    init(boundary: String, configuration: MultipartConfiguration, head: HTTPRequestHead? = nil) {
        self.delimiter = Array("\r\n--\(boundary)".utf8)
        self.configuration = configuration
        self.head = head
    }

    /// The boundary parameter of a multipart/form-data content type, or nil if the type is other.
    static func boundary(fromContentType contentType: String?) -> String? {
        guard let contentType else { return nil }
        let (value, parameters) = HeaderValue.parse(contentType)
        guard value.lowercased() == "multipart/form-data", let boundary = parameters["boundary"],
              !boundary.isEmpty, boundary.utf8.count <= 200 else { return nil }
        return boundary
    }

    func feed(_ chunk: UnsafeRawBufferPointer) throws {
        guard state != .done else { return }
        if state == .body, writer != nil, try feedFileBodyInPlace(chunk) { return }
        buffer.append(contentsOf: chunk)
        var position = 0
        defer { buffer.removeFirst(position) }
        parsing: while true {
            switch state {
            case .preamble:
                if let index = find(delimiter, from: position) {
                    position = index + delimiter.count
                    state = .afterBoundary
                } else {
                    position = max(position, buffer.count - (delimiter.count - 1))
                    break parsing
                }
            case .afterBoundary:
                // Transport padding (spaces, tabs) may follow a boundary before its CRLF or "--".
                while position < buffer.count, buffer[position] == 32 || buffer[position] == 9 { position += 1 }
                guard buffer.count - position >= 2 else { break parsing }
                if buffer[position] == 45, buffer[position + 1] == 45 {
                    state = .done
                    position = buffer.count
                    break parsing
                }
                guard buffer[position] == 13, buffer[position + 1] == 10 else {
                    throw HTTPBodyError.malformed("malformed multipart body: boundary line not followed by CRLF")
                }
                // Keep the CRLF: the header block is then found as "\r\n ... \r\n\r\n" even when empty.
                state = .headers
            case .headers:
                guard let end = find(Self.headerTerminator, from: position) else {
                    if buffer.count - position > Self.maxHeaderBytes {
                        throw HTTPBodyError.malformed("malformed multipart body: part headers exceed \(Self.maxHeaderBytes) bytes")
                    }
                    break parsing
                }
                let headerBytes = end > position ? Array(buffer[(position + 2)..<(end + 2)]) : []
                try beginPart(headers: String(decoding: headerBytes, as: UTF8.self))
                position = end + 4
                state = .body
            case .body:
                if let index = find(delimiter, from: position) {
                    try emit(position, index)
                    try endPart()
                    position = index + delimiter.count
                    state = .afterBoundary
                } else {
                    let safeEnd = buffer.count - (delimiter.count - 1)
                    if safeEnd > position {
                        try emit(position, safeEnd)
                        position = safeEnd
                    }
                    break parsing
                }
            case .done:
                position = buffer.count
                break parsing
            }
        }
    }

    /// The hot path of a file part: when no delimiter starts in `chunk` (or in the tail carried
    /// from the last one), its bytes go to the spool writer straight from the network buffer,
    /// without passing through `buffer`. Returns false, having consumed nothing, otherwise.
    private func feedFileBodyInPlace(_ chunk: UnsafeRawBufferPointer) throws -> Bool {
        guard let writer, chunk.count >= delimiter.count, buffer.count < delimiter.count else { return false }
        // A delimiter starting in the carried tail ends within the chunk's first bytes.
        if !buffer.isEmpty {
            let window = buffer + UnsafeRawBufferPointer(rebasing: chunk[0..<(delimiter.count - 1)])
            if window.withUnsafeBytes({ Self.find(delimiter, in: $0) }) != nil { return false }
        }
        guard Self.find(delimiter, in: chunk) == nil else { return false }
        try buffer.withUnsafeBytes { try writer.write($0) }
        let safeEnd = chunk.count - (delimiter.count - 1)
        try writer.write(UnsafeRawBufferPointer(rebasing: chunk[0..<safeEnd]))
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[safeEnd...]))
        return true
    }

    /// Call when the body has ended; fails unless the closing boundary was seen.
    func finish() throws -> MultipartForm {
        guard state == .done else {
            throw HTTPBodyError.malformed(partCount == 0
                ? "malformed multipart body: no boundary found (is the body really multipart/form-data?)"
                : "malformed multipart body: ended before the closing boundary")
        }
        return form
    }

    private static let headerTerminator: [UInt8] = [13, 10, 13, 10]

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard buffer.count - start >= needle.count else { return nil }
        return buffer.withUnsafeBytes { haystack in
            Self.find(needle, in: UnsafeRawBufferPointer(rebasing: haystack[start...])).map { $0 + start }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        guard haystack.count >= needle.count, let base = haystack.baseAddress else { return nil }
        return needle.withUnsafeBytes { pattern in
            mw_memmem(base, haystack.count, pattern.baseAddress!, pattern.count).map { base.distance(to: UnsafeRawPointer($0)) }
        }
    }

    private func beginPart(headers: String) throws {
        partCount += 1
        var disposition: String?
        var contentType: String?
        for line in headers.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...]).trimmingSpaces
            if name == "content-disposition" { disposition = String(value) }
            if name == "content-type" { contentType = String(value) }
        }
        guard let disposition else {
            throw HTTPBodyError.malformed("malformed multipart body: part \(partCount) has no Content-Disposition header")
        }
        let (_, parameters) = HeaderValue.parse(disposition)
        guard let name = parameters["name"] else {
            throw HTTPBodyError.malformed("malformed multipart body: part \(partCount) has no name")
        }
        if let filename = parameters["filename*"].flatMap(HeaderValue.decodeExtended) ?? parameters["filename"] {
            guard form.files.count < configuration.maxFileParts else {
                throw HTTPBodyError.tooLarge("too many file parts (limit \(configuration.maxFileParts))")
            }
            let spoolPath = configuration.spoolDirectory + "/upload-" + UUID().uuidString + ".part"
            let file = UploadedFile(fieldName: name, filename: filename, contentType: contentType, spoolPath: spoolPath)
            writer = try SpoolWriter(file: file, digest: configuration.makeDigest?(),
                                     observer: head.flatMap { configuration.observeFile?($0, form.fields, file) },
                                     startsWriteback: configuration.startsWriteback)
            form.append(file: file)
        } else {
            guard form.fields.count < configuration.maxFields else {
                throw HTTPBodyError.tooLarge("too many form fields (limit \(configuration.maxFields))")
            }
            fieldName = name
            fieldValue.removeAll(keepingCapacity: true)
        }
    }

    private func emit(_ start: Int, _ end: Int) throws {
        guard end > start else { return }
        if let writer {
            try buffer.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
        } else {
            guard fieldValue.count + (end - start) <= configuration.maxFieldBytes else {
                throw HTTPBodyError.tooLarge("form field '\(fieldName)' is larger than \(configuration.maxFieldBytes) bytes")
            }
            fieldValue.append(contentsOf: buffer[start..<end])
        }
    }

    private func endPart() throws {
        if let writer {
            try writer.finish()
            self.writer = nil
        } else {
            form.append(field: fieldName, value: String(decoding: fieldValue, as: UTF8.self))
        }
    }
}

/// Parses header values of the form `value; name=token; name="quoted \" string"`.
enum HeaderValue {
    static func parse(_ header: String) -> (value: String, parameters: [String: String]) {
        var parameters: [String: String] = [:]
        let characters = Array(header)
        var index = 0
        func skipSpaces() { while index < characters.count, characters[index] == " " || characters[index] == "\t" { index += 1 } }
        var value = ""
        while index < characters.count, characters[index] != ";" { value.append(characters[index]); index += 1 }
        while index < characters.count {
            index += 1 // the ';'
            skipSpaces()
            var name = ""
            while index < characters.count, characters[index] != "=", characters[index] != ";" {
                name.append(characters[index]); index += 1
            }
            var parameterValue = ""
            if index < characters.count, characters[index] == "=" {
                index += 1
                skipSpaces()
                if index < characters.count, characters[index] == "\"" {
                    index += 1
                    while index < characters.count, characters[index] != "\"" {
                        // Browsers send `\"` for quotes; a backslash before anything else is kept,
                        // so Windows paths like C:\x survive.
                        if characters[index] == "\\", index + 1 < characters.count,
                           characters[index + 1] == "\"" || characters[index + 1] == "\\" {
                            index += 1
                        }
                        parameterValue.append(characters[index]); index += 1
                    }
                    index += 1
                    while index < characters.count, characters[index] != ";" { index += 1 }
                } else {
                    while index < characters.count, characters[index] != ";" { parameterValue.append(characters[index]); index += 1 }
                    parameterValue = String(parameterValue.trimmingSpaces)
                }
            }
            let key = String(name.trimmingSpaces).lowercased()
            if !key.isEmpty, parameters[key] == nil { parameters[key] = parameterValue }
        }
        return (String(value.trimmingSpaces), parameters)
    }

    /// RFC 5987 `UTF-8''percent%20encoded` values.
    static func decodeExtended(_ value: String) -> String? {
        let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard pieces.count == 3, pieces[0].lowercased() == "utf-8" else { return nil }
        return String(pieces[2]).removingPercentEncoding
    }
}
