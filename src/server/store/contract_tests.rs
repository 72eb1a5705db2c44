//! The store contract: what every backend must answer alike, run against each of them as tests
//! of their own (`sqlite::…` on a file, with the rotation thread; `sqlite_memory::…` on an
//! in-memory pool, rotations on the pool; `postgres::…` when `TEST_DATABASE_URL` names a
//! database whose role may create databases, each case in a new database of its own). Without
//! `TEST_DATABASE_URL` the PostgreSQL cases say so and pass, as the engine's other PostgreSQL
//! tests do.
//!
//! The stores do not read the clock: every case runs at a fixed `NOW`.

use super::model::{NewAccount, NewSession, Rotation};
use super::recovery::{NewToken, Pending, Purpose};
use super::{Backend, Database, Stores};
use crate::types::User;
use std::time::Duration;

const NOW: i64 = 1_800_000_000_000;
const HOUR: i64 = 3_600_000;

#[derive(Clone, Copy)]
enum Kind {
    SqliteFile,
    SqliteMemory,
    Postgres,
}

/// A new, migrated database of `kind` and its stores; `None` for PostgreSQL without
/// `TEST_DATABASE_URL`.
struct Db {
    stores: Stores,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    async fn open(kind: Kind) -> Option<Db> {
        let (database, dir): (Database, _) = match kind {
            Kind::SqliteFile => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/store.db?mode=rwc", dir.path().display());
                (url.into(), Some(dir))
            }
            Kind::SqliteMemory => (
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect("sqlite::memory:")
                    .await
                    .expect("sqlite memory")
                    .into(),
                None,
            ),
            Kind::Postgres => {
                let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
                    eprintln!("TEST_DATABASE_URL is not set: the PostgreSQL case does not run");
                    return None;
                };
                let url = new_postgres_database(&admin).await;
                (
                    sqlx::PgPool::connect(&url).await.expect("postgres").into(),
                    None,
                )
            }
        };
        let stores = database.into_stores().expect("stores");
        stores.root.migrate().await.expect("migrations");
        Some(Db { stores, _dir: dir })
    }
}

/// A new, empty database on the PostgreSQL server of `admin_url`; its URL (as
/// `tests/support/mod.rs` makes them).
async fn new_postgres_database(admin_url: &str) -> String {
    let admin = sqlx::PgPool::connect(admin_url).await.expect("postgres");
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create database");
    format!("{}/{name}", admin_url.rsplit_once('/').expect("url").0)
}

fn user(id: &str, email: &str) -> User {
    User {
        id: id.to_owned(),
        email: email.to_owned(),
        email_verified: false,
    }
}

/// Session `id` of `user_id`, its first token hashed `refresh_hash`, opened at `now` for a day.
fn session(id: &str, user_id: &str, refresh_hash: &str, now: i64) -> NewSession {
    NewSession {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        user_agent: Some(format!("agent of {id}")),
        refresh_hash: refresh_hash.to_owned(),
        now,
        expires_at: now + 24 * HOUR,
    }
}

/// Account `ada` (ada@example.com, password hash `hash-of-ada`) with session `s1`, first
/// token `r0`.
async fn ada(db: &Db) -> User {
    account(db, "ada", "s1", "r0").await
}

/// Account `id` (`id@example.com`, password hash `hash-of-id`) with session `sid`, first token
/// `hash`.
async fn account(db: &Db, id: &str, sid: &str, hash: &str) -> User {
    let who = user(id, &format!("{id}@example.com"));
    db.stores
        .accounts
        .create_account(
            NewAccount {
                user: &who,
                password_hash: &format!("hash-of-{id}"),
                now: NOW,
            },
            &session(sid, id, hash, NOW),
        )
        .await
        .expect("account");
    who
}

fn rotation<'a>(hash: &'a str, child_hash: &'a str, now: i64) -> Rotation<'a> {
    Rotation {
        hash,
        child_hash,
        now,
        expires_at: now + 48 * HOUR,
    }
}

// RootStore.

