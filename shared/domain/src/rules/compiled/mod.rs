//! The compiled rule engine: a tenant's rule trees compiled once into one flat program, evaluated per
//! customer in one pass after decoding the customer once (ids instead of strings, bits for tags and
//! memberships, nanoseconds for instants, every lifecycle state the program asks for derived once per
//! subscription and shared by all groups). Its answers, `next_change` included, are those of the tree
//! walker `rules::evaluate`, which stays as the test oracle (`properties.rs` checks both agree) and
//! answers the rare customer with a leap-second instant.

mod compile;
mod dates;
mod eval;
mod explain;
mod facts;
mod program;
mod symbols;
mod time;

#[cfg(test)]
mod properties;

use super::{evaluate as walk, EvalContext, LifecycleSettings, Outcome, Rule};
use crate::customer::Customer;
use crate::ids::GroupId;
use chrono::{DateTime, Utc};
use facts::{Facts, Needs, Out};
use program::{Atom, Node};
use std::cell::RefCell;
use std::collections::BTreeSet;
use symbols::Symbols;
use time::{Ns, NEVER};

/// One compiled rule: where its tree starts and, for a group, its membership slot.
#[derive(Debug, Clone)]
struct Root {
    start: u32,
    slot: Option<u32>,
}

/// Rule trees compiled together, evaluated together per customer.
#[derive(Debug, Clone, Default)]
pub struct Program {
    nodes: Vec<Node>,
    roots: Vec<Root>,
    symbols: Symbols,
    atoms: Vec<Atom>,
    needs: Needs,
    /// The rules as given (id, rule, settings), for the tree walker's fallback and for explain.
    rules: Vec<(Option<GroupId>, Rule, LifecycleSettings)>,
}

thread_local! {
    /// Each thread's decoding buffer, reused so that a warm pass does not allocate.
    static FACTS: RefCell<Facts> = RefCell::new(Facts::default());
}

fn with_facts<R>(f: impl FnOnce(&mut Facts) -> R) -> R {
    FACTS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut facts) => f(&mut facts),
        Err(_) => f(&mut Facts::default()),
    })
}

