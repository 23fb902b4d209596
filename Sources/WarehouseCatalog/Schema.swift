import WarehouseSQLite

/// The catalog's migrations, applied in order. Never edit an applied one; append.
enum Schema {
    static let migrator = SQLiteMigrator([
        .init("001-versions-files-search", """
            CREATE TABLE versions (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                version TEXT NOT NULL,
                major INTEGER NOT NULL,
                minor INTEGER NOT NULL,
                patch INTEGER NOT NULL,
                -- pending: being uploaded, invisible; ready: visible; deleting: invisible, objects being removed
                state TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'deleting')),
                name TEXT NOT NULL DEFAULT '',
                description TEXT NOT NULL DEFAULT '',
                algorithm TEXT NOT NULL DEFAULT '',
                framework TEXT NOT NULL DEFAULT 'other',
                model_type TEXT NOT NULL DEFAULT 'other',
                -- space-separated, for full-text search; version_tags is the filterable form
                tags TEXT NOT NULL DEFAULT '',
                -- the version record as JSON, without its files (those live in `files`)
                record TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                UNIQUE (user_id, model_id, version)
            );
            CREATE INDEX versions_by_model ON versions (user_id, model_id, state, major, minor, patch);

            CREATE TABLE version_tags (
                version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
                tag TEXT NOT NULL COLLATE NOCASE,
                PRIMARY KEY (version_id, tag)
            ) WITHOUT ROWID;
            CREATE INDEX version_tags_by_tag ON version_tags (tag, version_id);

            CREATE TABLE files (
                id INTEGER PRIMARY KEY,
                version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
                file_path TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
                filename TEXT NOT NULL,
                file_size INTEGER NOT NULL,
                file_type TEXT NOT NULL,
                file_hash TEXT NOT NULL,
                content_type TEXT NOT NULL,
                is_primary INTEGER NOT NULL DEFAULT 0,
                description TEXT,
                created_at TEXT NOT NULL,
                UNIQUE (version_id, file_path)
            );

            -- External-content FTS5 index over the searchable columns, kept in step by triggers.
            CREATE VIRTUAL TABLE versions_fts USING fts5 (
                name, description, tags, algorithm, model_id,
                content = 'versions', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
            );
            CREATE TRIGGER versions_fts_insert AFTER INSERT ON versions BEGIN
                INSERT INTO versions_fts (rowid, name, description, tags, algorithm, model_id)
                VALUES (new.id, new.name, new.description, new.tags, new.algorithm, new.model_id);
            END;
            CREATE TRIGGER versions_fts_delete AFTER DELETE ON versions BEGIN
                INSERT INTO versions_fts (versions_fts, rowid, name, description, tags, algorithm, model_id)
                VALUES ('delete', old.id, old.name, old.description, old.tags, old.algorithm, old.model_id);
            END;
            CREATE TRIGGER versions_fts_update AFTER UPDATE OF name, description, tags, algorithm ON versions BEGIN
                INSERT INTO versions_fts (versions_fts, rowid, name, description, tags, algorithm, model_id)
                VALUES ('delete', old.id, old.name, old.description, old.tags, old.algorithm, old.model_id);
                INSERT INTO versions_fts (rowid, name, description, tags, algorithm, model_id)
                VALUES (new.id, new.name, new.description, new.tags, new.algorithm, new.model_id);
            END;
            """),
        .init("002-formats-parameters-details", """
            ALTER TABLE files ADD COLUMN format TEXT;
            -- space-separated detected formats of the files, for format= filters
            ALTER TABLE versions ADD COLUMN formats TEXT NOT NULL DEFAULT '';
            ALTER TABLE versions ADD COLUMN num_parameters INTEGER;
            -- what detection found (architecture, classes, producer…), for full-text search
            ALTER TABLE versions ADD COLUMN details TEXT NOT NULL DEFAULT '';
            CREATE INDEX versions_by_parameters ON versions (user_id, num_parameters);

            DROP TRIGGER versions_fts_insert;
            DROP TRIGGER versions_fts_delete;
            DROP TRIGGER versions_fts_update;
            DROP TABLE versions_fts;
            CREATE VIRTUAL TABLE versions_fts USING fts5 (
                name, description, tags, algorithm, model_id, details,
                content = 'versions', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
            );
            CREATE TRIGGER versions_fts_insert AFTER INSERT ON versions BEGIN
                INSERT INTO versions_fts (rowid, name, description, tags, algorithm, model_id, details)
                VALUES (new.id, new.name, new.description, new.tags, new.algorithm, new.model_id, new.details);
            END;
            CREATE TRIGGER versions_fts_delete AFTER DELETE ON versions BEGIN
                INSERT INTO versions_fts (versions_fts, rowid, name, description, tags, algorithm, model_id, details)
                VALUES ('delete', old.id, old.name, old.description, old.tags, old.algorithm, old.model_id, old.details);
            END;
            CREATE TRIGGER versions_fts_update AFTER UPDATE OF name, description, tags, algorithm, details ON versions BEGIN
                INSERT INTO versions_fts (versions_fts, rowid, name, description, tags, algorithm, model_id, details)
                VALUES ('delete', old.id, old.name, old.description, old.tags, old.algorithm, old.model_id, old.details);
                INSERT INTO versions_fts (rowid, name, description, tags, algorithm, model_id, details)
                VALUES (new.id, new.name, new.description, new.tags, new.algorithm, new.model_id, new.details);
            END;
            INSERT INTO versions_fts (versions_fts) VALUES ('rebuild');
            """),
        .init("003-tokens", """
            -- API tokens: only the SHA-256 of the secret is kept.
            CREATE TABLE tokens (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL
            );
            CREATE INDEX tokens_by_user ON tokens (user_id);
            """),
        .init("004-datasets-training-jobs", """
            -- One row per uploaded dataset version; `record` is the DatasetRecord as JSON
            -- (profile included). Pending rows are uploads in progress, invisible to readers.
            CREATE TABLE datasets (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL,
                dataset_id TEXT NOT NULL,
                version INTEGER NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
                record TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL,
                UNIQUE (user_id, dataset_id, version)
            );

            -- Training jobs: `request` and `result` are JSON; events are the SSE history.
            CREATE TABLE training_jobs (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                dataset_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
                progress REAL NOT NULL DEFAULT 0,
                message TEXT NOT NULL DEFAULT '',
                request TEXT NOT NULL,
                result TEXT,
                error TEXT,
                created_at TEXT NOT NULL,
                started_at TEXT,
                finished_at TEXT
            );
            CREATE INDEX training_jobs_by_state ON training_jobs (state, created_at);
            CREATE INDEX training_jobs_by_user ON training_jobs (user_id, created_at);

            CREATE TABLE training_job_events (
                job_id TEXT NOT NULL REFERENCES training_jobs (id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (job_id, seq)
            ) WITHOUT ROWID;
            """),
        .init("005-lifecycle", """
            -- Named pointers to versions (`production`, …): one version per alias.
            CREATE TABLE aliases (
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                alias TEXT NOT NULL,
                version TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (user_id, model_id, alias)
            ) WITHOUT ROWID;
            -- Every move of an alias; `version` NULL when it was removed.
            CREATE TABLE alias_history (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                alias TEXT NOT NULL,
                version TEXT,
                previous_version TEXT,
                action TEXT NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL
            );
            CREATE INDEX alias_history_by_alias ON alias_history (user_id, model_id, alias, id);

            -- Promotions, refusals, rollbacks, failures, retraining starts; `data` is the JSON.
            CREATE TABLE notifications (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                data TEXT NOT NULL,
                created_at TEXT NOT NULL
            );
            CREATE INDEX notifications_by_user ON notifications (user_id, id);

            -- Every prediction /predict answered: its inputs (feature columns, JSON) and answer.
            CREATE TABLE predictions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                version TEXT NOT NULL,
                predicted TEXT NOT NULL,
                inputs TEXT NOT NULL,
                created_at TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX predictions_by_model ON predictions (user_id, model_id, version);

            -- The actual outcome of a prediction, one per prediction (a later report replaces it).
            CREATE TABLE feedback (
                prediction_id TEXT PRIMARY KEY REFERENCES predictions (id) ON DELETE CASCADE,
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                version TEXT NOT NULL,
                predicted TEXT NOT NULL,
                actual TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX feedback_by_model ON feedback (user_id, model_id, created_at);

            -- Per-model retraining thresholds; NULL means the server's default.
            CREATE TABLE retraining_settings (
                user_id TEXT NOT NULL,
                model_id TEXT NOT NULL,
                enabled INTEGER,
                accuracy_threshold REAL,
                feedback_count INTEGER,
                PRIMARY KEY (user_id, model_id)
            ) WITHOUT ROWID;
            CREATE INDEX training_jobs_by_model ON training_jobs (user_id, model_id, state);
            """),
    ])
}
