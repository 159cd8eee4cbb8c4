//! The memory tier: pulled bundles by manifest digest under a byte budget, evicted least
//! recently used first, plus what this store learnt about references and tag lists.

use crate::disk::RefId;
use pacto_ref::Digest;
use pacto_registry::Pulled;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Bytes an entry is charged: the manifest and the unpacked files (the layer is not kept).
pub(crate) fn charge(pulled: &Pulled) -> u64 {
    pulled.manifest.len() as u64 + pulled.bundle.total_size()
}

#[derive(Debug)]
struct Slot {
    pulled: Arc<Pulled>,
    size: u64,
    tick: u64,
}

/// A least-recently-used map from manifest digest to bundle whose total charge stays at or
/// under `budget` bytes. An entry larger than the whole budget is not kept.
#[derive(Debug)]
pub(crate) struct Lru {
    budget: u64,
    used: u64,
    clock: u64,
    slots: HashMap<Digest, Slot>,
    /// Tick of last use -> digest, oldest first.
    order: BTreeMap<u64, Digest>,
}

impl Lru {
    pub(crate) fn new(budget: u64) -> Self {
        Lru {
            budget,
            used: 0,
            clock: 0,
            slots: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The bundle for `digest`, marking it most recently used.
    pub(crate) fn get(&mut self, digest: &Digest) -> Option<Arc<Pulled>> {
        let tick = self.next_tick();
        let slot = self.slots.get_mut(digest)?;
        self.order.remove(&slot.tick);
        slot.tick = tick;
        self.order.insert(tick, digest.clone());
        Some(Arc::clone(&slot.pulled))
    }

    /// Keeps `pulled` (replacing any entry for the same digest), evicting the least recently
    /// used entries until it fits.
    pub(crate) fn insert(&mut self, pulled: Arc<Pulled>) {
        let size = charge(&pulled);
        self.remove(&pulled.digest);
        if size > self.budget {
            return;
        }
        while self.used + size > self.budget {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(slot) = self.slots.remove(&oldest) {
                self.used -= slot.size;
            }
        }
        let tick = self.next_tick();
        let digest = pulled.digest.clone();
        self.order.insert(tick, digest.clone());
        self.slots.insert(digest, Slot { pulled, size, tick });
        self.used += size;
    }

    fn remove(&mut self, digest: &Digest) {
        if let Some(slot) = self.slots.remove(digest) {
            self.order.remove(&slot.tick);
            self.used -= slot.size;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.order.clear();
        self.used = 0;
    }

    /// Bytes currently charged.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.used
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}

/// Everything the store keeps in memory, behind one lock that is never held across an
/// `.await`.
#[derive(Debug)]
pub(crate) struct Memory {
    pub(crate) bundles: Lru,
    /// Reference -> manifest digest, for references this store pulled or revalidated
    /// during its lifetime (tags are not revalidated again).
    pub(crate) refs: HashMap<RefId, Digest>,
    /// `registry/repository` -> its tags, as listed by the inner store (never an error).
    pub(crate) tags: HashMap<String, Vec<String>>,
}

impl Memory {
    pub(crate) fn new(budget: u64) -> Self {
        Memory {
            bundles: Lru::new(budget),
            refs: HashMap::new(),
            tags: HashMap::new(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.bundles.clear();
        self.refs.clear();
        self.tags.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use pacto_contract::Bundle;
    use std::collections::BTreeMap;

    /// The digest a test names `name`.
    fn d(name: &str) -> Digest {
        pacto_fs::sha256(name.as_bytes())
    }

    /// A pulled bundle charged exactly `size` bytes (manifest + files), its layer (not
    /// charged: not kept) said to be as big.
    fn pulled(digest: &str, size: usize) -> Arc<Pulled> {
        let yaml =
            Bytes::from_static(b"pactoVersion: \"1.0\"\nservice:\n  name: x\n  version: 1.0.0\n");
        let mut files = BTreeMap::new();
        files.insert("pacto.yaml".to_owned(), yaml.clone());
        let fixed = yaml.len() + 1;
        assert!(size >= fixed, "size {size} below the fixed part {fixed}");
        files.insert("data.bin".to_owned(), Bytes::from(vec![0u8; size - fixed]));
        let bundle = Bundle::from_files(files).expect("valid bundle");
        Arc::new(Pulled::new(
            bundle,
            d(digest),
            Bytes::from_static(b"m"),
            d("layer"),
            size as u64,
        ))
    }

    #[test]
    fn charge_counts_manifest_and_files_not_the_layer() {
        let p = pulled("a", 1000);
        assert_eq!(charge(&p), 1000);
    }

    #[test]
    fn evicts_least_recently_used_to_stay_within_the_byte_budget() {
        let mut lru = Lru::new(3000);
        lru.insert(pulled("a", 1000));
        lru.insert(pulled("b", 1000));
        lru.insert(pulled("c", 1000));
        assert_eq!((lru.len(), lru.used()), (3, 3000));
        // Touch `a`: `b` becomes the oldest.
        assert!(lru.get(&d("a")).is_some());
        lru.insert(pulled("d", 1500));
        assert!(lru.get(&d("b")).is_none(), "b was least recently used");
        assert!(
            lru.get(&d("c")).is_none(),
            "c had to go too: 1500 more bytes needed two slots"
        );
        assert!(lru.get(&d("a")).is_some() && lru.get(&d("d")).is_some());
        assert_eq!(lru.used(), 2500);
    }

    #[test]
    fn an_entry_larger_than_the_budget_is_not_kept_and_evicts_nothing() {
        let mut lru = Lru::new(2000);
        lru.insert(pulled("a", 1000));
        lru.insert(pulled("huge", 2001));
        assert!(lru.get(&d("huge")).is_none());
        assert!(lru.get(&d("a")).is_some());
        assert_eq!(lru.used(), 1000);
    }

    #[test]
    fn reinserting_a_digest_replaces_it_without_double_counting() {
        let mut lru = Lru::new(5000);
        lru.insert(pulled("a", 1000));
        lru.insert(pulled("a", 1200));
        assert_eq!((lru.len(), lru.used()), (1, 1200));
        lru.clear();
        assert_eq!((lru.len(), lru.used()), (0, 0));
        assert!(lru.get(&d("a")).is_none());
    }
}
