//! The OpenAPI description at `GET /api/openapi.json` is generated from the handlers; these tests
//! fail when it and the routes disagree: a contract route missing from it, an operation it
//! describes that is not served, or an answer with a status it does not describe.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

async fn description(app: &TestApp) -> Value {
    let res = app
        .bare()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn the_description_is_openapi_3_1_and_covers_every_route_of_the_contract() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let doc = description(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let contract: BTreeSet<(String, String)> = [
        ("POST", "/api/auth/register"),
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/refresh"),
        ("POST", "/api/auth/logout"),
        ("POST", "/api/auth/logout-all"),
        ("GET", "/api/auth/sessions"),
        ("DELETE", "/api/auth/sessions/{id}"),
        ("GET", "/api/me"),
        ("POST", "/api/auth/password/forgot"),
        ("POST", "/api/auth/password/reset"),
        ("POST", "/api/auth/password/change"),
        ("POST", "/api/auth/email/verify"),
        ("POST", "/api/auth/email/resend"),
        ("GET", "/api/notes"),
        ("POST", "/api/notes"),
        ("GET", "/healthz"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(operations(&doc), contract);
    for schema in ["ApiError", "ErrorCode", "TokenResponse", "User", "Note"] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "{schema} is described"
        );
    }
}

#[tokio::test]
async fn every_described_operation_is_served_and_answers_only_statuses_it_describes() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let doc = description(&app).await;
    let (access, refresh, _) = app.post_register_with_tokens("ada@example.com").await;
    // Logging out last, so the calls before it are made signed in.
    let mut ops: Vec<_> = operations(&doc).into_iter().collect();
    ops.sort_by_key(|(_, p)| p.contains("logout"));
    for (method, path) in ops {
        let described: BTreeSet<u16> = doc["paths"][&path][method.to_lowercase()]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.parse().unwrap())
            .collect();
        let url = app.url(&path.replace("{id}", "no-such-session"));
        let request = app
            .bare()
            .request(method.parse().unwrap(), url)
            .bearer_auth(&access);
        // A well-formed call and a malformed one: both answers must be described.
        for body in [
            json!({"email": "bob@example.com", "password": PASSWORD, "title": "t", "refresh_token": refresh}),
            json!({"email": 42}),
        ] {
            let req = request.try_clone().unwrap();
            let req = if method == "GET" || method == "DELETE" {
                req
            } else {
                req.json(&body)
            };
            let status = req.send().await.unwrap().status().as_u16();
            assert!(
                described.contains(&status),
                "{method} {path} answered {status}, described: {described:?}"
            );
        }
    }
}

/// A client generated from the description must not send a key the server refuses: the header's
/// schema says what `parse_key` accepts (1 to 255 visible ASCII characters).
#[tokio::test]
async fn the_idempotency_key_is_described_as_the_server_checks_it() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let doc = description(&app).await;
    let params = doc["paths"]["/api/notes"]["post"]["parameters"]
        .as_array()
        .expect("parameters");
    let key = params
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .expect("the Idempotency-Key header is described");
    let schema = &key["schema"];
    assert_eq!(schema["minLength"], 1, "{schema}");
    assert_eq!(schema["maxLength"], 255, "{schema}");
    assert_eq!(schema["pattern"], "^[!-~]+$", "{schema}");
}

/// A method a route does not serve is 405 with `Allow`, whatever `Idempotency-Key` it carries: a
/// key already used for a `POST` must not turn a `PUT` into "key reused" (422), and a fresh key
/// must not be spent on a call that never reached a handler.
#[tokio::test]
async fn an_unserved_method_is_405_even_with_an_idempotency_key() {
    let app = TestApp::spawn(&Backend::Sqlite).await;
    let (access, _, _) = app.post_register_with_tokens("ada@example.com").await;
    let post = app
        .bare()
        .post(app.url("/api/notes"))
        .bearer_auth(&access)
        .header("Idempotency-Key", "k-1")
        .json(&json!({"title": "t", "body": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 201);
    for key in ["k-1", "k-2"] {
        let put = app
            .bare()
            .put(app.url("/api/notes"))
            .bearer_auth(&access)
            .header("Idempotency-Key", key)
            .json(&json!({"title": "t", "body": "b"}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 405, "PUT with key {key}");
        let allow = put.headers().get("allow").expect("Allow").to_str().unwrap();
        assert!(allow.contains("POST") && allow.contains("GET"), "{allow}");
    }
    // k-2 was never spent: a POST with it creates a note.
    let post = app
        .bare()
        .post(app.url("/api/notes"))
        .bearer_auth(&access)
        .header("Idempotency-Key", "k-2")
        .json(&json!({"title": "t2", "body": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 201);
}