async fn migrating_again_changes_nothing_and_health_answers(db: Db, kind: Kind) {
    let root = &db.stores.root;
    let expected = match kind {
        Kind::Postgres => Backend::Postgres,
        Kind::SqliteFile | Kind::SqliteMemory => Backend::Sqlite,
    };
    assert_eq!(root.backend(), expected);
    ada(&db).await;
    root.migrate().await.expect("second migration");
    root.health().await.expect("healthy");
    assert!(
        db.stores
            .accounts
            .find_account("ada@example.com")
            .await
            .expect("find")
            .is_some(),
        "migrating again keeps the rows"
    );
}

// AccountStore.

async fn creates_an_account_once(db: Db, _: Kind) {
    let accounts = &db.stores.accounts;
    assert!(accounts
        .find_account("ada@example.com")
        .await
        .expect("find")
        .is_none());
    let ada = ada(&db).await;
    let (found, hash) = accounts
        .find_account("ada@example.com")
        .await
        .expect("find")
        .expect("the account");
    assert_eq!(found, ada);
    assert_eq!(hash, "hash-of-ada");
    // The store matches the address exactly: `Email` lower-cases it before it gets here.
    assert!(accounts
        .find_account("ADA@example.com")
        .await
        .expect("find")
        .is_none());
    // The first session came with the account.
    let (owner, _) = db
        .stores
        .sessions
        .live_session("s1", NOW)
        .await
        .expect("live")
        .expect("s1 is live");
    assert_eq!(owner, ada);

    // The same address again: refused, and its session is not left behind.
    let again = accounts
        .create_account(
            NewAccount {
                user: &user("ada-2", "ada@example.com"),
                password_hash: "another",
                now: NOW,
            },
            &session("s2", "ada-2", "r-other", NOW),
        )
        .await;
    assert!(again.is_err(), "a taken address is refused");
    assert!(db
        .stores
        .sessions
        .live_session("s2", NOW)
        .await
        .expect("live")
        .is_none());
    assert!(db
        .stores
        .sessions
        .session_of_token("r-other")
        .await
        .expect("token")
        .is_none());
    let (still, hash) = accounts
        .find_account("ada@example.com")
        .await
        .expect("find")
        .expect("the account");
    assert_eq!((still.id.as_str(), hash.as_str()), ("ada", "hash-of-ada"));
}

async fn a_bucket_holds_its_burst_refills_and_is_swept_once_full(db: Db, _: Kind) {
    let accounts = &db.stores.accounts;
    let (t, burst) = (1000, 3000);
    for n in 1..=3 {
        assert_eq!(
            accounts
                .take_bucket("b", NOW, t, burst)
                .await
                .expect("take"),
            None,
            "attempt {n} of the burst has room"
        );
    }
    assert_eq!(
        accounts
            .take_bucket("b", NOW, t, burst)
            .await
            .expect("take"),
        Some(NOW + 3000),
        "the fourth is refused with the bucket's arrival time"
    );
    assert_eq!(
        accounts
            .take_bucket("other", NOW, t, burst)
            .await
            .expect("take"),
        None,
        "another bucket is its own"
    );
    // One interval later, one attempt has room again.
    assert_eq!(
        accounts
            .take_bucket("b", NOW + t, t, burst)
            .await
            .expect("take"),
        None
    );
    assert_eq!(
        accounts
            .take_bucket("b", NOW + t, t, burst)
            .await
            .expect("take"),
        Some(NOW + 4000)
    );
    // Not yet full again (arrival time NOW + 4000): kept.
    accounts.sweep_buckets(NOW + 3999).await.expect("sweep");
    assert!(accounts
        .take_bucket("b", NOW + t, t, burst)
        .await
        .expect("take")
        .is_some());
    // Full again: forgotten, so a whole burst has room even at an earlier time.
    accounts.sweep_buckets(NOW + 4001).await.expect("sweep");
    for _ in 0..3 {
        assert_eq!(
            accounts
                .take_bucket("b", NOW, t, burst)
                .await
                .expect("take"),
            None
        );
    }
}

// SessionStore.

