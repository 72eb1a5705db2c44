//! [`PagePolicy`]: which pages need a session and which are for signed-out visitors only. Read
//! by the session layer, given to [`Auth::install`](crate::server::Auth::install).

/// Which pages need a session, which are for signed-out visitors only, and where a signed-in
/// visitor of those is sent. Paths match whole segments (`/dashboard` covers `/dashboard/42`).
///
/// ```
/// use sessionflow::server::PagePolicy;
/// let pages = PagePolicy::new()
///     .protect(["/dashboard", "/sessions"])
///     .guest_only(["/login", "/register"])
///     .home("/dashboard");
/// ```
#[derive(Debug, Clone)]
pub struct PagePolicy {
    pub(crate) protected: Vec<String>,
    pub(crate) guest_only: Vec<String>,
    pub(crate) home: String,
}

impl Default for PagePolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl PagePolicy {
    /// No protected and no guest-only pages; home is `/`.
    pub fn new() -> Self {
        Self {
            protected: Vec::new(),
            guest_only: Vec::new(),
            home: "/".into(),
        }
    }

    /// Pages that answer 303 to the sign-in page (`?next=<path>`) without a session.
    pub fn protect<I: IntoIterator<Item = T>, T: Into<String>>(mut self, paths: I) -> Self {
        self.protected.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Pages a signed-in visitor is sent away from (to a local `next`, or [`home`](Self::home)).
    pub fn guest_only<I: IntoIterator<Item = T>, T: Into<String>>(mut self, paths: I) -> Self {
        self.guest_only.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Where a signed-in visitor of a guest-only page lands without a `next`.
    pub fn home(mut self, path: impl Into<String>) -> Self {
        self.home = path.into();
        self
    }
}
