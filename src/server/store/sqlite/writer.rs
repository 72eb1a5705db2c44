//! Rotations on SQLite, one hop each: a thread of its own holds one rusqlite connection with the
//! rotation's statements prepared; a rotation is a message to it and an answer back. Rotations
//! that queue while it works are committed together (group commit): one `BEGIN IMMEDIATE … COMMIT`
//! for the whole batch, each rotation in it as before (docs/architecture.md, "Storage").
//!
//! The thread takes the store's write turn around each batch, so the engine's other writes in
//! this process queue behind it instead of meeting it at SQLite's lock.

use crate::server::store::model::{Rotated, Rotation};
use crate::types::User;
use rusqlite::{OptionalExtension, TransactionBehavior};
use std::{path::PathBuf, sync::mpsc, sync::Arc, time::Duration};

/// Spends the token if it is unspent, unexpired and its session live. `?1` now, `?2` the hash.
pub(super) const SPEND: &str = "UPDATE sessionflow_refresh_tokens SET spent_at = ?1 \
     WHERE hash = ?2 AND spent_at IS NULL AND expires_at > ?1 AND EXISTS ( \
       SELECT 1 FROM sessionflow_sessions s \
       WHERE s.id = sessionflow_refresh_tokens.session_id AND s.revoked_at IS NULL AND s.expires_at > ?1) \
     RETURNING session_id";

/// Extends the session and answers whose it is. `?1` now, `?2` the new expiry, `?3` the session.
pub(super) const EXTEND: &str = "UPDATE sessionflow_sessions SET last_used_at = ?1, expires_at = ?2 \
     WHERE id = ?3 \
     RETURNING user_id, \
       (SELECT email FROM sessionflow_users WHERE sessionflow_users.id = sessionflow_sessions.user_id) AS email, \
       (SELECT email_verified_at FROM sessionflow_users WHERE sessionflow_users.id = sessionflow_sessions.user_id) AS email_verified_at";

/// Stores the successor. `?1` its hash, `?2` the session, `?3` now, `?4` its expiry.
pub(super) const INSERT_CHILD: &str =
    "INSERT INTO sessionflow_refresh_tokens (hash, session_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)";

/// Rotations committed together at most.
const MAX_BATCH: usize = 128;

/// How long a rotation waits for another process's write lock (as the pool's connections do).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

type Answer = Result<Option<Rotated>, String>;

struct Job {
    hash: String,
    child_hash: String,
    now: i64,
    expires_at: i64,
    answer: tokio::sync::oneshot::Sender<Answer>,
}

/// The handle of the writer thread; the thread ends when this is dropped.
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the thread on the database file at `path`; `turn` is the store's write turn.
    pub fn start(path: PathBuf, turn: Arc<tokio::sync::Mutex<()>>) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sessionflow-sqlite-writer".into())
            .spawn(move || run(path, turn, queue))?;
        Ok(Self { jobs })
    }

    /// One rotation, committed (alone or with the others queued meanwhile).
    pub async fn rotate(&self, r: Rotation<'_>) -> Result<Option<Rotated>, sqlx::Error> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job = Job {
            hash: r.hash.to_owned(),
            child_hash: r.child_hash.to_owned(),
            now: r.now,
            expires_at: r.expires_at,
            answer,
        };
        let failed = |why: &str| sqlx::Error::Io(std::io::Error::other(why.to_owned()));
        self.jobs
            .send(job)
            .map_err(|_| failed("the SQLite writer has stopped"))?;
        answered
            .await
            .map_err(|_| failed("the SQLite writer has stopped"))?
            .map_err(|e| failed(&e))
    }
}

fn open(path: &PathBuf) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn run(path: PathBuf, turn: Arc<tokio::sync::Mutex<()>>, queue: mpsc::Receiver<Job>) {
    let mut conn = None;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        let answers = {
            let _turn = turn.blocking_lock();
            match conn.as_mut() {
                Some(c) => commit(c, &batch),
                None => match open(&path) {
                    Ok(c) => commit(conn.insert(c), &batch),
                    Err(e) => Err(e),
                },
            }
        };
        match answers {
            Ok(answers) => {
                for (job, answer) in batch.into_iter().zip(answers) {
                    let _ = job.answer.send(Ok(answer));
                }
            }
            Err(e) => {
                // Nothing of the batch was committed: every rotation in it failed alike.
                let why = e.to_string();
                for job in batch {
                    let _ = job.answer.send(Err(why.clone()));
                }
            }
        }
    }
}

/// The batch in one transaction: every rotation's answer, or the error that rolled it back.
fn commit(
    conn: &mut rusqlite::Connection,
    batch: &[Job],
) -> rusqlite::Result<Vec<Option<Rotated>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let answers = batch
        .iter()
        .map(|job| rotate(&tx, job))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.commit()?;
    Ok(answers)
}

fn rotate(tx: &rusqlite::Transaction<'_>, job: &Job) -> rusqlite::Result<Option<Rotated>> {
    let spent: Option<String> = tx
        .prepare_cached(SPEND)?
        .query_row((job.now, &job.hash), |r| r.get(0))
        .optional()?;
    let Some(session_id) = spent else {
        return Ok(None);
    };
    let user =
        tx.prepare_cached(EXTEND)?
            .query_row((job.now, job.expires_at, &session_id), |r| {
                Ok(User {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    email_verified: r.get::<_, Option<i64>>(2)?.is_some(),
                })
            })?;
    tx.prepare_cached(INSERT_CHILD)?.execute((
        &job.child_hash,
        &session_id,
        job.now,
        job.expires_at,
    ))?;
    Ok(Some(Rotated { session_id, user }))
}
