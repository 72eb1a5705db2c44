//! The HTTP side of the engine: the layers `Auth::install` puts on the app's router, the JSON
//! API, and what server functions read of their request (docs/architecture.md, "The request
//! path").

pub(crate) mod api;
pub(crate) mod client_ip;
pub mod context;
pub(crate) mod cookies;
pub(crate) mod csrf;
pub(crate) mod headers;
pub(crate) mod idempotency;
pub(crate) mod install;
pub(crate) mod page_layer;
pub(crate) mod pages;
pub(crate) mod request;
pub(crate) mod routes;
pub(crate) mod status;
pub(crate) mod use_cases;
