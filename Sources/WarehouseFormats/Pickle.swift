import WarehouseCore

/// Python pickles scanned opcode by opcode WITHOUT executing anything: the globals they import
/// (GLOBAL, INST, STACK_GLOBAL) tell what class the object is and whether loading it would
/// run code beyond the usual model libraries.
enum Pickle {
    /// Scan budget: opcodes examined across all pickles in the file.
    static let maxOpcodes = 5_000_000
    static let maxPickles = 8

    /// Module prefixes whose globals are ordinary model state.
    static let allowedModules = ["numpy", "sklearn", "scipy", "torch", "collections", "joblib", "xgboost", "lightgbm",
                                 "pandas", "datetime", "decimal", "uuid", "_codecs", "copyreg", "catboost", "statsmodels",
                                 "transformers", "tokenizers", "keras", "tensorflow", "__main__"]
    /// builtins that only build data.
    static let allowedBuiltins: Set<String> = ["set", "frozenset", "slice", "range", "complex", "bytearray", "dict", "list",
                                               "tuple", "int", "float", "str", "bytes", "bool", "object"]

    static func sniff(_ head: [UInt8]) -> Bool {
        head.count >= 2 && head[0] == 0x80 && head[1] <= 5
    }

    static let legacyTorchMagic: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

    static func analyze(_ source: any ByteSource, offset: UInt64 = 0, end: UInt64? = nil) throws -> FileAnalysis {
        let head = try source.read(at: offset, count: legacyTorchMagic.count)
        let cursor = ByteCursor(source, at: offset, end: end)
        // A legacy torch file is five pickles (magic, protocol, sys_info, the object, the
        // storage keys) and then raw storages, whose first bytes may look like a sixth.
        let scanned = try scanTensors(cursor, maxPickles: head == legacyTorchMagic ? 5 : maxPickles)
        let imports = scanned.imports
        var analysis = FileAnalysis(format: "pickle")
        if head == legacyTorchMagic {
            analysis.format = "pytorch-legacy"
        } else if imports.contains(where: { $0.hasPrefix("joblib.") }) {
            analysis.format = "joblib"
        }
        describe(imports, into: &analysis)
        scanned.tensors.describe(into: &analysis)
        return analysis
    }

    /// What torch's persistent ids say of a pickle's tensors: each storage (key → element
    /// count) is referenced as `('storage', type, key, location, numel, …)`.
    struct Tensors {
        var storages: [String: Int64] = [:]
        /// An optimizer's state sits beside the weights (a training checkpoint): its tensors
        /// are not parameters.
        var hasOptimizerState = false

        /// `tensor_elements` always; `num_parameters` too when nothing but weights is stored.
        func describe(into analysis: inout FileAnalysis) {
            guard !storages.isEmpty else { return }
            let elements = storages.values.reduce(0, +)
            analysis.details["tensor_elements"] = .int(elements)
            if !hasOptimizerState { analysis.numParameters = elements }
        }
    }

    /// The imports and torch tensors of every pickle in the stream.
    static func scanTensors(_ cursor: ByteCursor, maxPickles: Int = maxPickles) throws -> (imports: [String], tensors: Tensors) {
        var tensors = Tensors()
        let imports = try scan(cursor, tensors: &tensors, maxPickles: maxPickles)
        return (imports, tensors)
    }

    static func scan(_ cursor: ByteCursor) throws -> [String] {
        var tensors = Tensors()
        return try scan(cursor, tensors: &tensors)
    }

    /// Fills the class, imports, safety and framework from a pickle's imports.
    static func describe(_ imports: [String], into analysis: inout FileAnalysis) {
        var unique: [String] = []
        for name in imports where !unique.contains(name) { unique.append(name) }
        analysis.details["pickle_imports"] = .array(unique.prefix(200).map(JSONValue.string))
        if let top = unique.first(where: { !$0.hasPrefix("_codecs.") && !$0.hasPrefix("copyreg.") && !$0.hasPrefix("builtins.") }) {
            analysis.details["top_level_class"] = .string(top)
        }
        let unsafe = unique.filter { !isAllowed($0) }
        analysis.details["pickle_safety"] = .string(unsafe.isEmpty ? "safe" : "unsafe")
        if !unsafe.isEmpty {
            analysis.details["pickle_unsafe_imports"] = .array(unsafe.prefix(50).map(JSONValue.string))
            analysis.warnings.append("pickle imports \(unsafe.prefix(5).joined(separator: ", ")): loading it can run arbitrary code")
        }
        if analysis.framework == nil {
            if unique.contains(where: { $0.hasPrefix("sklearn.") }) { analysis.framework = .sklearn }
            else if unique.contains(where: { $0.hasPrefix("torch.") }) { analysis.framework = .pytorch }
            else if unique.contains(where: { $0.hasPrefix("keras.") || $0.hasPrefix("tensorflow.") }) { analysis.framework = .keras }
        }
    }

