//! Admins' pages.

pub mod audit;
pub mod domains;
pub mod edges;
pub mod users;
