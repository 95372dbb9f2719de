//! CPU-heavy work (argon2 password hashing, regex compilation) runs off the async workers, on
//! tokio's blocking threads, at most one job per core at a time: requests that only wait on the
//! database or the network keep being served while hundreds of sign-ins queue here.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Too many jobs were waiting: the caller should answer "busy, try again" at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the server is busy; try again in a moment")]
pub struct Busy;

/// Runs closures on blocking threads, a bounded number at once.
#[derive(Clone, Debug)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl CpuPool {
    /// A pool running `jobs` closures at once (at least one); a closure that cannot start within
    /// `wait` is refused with [`Busy`].
    pub fn new(jobs: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(jobs.max(1))),
            wait,
        }
    }

    /// One job per core of this machine, each waiting up to two seconds for its turn.
    pub fn per_core() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores, Duration::from_secs(2))
    }

    /// Runs `work` on a blocking thread once a slot is free; a panic in it is resumed here.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await;
        match joined {
            Ok(value) => Ok(value),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_leave_the_async_thread_free_and_excess_ones_are_refused() {
        let pool = CpuPool::new(1, Duration::from_millis(100));
        let slow = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(|| std::thread::sleep(Duration::from_millis(400)))
                    .await
            })
        };
        // The only async thread still runs other tasks while the job sleeps.
        let started = std::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(started.elapsed() < Duration::from_millis(200));
        assert_eq!(pool.run(|| 1).await, Err(Busy), "no slot within 100 ms");
        assert_eq!(slow.await.unwrap(), Ok(()));
        assert_eq!(pool.run(|| 2).await, Ok(2));
    }
}
