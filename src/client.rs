//! [`AuthClient`], the server-function client every call of the app goes through:
//! `#[server(client = sessionflow::AuthClient)]`.
//!
//! In the browser (`hydrate`) it is the request layer of `sessionflow::browser`; elsewhere (the
//! server build, which never sends) it is Leptos' own browser client, so server functions compile
//! the same on both sides.

use server_fn::{
    client::{browser::BrowserClient, Client},
    error::FromServerFnError,
    request::browser::BrowserRequest,
    Bytes,
};
use std::future::Future;

/// The app's server-function client: retries through the global on-failure hook in the browser.
pub struct AuthClient;

/// The per-call opt-out (docs/browser.md, "Hook"): the same layer — timeouts, the idempotency key — but the
/// hook is never asked and nothing is retried. For the sign-in call itself and for polling:
/// `#[server(client = sessionflow::DirectClient)]`.
pub struct DirectClient;

#[cfg(feature = "hydrate")]
type Res = crate::browser::AuthResponse;
#[cfg(not(feature = "hydrate"))]
type Res = server_fn::response::browser::BrowserResponse;

/// The two clients differ only in how the browser sends: through the hook, or around it.
macro_rules! browser_client {
    ($client:ty, $send:path) => {
        impl<E, IS, OS> Client<E, IS, OS> for $client
        where
            E: FromServerFnError,
            IS: FromServerFnError,
            OS: FromServerFnError,
        {
            type Request = BrowserRequest;
            type Response = Res;

            fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
                #[cfg(feature = "hydrate")]
                return $send(req);
                #[cfg(not(feature = "hydrate"))]
                return <BrowserClient as Client<E, IS, OS>>::send(req);
            }

            #[allow(clippy::type_complexity)]
            fn open_websocket(
                path: &str,
            ) -> impl Future<
                Output = Result<
                    (
                        impl futures::Stream<Item = Result<Bytes, Bytes>> + Send + 'static,
                        impl futures::Sink<Bytes> + Send + 'static,
                    ),
                    E,
                >,
            > + Send {
                <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
            }

            fn spawn(future: impl Future<Output = ()> + Send + 'static) {
                <BrowserClient as Client<E, IS, OS>>::spawn(future)
            }
        }
    };
}

browser_client!(AuthClient, crate::browser::send);
browser_client!(DirectClient, crate::browser::send_direct);
