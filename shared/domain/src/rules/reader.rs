//! Reading rule JSON by hand rather than through serde derives, so every error names the exact path of
//! the offending node (`rules.all[1].lifecycle.timing`) and says what to write instead.

use crate::error::{DomainError, Result};
use serde_json::{Map, Value};

/// Longest accepted list of values, tags, states or filters in one condition.
pub const MAX_LIST: usize = 1000;
/// Longest accepted string operand.
pub const MAX_TEXT: usize = 1024;

pub(crate) fn invalid(path: &str, message: impl Into<String>) -> DomainError {
    DomainError::validation(path, message)
}

pub(crate) fn key(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A JSON object whose keys were checked against the allowed ones.
pub(crate) struct Fields<'a> {
    pub path: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// Checks `v` is an object holding only `allowed` keys.
    pub fn new(v: &'a Value, path: &'a str, allowed: &[&str]) -> Result<Self> {
        let Value::Object(map) = v else {
            return Err(invalid(path, format!("expected an object, found {}", kind_of(v))));
        };
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            let expected = if allowed.is_empty() {
                "no fields".to_owned()
            } else {
                format!("one of {}", allowed.join(", "))
            };
            return Err(invalid(
                &key(path, unknown),
                format!("unknown field {unknown:?}; expected {expected}"),
            ));
        }
        Ok(Self { path, map })
    }

    /// The value of an optional field (`null` counts as absent).
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn path_of(&self, name: &str) -> String {
        key(self.path, name)
    }

    pub fn required(&self, name: &str) -> Result<&'a Value> {
        self.get(name)
            .ok_or_else(|| invalid(&self.path_of(name), format!("{name} is required")))
    }

    pub fn string(&self, name: &str) -> Result<Option<String>> {
        self.get(name).map(|v| string(v, &self.path_of(name))).transpose()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        self.get(name)
            .map(|v| {
                v.as_bool().ok_or_else(|| {
                    invalid(
                        &self.path_of(name),
                        format!("expected true or false, found {}", kind_of(v)),
                    )
                })
            })
            .transpose()
    }

    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>> {
        self.get(name).map(|v| strings(v, &self.path_of(name))).transpose()
    }
}

/// A non-empty string of at most [`MAX_TEXT`] characters.
pub(crate) fn string(v: &Value, path: &str) -> Result<String> {
    match v {
        Value::String(s) if !s.is_empty() && s.chars().count() <= MAX_TEXT => Ok(s.clone()),
        Value::String(_) => Err(invalid(path, format!("expected 1 to {MAX_TEXT} characters"))),
        _ => Err(invalid(path, format!("expected a string, found {}", kind_of(v)))),
    }
}

/// A non-empty array of at most [`MAX_LIST`] items.
pub(crate) fn array<'a>(v: &'a Value, path: &str) -> Result<&'a [Value]> {
    match v {
        Value::Array(items) if !items.is_empty() && items.len() <= MAX_LIST => Ok(items),
        Value::Array(_) => Err(invalid(path, format!("expected a list of 1 to {MAX_LIST} items"))),
        _ => Err(invalid(path, format!("expected a list, found {}", kind_of(v)))),
    }
}

/// A non-empty list of strings, sorted and without duplicates.
pub(crate) fn strings(v: &Value, path: &str) -> Result<Vec<String>> {
    let mut out = array(v, path)?
        .iter()
        .enumerate()
        .map(|(i, x)| string(x, &index(path, i)))
        .collect::<Result<Vec<_>>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// An integer within `min..=max`.
pub(crate) fn integer(v: &Value, path: &str, min: i64, max: i64) -> Result<i64> {
    match v.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            path,
            format!("expected a whole number from {min} to {max}, found {}", short(v)),
        )),
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The value for an error message: scalars as written, containers by kind.
pub(crate) fn short(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => kind_of(v).to_owned(),
        Value::String(s) if s.chars().count() > 40 => format!("{:?}…", s.chars().take(40).collect::<String>()),
        _ => v.to_string(),
    }
}
