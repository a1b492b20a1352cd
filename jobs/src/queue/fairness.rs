//! Turns between tenants: each queue hands out work tenant by tenant in
//! the order of a virtual time (weighted fair queuing). A tenant's turn costs
//! it [`TURN`] divided by its weight; the tenant with the least virtual time
//! goes next, and one that comes back after an idle spell starts at the
//! least time of those waiting, so idling earns no credit.

use std::collections::BTreeMap;

use mixdown_settings::Value;

use crate::ids::TenantId;

/// The virtual time one job costs a tenant of weight 1. Divisible by every
/// weight up to [`TenantWeight::MAX`] closely enough, and small enough that a
/// queue's clock stays an exact double for 2^53 / 10^6 ≈ 9 × 10^9 jobs.
pub(crate) const TURN: i64 = 1_000_000;

/// How many turns a tenant gets for one of a tenant of weight 1: 1 to 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantWeight(u32);

impl TenantWeight {
    /// The largest weight.
    pub const MAX: u32 = 1000;

    /// The weight, if from 1 to [`Self::MAX`].
    pub fn new(weight: u32) -> Option<Self> {
        (1..=Self::MAX).contains(&weight).then_some(Self(weight))
    }

    /// The virtual time one job costs.
    fn step(self) -> i64 {
        TURN / i64::from(self.0)
    }
}

/// Tenants' weights; a tenant not named has weight 1. Written
/// `TENANT=WEIGHT,…`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantWeights(BTreeMap<TenantId, TenantWeight>);

impl TenantWeights {
    /// The virtual time one job costs `tenant`.
    pub(crate) fn step(&self, tenant: &TenantId) -> i64 {
        self.0.get(tenant).map_or(TURN, |w| w.step())
    }

    /// Every named tenant and the virtual time one of its jobs costs.
    pub(crate) fn steps(&self) -> impl Iterator<Item = (TenantId, i64)> + '_ {
        self.0.iter().map(|(t, w)| (*t, w.step()))
    }
}

impl Value for TenantWeights {
    fn parse(text: &str) -> Result<Self, String> {
        let mut weights = BTreeMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (tenant, weight) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not TENANT=WEIGHT"))?;
            let tenant = TenantId::parse(tenant.trim())
                .ok_or_else(|| format!("{tenant:?} is not a tenant id"))?;
            let weight = weight
                .trim()
                .parse()
                .ok()
                .and_then(TenantWeight::new)
                .ok_or_else(|| format!("weight of {tenant} must be 1 to {}", TenantWeight::MAX))?;
            if weights.insert(tenant, weight).is_some() {
                return Err(format!("{tenant} is named twice"));
            }
        }
        Ok(Self(weights))
    }

    fn show(&self) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(t, w)| format!("{t}={}", w.0)).collect();
        pairs.join(",")
    }
}

/// How many turns in a row the tenant at `time` takes before the next one,
/// at `next`, is due: one at least, and at most `max`.
pub(crate) fn turns_before(time: i64, next: Option<i64>, step: i64, max: usize) -> usize {
    let Some(next) = next else {
        return max;
    };
    let ahead = usize::try_from((next - time).max(0) / step.max(1)).unwrap_or(max);
    ahead.clamp(1, max.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "00000000-0000-4000-8000-00000000000a";

    #[test]
    fn weights_are_read_and_shown_back() {
        let w = TenantWeights::parse(&format!(" {A} = 4 ")).unwrap();
        assert_eq!(w.step(&TenantId::parse(A).unwrap()), TURN / 4);
        assert_eq!(w.step(&TenantId::new()), TURN);
        assert_eq!(w.show(), format!("{A}=4"));
        assert_eq!(TenantWeights::parse("").unwrap(), TenantWeights::default());
    }

    #[test]
    fn bad_weights_are_refused() {
        for bad in [
            A.to_owned(),
            format!("{A}=0"),
            format!("{A}=1001"),
            format!("{A}=x"),
            "nobody=2".to_owned(),
            format!("{A}=2,{A}=3"),
        ] {
            assert!(TenantWeights::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_tenant_alone_takes_all_it_may_and_one_behind_another_takes_its_share() {
        assert_eq!(turns_before(0, None, TURN, 50), 50);
        assert_eq!(turns_before(0, Some(0), TURN, 50), 1);
        assert_eq!(turns_before(0, Some(3 * TURN), TURN, 50), 3);
        assert_eq!(turns_before(0, Some(3 * TURN), TURN / 4, 50), 12);
        assert_eq!(turns_before(0, Some(3 * TURN), TURN, 2), 2);
    }
}
