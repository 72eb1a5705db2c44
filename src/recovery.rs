//! Account recovery's server functions, ready for an app's pages (docs/protocol.md, "Account
//! recovery"): an app renders its own forms and points them at these, as the notes app does.
//!
//! ```no_run
//! use leptos::prelude::*;
//! use sessionflow::recovery::ForgotPassword;
//!
//! #[component]
//! fn Forgot() -> impl IntoView {
//!     let action = ServerAction::<ForgotPassword>::new();
//!     view! {
//!         <ActionForm action=action>
//!             <input name="email" type="email" required/>
//!             <button type="submit">"Send me a link"</button>
//!         </ActionForm>
//!     }
//! }
//! ```
//!
//! Each works as a plain form post too (before hydration, or without JavaScript): the answer is
//! then a redirect back to the form's page, with `?sent=1` (or `?changed=1`) after a success and
//! `?error=<code>&field=<field>` after a failure, which the page shows; a reset goes on to its
//! `next` page, signed in.

use crate::{ApiError, AuthClient, DirectClient, User};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::context;

/// Whether mail leaves this server: without it, pages say that reset by email is not
/// available (and hide the address-confirmation notice).
#[server(client = AuthClient)]
pub async fn mail_enabled() -> Result<bool, ApiError> {
    context::mail_enabled()
}

/// Asks for a reset link for `email`: the same answer, after the same work, for every
/// well-formed address.
#[server(client = AuthClient)]
pub async fn forgot_password(email: String) -> Result<(), ApiError> {
    let result = context::forgot_password(&email).await;
    context::plain_form_outcome(&result, None, &[("sent", "1")], &[]);
    result
}

/// Whether a reset link can still be used; asking never uses it (mail scanners open links).
#[server(client = AuthClient)]
pub async fn reset_link_usable(token: String) -> Result<bool, ApiError> {
    context::reset_link_usable(&token).await
}

/// Uses a reset link: sets the password, signs every other session of the account out, and
/// signs this browser in with a new session (cookies set), then on to the local path `next`.
/// Like sign-in, it never goes through the hook (a 401 here is not an expired session).
#[server(client = DirectClient)]
pub async fn reset_password(
    token: String,
    password: String,
    next: String,
) -> Result<User, ApiError> {
    let result = context::reset_password(&token, &password).await;
    match &result {
        Ok(_) => leptos_axum::redirect(&crate::types::safe_next(Some(&next))),
        Err(_) => {
            let page = context::reset_page()?;
            context::plain_form_outcome(
                &result,
                Some(&page),
                &[],
                &[("token", &token), ("next", &next)],
            );
        }
    }
    result
}

/// Changes the signed-in user's password (the current one is checked): every other session is
/// signed out; this one continues.
#[server(client = AuthClient)]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<User, ApiError> {
    let result = context::change_password(&current_password, &new_password).await;
    context::plain_form_outcome(&result, None, &[("changed", "1")], &[]);
    result
}

/// Confirms the address a verification link belongs to. A page calls this when it is opened:
/// confirming twice harms nothing.
#[server(client = AuthClient)]
pub async fn verify_email(token: String) -> Result<User, ApiError> {
    context::verify_email(&token).await
}

/// Sends the signed-in user a new verification link.
#[server(client = AuthClient)]
pub async fn resend_verification() -> Result<(), ApiError> {
    let result = context::resend_verification().await;
    context::plain_form_outcome(&result, None, &[("resent", "1")], &[]);
    result
}

/// A new verification link for someone whose sign-in was refused with `email_unverified`: the
/// password proves the account is theirs.
#[server(client = DirectClient)]
pub async fn resend_unverified(email: String, password: String) -> Result<(), ApiError> {
    let result = context::resend_unverified(&email, &password).await;
    context::plain_form_outcome(&result, None, &[("resent", "1")], &[]);
    result
}
