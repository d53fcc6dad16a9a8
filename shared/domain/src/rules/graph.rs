//! The order in which dependent groups are evaluated (`member_of` references form a graph without
//! cycles).

use crate::error::{DomainError, Result};
use crate::ids::GroupId;
use std::collections::{BTreeSet, HashMap};

/// A group as the reference checks see it: its id and the groups its rules use.
pub type GroupRefs<'a> = (&'a GroupId, &'a [GroupId]);

/// Checks the graph that saving `id` with references `uses` would make: every referenced group exists
/// and no reference chain leads back to `id`.
pub fn check_references<'a>(
    groups: impl IntoIterator<Item = GroupRefs<'a>>,
    id: &GroupId,
    uses: &BTreeSet<GroupId>,
) -> Result<()> {
    let mut graph: Vec<(GroupId, BTreeSet<GroupId>)> = groups
        .into_iter()
        .filter(|(g, _)| *g != id)
        .map(|(g, u)| (g.clone(), u.iter().cloned().collect()))
        .collect();
    for u in uses {
        if u == id {
            return Err(DomainError::validation(
                "rules",
                "a group cannot reference itself (member_of its own id)",
            ));
        }
        if !graph.iter().any(|(g, _)| g == u) {
            return Err(DomainError::validation(
                "rules",
                format!("member_of references group {u:?}, which does not exist"),
            ));
        }
    }
    graph.push((id.clone(), uses.clone()));
    dependency_order(&graph).map_err(|cycle| {
        let path: Vec<&str> = cycle.iter().map(GroupId::as_str).collect();
        DomainError::validation(
            "rules",
            format!(
                "member_of references would form a cycle: {}; remove one of them",
                path.join(" -> ")
            ),
        )
    })?;
    Ok(())
}

/// Groups whose rules reference `id` (a referenced group cannot be deleted).
pub fn users_of<'a>(groups: impl IntoIterator<Item = GroupRefs<'a>>, id: &GroupId) -> Vec<GroupId> {
    groups
        .into_iter()
        .filter(|(_, uses)| uses.contains(id))
        .map(|(g, _)| g.clone())
        .collect()
}

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
