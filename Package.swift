// swift-tools-version:6.0
import PackageDescription

// Modules form a strict DAG: C shims → thin wrappers → domain → HTTP API → executable.
// Only the wrappers import C (with `internal import`), so no C type leaks into public API.
let package = Package(
    name: "ModelWarehouse",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "warehouse", targets: ["warehouse"]),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .systemLibrary(name: "CMicroHTTPD", path: "Sources/CMicroHTTPD"),
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto"),
        .systemLibrary(name: "CArchive", path: "Sources/CArchive"),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl"),

        .target(name: "WarehouseCrypto", dependencies: ["CCrypto"]),
        .target(name: "WarehouseSQLite", dependencies: ["CSQLite"]),
        .target(name: "WarehouseHTTPServer", dependencies: ["CMicroHTTPD"]),
        .target(name: "WarehouseZip", dependencies: ["CArchive"]),
        .target(name: "WarehouseCurl", dependencies: ["CCurl"]),
        .target(name: "WarehouseS3", dependencies: ["WarehouseCurl", "WarehouseCrypto"]),

        .target(name: "WarehouseCore"),
        // The training engine is numeric code: optimised even in debug builds, so the test
        // suite trains at realistic speed.
        .target(name: "WarehouseAutoML", swiftSettings: [.unsafeFlags(["-O", "-enforce-exclusivity=unchecked"])]),
        // Trained pipelines as ONNX graphs, written by our own protobuf encoder; optimised
        // like the engine, since it walks every tree node while a job's budget runs.
        .target(name: "WarehouseONNX", dependencies: ["WarehouseAutoML"], swiftSettings: [.unsafeFlags(["-O"])]),
        .target(name: "WarehouseFormats", dependencies: ["WarehouseCore", "WarehouseZip"]),
        .target(name: "WarehouseCatalog", dependencies: ["WarehouseCore", "WarehouseSQLite"]),
        .target(name: "WarehouseStorage", dependencies: ["WarehouseCore", "WarehouseCrypto", "WarehouseS3"]),
        // Several replicas on one bucket: the change log and its follower, claims, leases,
        // heartbeats. Services plug into the follower; it knows none of them.
        .target(name: "WarehouseReplication", dependencies: ["WarehouseCore", "WarehouseCrypto"]),
        // An OpenAI-compatible chat-completions client (the optional "ask a dataset").
        .target(name: "WarehouseLLM", dependencies: ["WarehouseCore", "WarehouseCurl"]),
        .target(
            name: "WarehouseService",
            dependencies: ["WarehouseCore", "WarehouseCatalog", "WarehouseStorage", "WarehouseFormats", "WarehouseCrypto", "WarehouseZip", "WarehouseAutoML", "WarehouseONNX", "WarehouseReplication", "WarehouseLLM"]
        ),
        // Routes see services only: no catalog, SQLite, S3 or store module here.
        .target(name: "WarehouseAPI", dependencies: ["WarehouseService", "WarehouseHTTPServer", "WarehouseAutoML", "WarehouseCrypto", "WarehouseZip", "WarehouseCore", "WarehouseLLM"]),
        // The Hugging Face Hub's protocol under /hf: an adapter over the services that uses the
        // API's request context, downloads and error table.
        .target(name: "WarehouseHub", dependencies: ["WarehouseAPI", "WarehouseService", "WarehouseHTTPServer", "WarehouseCore", "WarehouseCrypto", "WarehouseFormats"]),
        // MLflow's registry protocol under /api/2.0/mlflow: the same kind of adapter.
        .target(name: "WarehouseMLflow", dependencies: ["WarehouseAPI", "WarehouseService", "WarehouseHTTPServer", "WarehouseCore", "WarehouseCrypto", "WarehouseFormats"]),
        // Assembly: configuration → stores → catalog → services → routes → HTTP server.
        .target(name: "WarehouseServer", dependencies: ["WarehouseHub", "WarehouseMLflow", "WarehouseAPI", "WarehouseService", "WarehouseCatalog", "WarehouseStorage", "WarehouseS3", "WarehouseReplication", "WarehouseHTTPServer", "WarehouseCrypto", "WarehouseCore", "WarehouseZip"]),
        // The command-line client: the HTTP API over libcurl, uploads streamed (folders zipped on the fly).
        .target(name: "WarehouseClient", dependencies: ["WarehouseCore", "WarehouseCurl", "WarehouseZip", "WarehouseCrypto"]),
        .executableTarget(name: "warehouse", dependencies: ["WarehouseServer", "WarehouseAPI", "WarehouseFormats", "WarehouseAutoML", "WarehouseClient", "WarehouseCrypto"]),
        .target(name: "WarehouseTesting", dependencies: ["WarehouseServer", "WarehouseAPI", "WarehouseStorage"]),

        .testTarget(name: "WarehouseCryptoTests", dependencies: ["WarehouseCrypto"]),
        .testTarget(name: "WarehouseCoreTests", dependencies: ["WarehouseCore"]),
        .testTarget(name: "WarehouseHTTPServerTests", dependencies: ["WarehouseHTTPServer"]),
        .testTarget(name: "WarehouseCatalogTests", dependencies: ["WarehouseCatalog"]),
        .testTarget(name: "WarehouseZipTests", dependencies: ["WarehouseZip"]),
        .testTarget(name: "WarehouseFormatsTests", dependencies: ["WarehouseFormats", "WarehouseCore", "WarehouseZip"]),
        .testTarget(name: "WarehouseS3Tests", dependencies: ["WarehouseS3", "WarehouseHTTPServer", "WarehouseCurl", "WarehouseCrypto"]),
        .testTarget(name: "WarehouseStorageTests", dependencies: ["WarehouseStorage", "WarehouseTesting", "WarehouseS3", "WarehouseCurl", "WarehouseCrypto", "WarehouseCore"]),
        .testTarget(name: "WarehouseAutoMLTests", dependencies: ["WarehouseAutoML"]),
        .testTarget(name: "WarehouseONNXTests", dependencies: ["WarehouseONNX", "WarehouseAutoML", "WarehouseFormats", "WarehouseTesting"]),
        .testTarget(name: "WarehouseCLITests", dependencies: ["WarehouseTesting", "WarehouseCrypto"]),
        .testTarget(name: "WarehouseAPITests", dependencies: ["WarehouseAPI", "WarehouseHub", "WarehouseMLflow", "WarehouseServer", "WarehouseTesting", "WarehouseCrypto", "WarehouseCatalog", "WarehouseCore", "WarehouseService"]),
    ]
)
