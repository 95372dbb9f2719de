//! Building blocks shared by the pages.

pub mod guard;
pub mod layout;
pub mod live;
pub mod progress;