impl Program {
    /// Compiles rules in evaluation order. A rule with a group id decides that group's membership for
    /// the rules after it (`member_of`), as the membership pass does; other `member_of` references
    /// read the customer's groups.
    pub fn new<'a>(rules: impl IntoIterator<Item = (Option<&'a GroupId>, &'a Rule, &'a LifecycleSettings)>) -> Program {
        let rules: Vec<(Option<GroupId>, Rule, LifecycleSettings)> = rules
            .into_iter()
            .map(|(id, r, s)| (id.cloned(), r.clone(), *s))
            .collect();
        let symbols = compile::symbols(
            rules.iter().map(|(_, r, _)| r),
            rules.iter().filter_map(|(id, _, _)| id.as_ref()),
        );
        let mut c = compile::Compiler {
            sym: &symbols,
            nodes: Vec::new(),
            atoms: Vec::new(),
            needs: Needs::default(),
        };
        let roots = rules
            .iter()
            .map(|(id, rule, settings)| Root {
                start: c.rule(rule, settings),
                slot: id.as_ref().and_then(|id| symbols.group_slot(id)),
            })
            .collect();
        let (nodes, atoms, needs) = (c.nodes, c.atoms, c.needs);
        Program {
            nodes,
            roots,
            symbols,
            atoms,
            needs,
            rules,
        }
    }

    /// One definition alone (preview, explain, a customer search); `member_of` reads the customer's
    /// groups.
    pub fn single(rule: &Rule, settings: &LifecycleSettings) -> Program {
        Program::new([(None, rule, settings)])
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Evaluates every rule in order for the customer at `now`. `visit(i, matched, was)` sees each
    /// rule's answer and whether the customer was in its group; returns the earliest next change over
    /// all rules.
    pub(crate) fn pass(
        &self,
        c: &Customer,
        now: DateTime<Utc>,
        mut visit: impl FnMut(usize, bool, bool),
    ) -> Option<DateTime<Utc>> {
        let next = with_facts(|f| {
            if !f.decode(&self.symbols, &self.needs, &self.atoms, c, now) {
                return Err(());
            }
            let mut earliest: Ns = NEVER;
            for (i, root) in self.roots.iter().enumerate() {
                let out = self.run(f, root, c, now);
                earliest = earliest.min(out.next);
                let was = root.slot.is_some_and(|s| {
                    let (w, b) = ((s / 64) as usize, s % 64);
                    let was = f.members[w] >> b & 1 == 1;
                    f.members[w] = (f.members[w] & !(1 << b)) | (u64::from(out.matched) << b);
                    was
                });
                visit(i, out.matched, was);
            }
            Ok(earliest)
        });
        match next {
            Ok(t) => time::to_time(t),
            Err(()) => self.walk_pass(c, now, visit),
        }
    }

    fn run(&self, f: &Facts, root: &Root, c: &Customer, now: DateTime<Utc>) -> Out {
        let cx = eval::Ctx {
            facts: f,
            customer: c,
            now,
            atoms: self.atoms.len(),
        };
        eval::eval(&self.nodes, root.start as usize, &cx).0
    }

    /// The same pass by the tree walker (a customer with a leap-second instant).
    fn walk_pass(
        &self,
        c: &Customer,
        now: DateTime<Utc>,
        mut visit: impl FnMut(usize, bool, bool),
    ) -> Option<DateTime<Utc>> {
        let mut current: BTreeSet<GroupId> = c.groups.clone();
        let mut earliest: Option<DateTime<Utc>> = None;
        for (i, (id, rule, settings)) in self.rules.iter().enumerate() {
            let in_group = |g: &GroupId| current.contains(g);
            let ctx = EvalContext {
                now,
                settings,
                in_group: &in_group,
            };
            let out = walk(rule, c, &ctx);
            earliest = super::min_time(earliest, out.next_change);
            let was = id.as_ref().is_some_and(|id| current.contains(id));
            if let Some(id) = id {
                if out.matched {
                    current.insert(id.clone());
                } else {
                    current.remove(id);
                }
            }
            visit(i, out.matched, was);
        }
        earliest
    }

    /// Every rule's answer into `matched` (cleared first); returns the earliest next change.
    pub fn matches_into(&self, c: &Customer, now: DateTime<Utc>, matched: &mut Vec<bool>) -> Option<DateTime<Utc>> {
        matched.clear();
        self.pass(c, now, |_, m, _| matched.push(m))
    }

    /// Every rule's outcome, each with its own next change.
    pub fn evaluate(&self, c: &Customer, now: DateTime<Utc>) -> Vec<Outcome> {
        let exact = with_facts(|f| {
            if !f.decode(&self.symbols, &self.needs, &self.atoms, c, now) {
                return None;
            }
            let mut outs = Vec::with_capacity(self.roots.len());
            for root in &self.roots {
                let out = self.run(f, root, c, now);
                if let Some(s) = root.slot {
                    let (w, b) = ((s / 64) as usize, s % 64);
                    f.members[w] = (f.members[w] & !(1 << b)) | (u64::from(out.matched) << b);
                }
                outs.push(Outcome {
                    matched: out.matched,
                    next_change: time::to_time(out.next),
                });
            }
            Some(outs)
        });
        exact.unwrap_or_else(|| {
            let mut current: BTreeSet<GroupId> = c.groups.clone();
            let mut outs = Vec::with_capacity(self.rules.len());
            for (id, rule, settings) in &self.rules {
                let in_group = |g: &GroupId| current.contains(g);
                let ctx = EvalContext {
                    now,
                    settings,
                    in_group: &in_group,
                };
                let out = walk(rule, c, &ctx);
                if let Some(id) = id {
                    if out.matched {
                        current.insert(id.clone());
                    } else {
                        current.remove(id);
                    }
                }
                outs.push(out);
            }
            outs
        })
    }
}
