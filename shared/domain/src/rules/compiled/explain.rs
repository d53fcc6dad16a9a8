//! `rules::explain` by the compiled engine: the same annotated tree, each node's answer computed by the
//! program (a node's subtree evaluated in full, as the tree walker's explain does).

use super::eval::{self, Ctx};
use super::facts::Out;
use super::program::Node;
use super::time;
use super::{with_scratch, Program};
use crate::customer::Customer;
use crate::rules::reader::{index, key};
use crate::rules::{self, EvalContext, Rule};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

impl Program {
    /// Rule `i`'s tree annotated with each node's answer, in the form of `rules::explain`; `member_of`
    /// reads the customer's groups. `None` when there is no rule `i`.
    pub fn explain(&self, i: usize, c: &Customer, now: DateTime<Utc>) -> Option<Value> {
        let root = self.roots.get(i)?;
        let (_, rule, settings) = &self.rules[i];
        let compiled = with_scratch(|s| {
            let now_ns = time::ns(now)?;
            if s.facts.is_empty() {
                s.facts.push(Default::default());
            }
            let (facts, bufs) = (&mut s.facts, &mut s.bufs);
            if !facts[0].decode(&self.symbols, &self.needs, &self.atoms, c, now_ns) {
                return None;
            }
            let cx = [Ctx {
                facts: &facts[0],
                customer: c,
                now,
                atoms: self.atoms.len(),
            }];
            Some(annotate(&self.nodes, rule, root.start as usize, "rules", &cx, bufs).0)
        });
        Some(compiled.unwrap_or_else(|| {
            let in_group = |g: &crate::ids::GroupId| c.groups.contains(g);
            let ctx = EvalContext {
                now,
                settings,
                in_group: &in_group,
            };
            rules::explain(rule, c, &ctx)
        }))
    }
}

/// The annotated node at `i` (which is `rule`'s), and the index after its subtree.
fn annotate(nodes: &[Node], rule: &Rule, i: usize, path: &str, cx: &[Ctx], bufs: &mut Vec<Vec<Out>>) -> (Value, usize) {
    let mut outs = [Out::FALSE];
    let end = eval::eval(nodes, i, cx, &mut outs, bufs, 0);
    let out = outs[0];
    let (node, children): (Value, Vec<Value>) = match rule {
        Rule::All(rs) | Rule::Any(rs) => {
            let base = key(path, rule.kind());
            let mut j = i + 1;
            let mut children = Vec::with_capacity(rs.len());
            for (k, r) in rs.iter().enumerate() {
                let (v, next) = annotate(nodes, r, j, &index(&base, k), cx, bufs);
                children.push(v);
                j = next;
            }
            (json!({ rule.kind(): [] }), children)
        }
        Rule::Not(r) => (
            json!({ "not": {} }),
            vec![annotate(nodes, r, i + 1, &key(path, "not"), cx, bufs).0],
        ),
        Rule::Cond(c) => (c.to_json(), Vec::new()),
    };
    let next = time::to_time(out.next).map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    (
        json!({
            "path": path,
            "kind": rule.kind(),
            "node": node,
            "matched": out.matched,
            "next_change": next,
            "children": children,
        }),
        end,
    )
}