async fn a_token_rotates_once(db: Db, _: Kind) {
    let ada = ada(&db).await;
    let sessions = &db.stores.sessions;
    let later = NOW + HOUR;
    let rotated = sessions
        .rotate(rotation("r0", "r1", later))
        .await
        .expect("rotate")
        .expect("r0 was spendable");
    assert_eq!(rotated.session_id, "s1");
    assert_eq!(rotated.user, ada);
    assert!(
        sessions
            .rotate(rotation("r0", "r1-again", later))
            .await
            .expect("rotate")
            .is_none(),
        "a spent token does not rotate again"
    );
    assert!(sessions
        .session_of_token("r1-again")
        .await
        .expect("token")
        .is_none());
    let replay = sessions
        .replay("r0")
        .await
        .expect("replay")
        .expect("r0 is known");
    assert_eq!(
        (
            replay.session_id.as_str(),
            replay.user_id.as_str(),
            replay.spent_at,
            replay.session_revoked
        ),
        ("s1", "ada", Some(later), false)
    );
    let child = sessions
        .token_in_session("r1", "s1")
        .await
        .expect("token")
        .expect("the successor is in s1");
    assert_eq!(
        (child.spent_at, child.expires_at),
        (None, later + 48 * HOUR)
    );
    assert!(sessions
        .token_in_session("r1", "another-session")
        .await
        .expect("token")
        .is_none());
    assert_eq!(
        sessions.session_of_token("r1").await.expect("token"),
        Some("s1".to_owned())
    );
    assert!(sessions
        .session_live("s1", Some("r1"), later)
        .await
        .expect("live"));
    assert!(!sessions
        .session_live("s1", Some("r0"), later)
        .await
        .expect("live"));
    // The rotation extended the session.
    let (_, expires_at) = sessions
        .live_session("s1", later)
        .await
        .expect("live")
        .expect("s1 is live");
    assert_eq!(expires_at, later + 48 * HOUR);
    assert_eq!(
        sessions
            .list_sessions("ada", later)
            .await
            .expect("list")
            .first()
            .map(|s| s.last_used_at),
        Some(later)
    );
}

async fn an_expired_or_unknown_token_does_not_rotate(db: Db, _: Kind) {
    ada(&db).await;
    let sessions = &db.stores.sessions;
    let past = NOW + 25 * HOUR;
    assert!(sessions
        .rotate(rotation("r0", "r1", past))
        .await
        .expect("rotate")
        .is_none());
    assert!(sessions
        .rotate(rotation("unknown", "r1", NOW))
        .await
        .expect("rotate")
        .is_none());
    assert!(sessions.replay("unknown").await.expect("replay").is_none());
    let replay = sessions.replay("r0").await.expect("replay").expect("known");
    assert_eq!(replay.spent_at, None, "expired, never spent");
    assert!(sessions
        .session_of_token("r1")
        .await
        .expect("token")
        .is_none());
}

async fn a_lost_answer_is_marked_once_while_its_successor_is_unspent(db: Db, _: Kind) {
    ada(&db).await;
    let sessions = &db.stores.sessions;
    sessions
        .rotate(rotation("r0", "r1", NOW))
        .await
        .expect("rotate")
        .expect("rotated");
    assert!(!sessions
        .mark_lost_answer("r0", "r1", "another-session", NOW)
        .await
        .expect("mark"));
    assert!(sessions
        .mark_lost_answer("r0", "r1", "s1", NOW)
        .await
        .expect("mark"));
    assert!(
        !sessions
            .mark_lost_answer("r0", "r1", "s1", NOW)
            .await
            .expect("mark"),
        "marked once"
    );
    // Once the successor is spent, its parent's answer was not lost.
    sessions
        .rotate(rotation("r1", "r2", NOW))
        .await
        .expect("rotate")
        .expect("rotated");
    assert!(
        !sessions
            .mark_lost_answer("r1", "r2", "s1", NOW + 49 * HOUR)
            .await
            .expect("mark"),
        "an expired successor is not a lost answer"
    );
    sessions
        .rotate(rotation("r2", "r3", NOW))
        .await
        .expect("rotate")
        .expect("rotated");
    assert!(!sessions
        .mark_lost_answer("r1", "r2", "s1", NOW)
        .await
        .expect("mark"));
}

