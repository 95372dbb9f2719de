//! The engine's error type.

use crate::keys::KeyError;
use crate::store::StoreError;

/// Everything that can go wrong inside the engine, as callers need to tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database failed or refused an operation.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key could not be created, imported or decrypted.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The input is not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The thing asked for does not exist (or is not the caller's).
    #[error("{0} not found")]
    NotFound(String),
    /// Every CPU slot is taken (password checks, regex compilation): try again in a moment.
    #[error(transparent)]
    Busy(#[from] crate::cpu::Busy),
    /// An admin tried to lock themself out: disable or demote themself, or revoke the key the
    /// request is made with.
    #[error("{0}")]
    SelfLockout(&'static str),
    /// A limit on how many of a thing may exist is reached (live API keys of a user).
    #[error("{0}")]
    LimitReached(String),
}

impl EngineError {
    /// Whether the database is busy or unreachable for now (retry later), see
    /// [`StoreError::is_unavailable`].
    pub fn is_unavailable(&self) -> bool {
        matches!(self, EngineError::Busy(_))
            || matches!(self, EngineError::Store(error) if error.is_unavailable())
    }

    /// Whether the error is the caller's input rather than the service failing.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            EngineError::Invalid(_)
                | EngineError::NotFound(_)
                | EngineError::SelfLockout(_)
                | EngineError::LimitReached(_)
                | EngineError::Key(KeyError::InvalidKey)
                | EngineError::Store(StoreError::Conflict(_) | StoreError::NotFound(_))
        )
    }
}
