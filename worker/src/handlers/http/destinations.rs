//! How many requests of `http` jobs a worker process has in flight per
//! destination (scheme, host and port), so one slow receiver cannot take
//! every slot of the queue: a job whose destination is at its limit is put
//! off instead of waiting in a slot.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

/// Requests in flight per destination in this process, at most `limit` each.
#[derive(Debug)]
pub(crate) struct Destinations {
    limit: usize,
    busy: Arc<Mutex<HashMap<String, usize>>>,
}

impl Destinations {
    /// At most `limit` requests in flight to one destination.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            busy: Arc::default(),
        }
    }

    /// A turn at `destination` if fewer than the limit are in flight there;
    /// it lasts until dropped.
    pub(crate) fn take(&self, destination: String) -> Option<Turn> {
        let mut busy = lock(&self.busy);
        let taken = busy.entry(destination.clone()).or_default();
        if *taken >= self.limit {
            return None;
        }
        *taken += 1;
        Some(Turn {
            destination,
            busy: self.busy.clone(),
        })
    }
}

fn lock(busy: &Mutex<HashMap<String, usize>>) -> MutexGuard<'_, HashMap<String, usize>> {
    busy.lock().unwrap_or_else(|e| e.into_inner())
}

/// One request's place at its destination.
#[derive(Debug)]
pub(crate) struct Turn {
    destination: String,
    busy: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut busy = lock(&self.busy);
        if let Some(taken) = busy.get_mut(&self.destination) {
            *taken -= 1;
            // Forgotten when idle, so destinations seen once do not pile up.
            if *taken == 0 {
                busy.remove(&self.destination);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_takes_its_limit_and_frees_a_turn_when_one_ends() {
        let d = Destinations::new(2);
        let a = "https://a.test:443".to_owned();
        let first = d.take(a.clone()).unwrap();
        let _second = d.take(a.clone()).unwrap();
        assert!(d.take(a.clone()).is_none(), "at its limit");
        assert!(
            d.take("https://b.test:443".into()).is_some(),
            "others are not held up"
        );
        drop(first);
        assert!(d.take(a).is_some());
    }

    #[test]
    fn idle_destinations_are_forgotten() {
        let d = Destinations::new(1);
        drop(d.take("http://a.test:80".into()));
        assert!(lock(&d.busy).is_empty());
    }
}