async fn a_revoked_session_is_not_live(db: Db, _: Kind) {
    ada(&db).await;
    let sessions = &db.stores.sessions;
    sessions
        .create_session(&session("s2", "ada", "q0", NOW))
        .await
        .expect("second session");
    assert!(
        !sessions
            .revoke_session("s1", Some("someone-else"), NOW)
            .await
            .expect("revoke"),
        "only the owner's"
    );
    assert!(sessions.session_live("s1", None, NOW).await.expect("live"));
    assert!(sessions
        .revoke_session("s1", Some("ada"), NOW)
        .await
        .expect("revoke"));
    assert!(
        !sessions
            .revoke_session("s1", None, NOW)
            .await
            .expect("revoke"),
        "was no longer live"
    );
    assert!(!sessions.session_live("s1", None, NOW).await.expect("live"));
    assert!(sessions
        .live_session("s1", NOW)
        .await
        .expect("live")
        .is_none());
    assert!(
        sessions
            .rotate(rotation("r0", "r1", NOW))
            .await
            .expect("rotate")
            .is_none(),
        "a revoked session's token does not rotate"
    );
    assert!(
        sessions
            .replay("r0")
            .await
            .expect("replay")
            .expect("known")
            .session_revoked
    );
    assert!(sessions.session_live("s2", None, NOW).await.expect("live"));
    assert_eq!(
        sessions.revoke_user("ada", NOW).await.expect("revoke"),
        1,
        "s2 was the one still live"
    );
    assert!(!sessions.session_live("s2", None, NOW).await.expect("live"));
    assert_eq!(
        sessions
            .count_sessions("ada", NOW, 10)
            .await
            .expect("count"),
        0
    );
}

async fn lists_live_sessions_most_recent_first(db: Db, _: Kind) {
    ada(&db).await;
    let sessions = &db.stores.sessions;
    sessions
        .create_session(&session("s2", "ada", "q0", NOW + 1))
        .await
        .expect("s2");
    sessions
        .create_session(&session("s3", "ada", "p0", NOW + 2))
        .await
        .expect("s3");
    sessions
        .create_session(&session("s4", "ada", "o0", NOW + 3))
        .await
        .expect("s4");
    sessions
        .revoke_session("s4", None, NOW + 3)
        .await
        .expect("revoke");
    // s1 used last.
    sessions
        .rotate(rotation("r0", "r1", NOW + 10))
        .await
        .expect("rotate")
        .expect("rotated");
    let listed = sessions.list_sessions("ada", NOW + 10).await.expect("list");
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s1", "s3", "s2"]);
    assert_eq!(listed[2].created_at, NOW + 1);
    assert_eq!(listed[2].user_agent.as_deref(), Some("agent of s2"));
    assert_eq!(
        sessions
            .count_sessions("ada", NOW + 10, 100)
            .await
            .expect("count"),
        3
    );
    assert_eq!(
        sessions
            .count_sessions("ada", NOW + 10, 2)
            .await
            .expect("count"),
        2,
        "counted up to the cap"
    );
    // Past s2's and s3's day (s1 was extended): only s1.
    let later = NOW + 24 * HOUR + 5;
    let ids: Vec<String> = sessions
        .list_sessions("ada", later)
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["s1"]);
    assert!(sessions
        .list_sessions("nobody", NOW)
        .await
        .expect("list")
        .is_empty());
}

async fn the_sweep_removes_old_sessions_and_tokens_only(db: Db, _: Kind) {
    ada(&db).await;
    let sessions = &db.stores.sessions;
    // The sweep at `now` forgets what was revoked or spent before `spent_before`.
    let (now, spent_before) = (NOW + 2 * HOUR, NOW + HOUR);
    // s1: r0 spent at NOW, r1 its unspent successor.
    sessions
        .rotate(rotation("r0", "r1", NOW))
        .await
        .expect("rotate")
        .expect("rotated");
    // s2: revoked at NOW. s3: revoked just before the sweep. s4: expired just before it.
    for (id, hash, opened) in [
        ("s2", "q0", NOW),
        ("s3", "p0", NOW),
        ("s4", "o0", now - 1 - 24 * HOUR),
    ] {
        sessions
            .create_session(&session(id, "ada", hash, opened))
            .await
            .expect("session");
    }
    sessions
        .revoke_session("s2", None, NOW)
        .await
        .expect("revoke");
    sessions
        .revoke_session("s3", None, now - 1)
        .await
        .expect("revoke");
    sessions
        .sweep_sessions(now, spent_before)
        .await
        .expect("sweep");

    assert!(
        sessions
            .session_of_token("r0")
            .await
            .expect("token")
            .is_none(),
        "spent before the cut-off"
    );
    assert!(sessions
        .session_live("s1", Some("r1"), now)
        .await
        .expect("live"));
    assert!(
        sessions
            .session_of_token("q0")
            .await
            .expect("token")
            .is_none(),
        "s2, revoked before the cut-off, is gone with its token"
    );
    assert!(
        sessions
            .replay("p0")
            .await
            .expect("replay")
            .expect("s3 kept")
            .session_revoked,
        "revoked after the cut-off: kept, and still revoked"
    );
    assert!(
        sessions
            .session_of_token("o0")
            .await
            .expect("token")
            .is_none(),
        "s4 expired"
    );
    assert_eq!(
        sessions
            .list_sessions("ada", now)
            .await
            .expect("list")
            .len(),
        1,
        "s1 only"
    );
}

