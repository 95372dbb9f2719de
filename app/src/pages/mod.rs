//! One module per dashboard route.

pub mod admin;
pub mod batch;
pub mod keys;
pub mod login;
pub mod overview;
pub mod purge;
pub mod task;
pub mod tasks;
