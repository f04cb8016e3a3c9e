//! Which children a restart touches (OTP restart strategies).

use std::ops::Range;

/// How the failure of one child affects its siblings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Only the child that exited is restarted.
    #[default]
    OneForOne,
    /// All other children are terminated (reverse start order), then all are
    /// restarted in start order.
    OneForAll,
    /// The children started after the one that exited are terminated, then it
    /// and they are restarted in start order.
    RestForOne,
}

impl Strategy {
    /// Positions, in start order, of the children restarted when the child at
    /// `failed` exits, among `count` children.
    pub(crate) fn affected(self, failed: usize, count: usize) -> Range<usize> {
        match self {
            Strategy::OneForOne => failed..failed + 1,
            Strategy::OneForAll => 0..count,
            Strategy::RestForOne => failed..count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_strategy_touches_the_children_otp_says() {
        assert_eq!(Strategy::OneForOne.affected(1, 4), 1..2);
        assert_eq!(Strategy::OneForAll.affected(1, 4), 0..4);
        assert_eq!(Strategy::RestForOne.affected(1, 4), 1..4);
    }
}