// IdempotencyStore.

async fn an_idempotency_key_is_claimed_once_finished_and_released(db: Db, _: Kind) {
    ada(&db).await;
    account(&db, "bob", "b1", "b0").await;
    let keys = &db.stores.idempotency;
    assert!(keys.claim_key("ada", "k", "f1", NOW).await.expect("claim"));
    assert!(
        !keys.claim_key("ada", "k", "f2", NOW).await.expect("claim"),
        "held"
    );
    assert!(
        keys.claim_key("bob", "k", "f1", NOW).await.expect("claim"),
        "keys are per user"
    );
    let pending = keys
        .read_key("ada", "k")
        .await
        .expect("read")
        .expect("the record");
    assert_eq!(
        (
            pending.fingerprint.as_str(),
            pending.status,
            pending.headers,
            pending.body,
            pending.created_at
        ),
        ("f1", None, None, None, NOW)
    );
    keys.finish_key("ada", "k", 201, r#"[["location","/x"]]"#, r#"{"ok":true}"#)
        .await
        .expect("finish");
    let done = keys
        .read_key("ada", "k")
        .await
        .expect("read")
        .expect("the record");
    assert_eq!(
        (
            done.fingerprint.as_str(),
            done.status,
            done.headers.as_deref(),
            done.body.as_deref()
        ),
        (
            "f1",
            Some(201),
            Some(r#"[["location","/x"]]"#),
            Some(r#"{"ok":true}"#)
        )
    );
    assert!(!keys.claim_key("ada", "k", "f1", NOW).await.expect("claim"));
    keys.release_key("ada", "k").await.expect("release");
    assert!(keys.read_key("ada", "k").await.expect("read").is_none());
    assert!(
        keys.read_key("bob", "k").await.expect("read").is_some(),
        "another user's record stays"
    );
    assert!(
        keys.claim_key("ada", "k", "f3", NOW).await.expect("claim"),
        "released: free again"
    );
}

async fn the_sweep_removes_old_idempotency_records_only(db: Db, _: Kind) {
    ada(&db).await;
    let keys = &db.stores.idempotency;
    assert!(keys.claim_key("ada", "old", "f", NOW).await.expect("claim"));
    assert!(keys
        .claim_key("ada", "new", "f", NOW + HOUR)
        .await
        .expect("claim"));
    keys.sweep_keys(NOW + 1).await.expect("sweep");
    assert!(keys.read_key("ada", "old").await.expect("read").is_none());
    assert!(keys.read_key("ada", "new").await.expect("read").is_some());
}

// AnnouncementStore.

async fn announcements_reach_a_follower_where_the_backend_has_them(db: Db, kind: Kind) {
    let announcements = db.stores.announcements.clone();
    let (heard, mut hearing) = tokio::sync::mpsc::unbounded_channel::<Option<String>>();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let follower = tokio::spawn({
        let announcements = announcements.clone();
        async move {
            announcements
                .follow_announcements(
                    Box::new(move |payload| heard.send(payload.map(str::to_owned)).is_ok()),
                    stopped,
                )
                .await
        }
    });
    match kind {
        Kind::SqliteFile | Kind::SqliteMemory => {
            assert!(
                !announcements.announce("s:s1").await.expect("announce"),
                "SQLite has no way to announce"
            );
            tokio::time::timeout(Duration::from_secs(5), follower)
                .await
                .expect("following returns at once")
                .expect("follower");
        }
        Kind::Postgres => {
            // The follower listens once it has connected: announce until it hears.
            let got = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    assert!(announcements.announce("s:s1").await.expect("announce"));
                    tokio::select! {
                        got = hearing.recv() => break got,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            })
            .await
            .expect("heard within 10 s");
            assert_eq!(got, Some(Some("s:s1".to_owned())));
            let _ = stop.send(());
            tokio::time::timeout(Duration::from_secs(5), follower)
                .await
                .expect("stops when told")
                .expect("follower");
        }
    }
}

// RecoveryStore (beside the store, one per database).

async fn a_reset_link_works_once_and_ends_every_other_session(db: Db, _: Kind) {
    ada(&db).await;
    let recovery = &db.stores.recovery;
    recovery
        .queue_reset_request("m1", "ada@example.com", NOW)
        .await
        .expect("queue");
    let claimed = recovery.claim(NOW, NOW + 60_000, 16).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].pending,
        Pending::ResetRequest("ada@example.com".to_owned())
    );
    assert!(
        recovery
            .claim(NOW, NOW + 60_000, 16)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    let mail = crate::server::mailer::Mail {
        to: "ada@example.com".to_owned(),
        subject: "Reset".to_owned(),
        text: "link".to_owned(),
        html: "<a>link</a>".to_owned(),
    };
    let link = NewToken {
        hash: "link",
        user_id: "ada",
        purpose: Purpose::Reset,
        now: NOW,
        expires_at: NOW + HOUR,
    };
    recovery
        .attach_reset("m1", link, &mail)
        .await
        .expect("attach");
    assert!(recovery
        .reset_link_usable("link", NOW)
        .await
        .expect("usable"));
    let new = session("s9", "ignored", "z0", NOW);
    let who = recovery
        .reset_password("link", "new-hash", &new, NOW)
        .await
        .expect("reset")
        .expect("the link worked");
    assert_eq!((who.id.as_str(), who.email_verified), ("ada", true));
    assert!(recovery
        .reset_password("link", "newer-hash", &session("s10", "x", "y0", NOW), NOW)
        .await
        .expect("reset")
        .is_none());
    let (_, hash) = db
        .stores
        .accounts
        .find_account("ada@example.com")
        .await
        .expect("find")
        .expect("ada");
    assert_eq!(hash, "new-hash");
    let sessions = &db.stores.sessions;
    assert!(!sessions.session_live("s1", None, NOW).await.expect("live"));
    assert!(sessions
        .session_live("s9", Some("z0"), NOW)
        .await
        .expect("live"));
    assert!(sessions
        .live_session("s10", NOW)
        .await
        .expect("live")
        .is_none());
}

/// Each case as `sqlite::case`, `sqlite_memory::case` and `postgres::case`.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let kind = super::Kind::SqliteFile;
                    let db = super::Db::open(kind).await.expect("sqlite");
                    super::$case(db, kind).await;
                }
            )*
        }

        mod sqlite_memory {
            $(
                #[tokio::test]
                async fn $case() {
                    let kind = super::Kind::SqliteMemory;
                    let db = super::Db::open(kind).await.expect("sqlite");
                    super::$case(db, kind).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let kind = super::Kind::Postgres;
                    if let Some(db) = super::Db::open(kind).await {
                        super::$case(db, kind).await;
                    }
                }
            )*
        }
    };
}

contract!(
    migrating_again_changes_nothing_and_health_answers,
    creates_an_account_once,
    a_bucket_holds_its_burst_refills_and_is_swept_once_full,
    a_token_rotates_once,
    an_expired_or_unknown_token_does_not_rotate,
    a_lost_answer_is_marked_once_while_its_successor_is_unspent,
    a_revoked_session_is_not_live,
    lists_live_sessions_most_recent_first,
    the_sweep_removes_old_sessions_and_tokens_only,
    an_idempotency_key_is_claimed_once_finished_and_released,
    the_sweep_removes_old_idempotency_records_only,
    announcements_reach_a_follower_where_the_backend_has_them,
    a_reset_link_works_once_and_ends_every_other_session,
);
