//! Building blocks shared by the pages.

pub mod charts;
pub mod guard;
pub mod layout;
pub mod live;
pub mod progress;
