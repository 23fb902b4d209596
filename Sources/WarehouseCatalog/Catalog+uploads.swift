import WarehouseCore
import WarehouseSQLite


extension Catalog {
    public func insertUploadSession(_ session: UploadSessionRow) throws {
        try database.write { db in
            try db.run("""
                INSERT INTO upload_sessions (id, user_id, model_id, version_id, version, state, part_size, presigned, request,
                                             created_at, expires_at, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(session.id), .text(session.userID), .text(session.modelID), session.versionID.map(SQLiteValue.integer) ?? .null,
                      .text(session.version), .text(session.state), .integer(Int64(session.partSize)),
                      .integer(session.presigned ? 1 : 0), .text(session.request), .text(session.createdAt),
                      .text(session.expiresAt), session.detail.map(SQLiteValue.text) ?? .null])
            for file in session.files {
                try db.run("""
                    INSERT INTO upload_session_files (session_id, position, path, size, sha256, upload_id) VALUES (?, ?, ?, ?, ?, ?)
                    """, [.text(session.id), .integer(Int64(file.position)), .text(file.path), .integer(Int64(file.size)),
                          file.sha256.map(SQLiteValue.text) ?? .null, file.uploadID.map(SQLiteValue.text) ?? .null])
            }
        }
    }

    public func uploadSession(id: String) throws -> UploadSessionRow? {
        try database.read { db in try loadUploadSession(db, id: id) }
    }

    /// Sessions in `states`; with `expiredBy`, only those whose expiry is at or before it.
    public func uploadSessions(states: [String], expiredBy: String? = nil) throws -> [UploadSessionRow] {
        try database.read { db in
            let marks = states.map { _ in "?" }.joined(separator: ", ")
            var bindings = states.map(SQLiteValue.text)
            var sql = "SELECT id FROM upload_sessions WHERE state IN (\(marks))"
            if let expiredBy {
                sql += " AND expires_at <= ?"
                bindings.append(.text(expiredBy))
            }
            return try db.query(sql + " ORDER BY created_at, id", bindings).compactMap {
                try loadUploadSession(db, id: $0.string("id")!)
            }
        }
    }

    /// Records an arrived part (replacing an earlier attempt), while the session is open.
    public func recordUploadPart(session: String, position: Int, part: UploadSessionRow.Part) throws {
        try database.write { db in
            guard try db.queryOne("SELECT state FROM upload_sessions WHERE id = ?", [.text(session)])?.string("state") == "open" else {
                throw WarehouseError.conflict("upload session \(session) is no longer open")
            }
            try db.run("""
                INSERT OR REPLACE INTO upload_session_parts (session_id, position, number, size, sha256, store_number, etag, received_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(session), .integer(Int64(position)), .integer(Int64(part.number)), .integer(Int64(part.size)),
                      .text(part.sha256), .integer(Int64(part.storeNumber)), part.etag.map(SQLiteValue.text) ?? .null, .text(part.receivedAt)])
        }
    }

    /// A file of a session starts over under a new parted upload, with no parts.
    public func restartUploadFile(session: String, position: Int, uploadID: String) throws {
        try database.write { db in
            try db.run("UPDATE upload_session_files SET upload_id = ? WHERE session_id = ? AND position = ?",
                       [.text(uploadID), .text(session), .integer(Int64(position))])
            try db.run("DELETE FROM upload_session_parts WHERE session_id = ? AND position = ?", [.text(session), .integer(Int64(position))])
        }
    }

    /// Forgets a part (a resent attempt that was refused: the earlier bytes are overwritten).
    public func removeUploadPart(session: String, position: Int, number: Int) throws {
        try database.write { db in
            try db.run("DELETE FROM upload_session_parts WHERE session_id = ? AND position = ? AND number = ?",
                       [.text(session), .integer(Int64(position)), .integer(Int64(number))])
        }
    }

    /// Moves a session from one of `from` to `to`; false when it was in none of them (another
    /// request got there first).
    @discardableResult
    public func transitionUploadSession(_ id: String, from: [String], to: String, detail: String? = nil) throws -> Bool {
        try database.write { db in
            let marks = from.map { _ in "?" }.joined(separator: ", ")
            return try db.run("UPDATE upload_sessions SET state = ?, detail = ? WHERE id = ? AND state IN (\(marks))",
                              [.text(to), detail.map(SQLiteValue.text) ?? .null, .text(id)] + from.map(SQLiteValue.text)) == 1
        }
    }

    /// Removes finished sessions older than `before` (their rows only; their objects are gone).
    public func pruneUploadSessions(finishedBefore before: String) throws {
        try database.write { db in
            try db.run("DELETE FROM upload_sessions WHERE state IN ('completed', 'aborted', 'expired', 'failed') AND expires_at < ?",
                       [.text(before)])
        }
    }

    private func loadUploadSession(_ db: SQLiteConnection, id: String) throws -> UploadSessionRow? {
        guard let row = try db.queryOne("SELECT * FROM upload_sessions WHERE id = ?", [.text(id)]) else { return nil }
        var files = try db.query("SELECT * FROM upload_session_files WHERE session_id = ? ORDER BY position", [.text(id)]).map {
            UploadSessionRow.File(position: $0.int("position")!, path: $0.string("path")!, size: UInt64($0.int("size")!),
                                  sha256: $0.string("sha256"), uploadID: $0.string("upload_id"))
        }
        for part in try db.query("SELECT * FROM upload_session_parts WHERE session_id = ? ORDER BY position, number", [.text(id)]) {
            guard let index = files.firstIndex(where: { $0.position == part.int("position")! }) else { continue }
            files[index].parts.append(UploadSessionRow.Part(number: part.int("number")!, size: UInt64(part.int("size")!),
                                                            sha256: part.string("sha256")!, storeNumber: part.int("store_number")!,
                                                            etag: part.string("etag"),
                                                            receivedAt: part.string("received_at")!))
        }
        return UploadSessionRow(id: id, userID: row.string("user_id")!, modelID: row.string("model_id")!,
                                versionID: row.int("version_id").map(Int64.init), version: row.string("version")!,
                                state: row.string("state")!, partSize: UInt64(row.int("part_size")!),
                                presigned: row.int("presigned") == 1, request: row.string("request")!,
                                createdAt: row.string("created_at")!, expiresAt: row.string("expires_at")!,
                                detail: row.string("detail"), files: files)
    }
}
