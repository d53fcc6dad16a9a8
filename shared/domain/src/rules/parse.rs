//! Parsing rule JSON into a tree: nodes, condition groups, the depth and node limits, and the paths of
//! bad nodes in errors.

use super::*;

pub(super) fn as_groups(rule: &Rule) -> Option<Value> {
    let Rule::All(groups) = rule else { return None };
    groups
        .iter()
        .map(|g| match g {
            Rule::Any(conds) => conds
                .iter()
                .map(|c| match c {
                    Rule::Cond(c) => Some(c.to_json()),
                    _ => None,
                })
                .collect::<Option<Value>>(),
            _ => None,
        })
        .collect()
}

pub(super) fn count(path: &str, nodes: &mut usize) -> Result<()> {
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(invalid(
            path,
            format!("rules may hold at most {MAX_NODES} nodes (conditions and all/any/not)"),
        ));
    }
    Ok(())
}

pub(super) fn parse_node(v: &Value, path: &str, depth: usize, nodes: &mut usize) -> Result<Rule> {
    if depth > MAX_DEPTH {
        return Err(invalid(path, format!("rules may nest at most {MAX_DEPTH} levels deep")));
    }
    count(path, nodes)?;
    let (kind, inner) = single_key(v, path)?;
    let inner_path = key(path, kind);
    let children = |nodes: &mut usize| -> Result<Vec<Rule>> {
        let items = match inner {
            Value::Array(items) if !items.is_empty() => items,
            Value::Array(_) => return Err(invalid(&inner_path, format!("{kind} needs at least one rule"))),
            other => {
                return Err(invalid(
                    &inner_path,
                    format!("{kind} takes a list of rules, found {}", reader::kind_of(other)),
                ))
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_node(item, &index(&inner_path, i), depth + 1, nodes))
            .collect()
    };
    Ok(match kind {
        "all" => Rule::All(children(nodes)?),
        "any" => Rule::Any(children(nodes)?),
        "not" => Rule::Not(Box::new(parse_node(inner, &inner_path, depth + 1, nodes)?)),
        _ => Rule::Cond(Condition::parse(kind, inner, &inner_path)?),
    })
}

/// The one key of a node object and its value.
pub(super) fn single_key<'a>(v: &'a Value, path: &str) -> Result<(&'a str, &'a Value)> {
    let expected = "a node is an object with exactly one key: all, any, not or a condition type";
    match v {
        Value::Object(m) if m.len() == 1 => {
            let (k, inner) = m.iter().next().expect("one entry");
            Ok((k.as_str(), inner))
        }
        Value::Object(m) => {
            let keys: Vec<_> = m.keys().map(String::as_str).collect();
            Err(invalid(path, format!("{expected}; found {{{}}}", keys.join(", "))))
        }
        other => Err(invalid(path, format!("{expected}; found {}", reader::kind_of(other)))),
    }
}

pub(super) fn parse_groups(v: &Value, nodes: &mut usize) -> Result<Rule> {
    let path = "condition_groups";
    let shape = "condition_groups is a non-empty list of non-empty lists of conditions";
    let Value::Array(groups) = v else {
        return Err(invalid(path, shape));
    };
    if groups.is_empty() {
        return Err(invalid(path, shape));
    }
    count(path, nodes)?;
    let mut all = Vec::with_capacity(groups.len());
    for (i, group) in groups.iter().enumerate() {
        let gpath = index(path, i);
        let conds = match group {
            Value::Array(c) if !c.is_empty() => c,
            _ => {
                return Err(invalid(
                    &gpath,
                    format!("a condition group is a non-empty list of conditions; {shape}"),
                ))
            }
        };
        count(&gpath, nodes)?;
        let mut any = Vec::with_capacity(conds.len());
        for (j, c) in conds.iter().enumerate() {
            let cpath = index(&gpath, j);
            count(&cpath, nodes)?;
            let (kind, inner) = single_key(c, &cpath)?;
            if matches!(kind, "all" | "any" | "not") {
                return Err(invalid(
                    &key(&cpath, kind),
                    "condition groups hold conditions only; write nested all/any/not as rules",
                ));
            }
            any.push(Rule::Cond(Condition::parse(kind, inner, &key(&cpath, kind))?));
        }
        all.push(Rule::Any(any));
    }
    Ok(Rule::All(all))
}
