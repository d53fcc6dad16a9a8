//! Date comparisons on nanoseconds: `Test<DateOperand>::check_at` and `compare_date` of
//! `rules::compare`, with the same windows and the same next changes.

use super::facts::{window, Out};
use super::program::{DateTest, Operand};
use super::time::{add, day_of, sub, Ns, DAY, NEVER, UNSET};
use crate::rules::CmpOp;

/// Compares a fact (`UNSET` when missing) with the operands at `now`.
pub(crate) fn check(t: &DateTest, v: Ns, now: Ns) -> Out {
    if v == UNSET {
        return Out::fixed(matches!(t, DateTest::Missing));
    }
    match t {
        DateTest::Cmp(op, o) => compare(*op, v, o, now),
        DateTest::Between(a, b) => and(compare(CmpOp::Ge, v, a, now), compare(CmpOp::Le, v, b, now)),
        DateTest::In(os) => any_equal(os, v, now),
        DateTest::NotIn(os) => any_equal(os, v, now).not(),
        DateTest::Exists => Out::TRUE,
        DateTest::Missing | DateTest::Never => Out::FALSE,
    }
}

fn any_equal(os: &[Operand], v: Ns, now: Ns) -> Out {
    let mut acc = AnyAcc::new();
    for o in os {
        if acc.add(compare(CmpOp::Eq, v, o, now)) {
            break;
        }
    }
    acc.finish()
}

/// `v <op> o` for one of `= != < <= > >=`; a relative operand bounds `now` by `b = v - offset`.
pub(crate) fn compare(op: CmpOp, v: Ns, o: &Operand, now: Ns) -> Out {
    match *o {
        Operand::Day { start, end } => Out::fixed(match op {
            CmpOp::Lt => v < start,
            CmpOp::Le => v < end,
            CmpOp::Gt => v >= end,
            CmpOp::Ge => v >= start,
            CmpOp::Eq => start <= v && v < end,
            CmpOp::Ne => !(start <= v && v < end),
            _ => false,
        }),
        Operand::At { t, day } => Out::fixed(match op {
            CmpOp::Eq => day_of(v) == day,
            CmpOp::Ne => day_of(v) != day,
            op => op.holds(Some(v.cmp(&t))),
        }),
        Operand::Relative { offset } => {
            let b = sub(v, offset);
            match op {
                CmpOp::Lt => window(add(b, 1), NEVER, now),
                CmpOp::Le => window(b, NEVER, now),
                CmpOp::Gt => window(UNSET, b, now),
                CmpOp::Ge => window(UNSET, add(b, 1), now),
                CmpOp::Eq | CmpOp::Ne => {
                    let day = day_of(v) * DAY;
                    let same = window(sub(day, offset), sub(add(day, DAY), offset), now);
                    if op == CmpOp::Eq {
                        same
                    } else {
                        same.not()
                    }
                }
                _ => Out::FALSE,
            }
        }
    }
}

/// Folds one more child into an OR's answer so far (`AnyAcc`): true until every true child may have
/// changed, false until the first false child may.
#[inline]
pub(crate) fn or(acc: Out, o: Out) -> Out {
    // Selects rather than branches: which side is true differs from customer to customer, so a branch
    // would be mispredicted about half the time.
    let (a, b) = (acc.matched, o.matched);
    let both = if a { acc.next.max(o.next) } else { acc.next.min(o.next) };
    let one = if a { acc.next } else { o.next };
    Out {
        matched: a | b,
        next: if a == b { both } else { one },
    }
}

/// The dual of `or` for an AND (`Outcome::and`).
#[inline]
pub(crate) fn and(acc: Out, o: Out) -> Out {
    or(acc.not(), o.not()).not()
}

/// Folds children into an OR (`rules::AnyOf` with `NEVER` for "no change"), stopping at a child
/// decided for good.
pub(crate) struct AnyAcc {
    any_true: bool,
    true_latest: Ns,
    false_earliest: Ns,
}

impl AnyAcc {
    pub fn new() -> Self {
        AnyAcc {
            any_true: false,
            true_latest: UNSET,
            false_earliest: NEVER,
        }
    }

    /// Adds a child; `true` when the OR is decided for good.
    #[inline]
    pub fn add(&mut self, o: Out) -> bool {
        if o.matched {
            self.any_true = true;
            self.true_latest = self.true_latest.max(o.next);
            o.next == NEVER
        } else {
            self.false_earliest = self.false_earliest.min(o.next);
            false
        }
    }

    pub fn finish(self) -> Out {
        if self.any_true {
            Out {
                matched: true,
                next: self.true_latest,
            }
        } else {
            Out {
                matched: false,
                next: self.false_earliest,
            }
        }
    }
}
