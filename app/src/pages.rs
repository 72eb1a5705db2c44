//! One module per page.

mod account;
mod devices;
mod home;
mod notes;

pub use account::{LoginPage, RegisterPage};
pub use devices::SessionsPage;
pub use home::{HomePage, NotFound};
pub use notes::{NoteList, NotesPage};
