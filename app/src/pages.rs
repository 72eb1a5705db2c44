//! One module per page.

mod account;
mod devices;
mod home;
mod notes;
mod recovery;

pub use account::{LoginPage, RegisterPage};
pub use devices::SessionsPage;
pub use home::{HomePage, NotFound};
pub use notes::{NoteList, NotesPage};
pub use recovery::{AccountPage, ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage};
