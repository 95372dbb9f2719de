//! Daily quotas: how much of a request fits in what is left today.

use serde::{Deserialize, Serialize};

use crate::target::TargetKind;
use crate::users::QuotaLimits;

/// Used counts per kind for one day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUsage {
    /// Exact URLs.
    pub url: u32,
    /// Prefixes.
    pub prefix: u32,
    /// Regexes.
    pub regex: u32,
    /// Cache tags.
    #[serde(default)]
    pub tag: u32,
    /// Everything on a domain.
    #[serde(default)]
    pub everything: u32,
    /// Prefetched URLs.
    #[serde(default)]
    pub prefetch: u32,
}

impl QuotaUsage {
    /// The count for `kind`.
    pub fn get(&self, kind: TargetKind) -> u32 {
        match kind {
            TargetKind::Url => self.url,
            TargetKind::Prefix => self.prefix,
            TargetKind::Regex => self.regex,
            TargetKind::Tag => self.tag,
            TargetKind::Everything => self.everything,
            TargetKind::Prefetch => self.prefetch,
        }
    }

    /// A mutable reference to the count for `kind`.
    pub fn get_mut(&mut self, kind: TargetKind) -> &mut u32 {
        match kind {
            TargetKind::Url => &mut self.url,
            TargetKind::Prefix => &mut self.prefix,
            TargetKind::Regex => &mut self.regex,
            TargetKind::Tag => &mut self.tag,
            TargetKind::Everything => &mut self.everything,
            TargetKind::Prefetch => &mut self.prefetch,
        }
    }

    /// Targets of every kind.
    pub fn total(&self) -> u32 {
        TargetKind::ALL.into_iter().map(|kind| self.get(kind)).sum()
    }

    /// What is left under `limits`, per kind.
    pub fn left(&self, limits: &QuotaLimits) -> QuotaUsage {
        let mut left = QuotaUsage::default();
        for kind in TargetKind::ALL {
            *left.get_mut(kind) = limits.daily(kind).saturating_sub(self.get(kind));
        }
        left
    }
}

/// Decides, in request order, which targets fit in today's quota: the first ones of each kind up
/// to what is left. Returns one flag per target and the usage after accepting them.
pub fn apportion(
    kinds: impl IntoIterator<Item = TargetKind>,
    limits: &QuotaLimits,
    used: QuotaUsage,
) -> (Vec<bool>, QuotaUsage) {
    let mut after = used;
    let fits = kinds
        .into_iter()
        .map(|kind| {
            let count = after.get_mut(kind);
            let fits = *count < limits.daily(kind);
            if fits {
                *count += 1;
            }
            fits
        })
        .collect();
    (fits, after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetKind::*;

    #[test]
    fn everything_fits_under_the_limit() {
        let (fits, after) = apportion(
            [Url, Regex, Url],
            &QuotaLimits::default(),
            QuotaUsage::default(),
        );
        assert_eq!(fits, vec![true, true, true]);
        assert_eq!((after.url, after.regex), (2, 1));
    }

    #[test]
    fn the_first_ones_of_a_kind_fit_and_the_rest_is_refused() {
        let limits = QuotaLimits {
            regex: 3,
            ..Default::default()
        };
        let used = QuotaUsage {
            regex: 1,
            ..Default::default()
        };
        let (fits, after) = apportion([Regex, Url, Regex, Regex], &limits, used);
        assert_eq!(fits, vec![true, true, true, false]);
        assert_eq!(after.regex, 3);
        assert_eq!(after.left(&limits).regex, 0);
    }

    #[test]
    fn tags_and_everything_count_apart() {
        let limits = QuotaLimits {
            everything: 1,
            ..Default::default()
        };
        let (fits, after) = apportion(
            [Everything, Tag, Everything],
            &limits,
            QuotaUsage::default(),
        );
        assert_eq!(fits, vec![true, true, false]);
        assert_eq!((after.tag, after.everything), (1, 1));
        assert_eq!(after.left(&limits).tag, QuotaLimits::default().tag - 1);
    }

    #[test]
    fn nothing_fits_when_nothing_is_left() {
        let limits = QuotaLimits {
            prefix: 2,
            ..Default::default()
        };
        let used = QuotaUsage {
            prefix: 5,
            ..Default::default()
        };
        let (fits, after) = apportion([Prefix], &limits, used);
        assert_eq!(fits, vec![false]);
        assert_eq!(after, used);
        assert_eq!(used.left(&limits).prefix, 0);
    }
}
