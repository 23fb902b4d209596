import Foundation

/// Archives the way users make them: written by Python's zipfile.
public enum ZipFixtures {
    /// A stored (uncompressed) ZIP of `count` files `shards/part-NNNNNN.bin` of `entryBytes`
    /// bytes each, at `path`.
    public static func manyFiles(at path: String, count: Int, entryBytes: Int) throws {
        let script = """
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
                for i in range(int(sys.argv[2])):
                    z.writestr(f"shards/part-{i:06d}.bin", bytes([i % 251]) * int(sys.argv[3]))
            """
        let result = try TestProcess.run("python3", ["-c", script, path, String(count), String(entryBytes)])
        guard result.status == 0 else { throw TestClientError("zipfile failed: \(result.output)") }
    }
}
