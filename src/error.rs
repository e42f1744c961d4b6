//! The one error type that decides an exit code beyond "it failed".

/// Bad usage or bad input (exit code 2), as opposed to a failure while running (1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);
