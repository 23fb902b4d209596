import Testing
import WarehouseCore

/// Every key the warehouse writes parses back to what it was built from; other shapes do not parse.
@Suite struct ObjectKeysTests {
    @Test func builtKeysParseBack() {
        let cases: [(String, ObjectKeys.Parsed)] = [
            (ObjectKeys.manifest(user: "u", model: "m.1", version: "v2.0"), .versionManifest(user: "u", model: "m.1", version: "v2.0")),
            (ObjectKeys.modelManifest(user: "u", model: "m.1"), .modelManifest(user: "u", model: "m.1")),
            (ObjectKeys.aliasManifest(user: "u", model: "m"), .aliasManifest(user: "u", model: "m")),
            (ObjectKeys.hubLargeFile(user: "u", model: "m", sha256: String(repeating: "a", count: 64), created: 1_765_000_000),
             .hubLargeFile(user: "u", model: "m", sha256: String(repeating: "a", count: 64), created: 1_765_000_000, check: false)),
            (ObjectKeys.hubLargeFileCheck(ObjectKeys.hubLargeFile(user: "u", model: "m", sha256: String(repeating: "a", count: 64), created: 7)),
             .hubLargeFile(user: "u", model: "m", sha256: String(repeating: "a", count: 64), created: 7, check: true)),
            (ObjectKeys.datasetManifest(user: "u", dataset: "iris", version: "v3"), .datasetManifest(user: "u", dataset: "iris", version: "v3")),
            (ObjectKeys.token(hash: "ab12"), .token(hash: "ab12")),
            (ObjectKeys.notification(user: "u", id: "n-1"), .notification(user: "u", id: "n-1")),
            (ObjectKeys.job(id: "job_1"), .job(id: "job_1")),
            (ObjectKeys.change(milliseconds: 1_765_000_000_123, replica: "r-1a", sequence: 7, kind: "version", subject: ["u", "m", "v1"]),
             .change(milliseconds: 1_765_000_000_123, replica: "r-1a", kind: "version", subject: ["u", "m", "v1"])),
            (ObjectKeys.change(milliseconds: 5, replica: "r", sequence: 1, kind: "token", subject: ["h"]),
             .change(milliseconds: 5, replica: "r", kind: "token", subject: ["h"])),
        ]
        for (key, expected) in cases {
            #expect(ObjectKeys.parse(key) == expected, "\(key)")
        }
    }

    @Test func otherShapesDoNotParse() {
        for key in ["models/u/m/v1/config.json", "manifests/models/u.json", "manifests/models/u/m/v1/x.json",
                    "manifests/models/u//v1.json", "manifests/tokens/a/b.json", "manifests/jobs/x.txt",
                    "replication/changes/123-r-1~version~u/m/v1", "replication/changes/0000000000005-r-1", "datasets/u/d/v1/x.csv"] {
            #expect(ObjectKeys.parse(key) == nil, "\(key)")
        }
        #expect(ObjectKeys.changesAfter(milliseconds: 42) < ObjectKeys.change(milliseconds: 42, replica: "r", sequence: 1, kind: "job", subject: ["j"]))
    }
}
