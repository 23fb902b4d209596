import Foundation
import WarehouseCatalog
import WarehouseCore
import WarehouseReplication
import WarehouseCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Who is calling: the admin (acts everywhere) or a user (acts in its own namespace).
public enum Principal: Sendable, Equatable {
    case admin
    case user(String)

    /// 403 unless this principal may act in `user`'s namespace.
    public func authorize(user: String) throws {
        switch self {
        case .admin: return
        case .user(let own) where own == user: return
        case .user(let own):
            throw WarehouseError.forbidden("this token belongs to '\(own)' and cannot act on '\(user)'")
        }
    }

    public func requireAdmin() throws {
        guard self == .admin else { throw WarehouseError.forbidden("only the admin token may do this") }
    }
}

/// Bearer tokens: one admin token (from configuration, or generated once into the data
/// folder), and user tokens created by the admin, stored only as SHA-256 hashes. Presented
/// tokens are hashed first and compared in constant time, so timing says nothing about them.
public final class AccessControl: Sendable {
    let catalog: Catalog
    private let adminHash: [UInt8]

    /// How tokens reach the other replicas (as objects in a shared bucket), if there are any.
    let replication: any Replication

    public init(catalog: Catalog, adminToken: String, replication: any Replication) {
        self.replication = replication
        self.catalog = catalog
        self.adminHash = Self.digest(adminToken)
    }

    /// The admin token from configuration, or the one in `DATA_DIR/admin-token` (created with
    /// mode 0600 at first start). `created` tells whether it was just generated.
    public static func adminToken(configured: String?, dataDirectory: String) throws -> (token: String, path: String?, created: Bool) {
        if let configured, !configured.isEmpty { return (configured, nil, false) }
        let path = dataDirectory + "/admin-token"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !existing.isEmpty {
            return (existing, path, false)
        }
        let token = "mwa_" + Hex.encode(SecureRandom.bytes(32))
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw WarehouseError.storageUnavailable("cannot write the admin token to \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array((token + "\n").utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count, fsync(descriptor) == 0 else {
            throw WarehouseError.storageUnavailable("cannot write the admin token to \(path)")
        }
        return (token, path, true)
    }

    /// The principal of an `Authorization: Bearer …` header; 401 when missing or unknown.
    public func authenticate(authorization: String?) throws -> Principal {
        guard let authorization, !authorization.isEmpty else {
            throw WarehouseError.unauthorized("missing Authorization header; send 'Authorization: Bearer <token>'")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw WarehouseError.unauthorized("the Authorization header must be 'Bearer <token>'")
        }
        let presented = Self.digest(parts[1].trimmingCharacters(in: .whitespaces))
        if Self.constantTimeEqual(presented, adminHash) { return .admin }
        if let token = try catalog.token(hash: Hex.encode(presented)) { return .user(token.userID) }
        // Minted on another replica a moment ago: the bucket knows it before the change log says
        // so. A bucket that does not answer leaves the token unknown (401, not 503).
        if let token = try? sharedToken(hash: Hex.encode(presented)) { return .user(token.userID) }
        throw WarehouseError.unauthorized("invalid or revoked token")
    }

    /// A signature for a URL the client calls without its token (an upload target): an HMAC
    /// keyed by the admin token's hash, so every replica configured alike checks it.
    public func signature(of message: String) -> String {
        Hex.encode(HMACSHA256.authenticate("signed-url/1\n" + message, key: adminHash))
    }

    public func isSigned(_ message: String, signature: String) -> Bool {
        Self.constantTimeEqual(Array(self.signature(of: message).utf8), Array(signature.utf8))
    }

    /// A new token for `user`: its secret is shown once, here, and never stored.
    public func createToken(for user: String) throws -> (token: StoredToken, secret: String) {
        let user = try Identifiers.userID(user)
        let secret = "mwt_" + Hex.encode(SecureRandom.bytes(32))
        let stored = StoredToken(id: "tok_" + Hex.encode(SecureRandom.bytes(8)), userID: user, createdAt: Timestamps.now())
        let hash = Hex.encode(Self.digest(secret))
        let object = SharedToken(id: stored.id, userID: user, createdAt: stored.createdAt)
        try replication.publish(ObjectKeys.token(hash: hash), data: Array(try JSONCoding.string(object).utf8), over: nil,
                                createOnly: true, announcing: Change(.token, [hash]))
        try catalog.insertToken(id: stored.id, userID: user, hash: hash, createdAt: stored.createdAt)
        return (stored, secret)
    }

    public func tokens(user: String?) throws -> [StoredToken] {
        try catalog.tokens(userID: user)
    }

    public func revokeToken(id: String) throws {
        let hash = try catalog.tokenRows().first { $0.token.id == id }?.hash
        if let hash {
            try replication.publish(ObjectKeys.token(hash: hash), data: nil, over: nil, createOnly: false, announcing: Change(.token, [hash]))
        }
        guard try catalog.deleteToken(id: id) else { throw WarehouseError.notFound("no token with id '\(id)'") }
    }

    static func digest(_ token: String) -> [UInt8] {
        let hasher = SHA256()
        hasher.update(Array(token.utf8))
        return hasher.finalize()
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

extension AccessControl {
    /// Makes the catalog's copy of one token what the bucket holds; answers it (nil: none).
    @discardableResult
    public func sharedToken(hash: String) throws -> StoredToken? {
        let bytes: [UInt8]
        switch try replication.readPublished(ObjectKeys.token(hash: hash)) {
        case .notShared:
            return nil
        case .absent:
            if let id = try catalog.tokenRows().first(where: { $0.hash == hash })?.token.id { _ = try catalog.deleteToken(id: id) }
            return nil
        case .present(let published):
            bytes = published
        }
        let object = try JSONDecoder().decode(SharedToken.self, from: Data(bytes))
        try catalog.upsertToken(id: object.id, userID: object.userID, hash: hash, createdAt: object.createdAt)
        return StoredToken(id: object.id, userID: object.userID, createdAt: object.createdAt)
    }
}

/// A token as stored in a shared bucket, under the SHA-256 of its secret.
struct SharedToken: Codable {
    let id: String
    let userID: String
    let createdAt: String

    enum CodingKeys: String, CodingKey { case id, userID = "user_id", createdAt = "created_at" }
}
