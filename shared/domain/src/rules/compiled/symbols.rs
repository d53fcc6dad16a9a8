//! The strings a program's rules mention, collected once at compile time and numbered, so that decoding
//! a customer turns each of its strings into a small id with one binary search and rules compare ids.

use crate::ids::GroupId;
use std::collections::BTreeSet;

/// Id of a missing value (a subscription without a product or plan).
pub(crate) const NONE: u32 = 0;
/// Id of a value no rule mentions.
pub(crate) const OTHER: u32 = 1;

/// Sorted distinct strings; `id(s)` is `index + 2`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dict {
    values: Vec<String>,
}

impl Dict {
    pub fn from_set(set: BTreeSet<String>) -> Dict {
        Dict {
            values: set.into_iter().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// The id of a value, `OTHER` when no rule mentions it.
    pub fn id(&self, s: &str) -> u32 {
        // A few values (the usual case): lengths rule most of them out without comparing bytes.
        if self.values.len() <= 8 {
            return self
                .values
                .iter()
                .position(|v| v.len() == s.len() && v == s)
                .map_or(OTHER, |i| i as u32 + 2);
        }
        match self.values.binary_search_by(|v| v.as_str().cmp(s)) {
            Ok(i) => i as u32 + 2,
            Err(_) => OTHER,
        }
    }

    /// The id of an optional value, `NONE` when missing.
    pub fn opt_id(&self, s: Option<&String>) -> u32 {
        match s {
            None => NONE,
            Some(_) if self.values.is_empty() => OTHER,
            Some(s) => self.id(s),
        }
    }
}

/// A set of ids as a bitset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IdSet(Box<[u64]>);

impl IdSet {
    pub fn of(ids: impl IntoIterator<Item = u32>) -> IdSet {
        let mut words: Vec<u64> = Vec::new();
        for id in ids {
            let w = (id / 64) as usize;
            if words.len() <= w {
                words.resize(w + 1, 0);
            }
            words[w] |= 1 << (id % 64);
        }
        IdSet(words.into_boxed_slice())
    }

    pub fn contains(&self, id: u32) -> bool {
        self.0.get((id / 64) as usize).is_some_and(|w| w >> (id % 64) & 1 == 1)
    }

    pub fn words(&self) -> &[u64] {
        &self.0
    }
}

/// Everything a program numbers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Symbols {
    pub applications: Dict,
    pub products: Dict,
    pub plans: Dict,
    pub periods: Dict,
    pub tags: Dict,
    pub currencies: Dict,
    /// Custom attribute keys, one slot each.
    pub attributes: Dict,
    /// Per attribute slot: the text operands of equality tests on it.
    pub attribute_texts: Vec<Dict>,
    /// Groups whose membership a pass reads or decides, sorted: one membership slot each.
    pub groups: Vec<GroupId>,
}

impl Symbols {
    /// The membership slot of a group.
    pub fn group_slot(&self, id: &GroupId) -> Option<u32> {
        self.groups.binary_search(id).ok().map(|i| i as u32)
    }
}
