//! Recent history in memory: what the history rules read for every punch
//! (an employee's last accepted fix, bound devices and consent; whom a
//! device punched for lately), kept so that the hot path does not query the
//! database for it. Entries are loaded from the store on a miss and updated
//! after each commit.
//!
//! This is only correct for a backend whose process is the sole writer of
//! punches, devices and consents (the embedded SQLite store): a cache in one
//! of several replicas would miss the others' writes.
//!
//! A load races with commits: it may read the database just before a punch
//! commits and then insert what it read after that punch's update ran. Each
//! shard therefore counts its updates (its epoch); a load inserts its result
//! only if the shard's epoch has not moved since the load began. A lost
//! insert only costs another load.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use crate::engine::history::LastFix;
use crate::engine::{DeviceId, EmployeeId, HistoryDelta, OrgId, Punch, Verdict};

/// The longest window a policy may ask "whom did this device punch for?"
/// about (the bound of `device_share_window`); a device's entry holds at
/// least this much.
pub const DEVICE_MEMORY: SignedDuration = SignedDuration::from_hours(720);

const SHARDS: usize = 64;

/// What the rules need about one employee.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmployeeRecent {
    pub last_accepted: Option<LastFix>,
    /// Bound and not revoked, oldest first.
    pub bound_devices: Vec<DeviceId>,
    pub auto_punch_consent: bool,
}

/// Whom one device punched for: each employee with their latest punch time,
/// at least [`DEVICE_MEMORY`] back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceRecent {
    pub punched_for: Vec<(EmployeeId, Timestamp)>,
}

impl DeviceRecent {
    /// Employees other than `employee` the device punched for since `since`.
    pub fn others_since(&self, employee: &EmployeeId, since: Timestamp) -> Vec<EmployeeId> {
        let mut others: Vec<EmployeeId> = self
            .punched_for
            .iter()
            .filter(|(e, at)| e != employee && *at >= since)
            .map(|(e, _)| e.clone())
            .collect();
        others.sort();
        others
    }

    fn record(&mut self, employee: &EmployeeId, at: Timestamp) {
        let horizon = at - DEVICE_MEMORY;
        self.punched_for.retain(|(_, seen)| *seen >= horizon);
        match self.punched_for.iter_mut().find(|(e, _)| e == employee) {
            Some((_, seen)) => *seen = (*seen).max(at),
            None => self.punched_for.push((employee.clone(), at)),
        }
    }
}

type EmployeeKey = (OrgId, EmployeeId);
type DeviceKey = (OrgId, DeviceId);

/// A position in a shard's update count, taken before a load.
#[derive(Debug, Clone, Copy)]
pub struct Epoch(u64);

struct Shard<K, V> {
    epoch: u64,
    entries: HashMap<K, V>,
}

/// A bounded map in shards, each with its epoch (see the module docs).
struct ShardedMap<K, V> {
    shards: Vec<Mutex<Shard<K, V>>>,
    hasher: RandomState,
    per_shard: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> ShardedMap<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        epoch: 0,
                        entries: HashMap::new(),
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, key: &K) -> std::sync::MutexGuard<'_, Shard<K, V>> {
        let i = self.hasher.hash_one(key) as usize % self.shards.len();
        // A panic while holding the lock cannot leave an entry half-updated
        // in a way that matters more than a stale cache: keep going.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry, or the epoch a load must present to insert one.
    fn get(&self, key: &K) -> Result<V, Epoch> {
        let shard = self.shard(key);
        shard.entries.get(key).cloned().ok_or(Epoch(shard.epoch))
    }

    fn insert_loaded(&self, key: K, value: V, loaded_at: Epoch) {
        let mut shard = self.shard(&key);
        if shard.epoch != loaded_at.0 {
            return;
        }
        if shard.entries.len() >= self.per_shard && !shard.entries.contains_key(&key) {
            // Full: drop an arbitrary entry. Employees punch a few times a
            // day, so recency buys little over this; a miss is one query.
            if let Some(victim) = shard.entries.keys().next().cloned() {
                shard.entries.remove(&victim);
            }
        }
        shard.entries.insert(key, value);
    }

    fn clear(&self) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.epoch += 1;
            shard.entries.clear();
        }
    }

    /// Applies `change` to the entry if present; either way the shard's
    /// epoch moves so that loads begun before this update are discarded.
    fn update(&self, key: &K, change: impl FnOnce(&mut V) -> Keep) {
        let mut shard = self.shard(key);
        shard.epoch += 1;
        if let Some(entry) = shard.entries.get_mut(key)
            && change(entry) == Keep::No
        {
            shard.entries.remove(key);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Keep {
    Yes,
    No,
}

/// The cache of recent history (see the module docs).
pub struct RecentHistory {
    employees: ShardedMap<EmployeeKey, EmployeeRecent>,
    devices: ShardedMap<DeviceKey, DeviceRecent>,
}

impl RecentHistory {
    /// Holds up to `capacity` employees and as many devices.
    pub fn new(capacity: usize) -> Self {
        Self {
            employees: ShardedMap::new(capacity),
            devices: ShardedMap::new(capacity),
        }
    }

    pub fn employee(&self, org: &OrgId, employee: &EmployeeId) -> Result<EmployeeRecent, Epoch> {
        self.employees.get(&(org.clone(), employee.clone()))
    }

    pub fn device(&self, org: &OrgId, device: &DeviceId) -> Result<DeviceRecent, Epoch> {
        self.devices.get(&(org.clone(), device.clone()))
    }

    pub fn insert_employee(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        value: EmployeeRecent,
        loaded_at: Epoch,
    ) {
        self.employees
            .insert_loaded((org.clone(), employee.clone()), value, loaded_at);
    }

    pub fn insert_device(
        &self,
        org: &OrgId,
        device: &DeviceId,
        value: DeviceRecent,
        loaded_at: Epoch,
    ) {
        self.devices
            .insert_loaded((org.clone(), device.clone()), value, loaded_at);
    }

    /// Called after a new punch committed.
    pub fn punch_recorded(&self, punch: &Punch, verdict: &Verdict) {
        let delta = HistoryDelta::of(punch, verdict);
        self.employees
            .update(&(punch.org.clone(), punch.employee.clone()), |entry| {
                if let Some(fix) = delta.last_accepted {
                    entry.last_accepted = Some(fix);
                }
                match delta.binds {
                    // A device new to the cached list may have been bound
                    // now, or may be a revoked binding the punch did not
                    // restore: reload rather than guess.
                    Some(d) if !entry.bound_devices.contains(d) => Keep::No,
                    _ => Keep::Yes,
                }
            });
        if let Some(device) = delta.device_used {
            self.devices
                .update(&(punch.org.clone(), device.clone()), |entry| {
                    entry.record(&punch.employee, punch.received_at);
                    Keep::Yes
                });
        }
    }

    /// Forgets an employee after a change made outside the hot path (device
    /// binding, consent, erasure).
    pub fn forget_employee(&self, org: &OrgId, employee: &EmployeeId) {
        self.employees
            .update(&(org.clone(), employee.clone()), |_| Keep::No);
    }

    /// Forgets everything (an erasure: device entries name employees).
    pub fn clear(&self) {
        self.employees.clear();
        self.devices.clear();
    }
}