    static func isAllowed(_ name: String) -> Bool {
        let module = name.split(separator: ".").first.map(String.init) ?? name
        if module == "builtins" || module == "__builtin__" {
            return allowedBuiltins.contains(String(name.split(separator: ".").last ?? ""))
        }
        return allowedModules.contains(module)
    }

    /// The globals imported by every pickle in the stream (pickles may follow each other),
    /// and the torch storages their persistent ids name.
    static func scan(_ cursor: ByteCursor, tensors: inout Tensors, maxPickles: Int = maxPickles) throws -> [String] {
        var imports: [String] = []
        var opcodes = 0
        var pickles = 0
        // Recent stack items that are strings (nil: something else), and memoized strings,
        // enough to resolve STACK_GLOBAL's two operands.
        var recent: [String?] = []
        // The small integers beside them (nil: not an integer), for torch's element counts.
        var recentInts: [Int64?] = []
        var memo: [UInt64: String] = [:]
        var nextMemo: UInt64 = 0
        func push(_ value: String?, integer: Int64? = nil) {
            recent.append(value)
            recentInts.append(integer)
            if recent.count > 16 { recent.removeFirst(); recentInts.removeFirst() }
            if value == "optimizer_states" || value == "optimizer" { tensors.hasOptimizerState = true }
        }
        func persistentID() {
            // ('storage', <type>, key, location, numel[, view]) just before BINPERSID.
            guard let at = recent.lastIndex(of: "storage"), at + 4 < recent.count,
                  let key = recent[at + 2], recent[at + 3] != nil, let numel = recentInts[at + 4], numel >= 0 else { return }
            tensors.storages[key] = numel
        }
        func littleEndian(_ bytes: [UInt8]) -> Int64? {
            guard bytes.count <= 8 else { return nil }
            var value: Int64 = 0
            for (index, byte) in bytes.enumerated() { value |= Int64(byte) << (8 * Int64(index)) }
            if let last = bytes.last, last & 0x80 != 0, bytes.count < 8 { value -= Int64(1) << (8 * Int64(bytes.count)) }
            return value
        }
        func line() throws -> String {
            var bytes: [UInt8] = []
            while true {
                let byte = try cursor.u8()
                if byte == 10 { break }
                bytes.append(byte)
                guard bytes.count <= 4096 else { throw FormatError("pickle text argument too long") }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        func counted(_ length: UInt64) throws -> String? {
            guard length <= 1 << 20 else { try cursor.skip(length); return nil }
            return String(decoding: try cursor.bytes(Int(length)), as: UTF8.self)
        }
        while cursor.remaining > 0 {
            opcodes += 1
            guard opcodes <= maxOpcodes else { break }
            let opcode = try cursor.u8()
            switch opcode {
            case 0x2e: // STOP
                pickles += 1
                recent.removeAll()
                recentInts.removeAll()
                // Another pickle follows only if PROTO 2...5 comes next.
                guard pickles < maxPickles, cursor.remaining > 2 else { return imports }
                let next = try cursor.bytes(2)
                cursor.seek(cursor.position - 2)
                guard next[0] == 0x80, (2...5).contains(next[1]) else { return imports }
            case 0x80: _ = try cursor.u8()                                   // PROTO
            case 0x95: _ = try cursor.u64()                                  // FRAME
            case 0x63, 0x69:                                                 // GLOBAL, INST
                let module = try line()
                let name = try line()
                imports.append("\(module).\(name)")
                push(nil)
            case 0x93:                                                       // STACK_GLOBAL
                if recent.count >= 2, let module = recent[recent.count - 2], let name = recent[recent.count - 1] {
                    imports.append("\(module).\(name)")
                } else {
                    imports.append("?.?")
                }
                recent.removeLast(min(2, recent.count))
                push(nil)
            case 0x8c: push(try counted(UInt64(try cursor.u8())))            // SHORT_BINUNICODE
            case 0x58: push(try counted(UInt64(try cursor.u32())))           // BINUNICODE
            case 0x8d: push(try counted(try cursor.u64()))                   // BINUNICODE8
            case 0x55: push(try counted(UInt64(try cursor.u8())))            // SHORT_BINSTRING
            case 0x54: push(try counted(UInt64(try cursor.u32())))           // BINSTRING
            case 0x56: push(try line())                                      // UNICODE
            case 0x53: push(try line().trimmingQuotes)                       // STRING
            case 0x43: try cursor.skip(UInt64(try cursor.u8())); push(nil)   // SHORT_BINBYTES
            case 0x42: try cursor.skip(UInt64(try cursor.u32())); push(nil)  // BINBYTES
            case 0x8e, 0x96: try cursor.skip(try cursor.u64()); push(nil)    // BINBYTES8, BYTEARRAY8
            case 0x8a: push(nil, integer: littleEndian(try cursor.bytes(Int(try cursor.u8()))))   // LONG1
            case 0x8b: try cursor.skip(UInt64(try cursor.u32())); push(nil)  // LONG4
            case 0x94: if let last = recent.last, let text = last { memo[nextMemo] = text }; nextMemo += 1 // MEMOIZE
            case 0x71: let index = UInt64(try cursor.u8()); if let last = recent.last, let text = last { memo[index] = text } // BINPUT
            case 0x72: let index = UInt64(try cursor.u32()); if let last = recent.last, let text = last { memo[index] = text } // LONG_BINPUT
            case 0x70: let index = UInt64(try line()) ?? 0; if let last = recent.last, let text = last { memo[index] = text } // PUT
            case 0x68: push(memo[UInt64(try cursor.u8())])                   // BINGET
            case 0x6a: push(memo[UInt64(try cursor.u32())])                  // LONG_BINGET
            case 0x67: push(memo[UInt64(try line()) ?? 0])                   // GET
            case 0x4b: push(nil, integer: Int64(try cursor.u8()))            // BININT1
            case 0x4d: let b = try cursor.bytes(2); push(nil, integer: Int64(b[0]) | Int64(b[1]) << 8)  // BININT2
            case 0x4a: push(nil, integer: Int64(Int32(bitPattern: try cursor.u32())))  // BININT
            case 0x82: _ = try cursor.u8(); push(nil)                        // EXT1
            case 0x83: _ = try cursor.bytes(2); push(nil)                    // EXT2
            case 0x84: _ = try cursor.u32(); push(nil)                       // EXT4
            case 0x51: persistentID(); push(nil)                             // BINPERSID
            case 0x47: _ = try cursor.u64(); push(nil)                       // BINFLOAT
            case 0x49, 0x4c, 0x46, 0x50: _ = try line(); push(nil)           // INT, LONG, FLOAT, PERSID
            case 0x28, 0x30, 0x31, 0x32, 0x4e, 0x52, 0x61, 0x62, 0x64, 0x7d, 0x65, 0x6c, 0x5d, 0x6f, 0x73, 0x74, 0x29,
                 0x75, 0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x92, 0x8f, 0x90, 0x91, 0x97, 0x98:
                push(nil)                                                    // no argument
            default:
                // joblib writes each numpy array's raw bytes into the stream right after its
                // NumpyArrayWrapper, then goes on pickling in a new frame: skip to that frame.
                if imports.contains(joblibArrayWrapper), try skipJoblibArrayData(cursor, from: cursor.position - 1) { continue }
                throw FormatError("unknown pickle opcode 0x\(String(opcode, radix: 16)) at offset \(cursor.position - 1)")
            }
        }
        return imports
    }
}

extension Pickle {
    static let joblibArrayWrapper = "joblib.numpy_pickle.NumpyArrayWrapper"
    /// Opcodes a frame of joblib's pickling starts with after an array.
    static let frameStarts: Set<UInt8> = [0x8c, 0x94, 0x5d, 0x7d, 0x28, 0x4b, 0x68, 0x71, 0x88, 0x89, 0x4e, 0x75, 0x62, 0x2e,
                                          0x58, 0x93, 0x8a, 0x47, 0x4a, 0x4d, 0x29, 0x85, 0x86, 0x87, 0x6a, 0x72, 0x63]
    static let maxArrayGap: UInt64 = 256 << 20

    /// Moves `cursor` to the next FRAME opcode after raw array bytes starting at `start`: one
    /// whose 8-byte length fits in the file and whose first opcode is one pickling starts
    /// with. False (cursor unmoved) when none lies within `maxArrayGap` bytes.
    static func skipJoblibArrayData(_ cursor: ByteCursor, from start: UInt64) throws -> Bool {
        let limit = min(cursor.end, start + maxArrayGap)
        var position = start
        while position + 10 <= limit {
            let count = Int(min(64 << 10, limit - position))
            cursor.seek(position)
            let chunk = try cursor.bytes(count)
            for index in chunk.indices where chunk[index] == 0x95 {
                let at = position + UInt64(index)
                guard at + 10 <= cursor.end else { continue }
                cursor.seek(at + 1)
                let length = try cursor.u64()
                let first = try cursor.u8()
                if length > 0, length <= cursor.end - (at + 9), frameStarts.contains(first) {
                    cursor.seek(at)
                    return true
                }
            }
            position += UInt64(max(1, count - 9))
        }
        cursor.seek(start + 1)
        return false
    }
}

extension String {
    var trimmingQuotes: String {
        var text = Substring(self)
        if let first = text.first, first == "'" || first == "\"" { text = text.dropFirst() }
        if let last = text.last, last == "'" || last == "\"" { text = text.dropLast() }
        return String(text)
    }
}
