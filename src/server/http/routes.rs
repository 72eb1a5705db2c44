//! The app's Leptos routes, registered the engine's way: every render and server function gets
//! what the engine needs in its context (the CSP nonce: docs/threats.md), so an app
//! has nothing of the engine's to remember in its own context.

use axum::{extract::FromRef, Router};
use leptos::prelude::{IntoView, LeptosOptions};
use leptos_axum::LeptosRoutes;

/// Registers a Leptos app's pages and server functions on an axum `Router`, like leptos_axum's
/// `LeptosRoutes`, with the engine's context in every render: the request's CSP nonce, which
/// Leptos puts on its hydration scripts (without it the Content-Security-Policy blocks
/// hydration).
///
/// `app` is the root component (its routes are listed with `generate_route_list`); `shell`
/// renders the whole document from the site's `LeptosOptions` (taken from the router's state).
pub trait PageRoutes<S> {
    /// The same as [`page_routes`](Self::page_routes), with `context` run in every render
    /// and server function too (the app's own context: a database pool, say).
    fn page_routes_with_context<A, AV, SH, IV>(
        self,
        state: &S,
        app: A,
        context: impl Fn() + Clone + Send + Sync + 'static,
        shell: SH,
    ) -> Self
    where
        A: Fn() -> AV + Clone + Send + 'static,
        AV: IntoView + 'static,
        SH: Fn(LeptosOptions) -> IV + Clone + Send + Sync + 'static,
        IV: IntoView + 'static;

    /// The app's routes, rendered by `shell`.
    fn page_routes<A, AV, SH, IV>(self, state: &S, app: A, shell: SH) -> Self
    where
        Self: Sized,
        A: Fn() -> AV + Clone + Send + 'static,
        AV: IntoView + 'static,
        SH: Fn(LeptosOptions) -> IV + Clone + Send + Sync + 'static,
        IV: IntoView + 'static,
    {
        self.page_routes_with_context(state, app, || {}, shell)
    }
}

impl<S> PageRoutes<S> for Router<S>
where
    S: Clone + Send + Sync + 'static,
    LeptosOptions: FromRef<S>,
{
    fn page_routes_with_context<A, AV, SH, IV>(
        self,
        state: &S,
        app: A,
        context: impl Fn() + Clone + Send + Sync + 'static,
        shell: SH,
    ) -> Self
    where
        A: Fn() -> AV + Clone + Send + 'static,
        AV: IntoView + 'static,
        SH: Fn(LeptosOptions) -> IV + Clone + Send + Sync + 'static,
        IV: IntoView + 'static,
    {
        let options = LeptosOptions::from_ref(state);
        // The renders take page turns; the app's other routes on this router do not.
        let leptos = Router::new().leptos_routes_with_context(
            state,
            leptos_axum::generate_route_list(app),
            page_context(context),
            move || shell(options.clone()),
        );
        if !leptos.has_routes() {
            return self;
        }
        self.merge(leptos.route_layer(axum::middleware::from_fn(super::page_layer::page_turns)))
    }
}

/// `context` plus the engine's: what a render the app makes itself (a fallback page through
/// leptos_axum's `render_app_to_stream_with_context`) passes as its additional context.
pub fn page_context(
    context: impl Fn() + Clone + Send + Sync + 'static,
) -> impl Fn() + Clone + Send + Sync + 'static {
    move || {
        super::headers::provide_nonce();
        context();
    }
}
