//! Key rotation (`JWT_SECRET` + `JWT_ACCEPTED_SECRETS`, tokens named by `kid`): a rolling key
//! change across instances on one database signs nobody out, and the refresh chain survives it.

use crate::support::*;
use serde_json::Value;
use std::time::Duration;

const NEW_SECRET: &[u8] = b"the-next-signing-key-0123456789abcdef";
// A page load with a token of a dropped key is in ssr.rs, with the other page renders.

fn kid_of(access: &str) -> String {
    jsonwebtoken::decode_header(access)
        .expect("a JWT")
        .kid
        .expect("every access token names its key")
}

async fn a_rolling_key_change_signs_nobody_out(b: Backend) {
    let old = TestApp::spawn(&b).await;
    let (a_old, r0, _) = old.post_register_with_tokens("ada@example.com").await;
    // Step 1: every instance accepts the new key before any signs with it.
    let announced = old.sibling(|c| c.accepted_secrets([NEW_SECRET])).await;
    // Step 2: instances switch to signing with it, the old key still accepted.
    let switched = old
        .sibling(|c| c.with_secret(NEW_SECRET).accepted_secrets([SECRET]))
        .await;
    assert_eq!(
        switched.get_me(&a_old).await.status(),
        200,
        "old tokens verify"
    );
    let res = switched.post_refresh(&r0).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let a_new = body["access_token"].as_str().unwrap();
    assert_ne!(kid_of(a_new), kid_of(&a_old), "signed with the new key");
    assert_eq!(
        announced.get_me(a_new).await.status(),
        200,
        "an instance not yet switched accepts what a switched one signs"
    );
    assert_eq!(
        old.get_me(a_new).await.status(),
        401,
        "without step 1 it would not (why the rotation has two steps)"
    );
    let r1 = body["refresh_token"].as_str().unwrap();
    assert_eq!(announced.post_refresh(r1).await.status(), 200);
}

async fn replays_of_a_token_rotated_under_the_old_key_still_find_its_successor(b: Backend) {
    let grace = Duration::from_millis(200);
    let old = TestApp::with(&b, |c| c.reuse_grace(grace)).await;
    let switched = old
        .sibling(|c| {
            c.reuse_grace(grace)
                .with_secret(NEW_SECRET)
                .accepted_secrets([SECRET])
        })
        .await;
    // Inside the grace window: the successor the old key derived.
    let (_, r0, _) = old.post_register_with_tokens("ada@example.com").await;
    let first: Value = old.post_refresh(&r0).await.json().await.unwrap();
    let again = switched.post_refresh(&r0).await;
    assert_eq!(
        again.status(),
        200,
        "a replay inside grace after the change"
    );
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["refresh_token"], first["refresh_token"]);
    // After the grace window, the answer was lost: the same successor, once.
    let (_, r0, _) = old.post_login_with_tokens("ada@example.com").await;
    let lost: Value = old.post_refresh(&r0).await.json().await.unwrap();
    tokio::time::sleep(grace * 2).await;
    let late = switched.post_refresh(&r0).await;
    assert_eq!(late.status(), 200, "a lost answer across the change");
    let late: Value = late.json().await.unwrap();
    assert_eq!(late["refresh_token"], lost["refresh_token"]);
    let r1 = late["refresh_token"].as_str().unwrap();
    assert_eq!(switched.post_refresh(r1).await.status(), 200);
}

per_backend!(
    a_rolling_key_change_signs_nobody_out,
    replays_of_a_token_rotated_under_the_old_key_still_find_its_successor,
);
