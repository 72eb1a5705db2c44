//! The server's integration tests, one binary: each module is what its file name says. The fault
//! tests (`tests/faults.rs`) stay a binary of their own, since they stop the database and take
//! SQLite's lock from another process, which must not happen under the other tests.

#[path = "../support/mod.rs"]
mod support;

mod api;
mod headers;
mod idempotency;
mod keys;
mod limits;
mod openapi;
mod operations;
mod pages;
mod recovery;
mod rotation;
mod sign_out;
mod ssr;
mod startup;
