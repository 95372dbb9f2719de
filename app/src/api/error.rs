//! The error every server function returns: typed, so pages can tell them apart.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What a server function can fail with, as the page sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Not signed in (or the session expired).
    #[error("please sign in")]
    Unauthorized,
    /// Signed in, but not allowed.
    #[error("you are not allowed to do this")]
    Forbidden,
    /// Not found (or not yours).
    #[error("{0} not found")]
    NotFound(String),
    /// The input is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Too many attempts for now; the message says when to try again.
    #[error("{0}")]
    RateLimited(String),
    /// The server is busy: try again in a moment.
    #[error("the server is busy; try again in a moment")]
    Busy,
    /// The service failed; details are in the server log.
    #[error("something went wrong on the server")]
    Internal,
    /// The request did not reach the function.
    #[error("request failed: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<engine::EngineError> for AppError {
    fn from(error: engine::EngineError) -> Self {
        use engine::EngineError;
        match error {
            EngineError::Invalid(message) => AppError::Invalid(message),
            EngineError::NotFound(what) => AppError::NotFound(what),
            EngineError::Busy(_) => AppError::Busy,
            ref e if e.is_client_error() => AppError::Invalid(e.to_string()),
            other => {
                tracing::error!(error = %other, "server function failed");
                AppError::Internal
            }
        }
    }
}
