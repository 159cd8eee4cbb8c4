//! Blocking work off the async executor.

use std::io;

/// Runs `work` on tokio's blocking pool and waits for it without blocking the executor:
/// file-system calls, hashing, gzip and tar of large inputs.
///
/// A panic in `work` is resumed in the caller, as if `work` had run inline; the task being
/// cancelled (the runtime shutting down) is an [`io::ErrorKind::Interrupted`] error. Outside
/// a tokio runtime (a future polled by another executor) there is no pool to hand the work
/// to, and `work` runs inline.
pub async fn blocking<T, F>(work: F) -> io::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Ok(work());
    };
    match runtime.spawn_blocking(work).await {
        Ok(value) => Ok(value),
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "the runtime shut down while blocking work was running",
        )),
    }
}
