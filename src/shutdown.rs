//! Stopping the background workers when the server is told to stop (SIGTERM): each worker ends
//! its round, the processor gives back its leases, and the process waits for them before exiting.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
pub struct Shutdown(Arc<Inner>);

#[derive(Default)]
struct Inner {
    stopping: Mutex<bool>,
    woken: Condvar,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Shutdown {
    pub fn is_stopping(&self) -> bool {
        *self.0.stopping.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps for `pause`, or less when the stop comes first. Returns false once stopping.
    pub fn pause(&self, pause: Duration) -> bool {
        let guard = self.0.stopping.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) =
            self.0.woken.wait_timeout_while(guard, pause, |stopping| !*stopping).unwrap_or_else(|p| p.into_inner());
        !*guard
    }

    /// Starts a worker thread that the stop waits for.
    pub fn spawn(&self, name: &str, work: impl FnOnce() + Send + 'static) {
        let handle = std::thread::Builder::new().name(name.into()).spawn(work).expect("a worker thread starts");
        self.0.workers.lock().unwrap_or_else(|p| p.into_inner()).push(handle);
    }

    /// Tells every worker to stop and waits up to `patience` for them to finish their rounds.
    /// Returns how many were still running when the patience ran out.
    pub fn stop(&self, patience: Duration) -> usize {
        *self.0.stopping.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.0.woken.notify_all();
        let deadline = Instant::now() + patience;
        let workers: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.0.workers.lock().unwrap_or_else(|p| p.into_inner()));
        let mut left = 0;
        for w in workers {
            while !w.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if w.is_finished() {
                let _ = w.join();
            } else {
                left += 1;
            }
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_wakes_a_pausing_worker_and_waits_for_it() {
        let shutdown = Shutdown::default();
        let (s, done) = (shutdown.clone(), Arc::new(Mutex::new(0)));
        let rounds = done.clone();
        shutdown.spawn("test-worker", move || {
            while s.pause(Duration::from_secs(60)) {
                *rounds.lock().unwrap() += 1;
            }
            *rounds.lock().unwrap() += 100;
        });
        let started = Instant::now();
        assert_eq!(shutdown.stop(Duration::from_secs(10)), 0);
        assert!(started.elapsed() < Duration::from_secs(5), "the pause was cut short");
        assert_eq!(*done.lock().unwrap(), 100, "the worker finished before stop returned");
        assert!(shutdown.is_stopping());
    }
}
