//! The order in which dependent groups are evaluated (`member_of` references form a graph without
//! cycles).

use crate::ids::GroupId;
use std::collections::{BTreeSet, HashMap};

/// Orders groups so that every group comes after the groups it references; `Err(cycle)` with the ids
/// around a cycle, first id repeated at the end (`[a, b, a]`). References to ids not in the list
/// (static or unknown groups) are ignored. Otherwise the input order is kept where it can be.
pub fn dependency_order(groups: &[(GroupId, BTreeSet<GroupId>)]) -> Result<Vec<GroupId>, Vec<GroupId>> {
    let mut at: HashMap<&GroupId, usize> = HashMap::with_capacity(groups.len());
    for (i, (id, _)) in groups.iter().enumerate() {
        at.entry(id).or_insert(i);
    }
    let deps: Vec<Vec<usize>> = groups
        .iter()
        .map(|(_, uses)| uses.iter().filter_map(|u| at.get(u).copied()).collect())
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; groups.len()];
    let mut order = Vec::with_capacity(groups.len());
    for root in 0..groups.len() {
        if mark[root] != Mark::New || at[&groups[root].0] != root {
            continue;
        }
        // Depth-first without recursion: (group, next dependency to visit).
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::Open;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match mark[dep] {
                    Mark::New => {
                        mark[dep] = Mark::Open;
                        stack.push((dep, 0));
                    }
                    Mark::Open => {
                        let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let mut cycle: Vec<GroupId> = stack[from..].iter().map(|(n, _)| groups[*n].0.clone()).collect();
                        cycle.push(groups[dep].0.clone());
                        return Err(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                order.push(groups[node].0.clone());
                stack.pop();
            }
        }
    }
    Ok(order)
}
